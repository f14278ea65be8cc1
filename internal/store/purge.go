package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// Purge is the purge's (docs/behaviour.md §5): what has expired, of every tenant. Each query
// works on a bounded batch and skips the rows another purger has locked.
type Purge struct{ q *dbsqlc.Queries }

// Purge is the purge's.
func (r Repos) Purge() Purge { return Purge(r) }

// ExpiredUpload is an upload the purge turned into a tombstone; its blob is to go after the
// commit.
type ExpiredUpload struct {
	ID          uuid.UUID
	TenantID    int64
	BlobKey     string
	Name        string
	ContentType string
	Size        int64
	SHA256      []byte
	CreatedBy   string
	ExpiresAt   time.Time
}

// ExpireUploads turns up to batch expired uploads into tombstones.
func (p Purge) ExpireUploads(ctx context.Context, batch int) ([]ExpiredUpload, error) {
	rows, err := p.q.UploadExpireBatch(ctx, int32(batch))
	if err != nil {
		return nil, err
	}
	out := make([]ExpiredUpload, len(rows))
	for i, r := range rows {
		out[i] = ExpiredUpload{
			ID: r.ID, TenantID: r.TenantID, BlobKey: r.BlobKey, Name: r.Name, ContentType: r.ContentType,
			Size: r.Size, SHA256: r.Sha256, CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt,
		}
	}
	return out, nil
}

// DeleteUploadTombstones deletes up to batch upload tombstones whose retention has passed.
func (p Purge) DeleteUploadTombstones(ctx context.Context, retention time.Duration, batch int) (int64, error) {
	return p.q.UploadDeleteTombstones(ctx, dbsqlc.UploadDeleteTombstonesParams{RetentionSeconds: seconds(retention), BatchSize: int32(batch)})
}

// LockExpiredSessions locks up to batch expired sessions whose file entries are still to go.
func (p Purge) LockExpiredSessions(ctx context.Context, batch int) ([]uuid.UUID, error) {
	return p.q.SessionLockExpiredBatch(ctx, int32(batch))
}

// PurgedFile is a file entry of an expired session that the purge deleted.
type PurgedFile struct {
	// BlobKey and Size are nil for an entry that was pending.
	BlobKey *string
	Size    *int64
}

// DeleteSessionFiles deletes the file entries of the sessions, with their tokens and upload
// URLs.
func (p Purge) DeleteSessionFiles(ctx context.Context, sessionIDs []uuid.UUID) ([]PurgedFile, error) {
	rows, err := p.q.SessionDeleteFilesOf(ctx, sessionIDs)
	if err != nil {
		return nil, err
	}
	out := make([]PurgedFile, len(rows))
	for i, r := range rows {
		out[i] = PurgedFile{BlobKey: r.BlobKey, Size: r.Size}
	}
	return out, nil
}

// MarkSessionsPurged leaves the emptied sessions as tombstones.
func (p Purge) MarkSessionsPurged(ctx context.Context, sessionIDs []uuid.UUID) (int64, error) {
	return p.q.SessionMarkPurged(ctx, sessionIDs)
}

// ExpiredSession is a session of a purge batch, for its session.expired event.
type ExpiredSession struct {
	ID        uuid.UUID
	TenantID  int64
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ExpiredSessions returns the sessions with ids.
func (p Purge) ExpiredSessions(ctx context.Context, ids []uuid.UUID) ([]ExpiredSession, error) {
	rows, err := p.q.SessionEventInfo(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]ExpiredSession, len(rows))
	for i, r := range rows {
		out[i] = ExpiredSession{ID: r.ID, TenantID: r.TenantID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
	}
	return out, nil
}

// DeleteSessionTombstones deletes up to batch session tombstones whose retention has passed.
func (p Purge) DeleteSessionTombstones(ctx context.Context, retention time.Duration, batch int) (int64, error) {
	return p.q.SessionDeleteTombstones(ctx, dbsqlc.SessionDeleteTombstonesParams{RetentionSeconds: seconds(retention), BatchSize: int32(batch)})
}

// DeleteSpentTokens deletes up to batch expired or consumed download tokens whose retention
// (for the audit) has passed.
func (p Purge) DeleteSpentTokens(ctx context.Context, retention time.Duration, batch int) (int64, error) {
	return p.q.DownloadTokenDeleteSpent(ctx, dbsqlc.DownloadTokenDeleteSpentParams{RetentionSeconds: seconds(retention), BatchSize: int32(batch)})
}

// DeleteExpiredUploadURLs deletes up to batch expired upload URLs.
func (p Purge) DeleteExpiredUploadURLs(ctx context.Context, batch int) (int64, error) {
	return p.q.UploadTokenDeleteExpired(ctx, int32(batch))
}

// BlobKeysReferenced returns those of keys that a live row still needs.
func (p Purge) BlobKeysReferenced(ctx context.Context, keys []string) ([]string, error) {
	return p.q.BlobKeysReferenced(ctx, keys)
}

// ExpiredTus is a resumable upload the purge removed; its staged bytes are to go after.
type ExpiredTus struct {
	ID           uuid.UUID
	BlobKey      string
	CompletedAt  *time.Time
	UploadOffset int64
}

// ExpireTus removes up to batch expired resumable uploads that no request holds.
func (p Purge) ExpireTus(ctx context.Context, batch int) ([]ExpiredTus, error) {
	rows, err := p.q.TusExpireBatch(ctx, int32(batch))
	if err != nil {
		return nil, err
	}
	out := make([]ExpiredTus, len(rows))
	for i, r := range rows {
		out[i] = ExpiredTus{ID: r.ID, BlobKey: r.BlobKey, CompletedAt: r.CompletedAt, UploadOffset: r.UploadOffset}
	}
	return out, nil
}

// ReleaseTusHolds releases the quota held by resumable uploads that are gone.
func (p Purge) ReleaseTusHolds(ctx context.Context, ids []uuid.UUID) error {
	return p.q.TusReleaseHolds(ctx, ids)
}

// TusKeysReferenced returns those of keys whose staging area a resumable upload still names.
func (p Purge) TusKeysReferenced(ctx context.Context, keys []string) ([]string, error) {
	return p.q.TusKeysReferenced(ctx, keys)
}

// SweepQuotaHolds deletes the quota holds older than maxAge, left by a crash (never a
// resumable upload's, which lives as long as the upload).
func (p Purge) SweepQuotaHolds(ctx context.Context, maxAge time.Duration) (int64, error) {
	return p.q.QuotaSweep(ctx, seconds(maxAge))
}

// FoldQuotaUsage folds the records of the stored bytes of up to batch tenants that have more
// than one (those that made no quota decision lately), skipping tenants deciding now; it
// returns how many it folded.
func (p Purge) FoldQuotaUsage(ctx context.Context, batch int) (int64, error) {
	return p.q.QuotaUsageFoldBatch(ctx, int32(batch))
}

// DeleteStaleLoginCounters deletes the failure counters older than maxAge that lock nothing.
func (p Purge) DeleteStaleLoginCounters(ctx context.Context, maxAge time.Duration) (int64, error) {
	return p.q.AuthThrottleDeleteStale(ctx, float64(maxAge/time.Millisecond))
}

// DeleteSettledWebhookEvents deletes up to batch events whose deliveries are all settled,
// once their retention has passed, with their deliveries and attempts.
func (p Purge) DeleteSettledWebhookEvents(ctx context.Context, retention time.Duration, batch int) (int64, error) {
	return p.q.WebhookEventDeleteSettled(ctx, dbsqlc.WebhookEventDeleteSettledParams{RetentionSeconds: seconds(retention), BatchSize: int32(batch)})
}
