-- +goose Up
-- A candidate's records in the organization's ATS, as atsbridge linked
-- them (ats.linked): the profile link the candidate's page shows. One row
-- per ATS candidacy; a merged candidate's rows stay under its id and are
-- read through the survivor.
CREATE TABLE candidate_ats_profiles (
    org_id                uuid NOT NULL,
    candidate_id          uuid NOT NULL,
    provider              text NOT NULL,
    remote_opportunity_id text NOT NULL,
    remote_candidate_id   text NOT NULL DEFAULT '',
    url                   text NOT NULL DEFAULT '',
    job_id                text NOT NULL DEFAULT '',
    linked_at             timestamptz NOT NULL,
    PRIMARY KEY (org_id, provider, remote_opportunity_id)
);
CREATE INDEX candidate_ats_profiles_candidate ON candidate_ats_profiles (org_id, candidate_id);

-- +goose Down
DROP TABLE candidate_ats_profiles;
