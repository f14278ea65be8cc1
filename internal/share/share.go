// Package share is the product's logic: simple uploads, sessions, file entries, upload URLs
// and one-time download tokens, on top of the database (store) and the blob store (blob).
package share

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/coherence"
	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// Domain errors; the HTTP layer maps each to its status and message.
var (
	ErrFileRequired    = errors.New("file is required")
	ErrInvalidTTL      = errors.New("invalid ttl")
	ErrTooLarge        = errors.New("file too large")
	ErrUploadNotFound  = errors.New("upload not found")
	ErrUploadExpired   = errors.New("upload expired")
	ErrSessionNotFound = errors.New("session not found")
	ErrSessionExpired  = errors.New("session expired")
	ErrFileNotFound    = errors.New("file not found")
	ErrAlreadyUploaded = errors.New("file already uploaded")
	// ErrUploadInProgress refuses a second unfinished resumable upload of one file entry.
	ErrUploadInProgress   = errors.New("upload in progress")
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
	// TombstoneRetention is how long after its expiry an upload or a session answers as
	// expired (410); after it, as not found (404), whether or not the purge has run.
	TombstoneRetention time.Duration
	// TokenResumeWindow is how long after a token's consumption its cut download may be
	// resumed (until the file has been delivered once).
	TokenResumeWindow time.Duration
	// TusExpiry is how long a resumable upload may take, from its creation.
	TusExpiry time.Duration
	// TusMaxUnfinished bounds a tenant's unfinished resumable uploads.
	TusMaxUnfinished int
}

// Service implements the product's operations.
type Service struct {
	st     *store.Store
	blobs  blob.Store
	limits Limits
	log    *slog.Logger
	events *webhook.Outbox
	// bus and uploads keep live uploads' rows in memory for downloads, coherent across
	// instances (package coherence); nil without a bus.
	bus     *coherence.Bus
	uploads *coherence.Cache[cachedUpload]
	// group commits concurrent simple uploads together.
	group batcher
	// hooks are where tests inject faults (export_test.go); all nil otherwise.
	hooks hooks
}

// hooks are points of the commit path where a test injects a fault or waits for the service.
// Only tests set them (through export_test.go, which production builds do not compile); nil
// hooks cost a comparison.
type hooks struct {
	// beforeBatch runs before the transaction of each group, with its uploads' ids.
	beforeBatch func(ids []uuid.UUID)
	// inGroup runs in the transaction of each group, after its rows are made, with the
	// context of its statements: an error (or a panic) fails the transaction.
	inGroup func(ctx context.Context, ids []uuid.UUID) error
	// alone runs before an upload of a failed group commits on its own.
	alone func(id uuid.UUID)
	// quotaLocked runs in a quota decision, while the tenant's row is locked.
	quotaLocked func(tenantID int64)
}

// Option changes a Service.
type Option func(*Service)

// WithEvents records the events of the changes in outbox (the server's, with its metrics);
// by default the Service makes an outbox of its own.
func WithEvents(outbox *webhook.Outbox) Option { return func(s *Service) { s.events = outbox } }

// WithCoherence keeps live uploads' rows in memory, kept coherent with every instance
// through b (which the caller runs).
func WithCoherence(b *coherence.Bus) Option {
	return func(s *Service) {
		s.bus = b
		s.uploads = coherence.NewCache[cachedUpload](b, uploadCacheSize)
	}
}

// New returns a Service.
func New(st *store.Store, blobs blob.Store, limits Limits, log *slog.Logger, opts ...Option) *Service {
	if limits.UploadURLTTL == 0 {
		limits.UploadURLTTL = time.Hour
	}
	if limits.TusMaxUnfinished == 0 {
		limits.TusMaxUnfinished = 100
	}
	if limits.TusExpiry == 0 {
		limits.TusExpiry = 24 * time.Hour
	}
	s := &Service{st: st, blobs: blobs, limits: limits, log: log}
	s.group.s = s
	for _, o := range opts {
		o(s)
	}
	if s.events == nil {
		s.events = webhook.NewOutbox(st, nil)
	}
	return s
}

// change runs fn in one transaction and records the events it reports in that transaction
// (docs/behaviour.md §10.3): no event of a change that rolled back, no committed change
// without its event.
func (s *Service) change(ctx context.Context, fn func(tx *store.Tx, ev *events) error) error {
	return s.changeOn(ctx, s.st.InTx, fn)
}

// txRunner runs a transaction: Store.InTx, or a wrapper of it.
type txRunner func(context.Context, func(*store.Tx) error) error

// changeOn is change on the transactions of inTx.
func (s *Service) changeOn(ctx context.Context, inTx txRunner, fn func(tx *store.Tx, ev *events) error) error {
	return inTx(ctx, func(tx *store.Tx) error {
		var ev events
		if err := fn(tx, &ev); err != nil {
			return err
		}
		return s.events.Record(ctx, tx, ev...)
	})
}

// events collects the events of a change.
type events []webhook.Event

func (e *events) add(typ string, tenantID int64, data any) {
	*e = append(*e, webhook.Event{Type: typ, TenantID: tenantID, Data: data})
}

// Limits returns the configured limits.
func (s *Service) Limits() Limits { return s.limits }

// pastRetention reports whether something that expired at expiresAt is past its tombstone's
// retention, and so answers as not found rather than as expired.
func (s *Service) pastRetention(expiresAt time.Time) bool {
	return s.limits.TombstoneRetention > 0 && time.Since(expiresAt) >= s.limits.TombstoneRetention
}

// sessionExpired is the error of every route below a session that expired at expiresAt: 410
// ErrSessionExpired while its tombstone is kept, then the route's notFound. Every route
// decides it here.
func (s *Service) sessionExpired(expiresAt time.Time, notFound error) error {
	if s.pastRetention(expiresAt) {
		return notFound
	}
	return ErrSessionExpired
}
