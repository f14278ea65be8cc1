package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// TusUpload is a resumable upload's row.
type TusUpload struct {
	// ID is the tus upload URL's id: a capability.
	ID       uuid.UUID
	TenantID int64
	// CreatedBy is nil when it was created with an upload URL's token.
	CreatedBy *string
	// SessionID and FileID name the file entry it fills; nil for a simple upload.
	SessionID *uuid.UUID
	FileID    *uuid.UUID
	// UploadTokenHash is the hash of the upload URL's token that authorised it, if any.
	UploadTokenHash []byte
	// Name, ContentType and TTLSeconds describe the simple upload it becomes; nil for a file
	// entry.
	Name         *string
	ContentType  *string
	TTLSeconds   *int64
	Metadata     string
	Length       int64
	UploadOffset int64
	SHA256State  []byte
	BlobKey      string
	StageState   []byte
	CreatedAt    time.Time
	ExpiresAt    time.Time
	CompletedAt  *time.Time
	// Ref is the public reference that audit views and logs show.
	Ref uuid.UUID
	// UploadID is the simple upload it became, once complete.
	UploadID *uuid.UUID
}

// TusState is a resumable upload as its URL finds it.
type TusState struct {
	TusUpload
	// Expired is the upload's own expiry; SessionExpired that of its file entry's session.
	Expired, SessionExpired bool
	// Leased: a request holds the upload's lease (tus_lease.go).
	Leased bool
}

// NewTus is a resumable upload to insert.
type NewTus struct {
	ID              uuid.UUID
	CreatedBy       *string
	SessionID       *uuid.UUID
	FileID          *uuid.UUID
	UploadTokenHash []byte
	Name            *string
	ContentType     *string
	TTLSeconds      *int64
	Metadata        string
	Length          int64
	SHA256State     []byte
	BlobKey         string
	StageState      []byte
	// Expiry is how long it may take; it is capped at its session's and upload URL's expiry.
	Expiry time.Duration
}

// TusUploads are a tenant's resumable uploads.
type TusUploads struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// TusUploads are the tenant's resumable uploads.
func (t TenantScope) TusUploads() TusUploads { return TusUploads{q: t.q, tenantID: t.id} }

// CountUnfinishedLocked counts the tenant's unfinished uploads that may still receive bytes, and
// locks its row until the transaction ends: run it on a Tx before Create, so that a bound on the
// count holds under concurrent creations.
func (t TusUploads) CountUnfinishedLocked(ctx context.Context) (int64, error) {
	if err := t.q.TusLockTenant(ctx, t.tenantID); err != nil {
		return 0, err
	}
	return t.q.TusCountUnfinished(ctx, t.tenantID)
}

// Create inserts a resumable upload of the tenant (ErrConflict when its file entry has an
// unfinished one, ErrReferenceMissing when the entry is gone).
func (t TusUploads) Create(ctx context.Context, in NewTus) (TusUpload, error) {
	r, err := t.q.TusCreate(ctx, dbsqlc.TusCreateParams{
		ID: in.ID, TenantID: t.tenantID, CreatedBy: in.CreatedBy, SessionID: pgUUID(in.SessionID), FileID: pgUUID(in.FileID),
		UploadTokenHash: in.UploadTokenHash, Name: in.Name, ContentType: in.ContentType, TtlSeconds: in.TTLSeconds,
		Metadata: in.Metadata, Length: in.Length, Sha256State: in.SHA256State, BlobKey: in.BlobKey,
		StageState: in.StageState, ExpirySeconds: seconds(in.Expiry),
	})
	if err != nil {
		return TusUpload{}, err
	}
	return TusUpload{
		ID: r.ID, TenantID: r.TenantID, CreatedBy: r.CreatedBy, SessionID: uuidPtr(r.SessionID), FileID: uuidPtr(r.FileID),
		UploadTokenHash: r.UploadTokenHash, Name: r.Name, ContentType: r.ContentType, TTLSeconds: r.TtlSeconds,
		Metadata: r.Metadata, Length: r.Length, UploadOffset: r.UploadOffset, SHA256State: r.Sha256State,
		BlobKey: r.BlobKey, StageState: r.StageState, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		CompletedAt: r.CompletedAt, Ref: r.Ref, UploadID: uuidPtr(r.UploadID),
	}, nil
}

