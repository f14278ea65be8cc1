-- Resumable (tus) uploads (docs/behaviour.md §11). The upload URL's id is the capability, so the
-- lookups by id are not tenant-scoped, like a simple upload's download. Every change of a row
-- happens while its request holds the upload's advisory lock (TusLockKey), and is conditional
-- on the offset it started from all the same.

-- name: TusCreate :one
-- The expiry is capped at the session's and at the upload URL's, when there are any: the
-- content could not be stored after them.
INSERT INTO tus_uploads (id, tenant_id, created_by, session_id, file_id, upload_token_hash, name,
                         content_type, ttl_seconds, metadata, length, sha256_state, blob_key,
                         stage_state, expires_at)
VALUES (@id, @tenant_id, sqlc.narg('created_by'), sqlc.narg('session_id'), sqlc.narg('file_id'),
        sqlc.narg('upload_token_hash'), sqlc.narg('name'), sqlc.narg('content_type'),
        sqlc.narg('ttl_seconds'), @metadata, @length, @sha256_state, @blob_key, @stage_state,
        least(now() + sqlc.arg(expiry_seconds)::bigint * interval '1 second',
              (SELECT s.expires_at FROM sessions s WHERE s.id = sqlc.narg('session_id')),
              (SELECT t.expires_at FROM upload_tokens t WHERE t.token_hash = sqlc.narg('upload_token_hash'))))
RETURNING *;

-- name: TusDropExpiredForFile :many
-- An unfinished upload of a file entry that expired frees the entry for a new one before the
-- purge comes: its row and quota hold go (unless a request holds its lock), its staged bytes
-- after.
WITH gone AS (
    DELETE FROM tus_uploads tu
    WHERE tu.file_id = @file_id AND tu.completed_at IS NULL AND tu.expires_at <= now()
      AND pg_try_advisory_xact_lock(('x' || substr(replace(tu.id::text, '-', ''), 1, 16))::bit(64)::bigint)
    RETURNING tu.id, tu.blob_key),
held AS (DELETE FROM quota_reservations qr USING gone WHERE qr.id = gone.id)
SELECT gone.blob_key FROM gone;

-- name: TusGet :one
-- expired is the upload's own expiry; session_expired that of its file entry's session.
SELECT tu.*, (tu.expires_at <= now())::bool AS expired,
       coalesce(s.expires_at <= now(), false)::bool AS session_expired
FROM tus_uploads tu
LEFT JOIN sessions s ON s.id = tu.session_id
WHERE tu.id = @id;

-- name: TusAdvance :execrows
-- Records bytes made durable. It matches no row when the upload was completed, terminated or
-- purged meanwhile, or moved on from old_offset.
UPDATE tus_uploads
SET upload_offset = @new_offset, sha256_state = @sha256_state, stage_state = @stage_state
WHERE id = @id AND upload_offset = @old_offset AND completed_at IS NULL;

-- name: TusComplete :execrows
-- Marks the upload complete, in the transaction that makes its content visible; upload_id is the
-- simple upload it became (NULL for a file entry).
UPDATE tus_uploads
SET upload_offset = length, sha256_state = @sha256_state, stage_state = @stage_state, completed_at = now(),
    upload_id = sqlc.narg('upload_id')
WHERE id = @id AND upload_offset = @old_offset AND completed_at IS NULL;

-- name: TusDelete :one
-- Termination: the row goes first (with the quota its upload held), its staged bytes after.
WITH held AS (DELETE FROM quota_reservations qr WHERE qr.id = sqlc.arg(id)::uuid)
DELETE FROM tus_uploads tu WHERE tu.id = sqlc.arg(id)::uuid
RETURNING tu.blob_key, tu.completed_at;

-- name: TusExpireBatch :many
-- Expired uploads, finished or not, that no request is working on (their advisory lock is
-- free): the rows go, then their staged bytes.
DELETE FROM tus_uploads
WHERE id IN (
    SELECT tu.id FROM tus_uploads tu
    WHERE tu.expires_at <= now()
      AND pg_try_advisory_xact_lock(('x' || substr(replace(tu.id::text, '-', ''), 1, 16))::bit(64)::bigint)
    ORDER BY tu.expires_at
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED)
RETURNING id, blob_key, completed_at, upload_offset;

-- name: TusReleaseHolds :exec
-- The quota held by uploads that are gone.
DELETE FROM quota_reservations WHERE id = ANY(@ids::uuid[]);

-- name: TusKeysReferenced :many
-- Of the given blob keys, those whose staging area a tus upload still names.
SELECT k::text AS blob_key FROM unnest(@keys::text[]) AS k
WHERE EXISTS (SELECT 1 FROM tus_uploads tu WHERE tu.blob_key = k);

-- name: TusLockTenant :exec
-- Holds the tenant's row until the transaction ends, so that concurrent creations of one
-- tenant's resumable uploads are counted one after the other (the count is a statement of its
-- own, whose snapshot is taken once the lock is held).
SELECT 1 FROM tenants WHERE id = @tenant_id FOR NO KEY UPDATE;

-- name: TusCountUnfinished :one
-- A tenant's unfinished uploads that may still receive bytes.
SELECT count(*) FROM tus_uploads
WHERE tenant_id = @tenant_id AND completed_at IS NULL AND expires_at > now();
