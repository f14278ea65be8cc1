-- +goose Up
-- Failed-login counters, shared by every instance so that a guesser gains nothing by spreading
-- attempts over them (docs/behaviour.md §1.4 throttling, §8.1). Rows go once they hold nothing back.
CREATE TABLE auth_failures (
    key             text        PRIMARY KEY,
    failures        integer     NOT NULL CHECK (failures > 0),
    window_start    timestamptz NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz
);
CREATE INDEX auth_failures_last_failure_at_idx ON auth_failures (last_failure_at);

COMMENT ON TABLE auth_failures IS 'Consecutive failed logins per user (key login:name@tenant) and failures per client address in the current minute (key addr:ADDRESS), for throttling.';
COMMENT ON COLUMN auth_failures.key IS 'login:name@tenant or addr:client address.';
COMMENT ON COLUMN auth_failures.failures IS 'Failures counted: consecutive for a login, in the current window for an address.';
COMMENT ON COLUMN auth_failures.window_start IS 'Start of the current one-minute window (addresses).';
COMMENT ON COLUMN auth_failures.last_failure_at IS 'When the latest failure happened.';
COMMENT ON COLUMN auth_failures.locked_until IS 'Attempts are answered 429 until then; NULL while not throttled.';

-- +goose Down
DROP TABLE auth_failures;
