package share

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// ErrInvalidCursor is returned for a page cursor that this server did not make.
var ErrInvalidCursor = errors.New("invalid cursor")

// Session groups file entries.
type Session struct {
	ID        uuid.UUID
	CreatedAt time.Time
	ExpiresAt time.Time
	CreatedBy string
	FileCount int64
}

// Cursor marks a position in a keyset-paginated list: the last row's (created_at, id).
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// String encodes the cursor for a URL.
func (c Cursor) String() string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.CreatedAt.UnixMicro()))
	copy(b[8:], c.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// position is the cursor as the store's lists take it; nil for the first page.
func (c *Cursor) position() *store.After {
	if c == nil {
		return nil
	}
	return &store.After{At: c.CreatedAt, ID: c.ID}
}

// cursorLen is the length of a cursor as text; the decoder would skip CR and LF in a longer one.
const cursorLen = 32

// maxCursorMicros bounds a cursor's time to the years 1970 … 9999 (rows are created now): a
// time beyond what PostgreSQL stores would wrap around on its way to the query.
const maxCursorMicros = 253402300799999999

// ParseCursor decodes a cursor made by Cursor.String, and nothing else.
func ParseCursor(s string) (Cursor, error) {
	if len(s) != cursorLen {
		return Cursor{}, ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 24 {
		return Cursor{}, ErrInvalidCursor
	}
	micros := binary.BigEndian.Uint64(b[:8])
	if micros > maxCursorMicros {
		return Cursor{}, ErrInvalidCursor
	}
	var c Cursor
	c.CreatedAt = time.UnixMicro(int64(micros))
	copy(c.ID[:], b[8:])
	return c, nil
}

// CreateSession creates a session of p's tenant; ttlSeconds 0 means the configured default.
func (s *Service) CreateSession(ctx context.Context, p auth.Principal, ttlSeconds int64) (Session, error) {
	if ttlSeconds == 0 {
		ttlSeconds = int64(s.limits.SessionTTL / time.Second)
	}
	row, err := s.st.Tenant(p.TenantID).Sessions().Create(ctx, uuid.New(), p.Login, ttlSeconds)
	if err != nil {
		return Session{}, err
	}
	return Session{ID: row.ID, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, CreatedBy: row.CreatedBy}, nil
}

// GetSession returns a live session of p's tenant.
func (s *Service) GetSession(ctx context.Context, p auth.Principal, id uuid.UUID) (Session, error) {
	row, err := s.st.Tenant(p.TenantID).Sessions().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrSessionNotFound
	}
	if err != nil {
		return Session{}, err
	}
	if row.Expired {
		return Session{}, s.sessionExpired(row.ExpiresAt, ErrSessionNotFound)
	}
	return Session{ID: row.ID, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, CreatedBy: row.CreatedBy, FileCount: row.FileCount}, nil
}

// ListSessions returns up to limit live sessions of p's tenant, newest first, after the cursor
// (nil for the first page), and the cursor of the next page when more remain.
func (s *Service) ListSessions(ctx context.Context, p auth.Principal, limit int, after *Cursor) ([]Session, *Cursor, error) {
	// One row more than asked tells whether another page follows.
	rows, err := s.st.Tenant(p.TenantID).Sessions().List(ctx, limit+1, after.position())
	if err != nil {
		return nil, nil, err
	}
	out := make([]Session, 0, min(len(rows), limit))
	for _, r := range rows {
		out = append(out, Session{ID: r.ID, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, CreatedBy: r.CreatedBy, FileCount: r.FileCount})
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// DeleteSession deletes a session of p's tenant with its file entries and tokens; their blobs
// go right after the commit.
func (s *Service) DeleteSession(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	var keys []*string
	err := s.change(ctx, func(tx *store.Tx, ev *events) error {
		sessions := tx.Tenant(p.TenantID).Sessions()
		// The lock keeps new file entries and tokens out until the session is gone.
		sess, err := sessions.Lock(ctx, id)
		if err != nil {
			return err
		}
		keys, err = sessions.DeleteFiles(ctx, id)
		if err != nil {
			return err
		}
		if _, err = sessions.Delete(ctx, id); err != nil {
			return err
		}
		files := len(keys)
		ev.add(webhook.SessionDeleted, p.TenantID, webhook.SessionData{
			SessionID: id, CreatedBy: sess.CreatedBy, ExpiresAt: sess.ExpiresAt.UTC(), Files: &files, Login: &p.Login,
		})
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrSessionNotFound
	}
	if err != nil {
		return err
	}
	s.removeBlobs(ctx, keys)
	return nil
}

// liveSession checks that a session of p's tenant exists and has not expired.
func (s *Service) liveSession(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	_, err := s.GetSession(ctx, p, id)
	return err
}

// sessionGone explains a route below session sid whose own row (a file entry, a token, an
// upload URL) was not found: the session may have expired and been emptied by the purge, and
// then the route answers as expired until the tombstone's retention ends. tenantID is nil for
// the routes reached through a capability URL, without credentials.
func (s *Service) sessionGone(ctx context.Context, sid uuid.UUID, tenantID *int64, notFound error) error {
	var (
		st  store.SessionState
		err error
	)
	if tenantID != nil {
		st, err = s.st.Tenant(*tenantID).Sessions().State(ctx, sid)
	} else {
		st, err = s.st.SessionsByID().State(ctx, sid)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound
	case err != nil:
		return err
	case st.Expired:
		return s.sessionExpired(st.ExpiresAt, notFound)
	}
	return notFound
}
