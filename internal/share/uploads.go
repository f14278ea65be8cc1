package share

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/failpoint"
	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
)

// FileMeta is what a download needs to know about its content.
type FileMeta struct {
	Name        string
	ContentType string
	Size        int64
	SHA256      []byte
	ModTime     time.Time
}

// Upload is a simple upload.
type Upload struct {
	ID        uuid.UUID
	FileMeta  FileMeta
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NewUpload describes content already stored with PutBlob.
type NewUpload struct {
	Blob        StoredBlob
	Name        string
	ContentType string
	// TTLSeconds is 0 for the configured default.
	TTLSeconds int64
}

// CreateUpload makes stored content visible as a simple upload. On error the blob is discarded
// (left to the orphan sweep when the row may have been committed all the same).
func (s *Service) CreateUpload(ctx context.Context, p auth.Principal, in NewUpload) (Upload, error) {
	ttl := in.TTLSeconds
	if ttl == 0 {
		ttl = int64(s.limits.UploadTTL / time.Second)
	}
	failpoint.Hit("upload.before-commit")
	row, err := s.st.Q.UploadCreate(ctx, dbsqlc.UploadCreateParams{
		ID:          uuid.New(),
		TenantID:    p.TenantID,
		CreatedBy:   p.Login,
		Name:        in.Name,
		ContentType: in.ContentType,
		Size:        in.Blob.Info.Size,
		Sha256:      in.Blob.Info.SHA256[:],
		BlobKey:     in.Blob.Key,
		TtlSeconds:  ttl,
	})
	if err != nil {
		s.discardUncommitted(ctx, in.Blob.Key, err)
		return Upload{}, err
	}
	failpoint.Hit("upload.after-commit")
	return uploadFromRow(row), nil
}

func uploadFromRow(r dbsqlc.Upload) Upload {
	return Upload{
		ID: r.ID,
		FileMeta: FileMeta{
			Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.Sha256, ModTime: r.CreatedAt,
		},
		CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt,
	}
}

// OpenUpload returns a live upload's metadata and its open content, for a download. The
// caller closes the object.
func (s *Service) OpenUpload(ctx context.Context, id uuid.UUID) (FileMeta, blob.Object, error) {
	row, err := s.st.Q.UploadGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return FileMeta{}, nil, ErrUploadNotFound
	}
	if err != nil {
		return FileMeta{}, nil, err
	}
	if row.Expired || row.PurgedAt != nil {
		return FileMeta{}, nil, ErrUploadExpired
	}
	obj, err := s.blobs.Open(ctx, row.BlobKey, row.Size)
	if errors.Is(err, blob.ErrNotFound) {
		// Deleted between the query and the open.
		return FileMeta{}, nil, ErrUploadNotFound
	}
	if err != nil {
		return FileMeta{}, nil, err
	}
	return FileMeta{
		Name: row.Name, ContentType: row.ContentType, Size: row.Size, SHA256: row.Sha256, ModTime: row.CreatedAt,
	}, obj, nil
}

// DeleteUpload deletes an upload of p's tenant at once: the row first, then the blob.
func (s *Service) DeleteUpload(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	row, err := s.st.Q.UploadDelete(ctx, dbsqlc.UploadDeleteParams{ID: id, TenantID: p.TenantID})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUploadNotFound
	}
	if err != nil {
		return err
	}
	if row.PurgedAt == nil {
		s.Discard(ctx, row.BlobKey)
	}
	return nil
}
