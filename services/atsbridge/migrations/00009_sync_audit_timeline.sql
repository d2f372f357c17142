-- +goose Up
-- A candidate's decisions in time order, the order outreach merges them
-- into the candidate's timeline in (ADR 0027).
CREATE INDEX sync_audit_candidate_time ON sync_audit (org_id, candidate_id, occurred_at, id);

-- +goose Down
DROP INDEX sync_audit_candidate_time;
