-- name: SessionCreate :one
INSERT INTO sessions (id, tenant_id, created_by, expires_at)
VALUES (@id, @tenant_id, @created_by, now() + sqlc.arg(ttl_seconds)::bigint * interval '1 second')
RETURNING *;

-- name: SessionGet :one
SELECT s.*, (s.expires_at <= now())::bool AS expired,
       (SELECT count(*) FROM session_files f WHERE f.session_id = s.id) AS file_count
FROM sessions s
WHERE s.id = @id AND s.tenant_id = @tenant_id;

-- name: SessionListFirst :many
SELECT s.*, (SELECT count(*) FROM session_files f WHERE f.session_id = s.id) AS file_count
FROM sessions s
WHERE s.tenant_id = @tenant_id AND s.expires_at > now()
ORDER BY s.created_at DESC, s.id DESC
LIMIT @max_rows;

-- name: SessionListAfter :many
SELECT s.*, (SELECT count(*) FROM session_files f WHERE f.session_id = s.id) AS file_count
FROM sessions s
WHERE s.tenant_id = @tenant_id AND s.expires_at > now()
  AND (s.created_at, s.id) < (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY s.created_at DESC, s.id DESC
LIMIT @max_rows;

-- name: SessionLock :one
-- Locks the session row so that no file entry or token is added while it is deleted.
SELECT id, created_by, expires_at FROM sessions WHERE id = @id AND tenant_id = @tenant_id FOR UPDATE;

-- name: SessionDeleteFiles :many
DELETE FROM session_files WHERE session_id = @session_id AND tenant_id = @tenant_id
RETURNING blob_key;

-- name: SessionDelete :execrows
DELETE FROM sessions WHERE id = @id AND tenant_id = @tenant_id;

-- name: SessionState :one
-- Whether a session exists and has expired, for the routes below it that reach it by its id
-- alone (token links and upload URLs, whose id in the URL is the capability), or in a tenant.
SELECT s.expires_at, (s.expires_at <= now())::bool AS expired
FROM sessions s
WHERE s.id = @id AND (sqlc.narg(tenant_id)::bigint IS NULL OR s.tenant_id = sqlc.narg(tenant_id)::bigint);
