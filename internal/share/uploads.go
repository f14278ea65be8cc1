package share

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/failpoint"
	"fileshare/internal/store"
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

// CreateUpload makes staged content visible as a simple upload of p's tenant, committed
// with the uploads that arrive together (batcher).
func (s *Service) CreateUpload(ctx context.Context, p auth.Principal, content *Pending, in NewUpload) (Upload, error) {
	ttl := in.TTLSeconds
	if ttl == 0 {
		ttl = int64(s.limits.UploadTTL / time.Second)
	}
	failpoint.Hit("upload.before-commit")
	row, err := s.commitUpload(ctx, content, uploadRow{
		ID:          uuid.New(),
		TenantID:    p.TenantID,
		CreatedBy:   p.Login,
		Name:        in.Name,
		ContentType: in.ContentType,
		Size:        content.Size(),
		SHA256:      content.SHA256(),
		BlobKey:     content.key,
		TTLSeconds:  ttl,
	})
	if err != nil {
		return Upload{}, err
	}
	failpoint.Hit("upload.after-commit")
	return uploadFromRow(row), nil
}

func uploadFromRow(r store.Upload) Upload {
	return Upload{
		ID: r.ID,
		FileMeta: FileMeta{
			Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.SHA256, ModTime: r.CreatedAt,
		},
		CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt,
	}
}

// uploadCacheSize bounds the upload rows an instance keeps in memory (a few hundred bytes
// each).
const uploadCacheSize = 50_000

// expiryMargin: an upload whose expiry is this close (by the estimate of the database's clock)
// is decided by the database, not served from memory.
const expiryMargin = time.Second

// cachedUpload is what a download of a live upload needs of its row.
type cachedUpload struct {
	meta      FileMeta
	key       string
	expiresAt time.Time
	memo      *atomic.Value
}

// OpenUpload returns a live upload's content, for a download. A live upload's row never
// changes, so an instance keeps it in memory (docs/behaviour.md §13): a deletion reaches every
// instance before it is answered, and an upload near its expiry is looked up again.
func (s *Service) OpenUpload(ctx context.Context, id uuid.UUID) (*Download, error) {
	if c, ok := s.uploads.Get(id); ok && s.servable(c.expiresAt) {
		d := s.download(c.meta, c.key, ErrUploadNotFound)
		d.Memo = c.memo
		return d, nil
	}
	fill := s.uploads.StartFill()
	row, err := s.st.UploadsByID().Get(ctx, id)
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
	meta := FileMeta{Name: row.Name, ContentType: row.ContentType, Size: row.Size, SHA256: row.SHA256, ModTime: row.CreatedAt}
	d := s.download(meta, row.BlobKey, ErrUploadNotFound)
	if s.uploads != nil && s.servable(row.ExpiresAt) {
		d.Memo = new(atomic.Value)
		s.uploads.Put(fill, id, cachedUpload{meta: meta, key: row.BlobKey, expiresAt: row.ExpiresAt, memo: d.Memo})
	}
	return d, nil
}

// UploadCacheLookups counts the downloads of simple uploads served from memory (hits) and
// those that read their row from the database while the cache was in service (misses).
func (s *Service) UploadCacheLookups() (hits, misses uint64) { return s.uploads.Lookups() }

// servable reports whether an upload that expires at exp may be served from memory now.
func (s *Service) servable(exp time.Time) bool {
	return s.bus.DBNow().Add(expiryMargin).Before(exp)
}

// DeleteUpload deletes an upload of p's tenant at once: the row first, then the blob. It
// returns once no instance serves the upload any more, and once the row is deleted it returns
// nil, even when the request's context ends meanwhile.
func (s *Service) DeleteUpload(ctx context.Context, p auth.Principal, id uuid.UUID) error {
	change := s.bus.Begin()
	defer change.Done()
	var row store.DeletedUpload
	err := s.change(ctx, func(tx *store.Tx, ev *events) error {
		if err := change.Tag(ctx, tx); err != nil {
			return err
		}
		var err error
		row, err = tx.Tenant(p.TenantID).Uploads().Delete(ctx, id)
		if err == nil {
			ev.add(webhook.UploadDeleted, p.TenantID, uploadEvent(id, row.Name, row.ContentType, row.Size, row.SHA256, row.CreatedBy, row.ExpiresAt, &p.Login))
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUploadNotFound
	}
	if err != nil {
		return err
	}
	// Committed: the deletion answers success whatever follows. Its blob goes once no instance
	// serves the row from memory; that wait is bounded by one lease and outlives the request (a
	// client that went away must not leave the blob behind), and a blob that cannot be removed
	// is logged and left to the orphan sweep.
	s.uploads.Drop(id)
	if err := change.Wait(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("deleted upload: waiting for the instances' caches failed; removing its blob now", "upload_id", id, "err", err)
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
