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
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
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
	WebhookEventsDeleted     int64 `json:"webhookEventsDeleted"`
	BlobErrors               int64 `json:"blobErrors"`
	// TusUploadsExpired counts unfinished resumable uploads removed, TusBytes their bytes.
	TusUploadsExpired int64 `json:"tusUploadsExpired"`
	TusBytes          int64 `json:"tusBytes"`
	// StagesRemoved counts staging areas of resumable uploads that no upload named.
	StagesRemoved int64 `json:"stagesRemoved"`
}

// Purger runs purge passes.
type Purger struct {
	st    *store.Store
	blobs blob.Store
	log   *slog.Logger
	opt   Options
	// OnPass, when set, is called after every pass (metrics).
	OnPass func(Result, time.Duration, error)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

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
	return &Purger{st: st, blobs: blobs, log: log, opt: opt}
}

// Start runs a pass at once and then every Interval, until Stop or ctx ends.
func (p *Purger) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.opt.Interval)
		defer t.Stop()
		for {
			if _, err := p.RunOnce(ctx); err != nil && ctx.Err() == nil {
				p.log.Error("purge pass failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the scheduler and waits for a running pass to stop.
func (p *Purger) Stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
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

func (p *Purger) expireUploads(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		var rows []dbsqlc.UploadExpireBatchRow
		err := p.st.Transact(ctx, func(tx pgx.Tx, q *dbsqlc.Queries) error {
			var err error
			if rows, err = q.UploadExpireBatch(ctx, int32(p.opt.BatchSize)); err != nil {
				return err
			}
			evs := make([]webhook.Event, len(rows))
			for i, r := range rows {
				evs[i] = webhook.Event{Type: webhook.UploadExpired, TenantID: r.TenantID, Data: webhook.UploadData{
					UploadID: r.ID, File: webhook.NewFile(r.Name, r.ContentType, &r.Size, r.Sha256),
					CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt.UTC(),
				}}
			}
			return p.opt.Events.Record(ctx, tx, q, evs...)
		})
		if err != nil {
			return 0, err
		}
		for _, row := range rows {
			p.deleteBlob(ctx, r, row.BlobKey)
			r.UploadsExpired++
			r.UploadBytes += row.Size
		}
		return len(rows), nil
	})
}

func (p *Purger) retentionSeconds() int64 { return int64(p.opt.TombstoneRetention / time.Second) }

func (p *Purger) deleteTombstones(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Q.UploadDeleteTombstones(ctx, dbsqlc.UploadDeleteTombstonesParams{
			RetentionSeconds: p.retentionSeconds(), BatchSize: int32(p.opt.BatchSize),
		})
		r.TombstonesDeleted += n
		return int(n), err
	})
}

// expireSessions empties expired sessions: their file entries go with their tokens and upload
// URLs, then their blobs; the session rows stay as tombstones.
func (p *Purger) expireSessions(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		var (
			ids   []uuid.UUID
			files []dbsqlc.SessionDeleteFilesOfRow
		)
		err := p.st.Transact(ctx, func(tx pgx.Tx, q *dbsqlc.Queries) error {
			var err error
			if ids, err = q.SessionLockExpiredBatch(ctx, int32(p.opt.BatchSize)); err != nil || len(ids) == 0 {
				return err
			}
			if files, err = q.SessionDeleteFilesOf(ctx, ids); err != nil {
				return err
			}
			if _, err = q.SessionMarkPurged(ctx, ids); err != nil {
				return err
			}
			return p.recordSessionsExpired(ctx, tx, q, ids)
		})
		if err != nil {
			return 0, err
		}
		for _, f := range files {
			r.FilesDeleted++
			if f.BlobKey != nil {
				p.deleteBlob(ctx, r, *f.BlobKey)
				if f.Size != nil {
					r.FileBytes += *f.Size
				}
			}
		}
		r.SessionsExpired += int64(len(ids))
		return len(ids), nil
	})
}

// recordSessionsExpired records the session.expired events of a batch in its transaction.
func (p *Purger) recordSessionsExpired(ctx context.Context, tx pgx.Tx, q *dbsqlc.Queries, ids []uuid.UUID) error {
	rows, err := q.SessionEventInfo(ctx, ids)
	if err != nil {
		return err
	}
	evs := make([]webhook.Event, len(rows))
	for i, r := range rows {
		evs[i] = webhook.Event{Type: webhook.SessionExpired, TenantID: r.TenantID, Data: webhook.SessionData{
			SessionID: r.ID, CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt.UTC(),
		}}
	}
	return p.opt.Events.Record(ctx, tx, q, evs...)
}

