-- name: CacheSessionRenew :one
-- Registers or renews a listening session's lease; returns the database's clock.
INSERT INTO cache_sessions (id, lease_until)
VALUES (@id, now() + sqlc.arg(lease_ms)::bigint * interval '1 millisecond')
ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until
RETURNING now()::timestamptz AS db_now;

-- name: CacheSessionEnd :exec
DELETE FROM cache_sessions WHERE id = @id;

-- name: CacheSessionSweep :exec
-- Sessions whose lease ran out a minute ago are gone for good.
DELETE FROM cache_sessions WHERE lease_until < now() - interval '1 minute';

-- name: CacheSessionsLive :many
SELECT id FROM cache_sessions WHERE lease_until > now();

-- name: CacheSessionsStillLive :many
SELECT id FROM cache_sessions WHERE id = ANY(@ids::uuid[]) AND lease_until > now();

-- name: CacheNonceSet :exec
-- Tags the transaction's announcements of changed uploads, for the acknowledgements.
SELECT set_config('fileshare.cache_nonce', @nonce::text, true);

-- name: CacheNotify :exec
SELECT pg_notify(@channel::text, @payload::text);
