-- +goose Up
-- An organization's roles that referrals and flows point to: Tandem's own
-- list, which the ATS integrations fill from the ATS. A job from an ATS
-- carries its source and its id there, both or neither, once per
-- organization and source.
CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL,
    title           text NOT NULL,
    department      text NOT NULL DEFAULT '',
    team            text NOT NULL DEFAULT '',
    location        text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('open', 'closed', 'draft')),
    external_source text,
    external_id     text,
    create_user_id  text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK ((external_source IS NULL) = (external_id IS NULL))
);
CREATE UNIQUE INDEX jobs_external ON jobs (org_id, external_source, external_id) WHERE external_source IS NOT NULL;
-- Lists read one organization's jobs newest first (ids are time-ordered),
-- of one status or all.
CREATE INDEX jobs_by_org ON jobs (org_id, id DESC);
CREATE INDEX jobs_by_status ON jobs (org_id, status, id DESC);

-- +goose Down
DROP TABLE jobs;
