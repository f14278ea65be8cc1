-- name: UserCreate :one
INSERT INTO users (tenant_id, name, password_hash)
SELECT t.id, @name, @password_hash FROM tenants t WHERE t.name = @tenant
RETURNING id;

-- name: UserGetForAuth :one
-- The user a login names, with the application password whose hash is given (when any), and
-- the tenant's quota: one indexed lookup per request.
SELECT u.id, u.tenant_id, u.password_hash, (u.disabled_at IS NOT NULL)::bool AS disabled,
       ap.id AS app_password_id, ap.last_used_at AS app_password_used_at,
       t.max_bytes, t.max_file_bytes
FROM users u
JOIN tenants t ON t.id = u.tenant_id
LEFT JOIN app_passwords ap ON ap.user_id = u.id AND ap.hash = sqlc.narg('app_hash')
WHERE t.name = @tenant AND u.name = @name;

-- name: UserSetPassword :execrows
UPDATE users SET password_hash = @password_hash, password_changed_at = now()
WHERE tenant_id = (SELECT t.id FROM tenants t WHERE t.name = @tenant) AND users.name = @name;

-- name: UserSetDisabled :execrows
UPDATE users
SET disabled_at = CASE WHEN @disabled::bool THEN coalesce(disabled_at, now()) END
WHERE tenant_id = (SELECT t.id FROM tenants t WHERE t.name = @tenant) AND users.name = @name;

-- name: UserDelete :execrows
DELETE FROM users
WHERE tenant_id = (SELECT t.id FROM tenants t WHERE t.name = @tenant) AND users.name = @name;

-- name: UserList :many
SELECT u.name, t.name AS tenant, u.disabled_at, u.created_at, u.password_changed_at
FROM users u
JOIN tenants t ON t.id = u.tenant_id
WHERE sqlc.narg('tenant')::text IS NULL OR t.name = sqlc.narg('tenant')::text
ORDER BY t.name, u.name;
