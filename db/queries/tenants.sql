-- name: TenantCreate :one
INSERT INTO tenants (name) VALUES (@name) RETURNING *;

-- name: TenantList :many
SELECT t.*, (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS user_count
FROM tenants t
ORDER BY t.name;

-- name: TenantBlobKeys :many
-- Blobs of a tenant, collected before the tenant is deleted so they can go with it.
SELECT blob_key FROM uploads WHERE tenant_id = (SELECT t.id FROM tenants t WHERE t.name = @name) AND purged_at IS NULL
UNION ALL
SELECT blob_key::text FROM session_files
WHERE tenant_id = (SELECT t.id FROM tenants t WHERE t.name = @name) AND blob_key IS NOT NULL;

-- name: TenantDelete :execrows
DELETE FROM tenants WHERE name = @name;

-- name: TenantSetDisplayName :execrows
-- NULL clears it.
UPDATE tenants SET display_name = sqlc.narg('display_name') WHERE name = @name;
