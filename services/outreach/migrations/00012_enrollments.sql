-- +goose Up
-- A candidate going through a flow, on the version it started with.
-- next_step is the step to send next (or being sent); schedule_seq grows
-- each time the step's send time is set again, and a step job carries the
-- number it was scheduled with, so a superseded job does nothing.
CREATE TABLE enrollments (
    id                      uuid PRIMARY KEY,
    org_id                  uuid NOT NULL,
    flow_id                 uuid NOT NULL REFERENCES flows (id),
    candidate_id            uuid NOT NULL REFERENCES candidates (id),
    flow_version            integer NOT NULL,
    status                  text NOT NULL CHECK (status IN ('active', 'paused', 'stopped')),
    stop_reason             text NOT NULL DEFAULT '',
    next_step               integer NOT NULL DEFAULT 0,
    next_send_at            timestamptz,
    schedule_seq            integer NOT NULL DEFAULT 0,
    -- The step handed to mailbox and waiting for message.sent; -1: none.
    submitted_step          integer NOT NULL DEFAULT -1,
    steps_sent              integer NOT NULL DEFAULT 0,
    to_address              text NOT NULL DEFAULT '',
    -- The last sent message, which the next step answers.
    last_provider_message_id text NOT NULL DEFAULT '',
    last_internet_message_id text NOT NULL DEFAULT '',
    conversation_id         text NOT NULL DEFAULT '',
    last_sent_at            timestamptz,
    replied_at              timestamptz,
    bounced_at              timestamptz,
    interested_at           timestamptz,
    created_by              text NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    stopped_at              timestamptz,
    UNIQUE (flow_id, candidate_id)
);
-- A candidate is in at most one running flow.
CREATE UNIQUE INDEX enrollments_one_running ON enrollments (candidate_id) WHERE status IN ('active', 'paused');
CREATE INDEX enrollments_by_flow ON enrollments (flow_id, id);
-- Resuming a flow finds what fell due.
CREATE INDEX enrollments_due ON enrollments (flow_id, next_send_at) WHERE status = 'active' AND next_send_at IS NOT NULL;

-- Addresses that bounced for good: no flow writes to them again. Kept by
-- address rather than on candidate_emails, whose rows an edit rewrites.
CREATE TABLE undeliverable_addresses (
    org_id     uuid NOT NULL,
    address    text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, address)
);

-- +goose Down
DROP TABLE undeliverable_addresses;
DROP TABLE enrollments;
