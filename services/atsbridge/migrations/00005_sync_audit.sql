-- +goose Up
-- The sync audit log (issue 15 item 7, SYNC-1): one row per decision the
-- bridge took, in the order it took them. Rows are written in the
-- transaction of the decision, so a rolled-back attempt leaves none and a
-- retried one adds its own row with its attempt number.
CREATE TABLE sync_audit (
    id              bigserial PRIMARY KEY,
    org_id          uuid NOT NULL,
    connection_id   uuid NOT NULL,
    -- The Tandem candidate the decision is about; NULL for connection-wide
    -- decisions (an import, a reconcile run).
    candidate_id    uuid,
    -- The push's operation id, or the webhook delivery's id.
    operation_id    text NOT NULL DEFAULT '',
    -- What started it: an event id and type (enrollment.created,
    -- candidate.stage_changed, lever:candidateStageChange, reconcile).
    trigger_id      text NOT NULL DEFAULT '',
    trigger_type    text NOT NULL DEFAULT '',
    -- push (Tandem → ATS), inbound (ATS → Tandem) or reconcile.
    direction       text NOT NULL,
    -- What was decided: create_opportunity, link_opportunity, move_stage,
    -- archive, apply_stage, add_note, echo_suppressed, skipped, held ...
    action          text NOT NULL,
    mapping_version integer NOT NULL DEFAULT 0,
    -- The rule applied, readable: "Contacted → Reached out".
    rule            text NOT NULL DEFAULT '',
    -- The request sent and the answer, without secrets (no tokens, no
    -- signatures): method, path, body; status, body.
    request         jsonb,
    response        jsonb,
    attempt         integer NOT NULL DEFAULT 1,
    -- succeeded, failed, retrying, held, skipped
    outcome         text NOT NULL,
    error           text NOT NULL DEFAULT '',
    -- Who acted: the Tandem user, and the ATS user the call acted as.
    actor_user_id   text NOT NULL DEFAULT '',
    actor_remote_id text NOT NULL DEFAULT '',
    occurred_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_audit_candidate ON sync_audit (org_id, candidate_id, id);
CREATE INDEX sync_audit_connection ON sync_audit (connection_id, id);

-- +goose Down
DROP TABLE sync_audit;
