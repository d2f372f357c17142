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

-- Every write to the ATS (issue 15 item 4): one row per operation, keyed
-- by an operation id derived from what asked for it, so a retried event
-- or job finds the earlier row (and its result) instead of writing again.
-- A River job works each row; the row's completion and its result (the
-- remote id) are stored in the same transaction. Writes for one candidate
-- go in seq order.
CREATE TABLE ats_pushes (
    operation_id  text PRIMARY KEY,
    seq           bigserial NOT NULL,
    org_id        uuid NOT NULL,
    connection_id uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    candidate_id  uuid NOT NULL,
    -- create_opportunity, move_stage, archive, add_note, ...
    kind          text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    -- pending (to go), held (the connection cannot call: it waits for
    -- reconnection), succeeded, failed (permanently, with the reason),
    -- skipped (nothing to do: an echo, no link)
    state         text NOT NULL DEFAULT 'pending',
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text NOT NULL DEFAULT '',
    next_attempt_at timestamptz,
    -- What the write produced (Lever: the opportunity id).
    remote_id     text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX ats_pushes_open ON ats_pushes (connection_id, candidate_id, seq) WHERE state IN ('pending', 'held');

-- Webhook deliveries from the ATS (issue 15 item 5), stored raw as they
-- arrived once their signature held, de-duplicated by the provider's
-- delivery id; a job applies them.
CREATE TABLE ats_webhook_deliveries (
    connection_id uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    delivery_id   text NOT NULL,
    event         text NOT NULL,
    triggered_at  timestamptz,
    received_at   timestamptz NOT NULL DEFAULT now(),
    raw           bytea NOT NULL,
    -- received, applied, ignored (an echo, a test delivery, nothing linked)
    state         text NOT NULL DEFAULT 'received',
    applied_at    timestamptz,
    error         text NOT NULL DEFAULT '',
    PRIMARY KEY (connection_id, delivery_id)
);
CREATE INDEX ats_webhook_deliveries_recent ON ats_webhook_deliveries (connection_id, received_at);

-- The stage a push is writing to the ATS right now: a webhook reporting
-- it is Tandem's own change coming back (issue 15 item 6).
ALTER TABLE candidate_links ADD COLUMN pending_stage_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE candidate_links DROP COLUMN pending_stage_id;
DROP TABLE ats_webhook_deliveries;
DROP TABLE ats_pushes;
DROP TABLE sync_audit;
