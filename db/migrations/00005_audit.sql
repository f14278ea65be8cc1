-- +goose Up
-- Read-only views for auditors (psql): who shared what, when, and who downloaded it from where.
-- No password hash and no token hash is shown. The role fileshare_audit may read these views and
-- nothing else; grant it to a login role of your own:
--   CREATE ROLE auditor LOGIN PASSWORD '…' IN ROLE fileshare_audit;
-- Roles belong to the whole PostgreSQL cluster: the role is created when missing and the
-- migrating user may create roles; otherwise an administrator creates it and grants
-- (see README, "Auditing").
CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'Read-only views for auditors; no secrets. Readable by the role fileshare_audit.';

CREATE VIEW audit.tenants AS
SELECT t.name AS tenant, t.created_at,
       (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS users
FROM tenants t;
COMMENT ON VIEW audit.tenants IS 'Tenants and their number of users.';

CREATE VIEW audit.users AS
SELECT t.name AS tenant, u.name AS user_name, u.name || '@' || t.name AS login,
       u.created_at, u.password_changed_at, u.disabled_at
FROM users u JOIN tenants t ON t.id = u.tenant_id;
COMMENT ON VIEW audit.users IS 'Users without their password hashes.';

CREATE VIEW audit.uploads AS
SELECT up.id, t.name AS tenant, up.created_by, up.name, up.content_type, up.size,
       encode(up.sha256, 'hex') AS sha256, up.created_at, up.expires_at, up.purged_at,
       CASE WHEN up.purged_at IS NOT NULL THEN 'purged'
            WHEN up.expires_at <= now() THEN 'expired'
            ELSE 'live' END AS state
FROM uploads up JOIN tenants t ON t.id = up.tenant_id;
COMMENT ON VIEW audit.uploads IS 'Simple uploads, including expired ones kept as tombstones.';

CREATE VIEW audit.sessions AS
SELECT s.id, t.name AS tenant, s.created_by, s.created_at, s.expires_at,
       (SELECT count(*) FROM session_files f WHERE f.session_id = s.id) AS files
FROM sessions s JOIN tenants t ON t.id = s.tenant_id;
COMMENT ON VIEW audit.sessions IS 'Sessions and their number of file entries.';

CREATE VIEW audit.files AS
SELECT f.id, f.session_id, t.name AS tenant, f.name, f.content_type, f.declared_size, f.size,
       encode(f.sha256, 'hex') AS sha256, f.state, f.created_at, f.stored_at
FROM session_files f JOIN tenants t ON t.id = f.tenant_id;
COMMENT ON VIEW audit.files IS 'File entries of sessions.';

CREATE VIEW audit.download_tokens AS
SELECT dt.session_id, dt.file_id, f.name AS file_name, t.name AS tenant, dt.created_by,
       dt.created_at, dt.expires_at, dt.consumed_at, dt.consumed_by_addr,
       CASE WHEN dt.consumed_at IS NOT NULL THEN 'consumed'
            WHEN dt.expires_at <= now() THEN 'expired'
            ELSE 'unused' END AS state
FROM download_tokens dt
JOIN session_files f ON f.id = dt.file_id
JOIN tenants t ON t.id = dt.tenant_id;
COMMENT ON VIEW audit.download_tokens IS 'One-time download tokens: who made them, and when and from which address each was used. The token itself is never stored.';

CREATE VIEW audit.upload_urls AS
SELECT ut.session_id, ut.file_id, t.name AS tenant, ut.created_by, ut.created_at, ut.expires_at,
       ut.used_at, ut.used_by_addr
FROM upload_tokens ut JOIN tenants t ON t.id = ut.tenant_id;
COMMENT ON VIEW audit.upload_urls IS 'Upload URLs: who made them, and when and from which address each was used.';

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        BEGIN
            CREATE ROLE fileshare_audit NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'cannot create role fileshare_audit; an administrator must create it and run the grants of the README';
            RETURN;
        END;
    END IF;
    GRANT USAGE ON SCHEMA audit TO fileshare_audit;
    GRANT SELECT ON ALL TABLES IN SCHEMA audit TO fileshare_audit;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO fileshare_audit', current_database());
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The role is shared by the cluster's databases and stays.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM fileshare_audit', current_database());
    END IF;
END
$$;
-- +goose StatementEnd
DROP SCHEMA audit CASCADE;
