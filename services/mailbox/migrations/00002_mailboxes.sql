-- +goose Up
-- The connected mailboxes, one per identity connection (its id is the
-- mailbox's id), filled from identity's mailbox.* events. own_addresses are
-- the SMTP addresses that deliver to the mailbox (Graph's mail and smtp:
-- proxy addresses, lower case), not its UPN: replies are matched to them.
CREATE TABLE mailboxes (
    id                   uuid PRIMARY KEY,
    org_id               uuid NOT NULL,
    user_id              uuid NOT NULL,
    account              text NOT NULL DEFAULT '',
    address              text NOT NULL DEFAULT '',
    own_addresses        text[] NOT NULL DEFAULT '{}',
    status               text NOT NULL CHECK (status IN ('connected', 'reconnect_required', 'disconnected')),
    status_reason        text NOT NULL DEFAULT '',
    -- identity's change time of the status, in microseconds: an older
    -- event never overwrites a newer status, whatever order they arrive in.
    status_version       bigint NOT NULL DEFAULT 0,
    addresses_fetched_at timestamptz,
    -- The owner's own sending limits, on top of Exchange's.
    daily_message_limit  integer NOT NULL CHECK (daily_message_limit > 0),
    min_gap_ms           integer NOT NULL CHECK (min_gap_ms >= 0),
    last_error           text NOT NULL DEFAULT '',
    last_error_at        timestamptz,
    last_sent_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX mailboxes_org ON mailboxes (org_id, id);
CREATE INDEX mailboxes_own_addresses ON mailboxes USING gin (own_addresses);

-- +goose Down
DROP TABLE mailboxes;
