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
-- bytes held for its uploads in progress. Expired content counts no more, purged or not.
SELECT (coalesce((SELECT sum(u.size) FROM uploads u
                  WHERE u.tenant_id = @tenant_id AND u.purged_at IS NULL AND u.expires_at > now()), 0)
      + coalesce((SELECT sum(f.size) FROM session_files f JOIN sessions s ON s.id = f.session_id
                  WHERE f.tenant_id = @tenant_id AND f.state = 'stored' AND s.expires_at > now()), 0)
      + coalesce((SELECT sum(r.bytes) FROM quota_reservations r WHERE r.tenant_id = @tenant_id), 0))::bigint AS bytes;

-- name: QuotaReserve :exec
-- Holds bytes for an upload (a new reservation, or more for an existing one).
INSERT INTO quota_reservations (id, tenant_id, bytes) VALUES (@id, @tenant_id, @bytes)
ON CONFLICT (id) DO UPDATE SET bytes = quota_reservations.bytes + EXCLUDED.bytes;

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
