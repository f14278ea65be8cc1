// Package purge removes what has expired (docs/behaviour.md §5): blobs of expired uploads (whose rows stay as
// tombstones for a retention period), expired sessions with their file entries, tokens and
// blobs, spent tokens, and blobs or temp files that no row references (left by a crash).
//
// Every step works in bounded batches, each in its own short transaction with a timeout, and
// skips rows another purger holds (FOR UPDATE SKIP LOCKED), so several instances may purge one
// database at once. A row change is committed before its blob is deleted: a crash in between
// leaves an orphan blob for the sweep, never a row without its blob.
package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/testsignal"
	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// Options tune the purge.
type Options struct {
	// Interval between passes of the scheduler.
	Interval time.Duration
	// TombstoneRetention is how long an expired upload's row (answering 410) and a spent
	// token's row (for the audit) are kept after expiry or consumption.
	TombstoneRetention time.Duration
	// OrphanGrace is the age before an unreferenced blob or temp file is swept; longer than any
	// upload may take.
	OrphanGrace time.Duration
	// BatchSize bounds the rows of one transaction.
	BatchSize int
	// BatchTimeout bounds one batch.
	BatchTimeout time.Duration
	// Events records the upload.expired and session.expired events; nil: an outbox of its own.
	Events *webhook.Outbox
}

// Result counts what one pass removed.
type Result struct {
	UploadsExpired    int64 `json:"uploadsExpired"`
	UploadBytes       int64 `json:"uploadBytes"`
	TombstonesDeleted int64 `json:"tombstonesDeleted"`
	SessionsExpired   int64 `json:"sessionsExpired"`
	// SessionTombstonesDeleted counts expired sessions whose tombstone retention had passed.
	SessionTombstonesDeleted int64 `json:"sessionTombstonesDeleted"`
	FilesDeleted             int64 `json:"filesDeleted"`
	FileBytes                int64 `json:"fileBytes"`
	TokensDeleted            int64 `json:"tokensDeleted"`
	UploadURLsDeleted        int64 `json:"uploadUrlsDeleted"`
	OrphansRemoved           int64 `json:"orphansRemoved"`
	TempFilesRemoved         int64 `json:"tempFilesRemoved"`
	LoginCounters            int64 `json:"loginCountersDeleted"`
	QuotaHolds               int64 `json:"quotaHoldsSwept"`
	// QuotaUsageFolded counts tenants whose records of stored bytes were folded into one.
	QuotaUsageFolded     int64 `json:"quotaUsageFolded"`
	WebhookEventsDeleted int64 `json:"webhookEventsDeleted"`
	BlobErrors           int64 `json:"blobErrors"`
	// TusUploadsExpired counts unfinished resumable uploads removed, TusBytes their bytes.
	TusUploadsExpired int64 `json:"tusUploadsExpired"`
	TusBytes          int64 `json:"tusBytes"`
	// StagesRemoved counts staging areas of resumable uploads that no upload named.
	StagesRemoved int64 `json:"stagesRemoved"`
}

// Purger runs purge passes; Start runs them on a schedule, in the background.
type Purger struct {
	lifecycle.Runner
	st    *store.Store
	blobs blob.Store
	log   *slog.Logger
	opt   Options
	// OnPass, when set, is called after every pass (metrics).
	OnPass func(Result, time.Duration, error)
	// TestSignals are the points of the scheduler that tests wait for (off unless Init).
	TestSignals TestSignals
}

// TestSignals are the points of the scheduler's loop that a test can wait for.
type TestSignals struct {
	// PassDone is signalled after each scheduled pass, with what it removed.
	PassDone testsignal.Signal[Result]
}

// Init turns the signals on; call it before Start.
func (s *TestSignals) Init() { s.PassDone.Init() }

// New returns a Purger.
func New(st *store.Store, blobs blob.Store, log *slog.Logger, opt Options) *Purger {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	if opt.BatchTimeout <= 0 {
		opt.BatchTimeout = 30 * time.Second
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Minute
	}
	if opt.Events == nil {
		opt.Events = webhook.NewOutbox(st, nil)
	}
	return &Purger{Runner: lifecycle.Runner{Name: "purge"}, st: st, blobs: blobs, log: log, opt: opt}
}

// Start runs a pass at once and then every Interval, until Stop or the end of ctx; Stop
// returns once the pass under way has stopped.
func (p *Purger) Start(ctx context.Context) error {
	return p.Runner.Start(ctx, func(ctx context.Context, g *lifecycle.Group) error {
		g.Go(p.schedule)
		return nil
	})
}

func (p *Purger) schedule(ctx context.Context) {
	t := time.NewTicker(p.opt.Interval)
	defer t.Stop()
	for {
		r, err := p.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("purge pass failed", "err", err)
		}
		p.TestSignals.PassDone.Signal(r)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce makes one full pass and reports what it removed.
func (p *Purger) RunOnce(ctx context.Context) (Result, error) {
	start := time.Now()
	var r Result
	steps := []struct {
		name string
		fn   func(context.Context, *Result) error
	}{
		{"expired uploads", p.expireUploads},
		{"tombstones", p.deleteTombstones},
		{"expired sessions", p.expireSessions},
		{"session tombstones", p.deleteSessionTombstones},
		{"spent tokens", p.deleteTokens},
		{"expired upload URLs", p.deleteUploadURLs},
		{"expired tus uploads", p.expireTus},
		{"orphan blobs", p.sweepOrphans},
		{"temp files", p.sweepTemp},
		{"orphan staging areas", p.sweepStages},
		{"login failure counters", p.deleteLoginCounters},
		{"stale quota holds", p.sweepQuotaHolds},
		{"quota usage records", p.foldQuotaUsage},
		{"webhook events", p.deleteWebhookEvents},
	}
	var errs []error
	for _, s := range steps {
		if err := s.fn(ctx, &r); err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		}
	}
	err := errors.Join(errs...)
	elapsed := time.Since(start)
	p.log.Info("purge pass",
		"uploads_expired", r.UploadsExpired, "upload_bytes", r.UploadBytes,
		"tombstones_deleted", r.TombstonesDeleted,
		"sessions_expired", r.SessionsExpired, "session_tombstones_deleted", r.SessionTombstonesDeleted, "files_deleted", r.FilesDeleted, "file_bytes", r.FileBytes,
		"tokens_deleted", r.TokensDeleted, "upload_urls_deleted", r.UploadURLsDeleted,
		"orphans_removed", r.OrphansRemoved, "temp_files_removed", r.TempFilesRemoved,
		"tus_uploads_expired", r.TusUploadsExpired, "tus_bytes", r.TusBytes, "stages_removed", r.StagesRemoved,
		"blob_errors", r.BlobErrors, "duration_ms", elapsed.Milliseconds())
	if p.OnPass != nil {
		p.OnPass(r, elapsed, err)
	}
	return r, err
}

// batches runs fn on fresh batch contexts until it reports fewer rows than a full batch.
func (p *Purger) batches(ctx context.Context, fn func(ctx context.Context) (int, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		bctx, cancel := context.WithTimeout(ctx, p.opt.BatchTimeout)
		n, err := fn(bctx)
		cancel()
		if err != nil {
			return err
		}
		if n < p.opt.BatchSize {
			return nil
		}
	}
}

func (p *Purger) deleteBlob(ctx context.Context, r *Result, key string) {
	if err := p.blobs.Delete(ctx, key); err != nil {
		r.BlobErrors++
		p.log.Warn("purge: deleting blob failed; the orphan sweep will retry", "key", key, "err", err)
	}
}
