-- name: AppPasswordCreate :one
INSERT INTO app_passwords (user_id, name, hash)
SELECT u.id, @name, @hash FROM users u JOIN tenants t ON t.id = u.tenant_id
WHERE t.name = @tenant AND u.name = @user_name
RETURNING id, created_at;

-- name: AppPasswordList :many
SELECT ap.name, ap.created_at, ap.last_used_at
FROM app_passwords ap JOIN users u ON u.id = ap.user_id JOIN tenants t ON t.id = u.tenant_id
WHERE t.name = @tenant AND u.name = @user_name
ORDER BY ap.name;

-- name: AppPasswordRevoke :execrows
DELETE FROM app_passwords ap USING users u, tenants t
WHERE ap.user_id = u.id AND u.tenant_id = t.id AND t.name = @tenant AND u.name = @user_name AND ap.name = @name;

-- name: AppPasswordTouch :exec
-- Records a use, coarsely: the caller writes at most once a minute per password.
UPDATE app_passwords SET last_used_at = now() WHERE id = @id;
