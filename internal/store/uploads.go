package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// Upload is a simple upload's row.
type Upload struct {
	// ID is the download link's id: a capability.
	ID          uuid.UUID
	TenantID    int64
	CreatedBy   string
	Name        string
	ContentType string
	Size        int64
	SHA256      []byte
	BlobKey     string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// PurgedAt is set on the tombstone of an expired upload whose blob the purge removed.
	PurgedAt *time.Time
	// Ref is the public reference that audit views and logs show.
	Ref uuid.UUID
}

func uploadFromRow(r dbsqlc.Upload) Upload {
	return Upload{
		ID: r.ID, TenantID: r.TenantID, CreatedBy: r.CreatedBy, Name: r.Name, ContentType: r.ContentType,
		Size: r.Size, SHA256: r.Sha256, BlobKey: r.BlobKey, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		PurgedAt: r.PurgedAt, Ref: r.Ref,
	}
}

// NewUpload is a simple upload to insert; its tenant is the scope's.
type NewUpload struct {
	ID          uuid.UUID
	CreatedBy   string
	Name        string
	ContentType string
	Size        int64
	SHA256      []byte
	BlobKey     string
	// TTLSeconds is its lifetime, counted from the commit.
	TTLSeconds int64
}

// Uploads are a tenant's simple uploads.
type Uploads struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// Uploads are the tenant's simple uploads.
func (t TenantScope) Uploads() Uploads { return Uploads{q: t.q, tenantID: t.id} }

// Bind binds in to the tenant, for UploadBatch.Create, which inserts uploads, of one tenant
// or several, in one statement.
func (u Uploads) Bind(in NewUpload) BoundUpload { return BoundUpload{tenantID: u.tenantID, in: in} }

// DeletedUpload is what a deletion returns of the upload's row.
type DeletedUpload struct {
	BlobKey string
	// PurgedAt is set when the purge removed the blob already.
	PurgedAt    *time.Time
	Name        string
	ContentType string
	Size        int64
	SHA256      []byte
	CreatedBy   string
	ExpiresAt   time.Time
}

// Delete deletes an upload of the tenant (ErrNotFound when it has none with id).
func (u Uploads) Delete(ctx context.Context, id uuid.UUID) (DeletedUpload, error) {
	r, err := u.q.UploadDelete(ctx, dbsqlc.UploadDeleteParams{ID: id, TenantID: u.tenantID})
	if err != nil {
		return DeletedUpload{}, err
	}
	return DeletedUpload{
		BlobKey: r.BlobKey, PurgedAt: r.PurgedAt, Name: r.Name, ContentType: r.ContentType, Size: r.Size,
		SHA256: r.Sha256, CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt,
	}, nil
}

// BoundUpload is an upload to insert, bound to its tenant by Uploads.Bind: the only way to
// make one, so that a batch cannot insert a row without its tenant.
type BoundUpload struct {
	tenantID int64
	in       NewUpload
}

// UploadBatch inserts simple uploads: one, or those of concurrent requests of any tenants
// together (share's group commit). Each row was bound to its tenant by Tenant(id).
type UploadBatch struct{ q *dbsqlc.Queries }

// UploadBatch inserts uploads.
func (r Repos) UploadBatch() UploadBatch { return UploadBatch(r) }

// Create inserts the uploads in one statement and returns their rows, in no particular order.
func (b UploadBatch) Create(ctx context.Context, uploads []BoundUpload) ([]Upload, error) {
	n := len(uploads)
	p := dbsqlc.UploadCreateManyParams{
		Ids: make([]uuid.UUID, n), TenantIds: make([]int64, n), CreatedBy: make([]string, n),
		Names: make([]string, n), ContentTypes: make([]string, n), Sizes: make([]int64, n),
		Sha256s: make([][]byte, n), BlobKeys: make([]string, n), TtlSeconds: make([]int64, n),
	}
	for i, u := range uploads {
		a := u.in
		p.Ids[i], p.TenantIds[i], p.CreatedBy[i], p.Names[i] = a.ID, u.tenantID, a.CreatedBy, a.Name
		p.ContentTypes[i], p.Sizes[i], p.Sha256s[i], p.BlobKeys[i], p.TtlSeconds[i] = a.ContentType, a.Size, a.SHA256, a.BlobKey, a.TTLSeconds
	}
	rows, err := b.q.UploadCreateMany(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]Upload, len(rows))
	for i, r := range rows {
		out[i] = uploadFromRow(r)
	}
	return out, nil
}

// UploadsByID reaches a simple upload by its download link's id, which is the capability:
// a download has no credentials, so no tenant scope here.
type UploadsByID struct{ q *dbsqlc.Queries }

// UploadsByID reaches uploads by their download link.
func (r Repos) UploadsByID() UploadsByID { return UploadsByID(r) }

// LinkedUpload is an upload as its download link finds it.
type LinkedUpload struct {
	Upload
	// Expired: its expiry has passed, by the database's clock.
	Expired bool
}

// Get returns the upload with id, live, expired or a tombstone (ErrNotFound when none).
func (u UploadsByID) Get(ctx context.Context, id uuid.UUID) (LinkedUpload, error) {
	r, err := u.q.UploadGet(ctx, id)
	if err != nil {
		return LinkedUpload{}, err
	}
	return LinkedUpload{Upload: Upload{
		ID: r.ID, TenantID: r.TenantID, CreatedBy: r.CreatedBy, Name: r.Name, ContentType: r.ContentType,
		Size: r.Size, SHA256: r.Sha256, BlobKey: r.BlobKey, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		PurgedAt: r.PurgedAt, Ref: r.Ref,
	}, Expired: r.Expired}, nil
}
