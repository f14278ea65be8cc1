package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// File is a file entry's row.
type File struct {
	ID        uuid.UUID
	SessionID uuid.UUID
	TenantID  int64
	Name      string
	// ContentType is application/octet-stream when unknown.
	ContentType string
	// DeclaredSize is the size announced at creation, nil when none was.
	DeclaredSize *int64
	// Size, SHA256 and BlobKey are nil while the entry is pending.
	Size    *int64
	SHA256  []byte
	BlobKey *string
	// State is "pending" or "stored".
	State     string
	CreatedAt time.Time
	StoredAt  *time.Time
}

func fileFromRow(r dbsqlc.SessionFile) File {
	return File{
		ID: r.ID, SessionID: r.SessionID, TenantID: r.TenantID, Name: r.Name, ContentType: r.ContentType,
		DeclaredSize: r.DeclaredSize, Size: r.Size, SHA256: r.Sha256, BlobKey: r.BlobKey, State: r.State,
		CreatedAt: r.CreatedAt, StoredAt: r.StoredAt,
	}
}

// SessionFile is a file entry with its session's expiry.
type SessionFile struct {
	File
	SessionExpiresAt time.Time
	// SessionExpired: the session's expiry has passed, by the database's clock.
	SessionExpired bool
}

// Files are a tenant's file entries.
type Files struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// Files are the tenant's file entries.
func (t TenantScope) Files() Files { return Files{q: t.q, tenantID: t.id} }

// NewFile is a pending file entry to insert.
type NewFile struct {
	ID           uuid.UUID
	SessionID    uuid.UUID
	Name         string
	ContentType  string
	DeclaredSize *int64
}

// Create inserts a pending entry in a session (ErrReferenceMissing when the session is gone).
func (f Files) Create(ctx context.Context, in NewFile) (File, error) {
	r, err := f.q.FileCreate(ctx, dbsqlc.FileCreateParams{
		ID: in.ID, SessionID: in.SessionID, TenantID: f.tenantID, Name: in.Name, ContentType: in.ContentType,
		DeclaredSize: in.DeclaredSize,
	})
	if err != nil {
		return File{}, err
	}
	return fileFromRow(r), nil
}

// Get returns an entry of the tenant, whatever its session (the caller checks that it is the
// one the route names).
func (f Files) Get(ctx context.Context, id uuid.UUID) (SessionFile, error) {
	r, err := f.q.FileGet(ctx, dbsqlc.FileGetParams{ID: id, TenantID: f.tenantID})
	if err != nil {
		return SessionFile{}, err
	}
	return SessionFile{
		File: File{
			ID: r.ID, SessionID: r.SessionID, TenantID: r.TenantID, Name: r.Name, ContentType: r.ContentType,
			DeclaredSize: r.DeclaredSize, Size: r.Size, SHA256: r.Sha256, BlobKey: r.BlobKey, State: r.State,
			CreatedAt: r.CreatedAt, StoredAt: r.StoredAt,
		},
		SessionExpiresAt: r.ExpiresAt, SessionExpired: r.SessionExpired,
	}, nil
}

// List returns up to n entries of a session of the tenant, oldest first, after the position
// (nil for the first page).
func (f Files) List(ctx context.Context, sessionID uuid.UUID, n int, after *After) ([]File, error) {
	var (
		rows []dbsqlc.SessionFile
		err  error
	)
	if after == nil {
		rows, err = f.q.FileListFirst(ctx, dbsqlc.FileListFirstParams{SessionID: sessionID, TenantID: f.tenantID, MaxRows: maxRows(n)})
	} else {
		rows, err = f.q.FileListAfter(ctx, dbsqlc.FileListAfterParams{
			SessionID: sessionID, TenantID: f.tenantID, AfterCreatedAt: after.At, AfterID: after.ID, MaxRows: maxRows(n),
		})
	}
	if err != nil {
		return nil, err
	}
	out := make([]File, len(rows))
	for i, r := range rows {
		out[i] = fileFromRow(r)
	}
	return out, nil
}

// StoredContent is the content that makes a pending entry stored.
type StoredContent struct {
	Size    int64
	SHA256  []byte
	BlobKey string
}

// Store makes content the content of a pending entry of a live session, once (ErrNotFound
// when the entry is not pending, or its session expired or is gone).
func (f Files) Store(ctx context.Context, id uuid.UUID, c StoredContent) (File, error) {
	r, err := f.q.FileStore(ctx, dbsqlc.FileStoreParams{
		ID: id, TenantID: f.tenantID, Size: &c.Size, Sha256: c.SHA256, BlobKey: &c.BlobKey,
	})
	if err != nil {
		return File{}, err
	}
	return fileFromRow(r), nil
}

// DeletedFile is what a deletion returns of the entry's row.
type DeletedFile struct {
	FileInfo
	// BlobKey is nil for an entry that was pending.
	BlobKey *string
}

// Delete deletes an entry of a session of the tenant, with its tokens and upload URLs.
func (f Files) Delete(ctx context.Context, sessionID, id uuid.UUID) (DeletedFile, error) {
	r, err := f.q.FileDelete(ctx, dbsqlc.FileDeleteParams{ID: id, SessionID: sessionID, TenantID: f.tenantID})
	if err != nil {
		return DeletedFile{}, err
	}
	return DeletedFile{FileInfo: FileInfo{Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.Sha256}, BlobKey: r.BlobKey}, nil
}
