-- Webhook endpoints, the event outbox and the delivery log (docs/behaviour.md §10).

-- name: WebhookCreate :one
INSERT INTO webhooks (id, tenant_id, url, events, secret, created_by)
VALUES (@id, @tenant_id, @url, @events::text[], @secret, @created_by)
RETURNING *;

-- name: WebhookGet :one
SELECT * FROM webhooks WHERE id = @id AND tenant_id = @tenant_id;

-- name: WebhookListFirst :many
SELECT * FROM webhooks
WHERE tenant_id = @tenant_id
ORDER BY created_at, id
LIMIT @max_rows;

-- name: WebhookListAfter :many
SELECT * FROM webhooks
WHERE tenant_id = @tenant_id AND (created_at, id) > (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY created_at, id
LIMIT @max_rows;

-- name: WebhookDelete :execrows
-- Its pending deliveries go with it (by cascade); their queue jobs then find nothing to do.
DELETE FROM webhooks WHERE id = @id AND tenant_id = @tenant_id;

-- name: WebhookEventRecord :many
-- The outbox: records events in the transaction of the change they report, each only while its
-- tenant has an endpoint subscribed to its type, with one delivery per such endpoint. For a
-- tenant without endpoints it writes nothing and costs one index probe per event.
WITH ev AS (
    SELECT unnest(@ids::uuid[]) AS id, unnest(@tenant_ids::bigint[]) AS tenant_id,
           unnest(@types::text[]) AS type, unnest(@bodies::text[]) AS body
), matched AS (
    SELECT ev.id AS event_id, w.id AS webhook_id, ev.tenant_id
    FROM ev
    JOIN webhooks w ON w.tenant_id = ev.tenant_id AND (cardinality(w.events) = 0 OR ev.type = ANY (w.events))
), inserted AS (
    INSERT INTO webhook_events (id, tenant_id, type, body)
    SELECT ev.id, ev.tenant_id, ev.type, ev.body FROM ev
    WHERE ev.id IN (SELECT m.event_id FROM matched m)
    RETURNING id, type
)
INSERT INTO webhook_deliveries (id, event_id, webhook_id, tenant_id)
SELECT gen_random_uuid(), m.event_id, m.webhook_id, m.tenant_id
FROM matched m JOIN inserted i ON i.id = m.event_id
RETURNING id, event_id;

-- name: WebhookDeliveryGet :one
-- What a delivery job needs: the endpoint, its key and the event's body.
SELECT d.id, d.event_id, d.webhook_id, d.tenant_id, d.delivered_at, d.failed_at, d.attempts,
       ev.type, ev.body, ev.created_at AS event_created_at, w.url, w.secret
FROM webhook_deliveries d
JOIN webhook_events ev ON ev.id = d.event_id
JOIN webhooks w ON w.id = d.webhook_id
WHERE d.id = @id;

-- name: WebhookAttemptRecord :one
-- Logs one attempt and settles the delivery: delivered on a 2xx, given up after the last retry.
WITH d AS (
    UPDATE webhook_deliveries wd
    SET attempts = wd.attempts + 1,
        delivered_at = CASE WHEN sqlc.arg(delivered)::bool THEN coalesce(wd.delivered_at, now()) ELSE wd.delivered_at END,
        failed_at = CASE WHEN sqlc.arg(give_up)::bool AND NOT sqlc.arg(delivered)::bool THEN now() ELSE wd.failed_at END
    WHERE wd.id = @delivery_id
    RETURNING wd.id, wd.webhook_id, wd.attempts
)
INSERT INTO webhook_attempts (id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code, error)
SELECT gen_random_uuid(), d.id, d.webhook_id, d.attempts, @started_at, @duration_ms, sqlc.narg('status_code'), sqlc.narg('error')
FROM d
RETURNING attempt;

-- name: WebhookAttemptListFirst :many
-- The recent attempts of an endpoint of the tenant, newest first.
SELECT a.id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error, d.event_id, ev.type
FROM webhook_attempts a
JOIN webhooks w ON w.id = a.webhook_id
JOIN webhook_deliveries d ON d.id = a.delivery_id
JOIN webhook_events ev ON ev.id = d.event_id
WHERE a.webhook_id = @webhook_id AND w.tenant_id = @tenant_id
ORDER BY a.started_at DESC, a.id DESC
LIMIT @max_rows;

-- name: WebhookAttemptListAfter :many
SELECT a.id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error, d.event_id, ev.type
FROM webhook_attempts a
JOIN webhooks w ON w.id = a.webhook_id
JOIN webhook_deliveries d ON d.id = a.delivery_id
JOIN webhook_events ev ON ev.id = d.event_id
WHERE a.webhook_id = @webhook_id AND w.tenant_id = @tenant_id
  AND (a.started_at, a.id) < (@after_started_at::timestamptz, @after_id::uuid)
ORDER BY a.started_at DESC, a.id DESC
LIMIT @max_rows;

-- name: WebhookBacklog :one
-- Deliveries still to make, and when the oldest of them was recorded (metrics).
SELECT count(*) AS pending, coalesce(min(created_at), now())::timestamptz AS oldest
FROM webhook_deliveries
WHERE delivered_at IS NULL AND failed_at IS NULL;

-- name: WebhookEventDeleteSettled :execrows
-- Events whose deliveries are all settled (delivered or given up), once the retention has passed;
-- their deliveries and attempts go with them.
DELETE FROM webhook_events
WHERE id IN (
    SELECT ev.id FROM webhook_events ev
    WHERE ev.created_at <= now() - sqlc.arg(retention_seconds)::bigint * interval '1 second'
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                      WHERE d.event_id = ev.id AND d.delivered_at IS NULL AND d.failed_at IS NULL)
    ORDER BY ev.created_at
    LIMIT @batch_size
    FOR UPDATE SKIP LOCKED);

-- name: SessionEventInfo :many
-- The sessions of a purge batch, for their session.expired events.
SELECT id, tenant_id, created_by, created_at, expires_at FROM sessions WHERE id = ANY(@ids::uuid[]);

-- name: WebhookLockTenant :exec
-- Holds the tenant's row until the transaction ends, so that concurrent creations of one
-- tenant's endpoints count them one after the other (the count is a statement of its own, whose
-- snapshot is taken once the lock is held).
SELECT 1 FROM tenants WHERE id = @tenant_id FOR NO KEY UPDATE;

-- name: WebhookCount :one
SELECT count(*) FROM webhooks WHERE tenant_id = @tenant_id;
