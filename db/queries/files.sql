-- name: FileCreate :one
INSERT INTO session_files (id, session_id, tenant_id, name, content_type, declared_size)
VALUES (@id, @session_id, @tenant_id, @name, @content_type, sqlc.narg('declared_size'))
RETURNING *;

-- name: FileGet :one
SELECT f.*, s.expires_at, (s.expires_at <= now())::bool AS session_expired
FROM session_files f
JOIN sessions s ON s.id = f.session_id
WHERE f.id = @id AND f.tenant_id = @tenant_id;

-- name: FileListFirst :many
SELECT * FROM session_files
WHERE session_id = @session_id AND tenant_id = @tenant_id
ORDER BY created_at, id
LIMIT @max_rows;

-- name: FileListAfter :many
SELECT * FROM session_files
WHERE session_id = @session_id AND tenant_id = @tenant_id
  AND (created_at, id) > (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY created_at, id
LIMIT @max_rows;

-- name: FileStore :one
-- Makes stored content visible; only a pending entry of a live session can be stored, once.
UPDATE session_files f
SET state = 'stored', size = @size, sha256 = @sha256, blob_key = @blob_key, stored_at = now()
FROM sessions s
WHERE f.id = @id AND f.tenant_id = @tenant_id AND f.state = 'pending'
  AND s.id = f.session_id AND s.expires_at > now()
RETURNING f.*;

-- name: FileDelete :one
DELETE FROM session_files WHERE id = @id AND session_id = @session_id AND tenant_id = @tenant_id
RETURNING blob_key, name, content_type, size, sha256;
