-- +goose Up
-- Expired sessions keep a tombstone row, like uploads: the purge removes their file entries
-- (with their tokens, upload URLs and blobs) and marks the session; the row itself goes once
-- the tombstone retention has passed since its expiry.
ALTER TABLE sessions ADD COLUMN purged_at timestamptz;
COMMENT ON COLUMN sessions.purged_at IS 'When the purge removed the expired session''s file entries, tokens and blobs; the row stays as a tombstone (its routes answer 410) until the retention has passed since expires_at.';
-- The purge finds expired sessions still to empty, and tombstones whose retention ran out.
DROP INDEX sessions_expires_at_idx;
CREATE INDEX sessions_live_expires_at_idx ON sessions (expires_at) WHERE purged_at IS NULL;
CREATE INDEX sessions_tombstone_expires_at_idx ON sessions (expires_at) WHERE purged_at IS NOT NULL;

CREATE OR REPLACE VIEW audit.sessions AS
SELECT s.id, t.name AS tenant, s.created_by, s.created_at, s.expires_at,
       (SELECT count(*) FROM session_files f WHERE f.session_id = s.id) AS files,
       s.purged_at
FROM sessions s JOIN tenants t ON t.id = s.tenant_id;
COMMENT ON VIEW audit.sessions IS 'Sessions and their number of file entries; purged_at is set on the tombstone of an expired session.';

-- +goose Down
-- A view cannot lose a column in place: it is made anew, with its grant.
DROP VIEW audit.sessions;
CREATE VIEW audit.sessions AS
SELECT s.id, t.name AS tenant, s.created_by, s.created_at, s.expires_at,
       (SELECT count(*) FROM session_files f WHERE f.session_id = s.id) AS files
FROM sessions s JOIN tenants t ON t.id = s.tenant_id;
COMMENT ON VIEW audit.sessions IS 'Sessions and their number of file entries.';
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.sessions TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd
DROP INDEX sessions_tombstone_expires_at_idx;
DROP INDEX sessions_live_expires_at_idx;
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
ALTER TABLE sessions DROP COLUMN purged_at;
