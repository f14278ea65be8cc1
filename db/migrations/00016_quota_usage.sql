-- +goose Up
-- A tenant's stored bytes, kept up to date instead of summed from its rows at every quota
-- decision: a decision then costs the same whether the tenant keeps a thousand uploads or a
-- million. Every statement that changes uploads or file entries — the service's, a cascade, an
-- operator's in psql — appends what it changed per tenant, in its own transaction. Appending
-- takes no lock that another transaction waits for (a group commit of several tenants never
-- waits for one tenant's decision, and two never deadlock on counters); a tenant's records are
-- folded into one from time to time by whoever holds its row's lock (a quota decision, the
-- purge).
CREATE TABLE quota_usage (
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bytes     bigint NOT NULL
);
CREATE INDEX quota_usage_tenant_idx ON quota_usage (tenant_id) INCLUDE (bytes);
COMMENT ON TABLE quota_usage IS 'Changes of each tenant''s stored bytes (live uploads, stored file entries, expired or not): their sum per tenant is its figure. No audit view: bookkeeping, the figure is in the usage report.';
COMMENT ON COLUMN quota_usage.tenant_id IS 'The tenant whose bytes changed.';
COMMENT ON COLUMN quota_usage.bytes IS 'How many bytes it gained (negative: lost).';

-- What a row of uploads or session_files counts (TG_ARGV[0], an expression of its columns):
-- the trigger appends, per tenant, what the statement's new rows count minus what its old rows
-- counted. The rows of a tenant being deleted are not counted: its records go with it.
-- +goose StatementBegin
CREATE FUNCTION quota_usage_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changes text;
BEGIN
    changes := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT tenant_id, %s FROM new_rows', TG_ARGV[0])
        WHEN 'DELETE' THEN format('SELECT tenant_id, -(%s) FROM old_rows', TG_ARGV[0])
        ELSE format('SELECT tenant_id, %1$s FROM new_rows UNION ALL SELECT tenant_id, -(%1$s) FROM old_rows', TG_ARGV[0])
    END;
    EXECUTE format('INSERT INTO quota_usage (tenant_id, bytes)
                    SELECT c.tenant_id, sum(c.bytes) FROM (%s) c (tenant_id, bytes)
                    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id)
                    GROUP BY c.tenant_id HAVING sum(c.bytes) <> 0', changes);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION quota_usage_record() IS 'Appends to quota_usage what a statement changed in the stored bytes of each tenant.';

CREATE TRIGGER uploads_quota_insert AFTER INSERT ON uploads REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_record('CASE WHEN purged_at IS NULL THEN size ELSE 0 END');
CREATE TRIGGER uploads_quota_update AFTER UPDATE ON uploads REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_record('CASE WHEN purged_at IS NULL THEN size ELSE 0 END');
CREATE TRIGGER uploads_quota_delete AFTER DELETE ON uploads REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_record('CASE WHEN purged_at IS NULL THEN size ELSE 0 END');
CREATE TRIGGER session_files_quota_insert AFTER INSERT ON session_files REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_record('CASE WHEN state = ''stored'' THEN size ELSE 0 END');
CREATE TRIGGER session_files_quota_update AFTER UPDATE ON session_files REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_record('CASE WHEN state = ''stored'' THEN size ELSE 0 END');
CREATE TRIGGER session_files_quota_delete AFTER DELETE ON session_files REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_record('CASE WHEN state = ''stored'' THEN size ELSE 0 END');

-- TRUNCATE leaves no row-level trace: every tenant's figure is counted again from the rows,
-- and what its records are off by is appended as one more record. One statement (one
-- snapshot) reads the rows and the records, which every transaction changes together: a change
-- committed meanwhile is counted once, by its own record; and appending waits for nobody.
-- +goose StatementBegin
CREATE FUNCTION quota_usage_recount() RETURNS void LANGUAGE sql AS $$
INSERT INTO quota_usage (tenant_id, bytes)
SELECT coalesce(a.tenant_id, r.tenant_id), coalesce(a.bytes, 0) - coalesce(r.bytes, 0)
FROM (SELECT c.tenant_id, sum(c.bytes) AS bytes FROM (
          SELECT tenant_id, size FROM uploads WHERE purged_at IS NULL
          UNION ALL
          SELECT tenant_id, size FROM session_files WHERE state = 'stored') c (tenant_id, bytes)
      GROUP BY c.tenant_id) a
FULL JOIN (SELECT q.tenant_id, sum(q.bytes) AS bytes FROM quota_usage q GROUP BY q.tenant_id) r
    ON r.tenant_id = a.tenant_id
