-- +goose Up
-- Candidates of every organization. A merged candidate keeps its row, with
-- merged_into naming the survivor, so its id resolves to the survivor; a
-- deleted one keeps its row with deleted_at, restorable for 30 days.
CREATE TABLE candidates (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL,
    name          text NOT NULL,
    phone         text NOT NULL DEFAULT '',
    links         jsonb NOT NULL DEFAULT '[]',
    title         text NOT NULL DEFAULT '',
    company       text NOT NULL DEFAULT '',
    location      text NOT NULL DEFAULT '',
    time_zone     text NOT NULL DEFAULT '',
    tags          text[] NOT NULL DEFAULT '{}',
    source        text NOT NULL DEFAULT '',
    owner_user_id text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    merged_into   uuid REFERENCES candidates (id)
);
-- Lists and searches read live candidates of one organization in name or
-- creation order.
CREATE INDEX candidates_by_name ON candidates (org_id, lower(name), id) WHERE deleted_at IS NULL AND merged_into IS NULL;
CREATE INDEX candidates_by_created ON candidates (org_id, created_at DESC, id DESC) WHERE deleted_at IS NULL AND merged_into IS NULL;
CREATE INDEX candidates_tags ON candidates USING gin (tags);
CREATE INDEX candidates_merged_into ON candidates (merged_into) WHERE merged_into IS NOT NULL;

-- One person is one candidate: an address belongs to one candidate of the
-- organization, compared case-insensitively after trimming. position 0 is
-- the primary address.
CREATE TABLE candidate_emails (
    candidate_id uuid NOT NULL REFERENCES candidates (id),
    org_id       uuid NOT NULL,
    email        text NOT NULL,
    position     integer NOT NULL,
    PRIMARY KEY (candidate_id, position)
);
CREATE UNIQUE INDEX candidate_emails_unique ON candidate_emails (org_id, lower(btrim(email)));

-- Everything that happened to a candidate, in order.
CREATE TABLE timeline_entries (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL,
    candidate_id  uuid NOT NULL REFERENCES candidates (id),
    kind          text NOT NULL,
    actor_user_id text NOT NULL DEFAULT '',
    occurred_at   timestamptz NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_entries_by_candidate ON timeline_entries (org_id, candidate_id, occurred_at, id);

-- +goose Down
DROP TABLE timeline_entries;
DROP TABLE candidate_emails;
DROP TABLE candidates;
