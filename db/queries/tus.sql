-- Resumable (tus) uploads (docs/behaviour.md §11). The upload URL's id is the capability, so the
-- lookups by id are not tenant-scoped, like a simple upload's download. Every change of a row
-- is made by the request that holds the upload's lease (TusLeaseTake), and is conditional on
-- that lease and on the offset it started from.

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
-- purge comes: its row and quota hold go (unless a request holds its lease), its staged bytes
-- after.
WITH gone AS (
    DELETE FROM tus_uploads tu
    WHERE tu.file_id = @file_id AND tu.completed_at IS NULL AND tu.expires_at <= now()
      AND (tu.lease_holder IS NULL OR tu.lease_expires_at <= now())
    RETURNING tu.id, tu.blob_key),
held AS (DELETE FROM quota_reservations qr USING gone WHERE qr.id = gone.id)
SELECT gone.blob_key FROM gone;

-- name: TusGet :one
-- expired is the upload's own expiry; session_expired that of its file entry's session; leased
-- that a request holds its lease.
SELECT tu.*, (tu.expires_at <= now())::bool AS expired,
       coalesce(s.expires_at <= now(), false)::bool AS session_expired,
       coalesce(tu.lease_expires_at > now(), false)::bool AS leased
FROM tus_uploads tu
LEFT JOIN sessions s ON s.id = tu.session_id
WHERE tu.id = @id;

-- name: TusAdvance :execrows
-- Records bytes made durable. It matches no row when the upload was completed, terminated or
-- purged meanwhile, moved on from old_offset, or when holder lost its lease.
UPDATE tus_uploads
SET upload_offset = @new_offset, sha256_state = @sha256_state, stage_state = @stage_state
WHERE id = @id AND lease_holder = sqlc.arg(holder)::uuid AND upload_offset = @old_offset AND completed_at IS NULL;

-- name: TusComplete :execrows
-- Marks the upload complete, in the transaction that makes its content visible; upload_id is the
-- simple upload it became (NULL for a file entry).
UPDATE tus_uploads
SET upload_offset = length, sha256_state = @sha256_state, stage_state = @stage_state, completed_at = now(),
    upload_id = sqlc.narg('upload_id')
WHERE id = @id AND lease_holder = sqlc.arg(holder)::uuid AND upload_offset = @old_offset AND completed_at IS NULL;

-- name: TusDelete :one
-- Termination, or an upload that can never be completed, by the holder of its lease: the row
-- goes first (with the quota its upload held), its staged bytes after.
WITH gone AS (
    DELETE FROM tus_uploads tu WHERE tu.id = @id AND tu.lease_holder = sqlc.arg(holder)::uuid
    RETURNING tu.id, tu.blob_key, tu.completed_at),
held AS (DELETE FROM quota_reservations qr USING gone WHERE qr.id = gone.id)
SELECT gone.blob_key, gone.completed_at FROM gone;

-- name: TusExpireBatch :many
-- Expired uploads, finished or not, that no request is working on (nobody holds their lease):
-- the rows go, then their staged bytes. FOR UPDATE checks the lease again on the row's latest
-- version, so a request that took it meanwhile keeps its upload.
DELETE FROM tus_uploads
WHERE id IN (
    SELECT tu.id FROM tus_uploads tu
    WHERE tu.expires_at <= now()
      AND (tu.lease_holder IS NULL OR tu.lease_expires_at <= now())
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

-- name: TusLeaseTake :one
-- Takes the upload's lease for holder, for ttl_ms, when nobody holds it or its lease ran out:
-- taken. Otherwise it asks the holder to give it up (it sees that at its next renewal). One
-- statement: the row's lock orders concurrent takers, and each CASE is decided on the row's
-- latest version, so two requests never both hold it.
UPDATE tus_uploads SET
    lease_holder = CASE WHEN lease_holder IS NULL OR lease_expires_at <= now()
                        THEN sqlc.arg(holder)::uuid ELSE lease_holder END,
    lease_expires_at = CASE WHEN lease_holder IS NULL OR lease_expires_at <= now()
                            THEN now() + sqlc.arg(ttl_ms)::bigint * interval '1 millisecond'
                            ELSE lease_expires_at END,
    lease_release_requested = NOT (lease_holder IS NULL OR lease_expires_at <= now())
WHERE id = @id
RETURNING (lease_holder = sqlc.arg(holder)::uuid)::bool AS taken;

-- name: TusLeaseRenew :one
-- Extends holder's lease by ttl_ms, and says whether another request asks for the upload. No
-- row: the lease is lost (taken by another once it ran out, or the upload is gone).
UPDATE tus_uploads SET lease_expires_at = now() + sqlc.arg(ttl_ms)::bigint * interval '1 millisecond'
WHERE id = @id AND lease_holder = sqlc.arg(holder)::uuid
RETURNING lease_release_requested;

-- name: TusLeaseRelease :exec
-- Gives holder's lease back.
UPDATE tus_uploads SET lease_holder = NULL, lease_expires_at = NULL, lease_release_requested = false
WHERE id = @id AND lease_holder = sqlc.arg(holder)::uuid;

-- name: TusLeaseAsk :execrows
-- Asks the holder of a live lease to give the upload up, without taking it (HEAD); no row when
-- nobody holds it.
UPDATE tus_uploads SET lease_release_requested = true
WHERE id = @id AND lease_expires_at > now();
