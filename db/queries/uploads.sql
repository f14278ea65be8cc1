-- name: UploadCreate :one
INSERT INTO uploads (id, tenant_id, created_by, name, content_type, size, sha256, blob_key, expires_at)
VALUES (@id, @tenant_id, @created_by, @name, @content_type, @size, @sha256, @blob_key,
        now() + sqlc.arg(ttl_seconds)::bigint * interval '1 second')
RETURNING *;

-- name: UploadGet :one
-- Public download: the unguessable id is the capability, so no tenant scope here.
SELECT *, (expires_at <= now())::bool AS expired FROM uploads WHERE id = @id;

-- name: UploadDelete :one
DELETE FROM uploads WHERE id = @id AND tenant_id = @tenant_id
RETURNING blob_key, purged_at, name, content_type, size, sha256, created_by, expires_at;
