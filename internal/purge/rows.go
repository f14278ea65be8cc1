package purge

// The steps of a pass on rows: expiry of uploads and sessions (their blobs right after the
// commit), and the deletion of tombstones, spent tokens, expired upload URLs and settled
// webhook events past their retention.

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fileshare/internal/store/dbsqlc"
	"fileshare/internal/webhook"
)

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
