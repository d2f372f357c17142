-- +goose Up
-- SYNC-3: a connection that recovers says so. Set when identity reports a
-- connection connected again after it was reconnect_required or
-- disconnected; NULL for one that never needed it.
ALTER TABLE ats_connections ADD COLUMN recovered_at timestamptz;

-- The organization's sync audit log, read in order without a candidate
-- (SYNC-1 per connection); a candidate's comes off sync_audit_candidate.
CREATE INDEX sync_audit_org ON sync_audit (org_id, id);

-- The health record's failed pushes of the last day, without reading
-- every push the connection ever made.
CREATE INDEX ats_pushes_failed ON ats_pushes (connection_id, updated_at) WHERE state = 'failed';

-- +goose Down
DROP INDEX ats_pushes_failed;
DROP INDEX sync_audit_org;
ALTER TABLE ats_connections DROP COLUMN recovered_at;
