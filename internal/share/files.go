package share

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/failpoint"
	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// File states.
const (
	StatePending = "pending"
	StateStored  = "stored"
)

// File is a file entry of a session.
type File struct {
	ID          uuid.UUID
	SessionID   uuid.UUID
	Name        string
	ContentType string
	// Size is the stored size, or the declared size while pending (nil when none was declared).
	Size      *int64
	SHA256    []byte
	State     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func fileFromRow(r store.File, expiresAt time.Time) File {
	size := r.Size
	if size == nil {
		size = r.DeclaredSize
	}
	return File{
		ID: r.ID, SessionID: r.SessionID, Name: r.Name, ContentType: r.ContentType, Size: size,
		SHA256: r.SHA256, State: r.State, CreatedAt: r.CreatedAt, ExpiresAt: expiresAt,
	}
}

// NewFile describes a file entry to create.
type NewFile struct {
	Name        string
	ContentType string
	Size        *int64
}

// CreateFile adds a pending file entry to a live session of p's tenant.
func (s *Service) CreateFile(ctx context.Context, p auth.Principal, sid uuid.UUID, in NewFile) (File, error) {
	name := SanitizeName(in.Name)
	if name == "" {
		return File{}, ErrNameRequired
	}
	if in.Size != nil && (*in.Size < 0 || *in.Size > s.limits.MaxUploadBytes) {
		return File{}, ErrInvalidSize
	}
	sess, err := s.GetSession(ctx, p, sid)
	if err != nil {
		return File{}, err
	}
	if in.Size != nil {
		if err := s.fits(ctx, QuotaOf(p), *in.Size); err != nil {
			return File{}, err
		}
	}
	row, err := s.st.Tenant(p.TenantID).Files().Create(ctx, store.NewFile{
		ID: uuid.New(), SessionID: sid, Name: name,
		ContentType: NormalizeContentType(in.ContentType, name), DeclaredSize: in.Size,
	})
	if errors.Is(err, store.ErrReferenceMissing) {
		return File{}, ErrSessionNotFound // deleted meanwhile
	}
	if err != nil {
		return File{}, err
	}
	return fileFromRow(row, sess.ExpiresAt), nil
}

// ListFiles returns up to limit file entries of a live session, oldest first, after the
// cursor, and the next page's cursor when more remain.
func (s *Service) ListFiles(ctx context.Context, p auth.Principal, sid uuid.UUID, limit int, after *Cursor) ([]File, *Cursor, error) {
	sess, err := s.GetSession(ctx, p, sid)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.st.Tenant(p.TenantID).Files().List(ctx, sid, limit+1, after.position())
	if err != nil {
		return nil, nil, err
	}
	out := make([]File, 0, min(len(rows), limit))
	for _, r := range rows {
		out = append(out, fileFromRow(r, sess.ExpiresAt))
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// getFile returns a file entry of tenant in session sid, checking that the session is live.
// GetFile returns one file entry of a session of p's tenant.
func (s *Service) GetFile(ctx context.Context, p auth.Principal, sid, fid uuid.UUID) (File, error) {
	row, err := s.getFile(ctx, p.TenantID, sid, fid)
	if err != nil {
		return File{}, err
	}
	return fileFromRow(row.File, row.SessionExpiresAt), nil
}

func (s *Service) getFile(ctx context.Context, tenantID int64, sid, fid uuid.UUID) (store.SessionFile, error) {
	row, err := s.st.Tenant(tenantID).Files().Get(ctx, fid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && row.SessionID != sid) {
		return row, s.sessionGone(ctx, sid, &tenantID, ErrFileNotFound)
	}
	if err != nil {
		return row, err
	}
	if row.SessionExpired {
		return row, s.sessionExpired(row.SessionExpiresAt, ErrFileNotFound)
	}
	return row, nil
}

// DeleteFile deletes a file entry with its tokens, then its blob.
func (s *Service) DeleteFile(ctx context.Context, p auth.Principal, sid, fid uuid.UUID) error {
	if err := s.liveSession(ctx, p, sid); err != nil {
		return err
	}
	var row store.DeletedFile
	err := s.change(ctx, func(tx *store.Tx, ev *events) error {
		var err error
		row, err = tx.Tenant(p.TenantID).Files().Delete(ctx, sid, fid)
		if err == nil {
			ev.add(webhook.FileDeleted, p.TenantID, webhook.FileData{
				SessionID: sid, FileID: fid, File: eventFile(row.FileInfo), Login: &p.Login,
			})
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrFileNotFound
	}
	if err != nil {
		return err
	}
	s.removeBlobs(ctx, []*string{row.BlobKey})
	return nil
}

// Uploader says who is putting a file entry's content: an authenticated user, or the holder
// of an upload URL's token.
type Uploader struct {
	Principal   *auth.Principal
	UploadToken string
	Addr        netip.Addr
}

// FileUpload is a pending file entry about to receive its content: every refusal that does not
// depend on the content (credentials, the upload token, the entry's state, the session's
// expiry) has been made before a byte of the body is read.
type FileUpload struct {
	tenantID  int64
	login     *string // nil for the holder of an upload URL
	sid, fid  uuid.UUID
	tokenHash []byte // of the upload token, when the uploader holds one
	addr      netip.Addr
	declared  *int64
	expiresAt time.Time
	maxBytes  int64
	// Quota is the quota of the entry's tenant, for Stage.
	Quota Quota
}

// Limit is the most bytes the content may have, and the error for a body with more: the
// declared size, or the configured maximum, within the tenant's largest file.
func (u *FileUpload) Limit() (int64, error) {
	if u.declared != nil {
		return u.Quota.FileLimit(*u.declared, ErrSizeMismatch)
	}
	return u.Quota.FileLimit(u.maxBytes, ErrTooLarge)
}

// BeginFileUpload checks that who may put the content of file entry fid of session sid now.
func (s *Service) BeginFileUpload(ctx context.Context, who Uploader, sid, fid uuid.UUID) (*FileUpload, error) {
	u := &FileUpload{sid: sid, fid: fid, addr: who.Addr, maxBytes: s.limits.MaxUploadBytes}
	var upTok store.UploadURLState
	if who.Principal != nil {
		u.tenantID, u.login = who.Principal.TenantID, &who.Principal.Login
		u.Quota = QuotaOf(*who.Principal)
	} else {
		u.tokenHash = hashToken(who.UploadToken)
		if u.tokenHash == nil {
			return nil, ErrUploadTokenInvalid
		}
		var err error
		upTok, err = s.st.UploadURLsByHash().Get(ctx, store.TokenLink{Hash: u.tokenHash, SessionID: sid, FileID: fid})
		if errors.Is(err, store.ErrNotFound) {
			return nil, s.sessionGone(ctx, sid, nil, ErrUploadTokenInvalid)
		}
		if err != nil {
			return nil, err
		}
		u.tenantID = upTok.TenantID
		limits, err := s.st.Tenant(u.tenantID).Quota().Limits(ctx)
		if err != nil {
			return nil, err
		}
		u.Quota = Quota{TenantID: u.tenantID, Quota: auth.Quota{MaxBytes: limits.MaxBytes, MaxFileBytes: limits.MaxFileBytes}}
	}
	// The session's expiry is checked first: an expired session answers "session expired"
	// on every route below it, also to an upload token (whose expiry is capped at it).
	f, err := s.getFile(ctx, u.tenantID, sid, fid)
	if err != nil {
		return nil, err
	}
	if f.State != StatePending || upTok.UsedAt != nil {
		return nil, ErrAlreadyUploaded
	}
	if upTok.Expired {
		return nil, ErrUploadTokenExpired
	}
	u.declared, u.expiresAt = f.DeclaredSize, f.SessionExpiresAt
	return u, nil
}

// FinishFileUpload makes staged content (Stage with blob.KindFile) the content of the entry.
// Of concurrent attempts exactly one commits; the others fail and their blobs go.
func (s *Service) FinishFileUpload(ctx context.Context, u *FileUpload, content *Pending) (File, error) {
	if u.declared != nil && content.Size() != *u.declared {
		return File{}, ErrSizeMismatch
	}
	var stored store.File
	failpoint.Hit("file.before-commit")
	err := content.commit(ctx, func(ctx context.Context, tx *store.Tx, ev *events) error {
		var err error
		stored, err = u.store(ctx, tx, content, ev)
		return err
	})
	if err != nil {
		return File{}, s.notStored(ctx, u, err)
	}
	failpoint.Hit("file.after-commit")
	return fileFromRow(stored, u.expiresAt), nil
}

// store is FinishFileUpload's part of the transaction that makes content the entry's: the
// upload token is used up, if there is one, and the entry stored.
func (u *FileUpload) store(ctx context.Context, tx *store.Tx, content *Pending, ev *events) (store.File, error) {
	if u.tokenHash != nil {
		used, err := tx.UploadURLsByHash().Use(ctx, u.tokenHash, u.fid, addrOrNil(u.addr))
		if err != nil {
			return store.File{}, err
		}
		if !used {
			return store.File{}, errUploadTokenTaken
		}
	}
	stored, err := tx.Tenant(u.tenantID).Files().Store(ctx, u.fid, store.StoredContent{
		Size: content.Size(), SHA256: content.SHA256(), BlobKey: content.key,
	})
	if err != nil {
		return stored, err
	}
	data := webhook.FileData{
		SessionID: u.sid, FileID: u.fid, File: webhook.NewFile(stored.Name, stored.ContentType, stored.Size, stored.SHA256), Login: u.login,
	}
	if u.login == nil {
		data.UploaderAddress = webhook.Address(addrOrNil(u.addr))
	}
	ev.add(webhook.FileStored, u.tenantID, data)
	return stored, nil
}

// notStored explains the failure err of a store's transaction.
func (s *Service) notStored(ctx context.Context, u *FileUpload, err error) error {
	if errors.Is(err, errUploadTokenTaken) || errors.Is(err, store.ErrNotFound) {
		return s.whyNotStored(ctx, u.tenantID, u.sid, u.fid)
	}
	return err
}

var errUploadTokenTaken = errors.New("upload token already used or expired")

// whyNotStored explains a store that matched no row: someone else stored the entry first, or
// it (or its session) is gone or expired.
func (s *Service) whyNotStored(ctx context.Context, tenantID int64, sid, fid uuid.UUID) error {
	f, err := s.getFile(ctx, tenantID, sid, fid)
	if err != nil {
		return err
	}
	if f.State == StateStored {
		return ErrAlreadyUploaded
	}
	return ErrUploadTokenExpired
}

// eventFile describes a file's content for an event.
func eventFile(f store.FileInfo) webhook.File {
	return webhook.NewFile(f.Name, f.ContentType, f.Size, f.SHA256)
}

func addrOrNil(a netip.Addr) *netip.Addr {
	if !a.IsValid() {
		return nil
	}
	return &a
}
