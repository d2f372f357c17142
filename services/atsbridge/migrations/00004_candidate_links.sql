-- +goose Up
-- A Tandem candidate linked to its ATS candidate (Lever: the contact and
-- the opportunity on the flow's posting). Filled by the pushes; the dry
-- run of a mapping reads where the linked candidates are.
CREATE TABLE candidate_links (
    connection_id        uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    org_id               uuid NOT NULL,
    candidate_id         uuid NOT NULL,
    remote_candidate_id  text NOT NULL,
    remote_opportunity_id text NOT NULL,
    -- Where the candidate is in the ATS: a stage, or archived with a reason.
    ats_stage_id         text NOT NULL DEFAULT '',
    archive_reason_id    text NOT NULL DEFAULT '',
    -- The mapping version the last sync of this candidate applied; 0
    -- before any.
    mapping_version      integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, remote_opportunity_id)
);
CREATE UNIQUE INDEX candidate_links_candidate ON candidate_links (connection_id, candidate_id, remote_opportunity_id);
CREATE INDEX candidate_links_org ON candidate_links (org_id, candidate_id);

-- +goose Down
DROP TABLE candidate_links;
