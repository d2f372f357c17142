-- +goose Up
-- A merge moves the merged candidate's enrollments to the survivor. When
-- both were in the same flow, the merged one's is stopped with reason
-- "merged" and kept for its history: one flow holds a candidate once,
-- merged enrollments aside.
ALTER TABLE enrollments DROP CONSTRAINT enrollments_flow_id_candidate_id_key;
CREATE UNIQUE INDEX enrollments_flow_candidate ON enrollments (flow_id, candidate_id) WHERE stop_reason <> 'merged';

-- +goose Down
DROP INDEX enrollments_flow_candidate;
ALTER TABLE enrollments ADD CONSTRAINT enrollments_flow_id_candidate_id_key UNIQUE (flow_id, candidate_id);