WHERE coalesce(a.bytes, 0) <> coalesce(r.bytes, 0)
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION quota_usage_recount() IS 'Counts every tenant''s stored bytes again from the rows (after a TRUNCATE; an operator may call it too).';
-- +goose StatementBegin
CREATE FUNCTION quota_usage_recount_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM quota_usage_recount();
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION quota_usage_recount_truncated() IS 'Counts every tenant''s stored bytes again after a TRUNCATE.';
CREATE TRIGGER uploads_quota_truncate AFTER TRUNCATE ON uploads
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_recount_truncated();
CREATE TRIGGER session_files_quota_truncate AFTER TRUNCATE ON session_files
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_recount_truncated();
CREATE TRIGGER quota_usage_truncate AFTER TRUNCATE ON quota_usage
    FOR EACH STATEMENT EXECUTE FUNCTION quota_usage_recount_truncated();

-- The existing rows, counted once.
SELECT quota_usage_recount();

-- Expired content stops counting at once, purged or not: the figure less what has expired and
-- the purge has not caught up with yet, which these indexes find without reading the rest.
CREATE INDEX sessions_tenant_live_idx ON sessions (tenant_id, expires_at) WHERE purged_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION quota_stored_bytes(tenant bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
SELECT (coalesce((SELECT sum(q.bytes) FROM quota_usage q WHERE q.tenant_id = tenant), 0)
      - coalesce((SELECT sum(u.size) FROM uploads u
                  WHERE u.tenant_id = tenant AND u.purged_at IS NULL AND u.expires_at <= now()), 0)
      - coalesce((SELECT sum(f.size) FROM sessions s JOIN session_files f ON f.session_id = s.id
                  WHERE s.tenant_id = tenant AND s.purged_at IS NULL AND s.expires_at <= now()
                    AND f.state = 'stored'), 0))::bigint
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION quota_stored_bytes(bigint) IS 'A tenant''s stored bytes now: its live uploads and the stored file entries of its live sessions.';

-- Every upload in progress holds its bytes now, whether or not its tenant has a quota (so that
-- a quota set later counts it), and an expired resumable upload holds nothing, purged or not.
-- +goose StatementBegin
CREATE FUNCTION quota_held_bytes(tenant bigint, until_hold uuid DEFAULT NULL) RETURNS bigint LANGUAGE sql STABLE AS $$
SELECT coalesce(sum(r.bytes), 0)::bigint
FROM quota_reservations r LEFT JOIN tus_uploads tu ON tu.id = r.id
WHERE r.tenant_id = tenant AND (tu.id IS NULL OR tu.expires_at > now())
  AND (until_hold IS NULL
       OR (r.created_at, r.id) <= (SELECT m.created_at, m.id FROM quota_reservations m WHERE m.id = until_hold))
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION quota_held_bytes(bigint, uuid) IS 'Bytes held by a tenant''s uploads in progress (not expired); with until_hold, only by the holds created no later than that one.';
COMMENT ON TABLE quota_reservations IS 'Bytes held for uploads in progress, of every tenant.';

-- Resumable uploads begun while their tenant had no quota held nothing: they hold their length.
INSERT INTO quota_reservations (id, tenant_id, bytes, created_at)
SELECT tu.id, tu.tenant_id, tu.length, tu.created_at FROM tus_uploads tu
WHERE tu.completed_at IS NULL
ON CONFLICT (id) DO NOTHING;

-- +goose Down
COMMENT ON TABLE quota_reservations IS 'Bytes held for uploads in progress of tenants with a quota.';
DROP FUNCTION quota_held_bytes(bigint, uuid);
DROP FUNCTION quota_stored_bytes(bigint);
DROP INDEX sessions_tenant_live_idx;
DROP TRIGGER quota_usage_truncate ON quota_usage;
DROP TRIGGER session_files_quota_truncate ON session_files;
DROP TRIGGER uploads_quota_truncate ON uploads;
DROP FUNCTION quota_usage_recount_truncated();
DROP FUNCTION quota_usage_recount();
DROP TRIGGER session_files_quota_delete ON session_files;
DROP TRIGGER session_files_quota_update ON session_files;
DROP TRIGGER session_files_quota_insert ON session_files;
DROP TRIGGER uploads_quota_delete ON uploads;
DROP TRIGGER uploads_quota_update ON uploads;
DROP TRIGGER uploads_quota_insert ON uploads;
DROP FUNCTION quota_usage_record();
DROP TABLE quota_usage;
