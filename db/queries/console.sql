-- name: ConsoleSessionCreate :one
-- A user's new console session. The same statement forgets the user's sessions that have
-- ended, and those past the newest max_sessions, so a user keeps a bounded number.
WITH gone AS (
    DELETE FROM console_sessions cs
    WHERE cs.user_id = @user_id
      AND (cs.expires_at <= now()
           OR cs.id_hash IN (SELECT k.id_hash FROM console_sessions k WHERE k.user_id = @user_id
                             ORDER BY k.created_at DESC OFFSET sqlc.arg(max_sessions)::int - 1))
)
INSERT INTO console_sessions (id_hash, user_id, app_password_id, expires_at)
VALUES (@id_hash, @user_id, sqlc.narg('app_password_id'), now() + sqlc.arg(ttl_seconds)::bigint * interval '1 second')
RETURNING expires_at;

-- name: ConsoleSessionLookup :one
-- The user of a live console session: not expired, its user enabled, its password unchanged
-- since (a session signed in with the password), its application password not revoked (the row
-- goes with it).
SELECT u.id AS user_id, u.tenant_id, u.name AS user_name, t.name AS tenant_name,
       t.max_bytes, t.max_file_bytes, cs.expires_at, cs.app_password_id
FROM console_sessions cs
JOIN users u ON u.id = cs.user_id
JOIN tenants t ON t.id = u.tenant_id
WHERE cs.id_hash = @id_hash AND cs.expires_at > now() AND u.disabled_at IS NULL
  AND (cs.app_password_id IS NOT NULL OR u.password_changed_at <= cs.created_at);

-- name: ConsoleSessionDelete :execrows
DELETE FROM console_sessions WHERE id_hash = @id_hash;
