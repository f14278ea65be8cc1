package purge

// The sweeps of a pass: what no row references any more (blobs and temp files left by a
// crash), and the stale state of logins and quota holds.

import (
	"context"
	"time"

	"fileshare/internal/auth"
)

// sweepOrphans removes blobs older than the grace period that no live row references. The grace
// period covers an upload between its blob's rename and its row's commit.
func (p *Purger) sweepOrphans(ctx context.Context, r *Result) error {
	return p.sweepUnreferenced(ctx, p.blobs.Walk, p.st.Purge().BlobKeysReferenced, func(k string) {
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
	n, err := p.st.Purge().DeleteStaleLoginCounters(ctx, auth.DefaultThresholds.StaleAfter())
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
	n, err := p.st.Purge().SweepQuotaHolds(ctx, staleQuotaHold)
	r.QuotaHolds += n
	return err
}

// foldQuotaUsage folds the records of the stored bytes of tenants that made no quota decision
// lately (a decision folds its tenant's), so that reading a figure stays cheap.
func (p *Purger) foldQuotaUsage(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Purge().FoldQuotaUsage(ctx, p.opt.BatchSize)
		r.QuotaUsageFolded += n
		return int(n), err
	})
}
