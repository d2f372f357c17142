-- +goose Up
-- Flows: a recruiter's sequence of e-mail steps. The flow row holds what is
-- not versioned (name, owner, status) and the number of its current
-- version; flow_versions holds the sender, calendar and steps of each
-- version, immutable once a candidate is enrolled on it (a Draft's only
-- version changes in place, nobody being on it yet).
CREATE TABLE flows (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL,
    name           text NOT NULL,
    owner_user_id  text NOT NULL,
    status         text NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'completed', 'archived')),
    version        integer NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX flows_by_org ON flows (org_id, created_at DESC, id DESC);

CREATE TABLE flow_versions (
    flow_id               uuid NOT NULL REFERENCES flows (id),
    version               integer NOT NULL,
    mailbox_connection_id text NOT NULL,
    sender_user_id        text NOT NULL,
    sender_name           text NOT NULL DEFAULT '',
    sender_email          text NOT NULL DEFAULT '',
    time_zone             text NOT NULL,
    -- ISO weekdays (1 = Monday) and minutes since local midnight.
    window_days           integer[] NOT NULL,
    window_start          integer NOT NULL,
    window_end            integer NOT NULL,
    holidays              date[] NOT NULL DEFAULT '{}',
    -- [{delay_unit, delay, subject, body, new_thread}], in order.
    steps                 jsonb NOT NULL,
    -- An open role of the organization (the jobs table); no foreign key
    -- yet, that table arrives with its own migration.
    job_id                uuid,
    created_at            timestamptz NOT NULL,
    PRIMARY KEY (flow_id, version)
);

-- A user lets a teammate send flows from the user's mailbox.
CREATE TABLE sending_delegations (
    org_id          uuid NOT NULL,
    grantor_user_id text NOT NULL,
    grantee_user_id text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (org_id, grantor_user_id, grantee_user_id)
);
CREATE INDEX sending_delegations_by_grantee ON sending_delegations (org_id, grantee_user_id);

-- +goose Down
DROP TABLE sending_delegations;
DROP TABLE flow_versions;
DROP TABLE flows;
