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
    JOIN webhooks w ON w.tenant_id = ev.tenant_id AND w.enabled AND (cardinality(w.events) = 0 OR ev.type = ANY (w.events))
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
-- What a delivery job needs: the endpoint, its keys and the event's body. The previous key is
-- there only until the rotation's overlap ends (decided on the database's clock, which set it).
SELECT d.id, d.event_id, d.webhook_id, d.tenant_id, d.delivered_at, d.failed_at, d.attempts,
       ev.type, ev.body, ev.created_at AS event_created_at, w.url, w.secret, w.enabled,
       (CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END)::bytea AS previous_secret
FROM webhook_deliveries d
JOIN webhook_events ev ON ev.id = d.event_id
JOIN webhooks w ON w.id = d.webhook_id
WHERE d.id = @id;

-- name: WebhookAttemptRecord :one
-- Logs one attempt and settles the delivery: delivered on a 2xx, given up after the last retry.
-- It keeps the endpoint's failing_since: set by the first failure after a 2xx, cleared by a 2xx
-- (the endpoint's row is written only when that changes, not on every attempt).
WITH d AS (
    UPDATE webhook_deliveries wd
    SET attempts = wd.attempts + 1,
        delivered_at = CASE WHEN sqlc.arg(delivered)::bool THEN coalesce(wd.delivered_at, now()) ELSE wd.delivered_at END,
        failed_at = CASE WHEN sqlc.arg(give_up)::bool AND NOT sqlc.arg(delivered)::bool THEN now() ELSE wd.failed_at END
    WHERE wd.id = @delivery_id
    RETURNING wd.id, wd.webhook_id, wd.attempts
), health AS (
    UPDATE webhooks w
    SET failing_since = CASE WHEN sqlc.arg(delivered)::bool THEN NULL ELSE now() END
    FROM d
    WHERE w.id = d.webhook_id AND (w.failing_since IS NULL) <> sqlc.arg(delivered)::bool
)
INSERT INTO webhook_attempts (id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code, error)
SELECT gen_random_uuid(), d.id, d.webhook_id, d.attempts, @started_at, @duration_ms, sqlc.narg('status_code'), sqlc.narg('error')
FROM d
-- failing_since as it was before this attempt (every part of the statement sees one snapshot):
-- after a failure, the dispatcher disables an endpoint failing since long enough.
RETURNING attempt, (SELECT w.failing_since FROM webhooks w WHERE w.id = webhook_id) AS failing_since;

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

-- name: WebhookUpdate :one
-- Changes what is given of an endpoint of the tenant. Disabling records when and why (an
-- endpoint disabled already keeps its reason); enabling clears them, and so does a new URL the
-- record of failures, which were another receiver's.
UPDATE webhooks SET
    url = coalesce(sqlc.narg(url), url),
    events = coalesce(sqlc.narg(events)::text[], events),
    enabled = coalesce(sqlc.narg(enabled), enabled),
    disabled_at = CASE WHEN sqlc.narg(enabled)::bool THEN NULL
                       WHEN NOT sqlc.narg(enabled)::bool THEN coalesce(disabled_at, now())
                       ELSE disabled_at END,
    disabled_reason = CASE WHEN sqlc.narg(enabled)::bool THEN NULL
                           WHEN NOT sqlc.narg(enabled)::bool THEN coalesce(disabled_reason, @reason::text)
                           ELSE disabled_reason END,
    failing_since = CASE WHEN sqlc.narg(enabled)::bool AND NOT enabled THEN NULL
                         WHEN sqlc.narg(url)::text IS DISTINCT FROM url AND sqlc.narg(url) IS NOT NULL THEN NULL
                         ELSE failing_since END
WHERE id = @id AND tenant_id = @tenant_id
RETURNING *;

-- name: WebhookDisableFailing :one
-- Disables an endpoint whose every attempt failed for at least fail_ms, and says since when.
UPDATE webhooks SET
    enabled = false,
    disabled_at = now(),
    disabled_reason = 'every delivery attempt failed since '
        || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
WHERE id = @id AND enabled AND failing_since <= now() - sqlc.arg(fail_ms)::bigint * interval '1 millisecond'
RETURNING *;

-- name: WebhookDeliveriesGiveUp :execrows
-- Gives up the deliveries not made yet of an endpoint being disabled; their jobs then find
-- nothing to do. Its attempts stay in the log.
UPDATE webhook_deliveries SET failed_at = now()
WHERE webhook_id = @webhook_id AND tenant_id = @tenant_id AND delivered_at IS NULL AND failed_at IS NULL;

-- name: WebhookDeliveryGiveUp :exec
-- Gives up one delivery unsent: its endpoint was disabled after it was queued.
UPDATE webhook_deliveries SET failed_at = now()
WHERE id = @id AND delivered_at IS NULL AND failed_at IS NULL;

-- name: WebhookRotateSecret :one
-- Replaces the endpoint's signing key; the key it had signs as well for overlap_seconds (none
-- when 0). A rotation during an overlap ends the older key's at once.
UPDATE webhooks SET
    previous_secret = CASE WHEN sqlc.arg(overlap_seconds)::bigint > 0 THEN secret END,
    previous_secret_expires_at = CASE WHEN sqlc.arg(overlap_seconds)::bigint > 0
        THEN now() + sqlc.arg(overlap_seconds)::bigint * interval '1 second' END,
    secret = @secret
WHERE id = @id AND tenant_id = @tenant_id
RETURNING previous_secret_expires_at;

-- name: WebhookEventRecordFor :one
-- Records an event for one enabled endpoint of the tenant, whatever it subscribed to (a test
-- event), with its delivery; no row when there is no such endpoint.
WITH w AS (
    SELECT wh.id, wh.tenant_id FROM webhooks wh
    WHERE wh.id = @webhook_id::uuid AND wh.tenant_id = @tenant_id::bigint AND wh.enabled
), ev AS (
    INSERT INTO webhook_events (id, tenant_id, type, body)
    SELECT @event_id::uuid, w.tenant_id, @type::text, @body::text FROM w
    RETURNING webhook_events.id, webhook_events.tenant_id
)
INSERT INTO webhook_deliveries (id, event_id, webhook_id, tenant_id)
SELECT gen_random_uuid(), ev.id, @webhook_id::uuid, ev.tenant_id FROM ev
RETURNING webhook_deliveries.id;

-- name: WebhookDeliveryLock :one
-- A delivery of an event to an endpoint of the tenant, locked until the transaction ends.
SELECT id, delivered_at, failed_at FROM webhook_deliveries
WHERE event_id = @event_id AND webhook_id = @webhook_id AND tenant_id = @tenant_id
FOR UPDATE;

-- name: WebhookDeliveryReopen :exec
-- Makes a settled delivery pending again, for a new job; its attempts go on from their count.
UPDATE webhook_deliveries SET delivered_at = NULL, failed_at = NULL WHERE id = @id AND tenant_id = @tenant_id;
