-- +goose Up
-- Tombstones are found by how long ago they expired (their retention runs from expires_at).
DROP INDEX uploads_purged_at_idx;
CREATE INDEX uploads_tombstone_expires_at_idx ON uploads (expires_at) WHERE purged_at IS NOT NULL;
-- Consumed tokens are kept for the audit until their retention ends.
CREATE INDEX download_tokens_consumed_at_idx ON download_tokens (consumed_at) WHERE consumed_at IS NOT NULL;
-- The orphan sweep asks whether a blob key is still referenced.
CREATE INDEX uploads_live_blob_key_idx ON uploads (blob_key) WHERE purged_at IS NULL;

-- +goose Down
DROP INDEX uploads_live_blob_key_idx;
DROP INDEX download_tokens_consumed_at_idx;
DROP INDEX uploads_tombstone_expires_at_idx;
CREATE INDEX uploads_purged_at_idx ON uploads (purged_at) WHERE purged_at IS NOT NULL;
