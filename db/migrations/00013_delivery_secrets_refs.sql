-- +goose Up
-- A one-time file reaches its recipient and no one else (docs/behaviour.md §9), and no
-- capability is shown where it is not meant to be (§14):
--   * a consumed token's delivery has a secret of its own (the consuming answer's ETag); only a
--     request that names it may resume the download;
--   * a token is delivered when the byte ranges its answers sent cover the file;
--   * simple uploads and tus uploads get a public ref, which is what the audit views show;
--   * a tus upload's id is an id of its own, never the id of the upload it becomes, and a file
--     entry has at most one unfinished tus upload.
ALTER TABLE download_tokens
    ADD COLUMN delivery_hash bytea CHECK (length(delivery_hash) = 32),
    ADD COLUMN sent_ranges   int8multirange NOT NULL DEFAULT '{}',
    ADD COLUMN viewed_at     timestamptz;
COMMENT ON COLUMN download_tokens.delivery_hash IS 'SHA-256 of the secret of the token''s delivery: the ETag of the consuming answer, which a resume must send in If-Range. NULL until consumed. The secret itself is never stored.';
COMMENT ON COLUMN download_tokens.sent_ranges IS 'The byte ranges of the file that the token''s answers wrote to the connection, merged; the token is delivered when they cover the whole file.';
COMMENT ON COLUMN download_tokens.viewed_at IS 'The last time the token''s landing page was shown (to a person or to a link-preview bot); NULL when never.';
COMMENT ON COLUMN download_tokens.bytes_sent IS 'Bytes of the file sent to the recipient, over the consuming download and its resumptions (bytes sent twice count twice).';
COMMENT ON COLUMN download_tokens.delivered_at IS 'When the bytes sent to the recipient came to cover the whole file; NULL until then.';

ALTER TABLE uploads ADD COLUMN ref uuid NOT NULL DEFAULT gen_random_uuid();
COMMENT ON COLUMN uploads.ref IS 'Public reference of the upload (random): what the audit views and the logs show. It downloads nothing, unlike the id.';
COMMENT ON COLUMN uploads.id IS 'Random UUID; the download link is /uploads/{id}: a capability, never shown in the audit views.';

ALTER TABLE tus_uploads
    ADD COLUMN ref       uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN upload_id uuid;
