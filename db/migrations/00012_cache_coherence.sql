-- +goose Up
-- Instances that keep upload rows in memory for downloads. Each listening session of an
-- instance registers here under a fresh id and renews its lease every second; it serves from
-- its memory only while its lease holds. A deletion waits until every session with a live
-- lease has acknowledged it (or its lease ran out) before it answers.
CREATE TABLE cache_sessions (
    id          uuid        PRIMARY KEY,
    lease_until timestamptz NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cache_sessions IS 'Listening sessions of instances that cache upload rows; live while lease_until is in the future.';
COMMENT ON COLUMN cache_sessions.id IS 'Random UUID of one listening session (a reconnection registers a new one).';
COMMENT ON COLUMN cache_sessions.lease_until IS 'Until when the session may serve from its cache without renewing.';
COMMENT ON COLUMN cache_sessions.started_at IS 'When the session registered.';

-- Any change to upload rows that a cache could still serve (not yet expired), whoever makes it
-- (the API, a cascade from a removed tenant, an operator in psql), is announced on the channel
-- fileshare_cache when its transaction commits: "inv NONCE IDS", IDS a comma-separated list or
-- "*" for all. NONCE is the transaction's fileshare.cache_nonce setting ("-" when unset): the
-- deleting request waits for the acknowledgements "ack NONCE SESSION" of every live session.
-- +goose StatementBegin
CREATE FUNCTION uploads_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    nonce text := coalesce(nullif(current_setting('fileshare.cache_nonce', true), ''), '-');
    n     bigint;
    ids   text;
BEGIN
    SELECT count(*), string_agg(id::text, ',') INTO n, ids
    FROM changed WHERE expires_at > now() - interval '5 seconds';
    IF n = 0 AND nonce = '-' THEN
        RETURN NULL;
    END IF;
    IF n > 100 THEN
        ids := '*';
    END IF;
    PERFORM pg_notify('fileshare_cache', 'inv ' || nonce || ' ' || coalesce(ids, ''));
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER uploads_announce_delete AFTER DELETE ON uploads
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION uploads_announce_change();
CREATE TRIGGER uploads_announce_update AFTER UPDATE ON uploads
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION uploads_announce_change();

-- +goose Down
DROP TRIGGER uploads_announce_update ON uploads;
DROP TRIGGER uploads_announce_delete ON uploads;
DROP FUNCTION uploads_announce_change();
DROP TABLE cache_sessions;
