-- +goose Up
-- A member's referral of a person to a job, with what the member said. The
-- candidate is the one created or linked by the referral's e-mail address;
-- a merge moves its referrals to the survivor. The same referrer, job and
-- candidate once is checked under the candidate's row lock rather than by a
-- unique index, so that a merge of two referred records of one person keeps
-- both referrals.
CREATE TABLE referrals (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL,
    referrer_user_id  text NOT NULL,
    job_id            uuid NOT NULL REFERENCES jobs (id),
    candidate_id      uuid NOT NULL REFERENCES candidates (id),
    name              text NOT NULL,
    email             text NOT NULL,
    linkedin_url      text NOT NULL DEFAULT '',
    relationship      text NOT NULL,
    note              text NOT NULL DEFAULT '',
    candidate_created boolean NOT NULL,
    created_at        timestamptz NOT NULL
);
-- Lists: the organization's, a referrer's own, a job's and a candidate's,
-- newest first (ids are time-ordered).
CREATE INDEX referrals_by_org ON referrals (org_id, id DESC);
CREATE INDEX referrals_by_referrer ON referrals (org_id, referrer_user_id, id DESC);
CREATE INDEX referrals_by_job ON referrals (org_id, job_id, id DESC);
CREATE INDEX referrals_by_candidate ON referrals (org_id, candidate_id, id DESC);

-- +goose Down
DROP TABLE referrals;
