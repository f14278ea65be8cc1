-- +goose Up
-- The sender's console in the browser (docs/behaviour.md §15): its sign-in sessions, and the
-- label a sender gives each one-time link ("for Bob").

-- A console session is an opaque random id in an HttpOnly cookie; only its hash is kept, so a
-- reader of the database cannot take one over. It ends at its expiry, at sign-out, when its
-- user is disabled or deleted, when the user's password changes (a session signed in with a
-- password), or when the application password it was signed in with is revoked. No audit
-- view: a sign-in is no part of a file's history, and the row holds nothing an auditor needs.
CREATE TABLE console_sessions (
    id_hash         bytea       PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_password_id bigint      REFERENCES app_passwords (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX console_sessions_user_idx ON console_sessions (user_id, created_at);
COMMENT ON TABLE console_sessions IS 'Signed-in sessions of the browser console; a user keeps a bounded number (the oldest go first).';
COMMENT ON COLUMN console_sessions.id_hash IS 'SHA-256 of the session''s random id (the cookie); never the id itself.';
COMMENT ON COLUMN console_sessions.user_id IS 'The user signed in.';
COMMENT ON COLUMN console_sessions.app_password_id IS 'The application password the user signed in with; NULL for the password. Revoking it ends the session.';
COMMENT ON COLUMN console_sessions.created_at IS 'When the user signed in; a later password change ends a session signed in with the password.';
COMMENT ON COLUMN console_sessions.expires_at IS 'When the session ends, whatever happens.';

-- Disabling a user ends its sessions for good (enabling it again brings none back), and a new
-- password ends those signed in with the old one, however the change is made (the CLI, psql).
-- +goose StatementBegin
CREATE FUNCTION console_sessions_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.disabled_at IS NOT NULL AND OLD.disabled_at IS NULL THEN
        DELETE FROM console_sessions WHERE user_id = NEW.id;
    ELSIF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        DELETE FROM console_sessions WHERE user_id = NEW.id AND app_password_id IS NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION console_sessions_end() IS 'Ends the console sessions of a user who is disabled, or whose password changes (those signed in with it).';
CREATE TRIGGER console_sessions_end AFTER UPDATE OF disabled_at, password_hash ON users
    FOR EACH ROW EXECUTE FUNCTION console_sessions_end();

ALTER TABLE download_tokens ADD COLUMN label text CHECK (label <> '' AND length(label) <= 100);
COMMENT ON COLUMN download_tokens.label IS 'The sender''s note of whom the link is for ("for Bob"); NULL when none. Grants nothing.';

CREATE OR REPLACE VIEW audit.download_tokens AS
SELECT dt.session_id, dt.file_id, f.name AS file_name, t.name AS tenant, dt.created_by,
       dt.created_at, dt.expires_at, dt.consumed_at, dt.consumed_by_addr,
       CASE WHEN dt.delivered_at IS NOT NULL THEN 'delivered'
            WHEN dt.consumed_at IS NOT NULL THEN 'consumed'
            WHEN dt.revoked_at IS NOT NULL THEN 'revoked'
            WHEN dt.locked_at IS NOT NULL THEN 'locked'
            WHEN dt.expires_at <= now() THEN 'expired'
            ELSE 'unused' END AS state,
       dt.ref, (dt.pin_hash IS NOT NULL)::bool AS pin, dt.pin_failures, dt.locked_at, dt.revoked_at,
       dt.bytes_sent, dt.delivered_at, dt.viewed_at, dt.label
FROM download_tokens dt
JOIN session_files f ON f.id = dt.file_id
JOIN tenants t ON t.id = dt.tenant_id;

-- +goose Down
DROP VIEW audit.download_tokens;
CREATE VIEW audit.download_tokens AS
SELECT dt.session_id, dt.file_id, f.name AS file_name, t.name AS tenant, dt.created_by,
       dt.created_at, dt.expires_at, dt.consumed_at, dt.consumed_by_addr,
       CASE WHEN dt.delivered_at IS NOT NULL THEN 'delivered'
            WHEN dt.consumed_at IS NOT NULL THEN 'consumed'
            WHEN dt.revoked_at IS NOT NULL THEN 'revoked'
            WHEN dt.locked_at IS NOT NULL THEN 'locked'
            WHEN dt.expires_at <= now() THEN 'expired'
            ELSE 'unused' END AS state,
       dt.ref, (dt.pin_hash IS NOT NULL)::bool AS pin, dt.pin_failures, dt.locked_at, dt.revoked_at,
       dt.bytes_sent, dt.delivered_at, dt.viewed_at
FROM download_tokens dt
JOIN session_files f ON f.id = dt.file_id
JOIN tenants t ON t.id = dt.tenant_id;
COMMENT ON VIEW audit.download_tokens IS 'One-time download tokens: who made them; when, from which address and how far each was used; revocations and PIN locks. Neither the token nor its PIN is stored.';
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.download_tokens TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd
ALTER TABLE download_tokens DROP COLUMN label;
DROP TRIGGER console_sessions_end ON users;
DROP FUNCTION console_sessions_end();
DROP TABLE console_sessions;
