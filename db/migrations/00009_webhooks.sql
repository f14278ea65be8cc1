-- +goose Up
-- Events and webhooks (docs/behaviour.md §10): a tenant's endpoints, the events recorded in the
-- transaction of the change they report (the outbox), one delivery per event and endpoint, and
-- the log of every delivery attempt. The job queue that drives the deliveries is River's, in the
-- schema river; `fileshare migrate up` creates its tables after this migration.
CREATE SCHEMA river;
COMMENT ON SCHEMA river IS 'Job queue of webhook deliveries, managed by River (its own migrations, run by fileshare migrate up). Holds ids only, no event bodies and no secrets.';

CREATE TABLE webhooks (
    id         uuid        PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url        text        NOT NULL CHECK (url <> '' AND length(url) <= 2048),
    events     text[]      NOT NULL DEFAULT '{}',
    secret     bytea       NOT NULL CHECK (length(secret) >= 24),
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant_page_idx ON webhooks (tenant_id, created_at, id);

COMMENT ON TABLE webhooks IS 'HTTP endpoints a tenant registered to be told about events of its files.';
COMMENT ON COLUMN webhooks.id IS 'Random UUID.';
COMMENT ON COLUMN webhooks.tenant_id IS 'The tenant that owns the endpoint; it receives only that tenant''s events.';
COMMENT ON COLUMN webhooks.url IS 'http(s) URL the events are POSTed to.';
COMMENT ON COLUMN webhooks.events IS 'Event types the endpoint subscribed to; empty means every type.';
COMMENT ON COLUMN webhooks.secret IS 'Signing key (the decoded bytes of the whsec_ secret shown once at creation); signs every delivery with HMAC-SHA256. Never shown again, not in the audit views.';
COMMENT ON COLUMN webhooks.created_by IS 'Login (name@tenant) of the user who registered the endpoint.';
COMMENT ON COLUMN webhooks.created_at IS 'When the endpoint was registered.';

CREATE TABLE webhook_events (
    id         uuid        PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type       text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created_at_idx ON webhook_events (created_at);

COMMENT ON TABLE webhook_events IS 'Events, recorded in the same transaction as the change they report, and only while the tenant has an endpoint subscribed to their type.';
COMMENT ON COLUMN webhook_events.id IS 'Event id (UUIDv7): the webhook-id header of every delivery of the event, the same on every retry.';
COMMENT ON COLUMN webhook_events.tenant_id IS 'The tenant whose change the event reports.';
COMMENT ON COLUMN webhook_events.type IS 'Event type, e.g. upload.stored or token.delivered.';
COMMENT ON COLUMN webhook_events.body IS 'The JSON body POSTed to the endpoints, exactly as signed: {"type","timestamp","data"}. Holds ids, file names, sizes, digests, logins and addresses; never a token, PIN or password.';
COMMENT ON COLUMN webhook_events.created_at IS 'When the change (and so the event) was committed.';

CREATE TABLE webhook_deliveries (
    id           uuid        PRIMARY KEY,
    event_id     uuid        NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    webhook_id   uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    delivered_at timestamptz,
    failed_at    timestamptz,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_webhook_id_idx ON webhook_deliveries (webhook_id);
-- The backlog (queue depth and the age of the oldest undelivered event).
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

COMMENT ON TABLE webhook_deliveries IS 'One delivery of an event to one endpoint: retried until the endpoint answers 2xx or the retries are used up.';
COMMENT ON COLUMN webhook_deliveries.id IS 'Random UUID; the queue job carries only this id.';
COMMENT ON COLUMN webhook_deliveries.event_id IS 'The event delivered.';
COMMENT ON COLUMN webhook_deliveries.webhook_id IS 'The endpoint it is delivered to.';
COMMENT ON COLUMN webhook_deliveries.tenant_id IS 'The tenant of the event and the endpoint.';
COMMENT ON COLUMN webhook_deliveries.created_at IS 'When the event was recorded.';
COMMENT ON COLUMN webhook_deliveries.attempts IS 'Attempts made so far.';
COMMENT ON COLUMN webhook_deliveries.delivered_at IS 'When the endpoint answered 2xx; NULL until then. A delivered event is never sent again.';
COMMENT ON COLUMN webhook_deliveries.failed_at IS 'When the last retry failed and the delivery was given up; NULL while it is still tried.';

CREATE TABLE webhook_attempts (
    id          uuid        PRIMARY KEY,
    delivery_id uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id  uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL CHECK (attempt > 0),
    started_at  timestamptz NOT NULL,
    duration_ms integer     NOT NULL CHECK (duration_ms >= 0),
    status_code integer,
    error       text,
    UNIQUE (delivery_id, attempt)
);
-- The attempts of an endpoint, newest first, a page at a time.
CREATE INDEX webhook_attempts_webhook_page_idx ON webhook_attempts (webhook_id, started_at DESC, id DESC);

COMMENT ON TABLE webhook_attempts IS 'Every attempt to deliver an event: the answer''s status code, or why there was none.';
COMMENT ON COLUMN webhook_attempts.id IS 'Random UUID.';
COMMENT ON COLUMN webhook_attempts.delivery_id IS 'The delivery the attempt belongs to.';
COMMENT ON COLUMN webhook_attempts.webhook_id IS 'The endpoint tried.';
COMMENT ON COLUMN webhook_attempts.attempt IS 'Attempt number of the delivery, from 1.';
COMMENT ON COLUMN webhook_attempts.started_at IS 'When the request was sent.';
COMMENT ON COLUMN webhook_attempts.duration_ms IS 'How long until the answer (or the failure), in milliseconds.';
COMMENT ON COLUMN webhook_attempts.status_code IS 'HTTP status of the answer; NULL when there was none.';
COMMENT ON COLUMN webhook_attempts.error IS 'Why there was no usable answer (timeout, refused address, connection error), or NULL. Never holds the URL.';

-- Auditors see who registered which endpoint (where data about the tenant's files flows) and
-- what was sent there, but never a signing secret.
CREATE VIEW audit.webhooks AS
SELECT w.id, t.name AS tenant, w.url, w.events, w.created_by, w.created_at
FROM webhooks w JOIN tenants t ON t.id = w.tenant_id;
COMMENT ON VIEW audit.webhooks IS 'Webhook endpoints of the tenants, without their signing secrets.';

CREATE VIEW audit.webhook_deliveries AS
SELECT d.event_id, ev.type, t.name AS tenant, d.webhook_id, w.url, ev.created_at, d.attempts,
       d.delivered_at, d.failed_at,
       CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered'
            WHEN d.failed_at IS NOT NULL THEN 'failed'
            ELSE 'pending' END AS state,
       ev.body
FROM webhook_deliveries d
JOIN webhook_events ev ON ev.id = d.event_id
JOIN webhooks w ON w.id = d.webhook_id
JOIN tenants t ON t.id = d.tenant_id;
COMMENT ON VIEW audit.webhook_deliveries IS 'Events sent (or being sent) to webhook endpoints: what, where, and how it went.';

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.webhooks, audit.webhook_deliveries TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP VIEW audit.webhook_deliveries;
DROP VIEW audit.webhooks;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
-- The job queue goes with them (River's tables, and its record of its own migrations).
DROP SCHEMA river CASCADE;
