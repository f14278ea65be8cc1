-- name: UploadTokenCreate :one
INSERT INTO upload_tokens (token_hash, file_id, session_id, tenant_id, created_by, expires_at)
SELECT @token_hash, f.id, f.session_id, f.tenant_id, @created_by,
       least(now() + sqlc.arg(ttl_seconds)::bigint * interval '1 second', s.expires_at)
FROM session_files f
JOIN sessions s ON s.id = f.session_id
WHERE f.id = @file_id AND f.tenant_id = @tenant_id AND f.state = 'pending' AND s.expires_at > now()
RETURNING *;

-- name: UploadTokenGet :one
SELECT t.tenant_id, t.used_at, (t.expires_at <= now())::bool AS expired
FROM upload_tokens t
WHERE t.token_hash = @token_hash AND t.file_id = @file_id AND t.session_id = @session_id;

-- name: UploadTokenUse :execrows
UPDATE upload_tokens
SET used_at = now(), used_by_addr = @addr
WHERE token_hash = @token_hash AND file_id = @file_id AND used_at IS NULL AND expires_at > now();

-- name: DownloadTokenCreate :one
INSERT INTO download_tokens (token_hash, file_id, session_id, tenant_id, created_by, expires_at)
SELECT @token_hash, f.id, f.session_id, f.tenant_id, @created_by,
       least(coalesce(now() + sqlc.narg('ttl_seconds')::bigint * interval '1 second', s.expires_at), s.expires_at)
FROM session_files f
JOIN sessions s ON s.id = f.session_id
WHERE f.id = @file_id AND f.session_id = @session_id AND f.tenant_id = @tenant_id AND s.expires_at > now()
RETURNING *;

-- name: DownloadTokenConsume :one
-- The one-time download: one conditional UPDATE, so of any number of concurrent requests for a
-- token exactly one sees it unused and takes it.
UPDATE download_tokens t
SET consumed_at = now(), consumed_by_addr = @addr
FROM session_files f, sessions s
WHERE t.token_hash = @token_hash AND t.file_id = @file_id AND t.session_id = @session_id
  AND t.consumed_at IS NULL AND t.expires_at > now()
  AND f.id = t.file_id AND f.state = 'stored'
  AND s.id = t.session_id AND s.expires_at > now()
RETURNING f.name, f.content_type, f.size, f.sha256, f.blob_key::text AS blob_key, f.stored_at;

-- name: DownloadTokenInspect :one
SELECT (t.consumed_at IS NOT NULL)::bool AS consumed, (t.expires_at <= now())::bool AS expired,
       (s.expires_at <= now())::bool AS session_expired, s.expires_at AS session_expires_at, f.state,
       f.name, f.content_type, f.size, f.sha256, f.blob_key, f.stored_at
FROM download_tokens t
JOIN session_files f ON f.id = t.file_id
JOIN sessions s ON s.id = t.session_id
WHERE t.token_hash = @token_hash AND t.file_id = @file_id AND t.session_id = @session_id;
