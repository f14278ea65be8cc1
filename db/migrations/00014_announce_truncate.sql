-- +goose Up
-- TRUNCATE removes upload rows without a row-level trace (no transition table), so it is
-- announced as a change of every upload: "inv - *" on fileshare_cache at commit, and every
-- instance empties its memory of upload rows. Whoever truncates — an operator in psql, a
-- restore script, TRUNCATE tenants CASCADE — no instance serves a removed upload afterwards.
-- +goose StatementBegin
CREATE FUNCTION uploads_announce_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fileshare_cache', 'inv - *');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER uploads_announce_truncate AFTER TRUNCATE ON uploads
    FOR EACH STATEMENT EXECUTE FUNCTION uploads_announce_truncate();
COMMENT ON FUNCTION uploads_announce_truncate() IS 'Announces a TRUNCATE of uploads to every instance that keeps upload rows in memory: they drop them all.';

-- +goose Down
DROP TRIGGER uploads_announce_truncate ON uploads;
DROP FUNCTION uploads_announce_truncate();
