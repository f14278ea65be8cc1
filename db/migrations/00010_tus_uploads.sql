-- +goose Up
-- Resumable uploads (tus): an upload received over many requests, on any instance. Its row holds
-- how many bytes are durable and where they are staged, until the last byte makes the content
-- visible as a simple upload or as a file entry's content.
CREATE TABLE tus_uploads (
    id                uuid        PRIMARY KEY,
    tenant_id         bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by        text,
    session_id        uuid,
    file_id           uuid        REFERENCES session_files (id) ON DELETE CASCADE,
    upload_token_hash bytea       CHECK (length(upload_token_hash) = 32),
    name              text,
    content_type      text,
    ttl_seconds       bigint      CHECK (ttl_seconds > 0),
    metadata          text        NOT NULL DEFAULT '',
    length            bigint      NOT NULL CHECK (length >= 0),
    upload_offset     bigint      NOT NULL DEFAULT 0,
    sha256_state      bytea       NOT NULL,
    blob_key          text        NOT NULL UNIQUE,
    stage_state       jsonb       NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    CHECK (upload_offset >= 0 AND upload_offset <= length),
    CHECK ((session_id IS NULL) = (file_id IS NULL)),
    CHECK (file_id IS NOT NULL OR (name IS NOT NULL AND content_type IS NOT NULL AND ttl_seconds IS NOT NULL)),
    CHECK (created_by IS NOT NULL OR upload_token_hash IS NOT NULL),
    CHECK (completed_at IS NULL OR upload_offset = length),
    CHECK (expires_at > created_at)
);
CREATE INDEX tus_uploads_expires_at_idx ON tus_uploads (expires_at);
CREATE INDEX tus_uploads_file_id_idx ON tus_uploads (file_id) WHERE file_id IS NOT NULL;
CREATE INDEX tus_uploads_tenant_id_idx ON tus_uploads (tenant_id);

COMMENT ON TABLE tus_uploads IS 'Resumable (tus) uploads: content received over many requests, visible only once the last byte is in. Kept, completed, until expires_at so that clients asking again learn that it is complete.';
COMMENT ON COLUMN tus_uploads.id IS 'Random UUID; the upload URL is /tus/{id}. For a simple upload it is also the id of the upload it becomes.';
COMMENT ON COLUMN tus_uploads.tenant_id IS 'The tenant that owns the upload.';
COMMENT ON COLUMN tus_uploads.created_by IS 'Login (name@tenant) of the user who created it; NULL when it was created with an upload URL''s token.';
COMMENT ON COLUMN tus_uploads.session_id IS 'For the content of a file entry: its session; NULL for a simple upload.';
COMMENT ON COLUMN tus_uploads.file_id IS 'For the content of a file entry: the entry; NULL for a simple upload. Deleting the entry deletes the upload.';
COMMENT ON COLUMN tus_uploads.upload_token_hash IS 'SHA-256 of the upload URL''s token that authorised it, used once the last byte is in; NULL with Basic Auth. The token itself is never stored.';
COMMENT ON COLUMN tus_uploads.name IS 'Download name of the simple upload it becomes; NULL for a file entry (which has its own).';
COMMENT ON COLUMN tus_uploads.content_type IS 'Media type of the simple upload it becomes; NULL for a file entry.';
COMMENT ON COLUMN tus_uploads.ttl_seconds IS 'Lifetime of the simple upload it becomes, counted from its completion; NULL for a file entry.';
COMMENT ON COLUMN tus_uploads.metadata IS 'The Upload-Metadata the client sent at creation, without its token, returned on HEAD.';
COMMENT ON COLUMN tus_uploads.length IS 'Upload-Length: the size of the whole content in bytes.';
COMMENT ON COLUMN tus_uploads.upload_offset IS 'Bytes received and durable (fsynced on disk, in completed parts or staged objects on S3); the offset HEAD reports.';
COMMENT ON COLUMN tus_uploads.sha256_state IS 'The SHA-256 state after the first upload_offset bytes, so that no request re-reads what came before.';
COMMENT ON COLUMN tus_uploads.blob_key IS 'Key the content gets in the blob store once complete; its staging area is named after it.';
COMMENT ON COLUMN tus_uploads.stage_state IS 'Where the blob store keeps the bytes received so far (on S3: the multipart upload, its parts and the staged tail).';
COMMENT ON COLUMN tus_uploads.created_at IS 'When the upload was created.';
COMMENT ON COLUMN tus_uploads.expires_at IS 'Upload-Expires: an unfinished upload stops accepting bytes then, and the purge removes it with its bytes.';
COMMENT ON COLUMN tus_uploads.completed_at IS 'When the last byte came in and the content became visible; NULL while unfinished.';

-- Auditors see who is uploading what, without the token hash or the staging details.
CREATE VIEW audit.tus_uploads AS
SELECT tu.id, t.name AS tenant, tu.created_by, tu.session_id, tu.file_id,
       (tu.upload_token_hash IS NOT NULL)::bool AS with_upload_url, tu.name, tu.length,
       tu.upload_offset, tu.created_at, tu.expires_at, tu.completed_at,
       CASE WHEN tu.completed_at IS NOT NULL THEN 'completed'
            WHEN tu.expires_at <= now() THEN 'expired'
            ELSE 'receiving' END AS state
FROM tus_uploads tu JOIN tenants t ON t.id = tu.tenant_id;
COMMENT ON VIEW audit.tus_uploads IS 'Resumable (tus) uploads in progress or recently completed: who, how far, until when. No token hash.';
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fileshare_audit') THEN
        GRANT SELECT ON audit.tus_uploads TO fileshare_audit;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP VIEW audit.tus_uploads;
DROP TABLE tus_uploads;
