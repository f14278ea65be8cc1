-- +goose Up
-- One-time links in the field: a public reference per token, PINs, revocation, and the
-- delivery record that lets a cut download resume.
ALTER TABLE download_tokens
    ADD COLUMN ref          uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN pin_hash     bytea CHECK (length(pin_hash) = 32),
    ADD COLUMN pin_failures integer NOT NULL DEFAULT 0 CHECK (pin_failures >= 0),
    ADD COLUMN locked_at    timestamptz,
    ADD COLUMN revoked_at   timestamptz,
    ADD COLUMN bytes_sent   bigint NOT NULL DEFAULT 0 CHECK (bytes_sent >= 0),
    ADD COLUMN delivered_at timestamptz;
CREATE UNIQUE INDEX download_tokens_ref_idx ON download_tokens (ref);
-- The token list of a file entry, oldest first, a page at a time.
CREATE INDEX download_tokens_file_page_idx ON download_tokens (file_id, created_at, ref);

COMMENT ON COLUMN download_tokens.ref IS 'Public reference of the token (random): shown in lists, used to revoke it. It does not download anything.';
COMMENT ON COLUMN download_tokens.pin_hash IS 'SHA-256 of the token and its PIN when the token has one; NULL for a token without PIN. The PIN itself is never stored.';
COMMENT ON COLUMN download_tokens.pin_failures IS 'Wrong PINs tried so far; the token locks at 5.';
COMMENT ON COLUMN download_tokens.locked_at IS 'When the token was locked for good by the fifth wrong PIN.';
COMMENT ON COLUMN download_tokens.revoked_at IS 'When its owner revoked the unused token.';
COMMENT ON COLUMN download_tokens.bytes_sent IS 'Bytes of the file sent to the recipient, over the consuming download and its resumptions.';
COMMENT ON COLUMN download_tokens.delivered_at IS 'When the last byte of the file went out to the recipient; NULL until then.';

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
       dt.bytes_sent, dt.delivered_at
FROM download_tokens dt
JOIN session_files f ON f.id = dt.file_id
JOIN tenants t ON t.id = dt.tenant_id;
COMMENT ON VIEW audit.download_tokens IS 'One-time download tokens: who made them; when, from which address and how far each was used; revocations and PIN locks. Neither the token nor its PIN is stored.';

-- +goose Down
DROP VIEW audit.download_tokens;
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
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.download_tokens TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd
DROP INDEX download_tokens_file_page_idx;
DROP INDEX download_tokens_ref_idx;
ALTER TABLE download_tokens
    DROP COLUMN ref, DROP COLUMN pin_hash, DROP COLUMN pin_failures, DROP COLUMN locked_at,
    DROP COLUMN revoked_at, DROP COLUMN bytes_sent, DROP COLUMN delivered_at;
