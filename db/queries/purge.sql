-- Queries of the purge (docs/behaviour.md §5). Each works on a bounded batch and skips rows that another
-- purger (another instance) has locked, so several can run at once.

-- name: UploadExpireBatch :many
-- Turns expired uploads into tombstones; their blobs are removed after the commit.
UPDATE uploads SET purged_at = now()
WHERE id IN (
    SELECT u.id FROM uploads u
    WHERE u.purged_at IS NULL AND u.expires_at <= now()
    ORDER BY u.expires_at
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED)
RETURNING blob_key, size, id, tenant_id, name, content_type, sha256, created_by, expires_at;

-- name: UploadDeleteTombstones :execrows
DELETE FROM uploads
WHERE id IN (
    SELECT u.id FROM uploads u
    WHERE u.purged_at IS NOT NULL AND u.expires_at <= now() - sqlc.arg(retention_seconds)::bigint * interval '1 second'
    ORDER BY u.expires_at
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED);

-- name: SessionLockExpiredBatch :many
-- Expired sessions whose file entries are still to be removed.
SELECT s.id FROM sessions s
WHERE s.purged_at IS NULL AND s.expires_at <= now()
ORDER BY s.expires_at
LIMIT @batch_size
FOR UPDATE SKIP LOCKED;

-- name: SessionDeleteFilesOf :many
-- The file entries of the given sessions, with their tokens and upload URLs (by cascade).
DELETE FROM session_files WHERE session_id = ANY(@session_ids::uuid[])
RETURNING blob_key, size;

-- name: SessionMarkPurged :execrows
-- Leaves the emptied sessions as tombstones.
UPDATE sessions SET purged_at = now() WHERE id = ANY(@session_ids::uuid[]);

-- name: SessionDeleteTombstones :execrows
DELETE FROM sessions
WHERE id IN (
    SELECT s.id FROM sessions s
    WHERE s.purged_at IS NOT NULL AND s.expires_at <= now() - sqlc.arg(retention_seconds)::bigint * interval '1 second'
    ORDER BY s.expires_at
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED);

-- name: DownloadTokenDeleteSpent :execrows
-- Expired and consumed tokens, once their retention (kept for the audit) has passed.
DELETE FROM download_tokens
WHERE token_hash IN (
    SELECT t.token_hash FROM download_tokens t
    WHERE t.expires_at <= now() - sqlc.arg(retention_seconds)::bigint * interval '1 second'
       OR t.consumed_at <= now() - sqlc.arg(retention_seconds)::bigint * interval '1 second'
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED);

-- name: UploadTokenDeleteExpired :execrows
DELETE FROM upload_tokens
WHERE token_hash IN (
    SELECT t.token_hash FROM upload_tokens t
    WHERE t.expires_at <= now()
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED);

-- name: BlobKeysReferenced :many
-- Of the given keys, those that a live row still needs. A tus upload names its blob's key from
-- its creation on: the blob appears just before the row that makes it visible.
SELECT k::text AS blob_key FROM unnest(@keys::text[]) AS k
WHERE EXISTS (SELECT 1 FROM uploads u WHERE u.blob_key = k AND u.purged_at IS NULL)
   OR EXISTS (SELECT 1 FROM session_files f WHERE f.blob_key = k)
   OR EXISTS (SELECT 1 FROM tus_uploads tu WHERE tu.blob_key = k);
