package store

import (
	"context"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// Limits are a tenant's quota; 0 means unlimited.
type Limits struct {
	MaxBytes     int64
	MaxFileBytes int64
}

// Usage is a tenant's limits and what it keeps: its live uploads, live sessions and their
// file entries.
type Usage struct {
	Limits
	Uploads  int64
	Sessions int64
	Files    int64
}

// Quota is a tenant's quota and the bytes held for its uploads in progress.
type Quota struct {
	q        *dbsqlc.Queries
	tenantID int64
}

// Quota is the tenant's quota.
func (t TenantScope) Quota() Quota { return Quota{q: t.q, tenantID: t.id} }

// Limits returns the tenant's limits.
func (q Quota) Limits(ctx context.Context) (Limits, error) {
	r, err := q.q.TenantLimits(ctx, q.tenantID)
	if err != nil {
		return Limits{}, err
	}
	return Limits{MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes}, nil
}

// Lock locks the tenant's row against its other quota decisions, until the transaction ends,
// and returns its byte limit: taken first by the transaction that holds bytes, so that the
// usage read after it sees every hold committed before. Inserts that reference the tenant do
// not wait for it (FOR NO KEY UPDATE).
func (q Quota) Lock(ctx context.Context) (maxBytes int64, err error) {
	return q.q.TenantLockForQuota(ctx, q.tenantID)
}

// usageRecords is how many records of the tenant's stored bytes a quota decision lets
// accumulate (a commit, a deletion, a purge batch each append one) before it folds them.
const usageRecords = 32

// HoldIfFits is the quota decision, under Lock (which gave maxBytes): it holds n bytes more for
// the upload whose hold is id (a new hold, or more for an existing one) when they fit under the
// quota, and reports whether they did. Without a quota (maxBytes 0) they always do. On the way
// it folds the records of the tenant's stored bytes into one once there are more than a few,
// so that reading its figure stays cheap.
func (q Quota) HoldIfFits(ctx context.Context, id uuid.UUID, n, maxBytes int64) (bool, error) {
	return q.q.QuotaHoldIfFits(ctx, dbsqlc.QuotaHoldIfFitsParams{
		TenantID: q.tenantID, MaxRecords: usageRecords, MaxBytes: maxBytes, Bytes: n, ID: id,
	})
}

// UsedBytes is what the tenant keeps now: its live uploads, the stored entries of its live
// sessions, and the bytes held for its uploads in progress. It reads the tenant's figure,
// what expired that the purge has not removed yet, and the holds: never all of its rows.
func (q Quota) UsedBytes(ctx context.Context) (int64, error) {
	return q.q.TenantUsageBytes(ctx, q.tenantID)
}

// HoldFits reports whether the hold id still fits under the tenant's quota (true without
// one): with its stored bytes and the holds created no later than this one. When a quota is
// set below what the tenant holds, the latest holds give way first.
func (q Quota) HoldFits(ctx context.Context, id uuid.UUID) (bool, error) {
	return q.q.QuotaHoldFits(ctx, dbsqlc.QuotaHoldFitsParams{ID: id, TenantID: q.tenantID})
}

// Usage returns the tenant's limits and counts.
func (q Quota) Usage(ctx context.Context) (Usage, error) {
	r, err := q.q.TenantUsage(ctx, q.tenantID)
	if err != nil {
		return Usage{}, err
	}
	return Usage{Limits: Limits{MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes}, Uploads: r.Uploads, Sessions: r.Sessions, Files: r.Files}, nil
}

// HoldsByID releases quota holds by their id, a random UUID that only the upload holding it
// knows; a group commit releases the holds of several tenants at once, so no tenant scope
// here.
type HoldsByID struct{ q *dbsqlc.Queries }

// HoldsByID releases quota holds.
func (r Repos) HoldsByID() HoldsByID { return HoldsByID(r) }

// Release releases a hold.
func (h HoldsByID) Release(ctx context.Context, id uuid.UUID) error {
	return h.q.QuotaRelease(ctx, id)
}

// ReleaseMany releases holds.
func (h HoldsByID) ReleaseMany(ctx context.Context, ids []uuid.UUID) error {
	return h.q.QuotaReleaseMany(ctx, ids)
}
