-- +goose Up
CREATE TABLE uploads (
    id           uuid        PRIMARY KEY,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by   text        NOT NULL,
    name         text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL CHECK (size >= 0),
    sha256       bytea       NOT NULL CHECK (length(sha256) = 32),
    blob_key     text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    purged_at    timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX uploads_live_expires_at_idx ON uploads (expires_at) WHERE purged_at IS NULL;
CREATE INDEX uploads_purged_at_idx ON uploads (purged_at) WHERE purged_at IS NOT NULL;
CREATE INDEX uploads_tenant_id_idx ON uploads (tenant_id);

COMMENT ON TABLE uploads IS 'Simple uploads: files shared by a link that works any number of times until expires_at.';
COMMENT ON COLUMN uploads.id IS 'Random UUID; the download link is /uploads/{id}.';
COMMENT ON COLUMN uploads.tenant_id IS 'The tenant that owns the upload.';
COMMENT ON COLUMN uploads.created_by IS 'Login (name@tenant) of the user who uploaded it.';
COMMENT ON COLUMN uploads.name IS 'Download file name, as uploaded with path parts stripped.';
COMMENT ON COLUMN uploads.content_type IS 'Media type as uploaded; application/octet-stream when unknown.';
COMMENT ON COLUMN uploads.size IS 'Size in bytes.';
COMMENT ON COLUMN uploads.sha256 IS 'SHA-256 of the content.';
COMMENT ON COLUMN uploads.blob_key IS 'Key of the content in the blob store (outside the database).';
COMMENT ON COLUMN uploads.created_at IS 'When the upload completed and became visible.';
COMMENT ON COLUMN uploads.expires_at IS 'When the link stops working (answers 410 from then on).';
COMMENT ON COLUMN uploads.purged_at IS 'When the purge removed the blob; the row stays as a tombstone for the retention period.';

-- +goose Down
DROP TABLE uploads;
