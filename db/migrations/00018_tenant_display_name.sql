-- +goose Up
-- A tenant's display name: how its recipients know who sent them a file ("ACME Support sent
-- you a file" on a one-time link's landing page). NULL: the page names no sender. The operator's
-- command checks the text (normalized, no control or format characters); the constraint keeps
-- its length bounded whatever writes it.
ALTER TABLE tenants
    ADD COLUMN display_name text CHECK (char_length(display_name) BETWEEN 1 AND 100);
COMMENT ON COLUMN tenants.display_name IS 'Name shown to the tenant''s recipients on landing pages ("ACME Support sent you a file"); NULL = none.';

CREATE OR REPLACE VIEW audit.tenants AS
SELECT t.name AS tenant, t.created_at,
       (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS users,
       t.max_bytes, t.max_file_bytes, t.display_name
FROM tenants t;
COMMENT ON VIEW audit.tenants IS 'Tenants, their number of users, their quotas (0 = unlimited) and the display name their recipients see.';

-- +goose Down
DROP VIEW audit.tenants;
CREATE VIEW audit.tenants AS
SELECT t.name AS tenant, t.created_at,
       (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS users,
       t.max_bytes, t.max_file_bytes
FROM tenants t;
COMMENT ON VIEW audit.tenants IS 'Tenants, their number of users and their quotas (0 = unlimited).';
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.tenants TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd
ALTER TABLE tenants DROP COLUMN display_name;
