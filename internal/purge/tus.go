package purge

import (
	"context"

	"github.com/google/uuid"
)

// expireTus removes resumable uploads past their expiry: unfinished ones with the bytes they
// staged (and, on S3, their incomplete multipart upload), completed ones with whatever their
// staging left. An upload that a request is writing holds its lock and is skipped until the
// next pass.
func (p *Purger) expireTus(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		rows, err := p.st.Purge().ExpireTus(ctx, p.opt.BatchSize)
		if err != nil {
			return 0, err
		}
		ids := make([]uuid.UUID, len(rows))
		for i, row := range rows {
			ids[i] = row.ID
		}
		if err := p.st.Purge().ReleaseTusHolds(ctx, ids); err != nil {
			return 0, err
		}
		for _, row := range rows {
			if err := p.blobs.RemoveStage(ctx, row.BlobKey); err != nil {
				r.BlobErrors++
				p.log.Warn("purge: removing staged bytes failed; the staging sweep will retry", "key", row.BlobKey, "err", err)
			}
			if row.CompletedAt == nil {
				// A blob sealed by a commit that failed: no row names it.
				p.deleteBlob(ctx, r, row.BlobKey)
				r.TusUploadsExpired++
				r.TusBytes += row.UploadOffset
			}
		}
		return len(rows), nil
	})
}

// sweepStages removes staging areas older than the grace period that no tus upload names: left
// by a crash between a staging area's creation and its row, or between a row's deletion and
// its staging area's.
func (p *Purger) sweepStages(ctx context.Context, r *Result) error {
	return p.sweepUnreferenced(ctx, p.blobs.WalkStages, p.st.Purge().TusKeysReferenced, func(k string) {
		if err := p.blobs.RemoveStage(ctx, k); err != nil {
			r.BlobErrors++
			p.log.Warn("purge: removing an orphaned staging area failed", "key", k, "err", err)
			return
		}
		r.StagesRemoved++
	})
}