COMMENT ON COLUMN tus_uploads.id IS 'Random UUID; the tus upload URL is /tus/{id}: a capability (it writes to and cancels the upload), never shown in the audit views. It is never the id of the upload it becomes.';
COMMENT ON COLUMN tus_uploads.ref IS 'Public reference of the tus upload (random): what the audit views show.';
COMMENT ON COLUMN tus_uploads.upload_id IS 'For a simple upload: the id of the upload it became, set with its last byte; NULL before, and for a file entry.';
-- Uploads completed before this migration became the upload of the same id.
UPDATE tus_uploads SET upload_id = id WHERE completed_at IS NOT NULL AND file_id IS NULL;
-- At most one unfinished tus upload per file entry: of earlier duplicates the latest stays (the
-- others' staged bytes go with the orphan sweep).
DELETE FROM quota_reservations qr USING tus_uploads a, tus_uploads b
WHERE qr.id = a.id AND a.file_id = b.file_id AND a.completed_at IS NULL AND b.completed_at IS NULL
  AND (a.created_at, a.id) < (b.created_at, b.id);
DELETE FROM tus_uploads a USING tus_uploads b
WHERE a.file_id = b.file_id AND a.completed_at IS NULL AND b.completed_at IS NULL
  AND (a.created_at, a.id) < (b.created_at, b.id);
CREATE UNIQUE INDEX tus_uploads_unfinished_file_idx ON tus_uploads (file_id)
    WHERE file_id IS NOT NULL AND completed_at IS NULL;

-- The audit views name simple uploads and tus uploads by their refs.
DROP VIEW audit.uploads;
CREATE VIEW audit.uploads AS
SELECT up.ref, t.name AS tenant, up.created_by, up.name, up.content_type, up.size,
       encode(up.sha256, 'hex') AS sha256, up.created_at, up.expires_at, up.purged_at,
       CASE WHEN up.purged_at IS NOT NULL THEN 'purged'
            WHEN up.expires_at <= now() THEN 'expired'
            ELSE 'live' END AS state
FROM uploads up JOIN tenants t ON t.id = up.tenant_id;
COMMENT ON VIEW audit.uploads IS 'Simple uploads, including expired ones kept as tombstones, by their public ref (the id, which downloads, is not shown).';

DROP VIEW audit.tus_uploads;
CREATE VIEW audit.tus_uploads AS
SELECT tu.ref, t.name AS tenant, tu.created_by, tu.session_id, tu.file_id, up.ref AS upload_ref,
       (tu.upload_token_hash IS NOT NULL)::bool AS with_upload_url, tu.name, tu.length,
       tu.upload_offset, tu.created_at, tu.expires_at, tu.completed_at,
       CASE WHEN tu.completed_at IS NOT NULL THEN 'completed'
            WHEN tu.expires_at <= now() THEN 'expired'
            ELSE 'receiving' END AS state
FROM tus_uploads tu
JOIN tenants t ON t.id = tu.tenant_id
LEFT JOIN uploads up ON up.id = tu.upload_id;
COMMENT ON VIEW audit.tus_uploads IS 'Resumable (tus) uploads in progress or recently completed: who, how far, until when, by their public ref; upload_ref is the simple upload one became. No upload URL, no token hash.';

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
       dt.bytes_sent, dt.delivered_at, dt.viewed_at
FROM download_tokens dt
JOIN session_files f ON f.id = dt.file_id
JOIN tenants t ON t.id = dt.tenant_id;

-- An event's body names its upload by id (the tenant's own endpoint needs it); the auditor
-- sees the upload's ref instead.
DROP VIEW audit.webhook_deliveries;
CREATE VIEW audit.webhook_deliveries AS
SELECT d.event_id, ev.type, t.name AS tenant, d.webhook_id, w.url, ev.created_at, d.attempts,
       d.delivered_at, d.failed_at,
       CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered'
            WHEN d.failed_at IS NOT NULL THEN 'failed'
            ELSE 'pending' END AS state,
       (SELECT up.ref FROM uploads up WHERE up.id = (ev.body::jsonb #>> '{data,uploadId}')::uuid) AS upload_ref,
       ((ev.body::jsonb) #- '{data,uploadId}')::text AS body
FROM webhook_deliveries d
JOIN webhook_events ev ON ev.id = d.event_id
JOIN webhooks w ON w.id = d.webhook_id
JOIN tenants t ON t.id = d.tenant_id;
COMMENT ON VIEW audit.webhook_deliveries IS 'Events sent (or being sent) to webhook endpoints: what, where, and how it went. The body is shown without the upload''s id (upload_ref names the upload).';

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.uploads, audit.tus_uploads, audit.download_tokens, audit.webhook_deliveries TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP VIEW audit.webhook_deliveries;
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
       dt.bytes_sent, dt.delivered_at
FROM download_tokens dt
JOIN session_files f ON f.id = dt.file_id
JOIN tenants t ON t.id = dt.tenant_id;
COMMENT ON VIEW audit.download_tokens IS 'One-time download tokens: who made them; when, from which address and how far each was used; revocations and PIN locks. Neither the token nor its PIN is stored.';

DROP VIEW audit.tus_uploads;
CREATE VIEW audit.tus_uploads AS
SELECT tu.id, t.name AS tenant, tu.created_by, tu.session_id, tu.file_id,
       (tu.upload_token_hash IS NOT NULL)::bool AS with_upload_url, tu.name, tu.length,
       tu.upload_offset, tu.created_at, tu.expires_at, tu.completed_at,
       CASE WHEN tu.completed_at IS NOT NULL THEN 'completed'
            WHEN tu.expires_at <= now() THEN 'expired'
            ELSE 'receiving' END AS state
FROM tus_uploads tu JOIN tenants t ON t.id = tu.tenant_id;
COMMENT ON VIEW audit.tus_uploads IS 'Resumable (tus) uploads in progress or recently completed: who, how far, until when. No token hash.';

DROP VIEW audit.uploads;
CREATE VIEW audit.uploads AS
SELECT up.id, t.name AS tenant, up.created_by, up.name, up.content_type, up.size,
       encode(up.sha256, 'hex') AS sha256, up.created_at, up.expires_at, up.purged_at,
       CASE WHEN up.purged_at IS NOT NULL THEN 'purged'
            WHEN up.expires_at <= now() THEN 'expired'
            ELSE 'live' END AS state
FROM uploads up JOIN tenants t ON t.id = up.tenant_id;
COMMENT ON VIEW audit.uploads IS 'Simple uploads, including expired ones kept as tombstones.';

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.uploads, audit.tus_uploads, audit.download_tokens, audit.webhook_deliveries TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd

DROP INDEX tus_uploads_unfinished_file_idx;
ALTER TABLE tus_uploads DROP COLUMN upload_id, DROP COLUMN ref;
ALTER TABLE uploads DROP COLUMN ref;
ALTER TABLE download_tokens DROP COLUMN viewed_at, DROP COLUMN sent_ranges, DROP COLUMN delivery_hash;
