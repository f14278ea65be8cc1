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
INSERT INTO download_tokens (token_hash, ref, pin_hash, label, file_id, session_id, tenant_id, created_by, expires_at)
SELECT @token_hash, @ref, sqlc.narg('pin_hash'), sqlc.narg('label'), f.id, f.session_id, f.tenant_id, @created_by,
       least(coalesce(now() + sqlc.narg('ttl_seconds')::bigint * interval '1 second', s.expires_at), s.expires_at)
FROM session_files f
JOIN sessions s ON s.id = f.session_id
WHERE f.id = @file_id AND f.session_id = @session_id AND f.tenant_id = @tenant_id AND s.expires_at > now()
RETURNING *;

-- name: DownloadTokenConsume :one
-- The one-time download: one conditional UPDATE, so of any number of concurrent requests for a
-- token exactly one sees it unused and takes it. A token with a PIN is taken only with it. The
-- delivery's secret (its hash) is set with it: only its holder may resume the download.
UPDATE download_tokens t
SET consumed_at = now(), consumed_by_addr = @addr, delivery_hash = @delivery_hash
FROM session_files f, sessions s
WHERE t.token_hash = @token_hash AND t.file_id = @file_id AND t.session_id = @session_id
  AND t.consumed_at IS NULL AND t.expires_at > now()
  AND t.revoked_at IS NULL AND t.locked_at IS NULL
  AND (t.pin_hash IS NULL OR t.pin_hash = sqlc.narg('pin_hash'))
  AND f.id = t.file_id AND f.state = 'stored'
  AND s.id = t.session_id AND s.expires_at > now()
RETURNING f.name, f.content_type, f.size, f.sha256, f.blob_key::text AS blob_key, f.stored_at, t.ref, t.tenant_id;

-- name: DownloadTokenInspect :one
-- A token's state, to explain a refusal, render its landing page (which names the tenant by
-- its display name), or answer a HEAD.
SELECT (t.consumed_at IS NOT NULL)::bool AS consumed, (t.expires_at <= now())::bool AS expired,
       (t.revoked_at IS NOT NULL)::bool AS revoked, (t.locked_at IS NOT NULL)::bool AS locked,
       (t.pin_hash IS NOT NULL)::bool AS has_pin, t.expires_at,
       (s.expires_at <= now())::bool AS session_expired, s.expires_at AS session_expires_at, f.state,
       f.name, f.content_type, f.size, f.sha256, f.blob_key, f.stored_at,
       tn.display_name AS sender
FROM download_tokens t
JOIN session_files f ON f.id = t.file_id
JOIN sessions s ON s.id = t.session_id
JOIN tenants tn ON tn.id = t.tenant_id
WHERE t.token_hash = @token_hash AND t.file_id = @file_id AND t.session_id = @session_id;

-- name: DownloadTokenPinFailure :one
-- Counts a wrong PIN of an unused token; the fifth locks it for good. One statement, so
-- concurrent wrong guesses are counted one by one and never pass five.
UPDATE download_tokens
SET pin_failures = pin_failures + 1,
    locked_at = CASE WHEN pin_failures + 1 >= sqlc.arg(max_failures)::int THEN now() END
WHERE token_hash = @token_hash AND consumed_at IS NULL AND locked_at IS NULL AND revoked_at IS NULL
RETURNING (locked_at IS NOT NULL)::bool AS locked;

-- name: DownloadTokenResume :one
-- A consumed token's file, for resuming its cut download: only for the holder of the delivery's
-- secret, until the file has been delivered, within the window after the consumption, while
-- the session lives.
SELECT f.name, f.content_type, f.size, f.sha256, f.blob_key::text AS blob_key, f.stored_at
FROM download_tokens t
JOIN session_files f ON f.id = t.file_id
JOIN sessions s ON s.id = t.session_id
WHERE t.token_hash = @token_hash AND t.file_id = @file_id AND t.session_id = @session_id
  AND t.delivery_hash = @delivery_hash
  AND t.consumed_at IS NOT NULL AND t.delivered_at IS NULL
  AND t.consumed_at > now() - sqlc.arg(window_seconds)::bigint * interval '1 second'
  AND s.expires_at > now() AND f.state = 'stored';

-- name: DownloadTokenRecordSent :exec
-- Adds a byte range [start, stop) that an answer of the token wrote to the connection. The
-- ranges are kept merged; a recipient that asks for ever more scattered pieces stops adding
-- them past a bound, so the row stays small.
UPDATE download_tokens
SET bytes_sent = bytes_sent + (sqlc.arg(stop)::bigint - sqlc.arg(start)::bigint),
    sent_ranges = CASE
        WHEN (SELECT count(*) FROM unnest(sent_ranges + int8multirange(int8range(sqlc.arg(start)::bigint, sqlc.arg(stop)::bigint)))) <= 256
        THEN sent_ranges + int8multirange(int8range(sqlc.arg(start)::bigint, sqlc.arg(stop)::bigint))
        ELSE sent_ranges END
WHERE token_hash = @token_hash;

-- name: DownloadTokenMarkViewed :exec
-- Records that the landing page of the token was shown.
UPDATE download_tokens SET viewed_at = now() WHERE token_hash = @token_hash;

-- name: DownloadTokenListFirst :many
SELECT ref, file_id, session_id, created_at, expires_at, consumed_at, consumed_by_addr,
       (pin_hash IS NOT NULL)::bool AS has_pin, revoked_at, locked_at, bytes_sent, delivered_at, viewed_at, label
FROM download_tokens
WHERE file_id = @file_id AND session_id = @session_id AND tenant_id = @tenant_id
ORDER BY created_at, ref
LIMIT @max_rows;

-- name: DownloadTokenListAfter :many
SELECT ref, file_id, session_id, created_at, expires_at, consumed_at, consumed_by_addr,
       (pin_hash IS NOT NULL)::bool AS has_pin, revoked_at, locked_at, bytes_sent, delivered_at, viewed_at, label
FROM download_tokens
WHERE file_id = @file_id AND session_id = @session_id AND tenant_id = @tenant_id
  AND (created_at, ref) > (@after_created_at::timestamptz, @after_ref::uuid)
ORDER BY created_at, ref
LIMIT @max_rows;

-- name: DownloadTokenRevoke :one
-- Revokes an unused token of the tenant: neither consumed, expired, locked nor revoked.
UPDATE download_tokens t
SET revoked_at = now()
FROM session_files f
WHERE t.ref = @ref AND t.file_id = @file_id AND t.session_id = @session_id AND t.tenant_id = @tenant_id
  AND t.consumed_at IS NULL AND t.revoked_at IS NULL AND t.locked_at IS NULL AND t.expires_at > now()
  AND f.id = t.file_id
RETURNING t.ref, f.name, f.content_type, f.size, f.sha256;

-- name: DownloadTokenExists :one
SELECT count(*) FROM download_tokens
WHERE ref = @ref AND file_id = @file_id AND session_id = @session_id AND tenant_id = @tenant_id;

-- name: DownloadTokenMarkDelivered :one
-- Marks a token delivered once the ranges sent cover the whole file, once: of the answers that
-- complete the coverage only the first gets the row (and so reports the token.delivered event).
UPDATE download_tokens t
SET delivered_at = now()
FROM session_files f
WHERE t.token_hash = @token_hash AND t.delivered_at IS NULL AND t.consumed_at IS NOT NULL
  AND f.id = t.file_id AND t.sent_ranges @> int8range(0, f.size)
RETURNING t.ref, t.tenant_id, t.file_id, t.session_id, t.consumed_by_addr, t.bytes_sent,
          f.name, f.content_type, f.size, f.sha256;
