-- +goose Up
-- Tenant quotas: the most bytes a tenant may keep, and the largest file; 0 means unlimited.
ALTER TABLE tenants
    ADD COLUMN max_bytes      bigint NOT NULL DEFAULT 0 CHECK (max_bytes >= 0),
    ADD COLUMN max_file_bytes bigint NOT NULL DEFAULT 0 CHECK (max_file_bytes >= 0);
COMMENT ON COLUMN tenants.max_bytes IS 'Most bytes the tenant may keep (live uploads, stored file entries of live sessions, uploads in progress); 0 = unlimited.';
COMMENT ON COLUMN tenants.max_file_bytes IS 'Largest file the tenant may upload, in bytes; 0 = unlimited (the service''s own limit still applies).';

-- Bytes of uploads in progress, held while they stream so that concurrent uploads cannot
-- together pass the quota. A row goes when its upload is committed (in the same transaction)
-- or refused; one left by a crash is swept by the purge.
CREATE TABLE quota_reservations (
    id         uuid        PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bytes      bigint      NOT NULL CHECK (bytes >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quota_reservations_tenant_idx ON quota_reservations (tenant_id);
CREATE INDEX quota_reservations_created_at_idx ON quota_reservations (created_at);
COMMENT ON TABLE quota_reservations IS 'Bytes held for uploads in progress of tenants with a quota.';
COMMENT ON COLUMN quota_reservations.id IS 'Random UUID of the upload''s reservation.';
COMMENT ON COLUMN quota_reservations.tenant_id IS 'The tenant whose quota holds the bytes.';
COMMENT ON COLUMN quota_reservations.bytes IS 'Bytes held: the announced size, or what has streamed so far.';
COMMENT ON COLUMN quota_reservations.created_at IS 'When the upload started; the purge sweeps reservations left by a crash a day later.';

-- A resumable upload holds its Upload-Length (a reservation named by its id) until it is
-- sealed; however its row goes — termination, expiry, or with its file entry or session — its
-- hold goes with it.
-- +goose StatementBegin
CREATE FUNCTION tus_uploads_release_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM quota_reservations WHERE id = OLD.id;
    RETURN OLD;
END
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION tus_uploads_release_hold() IS 'Releases the quota held by a resumable upload whose row is deleted.';
CREATE TRIGGER tus_uploads_release_hold AFTER DELETE ON tus_uploads
    FOR EACH ROW EXECUTE FUNCTION tus_uploads_release_hold();

-- A tenant's usage is summed from its live rows: these keep the sums to index-only scans.
CREATE INDEX uploads_tenant_live_idx ON uploads (tenant_id, expires_at) INCLUDE (size) WHERE purged_at IS NULL;
CREATE INDEX session_files_tenant_stored_idx ON session_files (tenant_id, session_id) INCLUDE (size) WHERE state = 'stored';

-- Application passwords: one per integration of a user, revocable alone.
CREATE TABLE app_passwords (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (name <> '' AND length(name) <= 100),
    hash         bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    UNIQUE (user_id, name)
);
COMMENT ON TABLE app_passwords IS 'Application passwords: each works as its user''s Basic Auth password for one integration, and is revoked alone.';
COMMENT ON COLUMN app_passwords.id IS 'Surrogate key.';
COMMENT ON COLUMN app_passwords.user_id IS 'The user the password logs in as.';
COMMENT ON COLUMN app_passwords.name IS 'Name of the integration, unique per user.';
COMMENT ON COLUMN app_passwords.hash IS 'SHA-256 of the password (which has at least 128 random bits); never the password itself.';
COMMENT ON COLUMN app_passwords.created_at IS 'When the password was issued.';
COMMENT ON COLUMN app_passwords.last_used_at IS 'When it last logged in, to within a minute; NULL if never.';

CREATE VIEW audit.app_passwords AS
SELECT t.name AS tenant, u.name AS user_name, ap.name, ap.created_at, ap.last_used_at
FROM app_passwords ap JOIN users u ON u.id = ap.user_id JOIN tenants t ON t.id = u.tenant_id;
COMMENT ON VIEW audit.app_passwords IS 'Application passwords by user and integration name, with their last use; no hash.';

CREATE OR REPLACE VIEW audit.tenants AS
SELECT t.name AS tenant, t.created_at,
       (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS users,
       t.max_bytes, t.max_file_bytes
FROM tenants t;
COMMENT ON VIEW audit.tenants IS 'Tenants, their number of users and their quotas (0 = unlimited).';
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.app_passwords TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tus_uploads_release_hold ON tus_uploads;
DROP FUNCTION tus_uploads_release_hold();
DROP VIEW audit.app_passwords;
DROP VIEW audit.tenants;
CREATE VIEW audit.tenants AS
SELECT t.name AS tenant, t.created_at,
       (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS users
FROM tenants t;
COMMENT ON VIEW audit.tenants IS 'Tenants and their number of users.';
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.tenants TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd
DROP TABLE app_passwords;
DROP INDEX session_files_tenant_stored_idx;
DROP INDEX uploads_tenant_live_idx;
DROP TABLE quota_reservations;
ALTER TABLE tenants DROP COLUMN max_file_bytes, DROP COLUMN max_bytes;