// TusByID reaches a resumable upload by its URL's id, which is the capability (like a simple
// upload's download link), so no tenant scope here. Every change is made by the request that
// holds the upload's lease (tus_lease.go), and is conditional on that lease and on the offset
// it started from.
type TusByID struct{ q *dbsqlc.Queries }

// TusByID reaches resumable uploads by their URL.
func (r Repos) TusByID() TusByID { return TusByID(r) }

// Get returns the upload with id (ErrNotFound when none).
func (t TusByID) Get(ctx context.Context, id uuid.UUID) (TusState, error) {
	r, err := t.q.TusGet(ctx, id)
	if err != nil {
		return TusState{}, err
	}
	return TusState{TusUpload: TusUpload{
		ID: r.ID, TenantID: r.TenantID, CreatedBy: r.CreatedBy, SessionID: uuidPtr(r.SessionID), FileID: uuidPtr(r.FileID),
		UploadTokenHash: r.UploadTokenHash, Name: r.Name, ContentType: r.ContentType, TTLSeconds: r.TtlSeconds,
		Metadata: r.Metadata, Length: r.Length, UploadOffset: r.UploadOffset, SHA256State: r.Sha256State,
		BlobKey: r.BlobKey, StageState: r.StageState, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		CompletedAt: r.CompletedAt, Ref: r.Ref, UploadID: uuidPtr(r.UploadID),
	}, Expired: r.Expired, SessionExpired: r.SessionExpired, Leased: r.Leased}, nil
}

// TusProgress is the state an upload moves to: its durable bytes and the SHA-256 state after
// them.
type TusProgress struct {
	Offset      int64
	SHA256State []byte
	StageState  []byte
}

// Advance records bytes made durable by the holder of the upload's lease; false when the
// upload was completed, terminated or purged meanwhile, moved on from oldOffset, or when
// holder lost its lease.
func (t TusByID) Advance(ctx context.Context, id, holder uuid.UUID, oldOffset int64, p TusProgress) (bool, error) {
	n, err := t.q.TusAdvance(ctx, dbsqlc.TusAdvanceParams{
		ID: id, Holder: holder, OldOffset: oldOffset, NewOffset: p.Offset, Sha256State: p.SHA256State, StageState: p.StageState,
	})
	return n > 0, err
}

// Complete marks an unfinished upload at oldOffset complete, in the transaction that makes
// its content visible; uploadID is the simple upload it became (nil for a file entry). False
// when it was completed, terminated or moved on meanwhile, or when holder lost its lease.
func (t TusByID) Complete(ctx context.Context, id, holder uuid.UUID, oldOffset int64, sha256State, stageState []byte, uploadID *uuid.UUID) (bool, error) {
	n, err := t.q.TusComplete(ctx, dbsqlc.TusCompleteParams{
		ID: id, Holder: holder, OldOffset: oldOffset, Sha256State: sha256State, StageState: stageState, UploadID: pgUUID(uploadID),
	})
	return n > 0, err
}

// DeletedTus is what a termination returns of the upload's row.
type DeletedTus struct {
	BlobKey     string
	CompletedAt *time.Time
}

// Delete removes an upload whose lease holder holds, with the quota it held (ErrNotFound when
// none, or when holder lost the lease); its staged bytes are the caller's to remove after.
func (t TusByID) Delete(ctx context.Context, id, holder uuid.UUID) (DeletedTus, error) {
	r, err := t.q.TusDelete(ctx, dbsqlc.TusDeleteParams{ID: id, Holder: holder})
	if err != nil {
		return DeletedTus{}, err
	}
	return DeletedTus{BlobKey: r.BlobKey, CompletedAt: r.CompletedAt}, nil
}

// DropExpiredForFile removes the expired unfinished upload of a file entry whose lease no
// request holds, with its quota hold, so that a new one may start; it returns the blob keys whose
// staged bytes are to go.
func (t TusByID) DropExpiredForFile(ctx context.Context, fileID uuid.UUID) ([]string, error) {
	return t.q.TusDropExpiredForFile(ctx, pgUUID(&fileID))
}
