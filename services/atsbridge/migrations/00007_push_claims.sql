-- +goose Up
-- A push being worked is claimed by the River job working it, until
-- claim_expires_at: a second job for the same push (the sweeper's, after
-- a crash) waits for the claim instead of writing to the ATS beside it,
-- and a claim left by a killed process expires.
ALTER TABLE ats_pushes ADD COLUMN claimed_by bigint;
ALTER TABLE ats_pushes ADD COLUMN claim_expires_at timestamptz;
-- What started the push and who: the event, its type, the Tandem user.
ALTER TABLE ats_pushes ADD COLUMN trigger_id text NOT NULL DEFAULT '';
ALTER TABLE ats_pushes ADD COLUMN trigger_type text NOT NULL DEFAULT '';
ALTER TABLE ats_pushes ADD COLUMN actor_user_id text NOT NULL DEFAULT '';
-- The sweeper looks for open pushes nobody works.
CREATE INDEX ats_pushes_sweep ON ats_pushes (updated_at) WHERE state = 'pending';

-- +goose Down
DROP INDEX ats_pushes_sweep;
ALTER TABLE ats_pushes DROP COLUMN actor_user_id;
ALTER TABLE ats_pushes DROP COLUMN trigger_type;
ALTER TABLE ats_pushes DROP COLUMN trigger_id;
ALTER TABLE ats_pushes DROP COLUMN claim_expires_at;
ALTER TABLE ats_pushes DROP COLUMN claimed_by;
