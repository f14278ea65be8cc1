-- +goose Up
CREATE TABLE tenants (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 255),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenants IS 'Tenants: every resource belongs to exactly one tenant, and nothing of one tenant is visible to another.';
COMMENT ON COLUMN tenants.id IS 'Surrogate key.';
COMMENT ON COLUMN tenants.name IS 'Tenant name, the part after the last @ of a login (default for a bare login).';
COMMENT ON COLUMN tenants.created_at IS 'When the tenant was added.';

CREATE TABLE users (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id           bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                text        NOT NULL CHECK (name <> '' AND length(name) <= 255),
    password_hash       text        NOT NULL,
    disabled_at         timestamptz,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
COMMENT ON TABLE users IS 'API users; they authenticate with HTTP Basic Auth as name@tenant.';
COMMENT ON COLUMN users.id IS 'Surrogate key.';
COMMENT ON COLUMN users.tenant_id IS 'The tenant the user belongs to.';
COMMENT ON COLUMN users.name IS 'User name, the part of the login before its last @.';
COMMENT ON COLUMN users.password_hash IS 'Salted argon2id hash in PHC string format; never the password itself.';
COMMENT ON COLUMN users.disabled_at IS 'When the user was disabled; NULL while the user may log in.';
COMMENT ON COLUMN users.password_changed_at IS 'When the password was last set.';
COMMENT ON COLUMN users.created_at IS 'When the user was added.';

-- +goose Down
DROP TABLE users;
DROP TABLE tenants;
