-- name: TenantLimits :one
SELECT max_bytes, max_file_bytes FROM tenants WHERE id = @tenant_id;

-- name: TenantLockForQuota :one
-- Serialises the quota decisions of one tenant: taken first in the transaction that reserves,
-- so that the usage summed after it sees every reservation committed before. NO KEY: the
-- inserts that reference the tenant (an upload's row, its event) take KEY SHARE on its row,
-- which FOR UPDATE would block for as long as a decision takes.
SELECT max_bytes FROM tenants WHERE id = @tenant_id FOR NO KEY UPDATE;

-- name: TenantUsageBytes :one
-- What the tenant keeps now: its live uploads, the stored entries of its live sessions, and the
-- bytes held for its uploads in progress. Expired content counts no more, purged or not. It
-- reads the tenant's figure and what expired and the purge has not caught up with: never all
-- of its rows.
SELECT (quota_stored_bytes(@tenant_id) + quota_held_bytes(@tenant_id))::bigint AS bytes;

-- name: QuotaHoldFits :one
-- Whether the hold id still fits under the tenant's quota: its stored bytes and the holds
-- created no later than this one (the latest holds give way first). Always true without a
-- quota.
SELECT (t.max_bytes = 0
        OR quota_stored_bytes(t.id) + quota_held_bytes(t.id, sqlc.arg(id)::uuid) <= t.max_bytes)::bool AS fits
FROM tenants t WHERE t.id = @tenant_id;

-- name: QuotaHoldIfFits :one
-- The quota decision, once the tenant's row is locked (TenantLockForQuota, which gave
-- max_bytes): holds bytes more for the upload whose hold is id (a new hold, or more for an
-- existing one) when they fit under the quota (always without one), and reports whether they
-- did. The tenant's usage records are folded into one on the way once there are more than
-- max_records; the whole statement reads one snapshot, in which the folded records are still
-- there and the new hold is not yet.
WITH gone AS (
    DELETE FROM quota_usage q
    WHERE q.tenant_id = @tenant_id
      AND (SELECT count(*) FROM quota_usage c WHERE c.tenant_id = @tenant_id) > sqlc.arg(max_records)::bigint
    RETURNING q.bytes),
folded AS (
    INSERT INTO quota_usage (tenant_id, bytes)
    SELECT @tenant_id, sum(gone.bytes) FROM gone HAVING sum(gone.bytes) <> 0),
decision AS (
    SELECT CASE WHEN sqlc.arg(max_bytes)::bigint = 0 THEN true
                ELSE quota_stored_bytes(@tenant_id) + quota_held_bytes(@tenant_id) + sqlc.arg(bytes)::bigint <= sqlc.arg(max_bytes)::bigint
           END AS fits),
held AS (
    INSERT INTO quota_reservations (id, tenant_id, bytes)
    SELECT @id, @tenant_id, sqlc.arg(bytes)::bigint FROM decision WHERE decision.fits
    ON CONFLICT (id) DO UPDATE SET bytes = quota_reservations.bytes + EXCLUDED.bytes)
SELECT decision.fits::bool FROM decision;

-- name: QuotaUsageFoldBatch :one
-- The purge's fold, for tenants that made no quota decision lately: up to batch_size tenants
-- with more than one record, each under its row's lock (a tenant deciding is skipped). It
-- returns how many tenants it folded.
WITH ts AS (
    SELECT t.id FROM tenants t
    WHERE t.id IN (SELECT q.tenant_id FROM quota_usage q GROUP BY q.tenant_id HAVING count(*) > 1)
    LIMIT @batch_size
    FOR NO KEY UPDATE SKIP LOCKED),
gone AS (DELETE FROM quota_usage q USING ts WHERE q.tenant_id = ts.id RETURNING q.tenant_id, q.bytes),
folded AS (
    INSERT INTO quota_usage (tenant_id, bytes)
    SELECT gone.tenant_id, sum(gone.bytes) FROM gone GROUP BY gone.tenant_id HAVING sum(gone.bytes) <> 0)
SELECT count(*) FROM ts;

-- name: QuotaRelease :exec
DELETE FROM quota_reservations WHERE id = @id;

-- name: QuotaSweep :execrows
-- Reservations older than the given age were left by a crash.
-- A resumable upload's hold lives as long as the upload (its expiry is configurable): never swept.
DELETE FROM quota_reservations r
WHERE r.created_at < now() - sqlc.arg(max_age_seconds)::bigint * interval '1 second'
  AND NOT EXISTS (SELECT 1 FROM tus_uploads t WHERE t.id = r.id);

-- name: TenantUsage :one
SELECT t.max_bytes, t.max_file_bytes,
       (SELECT count(*) FROM uploads u WHERE u.tenant_id = t.id AND u.purged_at IS NULL AND u.expires_at > now()) AS uploads,
       (SELECT count(*) FROM sessions s WHERE s.tenant_id = t.id AND s.expires_at > now()) AS sessions,
       (SELECT count(*) FROM session_files f JOIN sessions s ON s.id = f.session_id
         WHERE f.tenant_id = t.id AND s.expires_at > now()) AS files
FROM tenants t WHERE t.id = @tenant_id;

-- name: TenantSetLimits :execrows
UPDATE tenants
SET max_bytes = coalesce(sqlc.narg('max_bytes')::bigint, max_bytes),
    max_file_bytes = coalesce(sqlc.narg('max_file_bytes')::bigint, max_file_bytes)
WHERE name = @name;

-- name: TenantIDByName :one
SELECT id FROM tenants WHERE name = @name;

-- name: QuotaReleaseMany :exec
DELETE FROM quota_reservations WHERE id = ANY(@ids::uuid[]);
