-- +goose Up
CREATE TABLE organizations (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    microsoft_tenant_id text NOT NULL UNIQUE,
    display_name        text NOT NULL,
    default_role        text NOT NULL DEFAULT 'recruiter',
    admin_consent_at    timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id              uuid NOT NULL REFERENCES organizations (id),
    microsoft_object_id text NOT NULL,
    email               text NOT NULL,
    display_name        text NOT NULL,
    role                text NOT NULL,
    removed_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, microsoft_object_id)
);

-- A person's session: the refresh token rotates on every use; presenting the
-- one before the current one means it was copied, and ends the session.
CREATE TABLE sessions (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                      uuid NOT NULL REFERENCES organizations (id),
    user_id                     uuid NOT NULL REFERENCES users (id),
    refresh_token_hash          bytea NOT NULL UNIQUE,
    previous_refresh_token_hash bytea UNIQUE,
    expires_at                  timestamptz NOT NULL,
    revoked_at                  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    rotated_at                  timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES organizations (id),
    display_name text NOT NULL,
    role         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- Connections to provider accounts. Their secrets are in Redis, sealed with
-- the organization's data key; this row is the durable record of status.
CREATE TABLE connections (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id            uuid NOT NULL REFERENCES organizations (id),
    user_id           uuid REFERENCES users (id),
    provider          text NOT NULL,
    status            text NOT NULL,
    reason            text NOT NULL DEFAULT '',
    account           text NOT NULL DEFAULT '',
    scopes            text[] NOT NULL DEFAULT '{}',
    admin_consent_url text NOT NULL DEFAULT '',
    refreshed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX connections_personal ON connections (user_id, provider) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX connections_org ON connections (org_id, provider) WHERE user_id IS NULL;
CREATE INDEX connections_idle ON connections (refreshed_at) WHERE status = 'connected';

-- Each organization's data key, wrapped by the key-encryption key.
CREATE TABLE data_keys (
    org_id     text PRIMARY KEY,
    wrapped    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Keys that sign session tokens; the private half sealed with envelope
-- encryption. Retired keys still verify until tokens they signed expire.
CREATE TABLE signing_keys (
    id                 text PRIMARY KEY,
    sealed_private_key text NOT NULL,
    public_key         bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE data_keys;
DROP TABLE connections;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE organizations;
