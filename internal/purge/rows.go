package purge

// The steps of a pass on rows: expiry of uploads and sessions (their blobs right after the
// commit), and the deletion of tombstones, spent tokens, expired upload URLs and settled
// webhook events past their retention.

import (
	"context"

	"github.com/google/uuid"

	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

func (p *Purger) expireUploads(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		var rows []store.ExpiredUpload
		err := p.st.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if rows, err = tx.Purge().ExpireUploads(ctx, p.opt.BatchSize); err != nil {
				return err
			}
			evs := make([]webhook.Event, len(rows))
			for i, r := range rows {
				evs[i] = webhook.Event{Type: webhook.UploadExpired, TenantID: r.TenantID, Data: webhook.UploadData{
					UploadID: r.ID, File: webhook.NewFile(r.Name, r.ContentType, &r.Size, r.SHA256),
					CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt.UTC(),
				}}
			}
			return p.opt.Events.Record(ctx, tx, evs...)
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

func (p *Purger) deleteTombstones(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Purge().DeleteUploadTombstones(ctx, p.opt.TombstoneRetention, p.opt.BatchSize)
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
			files []store.PurgedFile
		)
		err := p.st.InTx(ctx, func(tx *store.Tx) error {
			var err error
			purge := tx.Purge()
			if ids, err = purge.LockExpiredSessions(ctx, p.opt.BatchSize); err != nil || len(ids) == 0 {
				return err
			}
			if files, err = purge.DeleteSessionFiles(ctx, ids); err != nil {
				return err
			}
			if _, err = purge.MarkSessionsPurged(ctx, ids); err != nil {
				return err
			}
			return p.recordSessionsExpired(ctx, tx, ids)
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
func (p *Purger) recordSessionsExpired(ctx context.Context, tx *store.Tx, ids []uuid.UUID) error {
	rows, err := tx.Purge().ExpiredSessions(ctx, ids)
	if err != nil {
		return err
	}
	evs := make([]webhook.Event, len(rows))
	for i, r := range rows {
		evs[i] = webhook.Event{Type: webhook.SessionExpired, TenantID: r.TenantID, Data: webhook.SessionData{
			SessionID: r.ID, CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt.UTC(),
		}}
	}
	return p.opt.Events.Record(ctx, tx, evs...)
}

// deleteWebhookEvents deletes settled webhook events (with their delivery log) past the
// retention.
func (p *Purger) deleteWebhookEvents(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Purge().DeleteSettledWebhookEvents(ctx, p.opt.TombstoneRetention, p.opt.BatchSize)
		r.WebhookEventsDeleted += n
		return int(n), err
	})
}

// deleteSessionTombstones deletes the tombstones of sessions whose retention has passed.
func (p *Purger) deleteSessionTombstones(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Purge().DeleteSessionTombstones(ctx, p.opt.TombstoneRetention, p.opt.BatchSize)
		r.SessionTombstonesDeleted += n
		return int(n), err
	})
}

func (p *Purger) deleteTokens(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Purge().DeleteSpentTokens(ctx, p.opt.TombstoneRetention, p.opt.BatchSize)
		r.TokensDeleted += n
		return int(n), err
	})
}

func (p *Purger) deleteUploadURLs(ctx context.Context, r *Result) error {
	return p.batches(ctx, func(ctx context.Context) (int, error) {
		n, err := p.st.Purge().DeleteExpiredUploadURLs(ctx, p.opt.BatchSize)
		r.UploadURLsDeleted += n
		return int(n), err
	})
}
