// Package share is the product's logic: simple uploads, sessions, file entries, upload URLs
// and one-time download tokens, on top of the database (store) and the blob store (blob).
package share

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/store"
)

// Domain errors; the HTTP layer maps each to its status and message.
var (
	ErrFileRequired       = errors.New("file is required")
	ErrInvalidTTL         = errors.New("invalid ttl")
	ErrTooLarge           = errors.New("file too large")
	ErrUploadNotFound     = errors.New("upload not found")
	ErrUploadExpired      = errors.New("upload expired")
	ErrSessionNotFound    = errors.New("session not found")
	ErrSessionExpired     = errors.New("session expired")
	ErrFileNotFound       = errors.New("file not found")
	ErrAlreadyUploaded    = errors.New("file already uploaded")
	ErrSizeMismatch       = errors.New("size mismatch")
	ErrNotUploadedYet     = errors.New("file not uploaded yet")
	ErrTokenNotFound      = errors.New("download token not found")
	ErrTokenUsed          = errors.New("download token already used")
	ErrTokenExpired       = errors.New("download token expired")
	ErrUploadTokenInvalid = errors.New("upload token invalid")
	ErrUploadTokenExpired = errors.New("upload token expired")
	ErrNameRequired       = errors.New("name is required")
	ErrInvalidSize        = errors.New("invalid size")
)

// Limits are the configured bounds and defaults.
type Limits struct {
	UploadTTL      time.Duration
	SessionTTL     time.Duration
	UploadURLTTL   time.Duration
	MaxTTL         time.Duration
	MaxUploadBytes int64
}

// Service implements the product's operations.
type Service struct {
	st     *store.Store
	blobs  blob.Store
	limits Limits
	log    *slog.Logger
}

// New returns a Service.
func New(st *store.Store, blobs blob.Store, limits Limits, log *slog.Logger) *Service {
	if limits.UploadURLTTL == 0 {
		limits.UploadURLTTL = time.Hour
	}
	return &Service{st: st, blobs: blobs, limits: limits, log: log}
}

// Limits returns the configured limits.
func (s *Service) Limits() Limits { return s.limits }

// Blobs returns the blob store.
func (s *Service) Blobs() blob.Store { return s.blobs }

// StoredBlob is content that has been made durable in the blob store but is not yet visible
// through any row. Whoever holds one must either commit a row for it or Discard it.
type StoredBlob struct {
	Key  string
	Info blob.Info
}

// PutBlob streams r into a new blob of the given kind, refusing more than limit bytes with
// errOver.
func (s *Service) PutBlob(ctx context.Context, kind string, r io.Reader, limit int64, errOver error) (StoredBlob, error) {
	key := blob.NewKey(kind)
	info, err := s.blobs.Put(ctx, key, &limitReader{r: r, left: limit, errOver: errOver})
	if err != nil {
		return StoredBlob{}, err
	}
	return StoredBlob{Key: key, Info: info}, nil
}

// Discard removes a blob that no row will point to. It runs even when ctx is done (the client
// went away), because a blob left behind would be an orphan until the next sweep.
func (s *Service) Discard(ctx context.Context, key string) {
	if err := s.blobs.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.log.Warn("discarding blob failed; the orphan sweep will remove it", "key", key, "err", err)
	}
}

// discardUncommitted removes the blob of a row whose commit failed with err, unless the commit
// may have happened all the same (its answer was lost): a row must never lose its blob, and the
// orphan sweep removes the blob later if no row took it.
func (s *Service) discardUncommitted(ctx context.Context, key string, err error) {
	if store.OutcomeUnknown(err) {
		s.log.Warn("commit outcome unknown; the blob is left to the orphan sweep", "key", key, "err", err)
		return
	}
	s.Discard(ctx, key)
}

// deleteBlobs removes blobs whose rows are already gone (committed first, SPEC §6 order).
func (s *Service) deleteBlobs(ctx context.Context, keys []*string) {
	for _, k := range keys {
		if k != nil && *k != "" {
			s.Discard(ctx, *k)
		}
	}
}

// limitReader fails with errOver once more than left bytes have been read.
type limitReader struct {
	r       io.Reader
	left    int64
	errOver error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.errOver
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, l.errOver
	}
	return n, err
}
