-- +goose Up
CREATE TABLE sessions (
    id         uuid        PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_tenant_page_idx ON sessions (tenant_id, created_at DESC, id DESC);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

COMMENT ON TABLE sessions IS 'Sessions: groups of file entries shared through per-recipient one-time download tokens.';
COMMENT ON COLUMN sessions.id IS 'Random UUID.';
COMMENT ON COLUMN sessions.tenant_id IS 'The tenant that owns the session.';
COMMENT ON COLUMN sessions.created_by IS 'Login (name@tenant) of the user who created it.';
COMMENT ON COLUMN sessions.created_at IS 'When the session was created.';
COMMENT ON COLUMN sessions.expires_at IS 'When the session, its file entries and its tokens stop working.';

CREATE TABLE session_files (
    id            uuid        PRIMARY KEY,
    session_id    uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id     bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    content_type  text        NOT NULL,
    declared_size bigint      CHECK (declared_size >= 0),
    size          bigint      CHECK (size >= 0),
    sha256        bytea       CHECK (length(sha256) = 32),
    blob_key      text        UNIQUE,
    state         text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    stored_at     timestamptz,
    CHECK ((state = 'pending') = (blob_key IS NULL)),
    CHECK ((state = 'stored') = (stored_at IS NOT NULL AND size IS NOT NULL AND sha256 IS NOT NULL))
);
CREATE INDEX session_files_page_idx ON session_files (session_id, created_at, id);
CREATE INDEX session_files_tenant_id_idx ON session_files (tenant_id);

COMMENT ON TABLE session_files IS 'File entries of a session: created pending, then stored once their content is uploaded.';
COMMENT ON COLUMN session_files.id IS 'Random UUID.';
COMMENT ON COLUMN session_files.session_id IS 'The session the entry belongs to; the entry never outlives it.';
COMMENT ON COLUMN session_files.tenant_id IS 'The tenant that owns the entry (the session''s tenant).';
COMMENT ON COLUMN session_files.name IS 'Download file name.';
COMMENT ON COLUMN session_files.content_type IS 'Media type; application/octet-stream when unknown.';
COMMENT ON COLUMN session_files.declared_size IS 'Size announced when the entry was created; an upload of another size is refused.';
COMMENT ON COLUMN session_files.size IS 'Size in bytes of the stored content; NULL while pending.';
COMMENT ON COLUMN session_files.sha256 IS 'SHA-256 of the stored content; NULL while pending.';
COMMENT ON COLUMN session_files.blob_key IS 'Key of the content in the blob store; NULL while pending.';
COMMENT ON COLUMN session_files.state IS 'pending until the content is uploaded, then stored.';
COMMENT ON COLUMN session_files.created_at IS 'When the entry was created.';
COMMENT ON COLUMN session_files.stored_at IS 'When the content was stored.';

CREATE TABLE upload_tokens (
    token_hash   bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    file_id      uuid        NOT NULL REFERENCES session_files (id) ON DELETE CASCADE,
    session_id   uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    used_by_addr inet
);
CREATE INDEX upload_tokens_file_id_idx ON upload_tokens (file_id);
CREATE INDEX upload_tokens_expires_at_idx ON upload_tokens (expires_at);

COMMENT ON TABLE upload_tokens IS 'Upload URLs: let whoever holds one PUT a pending file entry''s content once, without credentials.';
COMMENT ON COLUMN upload_tokens.token_hash IS 'SHA-256 of the token; the token itself is never stored.';
COMMENT ON COLUMN upload_tokens.file_id IS 'The file entry the token uploads.';
COMMENT ON COLUMN upload_tokens.session_id IS 'The session of that entry.';
COMMENT ON COLUMN upload_tokens.tenant_id IS 'The tenant that owns it.';
COMMENT ON COLUMN upload_tokens.created_by IS 'Login (name@tenant) of the user who created the upload URL.';
COMMENT ON COLUMN upload_tokens.created_at IS 'When the upload URL was created.';
COMMENT ON COLUMN upload_tokens.expires_at IS 'When the upload URL stops working (capped at the session''s expiry).';
COMMENT ON COLUMN upload_tokens.used_at IS 'When the content was uploaded with it; NULL while unused.';
COMMENT ON COLUMN upload_tokens.used_by_addr IS 'Client address that uploaded with it.';

CREATE TABLE download_tokens (
    token_hash       bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    file_id          uuid        NOT NULL REFERENCES session_files (id) ON DELETE CASCADE,
    session_id       uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tenant_id        bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    consumed_at      timestamptz,
    consumed_by_addr inet
);
CREATE INDEX download_tokens_file_id_idx ON download_tokens (file_id);
CREATE INDEX download_tokens_expires_at_idx ON download_tokens (expires_at);

COMMENT ON TABLE download_tokens IS 'One-time download tokens: each works for exactly one download.';
COMMENT ON COLUMN download_tokens.token_hash IS 'SHA-256 of the token, which is never stored itself: a reader of the database cannot use it.';
COMMENT ON COLUMN download_tokens.file_id IS 'The file entry the token downloads.';
COMMENT ON COLUMN download_tokens.session_id IS 'The session of that entry.';
COMMENT ON COLUMN download_tokens.tenant_id IS 'The tenant that owns it.';
COMMENT ON COLUMN download_tokens.created_by IS 'Login (name@tenant) of the user who generated the token.';
COMMENT ON COLUMN download_tokens.created_at IS 'When the token was generated.';
COMMENT ON COLUMN download_tokens.expires_at IS 'When the token stops working (capped at the session''s expiry).';
COMMENT ON COLUMN download_tokens.consumed_at IS 'When the token was used for its one download; NULL while unused.';
COMMENT ON COLUMN download_tokens.consumed_by_addr IS 'Client address that consumed the token.';

-- +goose Down
DROP TABLE download_tokens;
DROP TABLE upload_tokens;
DROP TABLE session_files;
DROP TABLE sessions;
