-- +goose Up
-- Webhooks an integrator operates (docs/behaviour.md §10): an endpoint is enabled or disabled
-- (by its tenant, or by the dispatcher once every attempt failed for 5 days), and its secret is
-- rotated with an overlap during which the previous secret signs every delivery as well.
ALTER TABLE webhooks
    ADD COLUMN enabled                    boolean     NOT NULL DEFAULT true,
    ADD COLUMN disabled_at                timestamptz,
    ADD COLUMN disabled_reason            text,
    ADD COLUMN failing_since              timestamptz,
    ADD COLUMN previous_secret            bytea       CHECK (length(previous_secret) >= 24),
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD CONSTRAINT webhooks_disabled_state_check CHECK (enabled = (disabled_at IS NULL) AND enabled = (disabled_reason IS NULL)),
    ADD CONSTRAINT webhooks_previous_secret_overlap_check CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL));

COMMENT ON COLUMN webhooks.secret IS 'Signing key (the decoded bytes of the whsec_ secret shown once, at creation or at a rotation); signs every delivery with HMAC-SHA256. Never shown again, not in the audit views.';
COMMENT ON COLUMN webhooks.enabled IS 'Whether events are sent to the endpoint. While false no event is recorded for it, and its deliveries not made yet were given up when it was disabled.';
COMMENT ON COLUMN webhooks.disabled_at IS 'When the endpoint was disabled; NULL while enabled.';
COMMENT ON COLUMN webhooks.disabled_reason IS 'Why the endpoint was disabled (by whom, or since when every attempt failed); NULL while enabled.';
COMMENT ON COLUMN webhooks.failing_since IS 'When the first of the attempts that failed since the last 2xx was made; NULL after a 2xx. An endpoint failing for 5 days is disabled.';
COMMENT ON COLUMN webhooks.previous_secret IS 'The signing key before the last rotation, which signs every delivery as well until previous_secret_expires_at; NULL when there is no overlap. Never shown, not in the audit views.';
COMMENT ON COLUMN webhooks.previous_secret_expires_at IS 'End of the rotation overlap: after it only secret signs.';

-- Auditors see which endpoints are disabled, and why.
CREATE OR REPLACE VIEW audit.webhooks AS
SELECT w.id, t.name AS tenant, w.url, w.events, w.created_by, w.created_at,
       w.enabled, w.disabled_at, w.disabled_reason
FROM webhooks w JOIN tenants t ON t.id = w.tenant_id;
COMMENT ON VIEW audit.webhooks IS 'Webhook endpoints of the tenants, enabled or not (and why), without their signing secrets.';

-- +goose Down
COMMENT ON COLUMN webhooks.secret IS 'Signing key (the decoded bytes of the whsec_ secret shown once at creation); signs every delivery with HMAC-SHA256. Never shown again, not in the audit views.';
DROP VIEW audit.webhooks;
CREATE VIEW audit.webhooks AS
SELECT w.id, t.name AS tenant, w.url, w.events, w.created_by, w.created_at
FROM webhooks w JOIN tenants t ON t.id = w.tenant_id;
COMMENT ON VIEW audit.webhooks IS 'Webhook endpoints of the tenants, without their signing secrets.';

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.webhooks TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd

ALTER TABLE webhooks
    DROP CONSTRAINT webhooks_previous_secret_overlap_check,
    DROP CONSTRAINT webhooks_disabled_state_check,
    DROP COLUMN previous_secret_expires_at,
    DROP COLUMN previous_secret,
    DROP COLUMN failing_since,
    DROP COLUMN disabled_reason,
    DROP COLUMN disabled_at,
    DROP COLUMN enabled;