// deleteWebhookEvents deletes settled webhook events (with their delivery log) past the
// retention.
func (p *Purger) deleteWebhookEvents(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Q.WebhookEventDeleteSettled(ctx, dbsqlc.WebhookEventDeleteSettledParams{
			RetentionSeconds: p.retentionSeconds(), BatchSize: int32(p.opt.BatchSize),
		})
		r.WebhookEventsDeleted += n
		return int(n), err
	})
}

// deleteSessionTombstones deletes the tombstones of sessions whose retention has passed.
func (p *Purger) deleteSessionTombstones(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Q.SessionDeleteTombstones(ctx, dbsqlc.SessionDeleteTombstonesParams{
			RetentionSeconds: p.retentionSeconds(), BatchSize: int32(p.opt.BatchSize),
		})
		r.SessionTombstonesDeleted += n
		return int(n), err
	})
}

func (p *Purger) deleteTokens(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Q.DownloadTokenDeleteSpent(ctx, dbsqlc.DownloadTokenDeleteSpentParams{
			RetentionSeconds: p.retentionSeconds(), BatchSize: int32(p.opt.BatchSize),
		})
		r.TokensDeleted += n
		return int(n), err
	})
}

func (p *Purger) deleteUploadURLs(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Q.UploadTokenDeleteExpired(ctx, int32(p.opt.BatchSize))
		r.UploadURLsDeleted += n
		return int(n), err
	})
}

// sweepOrphans removes blobs older than the grace period that no live row references. The grace
// period covers an upload between its blob's rename and its row's commit.
func (p *Purger) sweepOrphans(ctx context.Context, r *Result) error {
	return p.sweepUnreferenced(ctx, p.blobs.Walk, p.st.Q.BlobKeysReferenced, func(k string) {
		p.deleteBlob(ctx, r, k)
		r.OrphansRemoved++
	})
}

// sweepUnreferenced walks the keys older than the grace period, asks the database which of
// them rows still reference, a batch at a time, and removes the others.
func (p *Purger) sweepUnreferenced(ctx context.Context,
	walk func(context.Context, time.Time, func(string) error) error,
	referenced func(context.Context, []string) ([]string, error),
	remove func(key string),
) error {
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		bctx, cancel := context.WithTimeout(ctx, p.opt.BatchTimeout)
		defer cancel()
		live, err := referenced(bctx, batch)
		if err != nil {
			return err
		}
		keep := make(map[string]bool, len(live))
		for _, k := range live {
			keep[k] = true
		}
		for _, k := range batch {
			if !keep[k] {
				remove(k)
			}
		}
		batch = batch[:0]
		return nil
	}
	err := walk(ctx, time.Now().Add(-p.opt.OrphanGrace), func(key string) error {
		batch = append(batch, key)
		if len(batch) >= p.opt.BatchSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func (p *Purger) deleteLoginCounters(ctx context.Context, r *Result) error {
	ctx, cancel := context.WithTimeout(ctx, p.opt.BatchTimeout)
	defer cancel()
	n, err := p.st.Q.AuthThrottleDeleteStale(ctx, float64(auth.DefaultThresholds.StaleAfter()/time.Millisecond))
	r.LoginCounters += n
	return err
}

func (p *Purger) sweepTemp(ctx context.Context, r *Result) error {
	n, err := p.blobs.SweepTemp(ctx, time.Now().Add(-p.opt.OrphanGrace))
	r.TempFilesRemoved += int64(n)
	return err
}

// staleQuotaHold is the age past which bytes held for an upload in progress are taken to be
// left by a crash: no upload streams for a day.
const staleQuotaHold = 24 * time.Hour

func (p *Purger) sweepQuotaHolds(ctx context.Context, r *Result) error {
	ctx, cancel := context.WithTimeout(ctx, p.opt.BatchTimeout)
	defer cancel()
	n, err := p.st.Q.QuotaSweep(ctx, int64(staleQuotaHold/time.Second))
	r.QuotaHolds += n
	return err
}
