-- name: AuthThrottleFailLogin :exec
INSERT INTO auth_failures AS a (key, failures, window_start, last_failure_at, locked_until)
VALUES (sqlc.arg(login_key)::text, 1, now(), now(),
        CASE WHEN 1 >= sqlc.arg(threshold)::int THEN now() + sqlc.arg(base_ms)::float8 * interval '1 millisecond' END)
ON CONFLICT (key) DO UPDATE SET
    failures = a.failures + 1,
    last_failure_at = now(),
    locked_until = CASE WHEN a.failures + 1 >= sqlc.arg(threshold)::int
        THEN now() + least(sqlc.arg(base_ms)::float8 * power(2, least(a.failures + 1 - sqlc.arg(threshold)::int, 30)), sqlc.arg(max_ms)::float8) * interval '1 millisecond'
    END;

-- name: AuthThrottleFailAddr :exec
INSERT INTO auth_failures AS a (key, failures, window_start, last_failure_at, locked_until)
VALUES (sqlc.arg(addr_key)::text, 1, now(), now(), NULL)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN a.window_start <= now() - sqlc.arg(window_ms)::float8 * interval '1 millisecond' THEN 1 ELSE a.failures + 1 END,
    window_start = CASE WHEN a.window_start <= now() - sqlc.arg(window_ms)::float8 * interval '1 millisecond' THEN now() ELSE a.window_start END,
    last_failure_at = now(),
    locked_until = CASE
        WHEN a.window_start > now() - sqlc.arg(window_ms)::float8 * interval '1 millisecond' AND a.failures + 1 >= sqlc.arg(threshold)::int
        THEN a.window_start + sqlc.arg(window_ms)::float8 * interval '1 millisecond'
    END;

-- name: AuthThrottleReset :exec
DELETE FROM auth_failures WHERE key = sqlc.arg(login_key)::text;

-- name: AuthThrottleDeleteStale :execrows
DELETE FROM auth_failures
WHERE last_failure_at < now() - sqlc.arg(max_age_ms)::float8 * interval '1 millisecond'
  AND (locked_until IS NULL OR locked_until < now());

-- name: AuthLookup :one
-- Every authenticated request's one query: seconds to wait before the login may be tried from
-- the address (0 when not throttled), whether the login has failures to reset on success, and
-- the user the login names (as UserGetForAuth); found is false when there is no such user.
SELECT th.wait_seconds, th.login_failed,
       (u.id IS NOT NULL)::bool AS found,
       coalesce(u.id, 0)::bigint AS user_id, coalesce(u.tenant_id, 0)::bigint AS tenant_id,
       coalesce(u.password_hash, '')::text AS password_hash, coalesce(u.disabled, false)::bool AS disabled,
       u.app_password_id, u.app_password_used_at,
       coalesce(u.max_bytes, 0)::bigint AS max_bytes, coalesce(u.max_file_bytes, 0)::bigint AS max_file_bytes
FROM (
    SELECT coalesce((SELECT max(date_part('epoch', f.locked_until - now())) FROM auth_failures f
                     WHERE f.key IN (sqlc.arg(login_key)::text, sqlc.arg(addr_key)::text) AND f.locked_until > now()), 0)::float8 AS wait_seconds,
           EXISTS (SELECT 1 FROM auth_failures f WHERE f.key = sqlc.arg(login_key)::text)::bool AS login_failed
) th
LEFT JOIN (
    SELECT u.id, u.tenant_id, u.password_hash, (u.disabled_at IS NOT NULL) AS disabled,
           ap.id AS app_password_id, ap.last_used_at AS app_password_used_at,
           t.max_bytes, t.max_file_bytes
    FROM users u
    JOIN tenants t ON t.id = u.tenant_id
    LEFT JOIN app_passwords ap ON ap.user_id = u.id AND ap.hash = sqlc.narg('app_hash')
    WHERE t.name = sqlc.arg(tenant)::text AND u.name = sqlc.arg(name)::text
) u ON true;
