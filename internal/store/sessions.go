package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// Session is a session's row.
type Session struct {
	ID        uuid.UUID
	TenantID  int64
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	// PurgedAt is set on the tombstone of an expired session that the purge emptied.
	PurgedAt *time.Time
}

// SessionSummary is a session with its number of file entries.
type SessionSummary struct {
	Session
	FileCount int64
	// Expired: its expiry has passed, by the database's clock (never in a list, which shows
	// live sessions only).
	Expired bool
}

// Sessions are a tenant's sessions.
type Sessions struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// Sessions are the tenant's sessions.
func (t TenantScope) Sessions() Sessions { return Sessions{q: t.q, tenantID: t.id} }

// Create inserts a session of the tenant that expires ttlSeconds from now.
func (s Sessions) Create(ctx context.Context, id uuid.UUID, createdBy string, ttlSeconds int64) (Session, error) {
	r, err := s.q.SessionCreate(ctx, dbsqlc.SessionCreateParams{ID: id, TenantID: s.tenantID, CreatedBy: createdBy, TtlSeconds: ttlSeconds})
	if err != nil {
		return Session{}, err
	}
	return Session{ID: r.ID, TenantID: r.TenantID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, PurgedAt: r.PurgedAt}, nil
}

// Get returns a session of the tenant, live or expired.
func (s Sessions) Get(ctx context.Context, id uuid.UUID) (SessionSummary, error) {
	r, err := s.q.SessionGet(ctx, dbsqlc.SessionGetParams{ID: id, TenantID: s.tenantID})
	if err != nil {
		return SessionSummary{}, err
	}
	return SessionSummary{
		Session:   Session{ID: r.ID, TenantID: r.TenantID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, PurgedAt: r.PurgedAt},
		FileCount: r.FileCount, Expired: r.Expired,
	}, nil
}

// List returns up to n live sessions of the tenant, newest first, after the position (nil for
// the first page).
func (s Sessions) List(ctx context.Context, n int, after *After) ([]SessionSummary, error) {
	var out []SessionSummary
	add := func(id uuid.UUID, tenantID int64, createdBy string, createdAt, expiresAt time.Time, purgedAt *time.Time, files int64) {
		out = append(out, SessionSummary{
			Session:   Session{ID: id, TenantID: tenantID, CreatedBy: createdBy, CreatedAt: createdAt, ExpiresAt: expiresAt, PurgedAt: purgedAt},
			FileCount: files,
		})
	}
	if after == nil {
		rows, err := s.q.SessionListFirst(ctx, dbsqlc.SessionListFirstParams{TenantID: s.tenantID, MaxRows: maxRows(n)})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			add(r.ID, r.TenantID, r.CreatedBy, r.CreatedAt, r.ExpiresAt, r.PurgedAt, r.FileCount)
		}
		return out, nil
	}
	rows, err := s.q.SessionListAfter(ctx, dbsqlc.SessionListAfterParams{
		TenantID: s.tenantID, AfterCreatedAt: after.At, AfterID: after.ID, MaxRows: maxRows(n),
	})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		add(r.ID, r.TenantID, r.CreatedBy, r.CreatedAt, r.ExpiresAt, r.PurgedAt, r.FileCount)
	}
	return out, nil
}

// LockedSession is what locking a session returns of it.
type LockedSession struct {
	ID        uuid.UUID
	CreatedBy string
	ExpiresAt time.Time
}

// Lock locks a session of the tenant (FOR UPDATE) so that no file entry or token is added to
// it until the transaction ends.
func (s Sessions) Lock(ctx context.Context, id uuid.UUID) (LockedSession, error) {
	r, err := s.q.SessionLock(ctx, dbsqlc.SessionLockParams{ID: id, TenantID: s.tenantID})
	if err != nil {
		return LockedSession{}, err
	}
	return LockedSession{ID: r.ID, CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt}, nil
}

// DeleteFiles deletes the file entries of a session of the tenant and returns their blob
// keys, one per entry: nil for an entry still pending.
func (s Sessions) DeleteFiles(ctx context.Context, id uuid.UUID) ([]*string, error) {
	return s.q.SessionDeleteFiles(ctx, dbsqlc.SessionDeleteFilesParams{SessionID: id, TenantID: s.tenantID})
}

// Delete deletes a session of the tenant and reports how many rows went (0 or 1).
func (s Sessions) Delete(ctx context.Context, id uuid.UUID) (int64, error) {
	return s.q.SessionDelete(ctx, dbsqlc.SessionDeleteParams{ID: id, TenantID: s.tenantID})
}

// SessionState is whether a session has expired.
type SessionState struct {
	ExpiresAt time.Time
	Expired   bool
}

// State returns whether a session of the tenant exists (ErrNotFound) and has expired.
func (s Sessions) State(ctx context.Context, id uuid.UUID) (SessionState, error) {
	return sessionState(ctx, s.q, id, &s.tenantID)
}

// SessionsByID tells whether a session exists and has expired, and nothing else of it, to
// the routes below it that are reached through a capability (a token link, an upload URL):
// their holder has no credentials, so no tenant scope here.
type SessionsByID struct{ q *dbsqlc.Queries }

// SessionsByID reaches sessions by id, for the capability routes below them.
func (r Repos) SessionsByID() SessionsByID { return SessionsByID(r) }

// State returns whether the session with id exists (ErrNotFound) and has expired.
func (s SessionsByID) State(ctx context.Context, id uuid.UUID) (SessionState, error) {
	return sessionState(ctx, s.q, id, nil)
}

func sessionState(ctx context.Context, q *dbsqlc.Queries, id uuid.UUID, tenantID *int64) (SessionState, error) {
	r, err := q.SessionState(ctx, dbsqlc.SessionStateParams{ID: id, TenantID: tenantID})
	if err != nil {
		return SessionState{}, err
	}
	return SessionState{ExpiresAt: r.ExpiresAt, Expired: r.Expired}, nil
}
