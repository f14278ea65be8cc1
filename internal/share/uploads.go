package share

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/failpoint"
	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
	"fileshare/internal/webhook"
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

// NewUpload describes a simple upload whose content is staged (Stage with blob.KindUpload).
type NewUpload struct {
	Name        string
	ContentType string
	// TTLSeconds is 0 for the configured default.
	TTLSeconds int64
}

// CreateUpload makes staged content visible as a simple upload of p's tenant.
func (s *Service) CreateUpload(ctx context.Context, p auth.Principal, content *Pending, in NewUpload) (Upload, error) {
	ttl := in.TTLSeconds
	if ttl == 0 {
		ttl = int64(s.limits.UploadTTL / time.Second)
	}
	failpoint.Hit("upload.before-commit")
	var row dbsqlc.Upload
	err := content.commit(ctx, func(q *dbsqlc.Queries, ev *events) error {
		var err error
		row, err = q.UploadCreate(ctx, dbsqlc.UploadCreateParams{
			ID:          uuid.New(),
			TenantID:    p.TenantID,
			CreatedBy:   p.Login,
			Name:        in.Name,
			ContentType: in.ContentType,
			Size:        content.Size(),
			Sha256:      content.SHA256(),
			BlobKey:     content.key,
			TtlSeconds:  ttl,
		})
		if err == nil {
			ev.add(webhook.UploadStored, p.TenantID, uploadEvent(row.ID, row.Name, row.ContentType, row.Size, row.Sha256, row.CreatedBy, row.ExpiresAt, &p.Login))
		}
		return err
	})
	if err != nil {
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

// OpenUpload returns a live upload's content, for a download.
func (s *Service) OpenUpload(ctx context.Context, id uuid.UUID) (*Download, error) {
	row, err := s.st.Q.UploadGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUploadNotFound
	}
	if err != nil {
		return nil, err
	}
	if row.Expired || row.PurgedAt != nil {
		if s.pastRetention(row.ExpiresAt) {
			return nil, ErrUploadNotFound
		}
		return nil, ErrUploadExpired
	}
	meta := FileMeta{Name: row.Name, ContentType: row.ContentType, Size: row.Size, SHA256: row.Sha256, ModTime: row.CreatedAt}
	return s.download(meta, row.BlobKey, ErrUploadNotFound), nil
}

// DeleteUpload deletes an upload of p's tenant at once: the row first, then the blob.
func (s *Service) DeleteUpload(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	var row dbsqlc.UploadDeleteRow
	err := s.change(ctx, func(q *dbsqlc.Queries, ev *events) error {
		var err error
		row, err = q.UploadDelete(ctx, dbsqlc.UploadDeleteParams{ID: id, TenantID: p.TenantID})
		if err == nil {
			ev.add(webhook.UploadDeleted, p.TenantID, uploadEvent(id, row.Name, row.ContentType, row.Size, row.Sha256, row.CreatedBy, row.ExpiresAt, &p.Login))
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUploadNotFound
	}
	if err != nil {
		return err
	}
	if row.PurgedAt == nil {
		s.removeBlob(ctx, row.BlobKey)
	}
	return nil
}

// uploadEvent is the data of an upload.* event; login is nil when no user caused it.
func uploadEvent(id uuid.UUID, name, contentType string, size int64, sha []byte, createdBy string, expiresAt time.Time, login *string) webhook.UploadData {
	return webhook.UploadData{
		UploadID: id, File: webhook.NewFile(name, contentType, &size, sha), CreatedBy: createdBy,
		ExpiresAt: expiresAt.UTC(), Login: login,
	}
}
