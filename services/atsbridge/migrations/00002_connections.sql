-- +goose Up
-- The organization's ATS connection (Lever now), as identity reports it
-- with ats.connection_changed; its id is identity's connection id, whose
-- credentials identity keeps. One per organization.
CREATE TABLE ats_connections (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL,
    provider         text NOT NULL,
    account          text NOT NULL DEFAULT '',
    -- connected, syncing, reconnect_required, disconnected
    status           text NOT NULL,
    status_reason    text NOT NULL DEFAULT '',
    -- identity's change time of the status, in microseconds: an older
    -- event never overwrites a newer status.
    status_version   bigint NOT NULL,
    -- Bumped each time an import is asked for, or the connection stops
    -- working: an import of an older generation lands nothing.
    sync_generation  bigint NOT NULL DEFAULT 0,
    sync_started_at  timestamptz,
    last_sync_at     timestamptz,
    last_success_at  timestamptz,
    stages             integer NOT NULL DEFAULT 0,
    postings           integer NOT NULL DEFAULT 0,
    published_postings integer NOT NULL DEFAULT 0,
    users              integer NOT NULL DEFAULT 0,
    archive_reasons    integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ats_connections_org ON ats_connections (org_id);

-- Failed calls to the ATS, for the health record's "errors of the last
-- day"; rows older than a week are deleted as new ones come.
CREATE TABLE ats_connection_errors (
    id            bigserial PRIMARY KEY,
    connection_id uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    -- rate_limited, unauthorized, forbidden, unavailable, failed
    kind          text NOT NULL,
    description   text NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ats_connection_errors_recent ON ats_connection_errors (connection_id, occurred_at);

-- What the last import brought in from the ATS, replaced by each import.
CREATE TABLE ats_stages (
    connection_id uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    remote_id     text NOT NULL,
    name          text NOT NULL,
    position      integer NOT NULL,
    PRIMARY KEY (connection_id, remote_id)
);
CREATE UNIQUE INDEX ats_stages_position ON ats_stages (connection_id, position);

CREATE TABLE ats_postings (
    connection_id     uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    remote_id         text NOT NULL,
    title             text NOT NULL,
    state             text NOT NULL,
    team              text NOT NULL DEFAULT '',
    department        text NOT NULL DEFAULT '',
    location          text NOT NULL DEFAULT '',
    commitment        text NOT NULL DEFAULT '',
    remote_updated_at timestamptz,
    PRIMARY KEY (connection_id, remote_id)
);
-- Only published postings are offered for linking.
CREATE INDEX ats_postings_published ON ats_postings (connection_id, remote_id) WHERE state = 'published';

CREATE TABLE ats_users (
    connection_id uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    remote_id     text NOT NULL,
    name          text NOT NULL,
    email         text NOT NULL,
    access_role   text NOT NULL DEFAULT '',
    deactivated   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (connection_id, remote_id)
);
-- Recruiters map to ATS users by e-mail.
CREATE INDEX ats_users_email ON ats_users (connection_id, lower(email));

CREATE TABLE ats_archive_reasons (
    connection_id uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    remote_id     text NOT NULL,
    text          text NOT NULL,
    -- hired, non-hired
    type          text NOT NULL DEFAULT '',
    PRIMARY KEY (connection_id, remote_id)
);

-- +goose Down
DROP TABLE ats_archive_reasons;
DROP TABLE ats_users;
DROP TABLE ats_postings;
DROP TABLE ats_stages;
DROP TABLE ats_connection_errors;
DROP TABLE ats_connections;
