-- +goose Up
-- Messages a mailbox sends, each with its send job (a River job, job_id).
-- One message per caller's idempotency key in an organization; request_hash
-- tells a retry of the same request from a reuse of the key.
--
-- state: queued (nothing of it is at Graph for sure: a draft may have been
-- created and not recorded), drafted (its draft is draft_id, not sent),
-- sending (send was called at send_attempted_at: it may have left), sent,
-- failed, cancelled. Messages of one mailbox go in seq order.
CREATE TABLE messages (
    id                    uuid PRIMARY KEY,
    org_id                uuid NOT NULL,
    mailbox_id            uuid NOT NULL REFERENCES mailboxes (id),
    seq                   bigint GENERATED ALWAYS AS IDENTITY,
    caller                text NOT NULL,
    idempotency_key       text NOT NULL,
    request_hash          bytea NOT NULL,
    state                 text NOT NULL CHECK (state IN ('queued', 'drafted', 'sending', 'sent', 'failed', 'cancelled')),
    to_recipients         jsonb NOT NULL,
    cc_recipients         jsonb NOT NULL,
    recipient_count       integer NOT NULL CHECK (recipient_count > 0),
    subject               text NOT NULL,
    html_body             text NOT NULL,
    reply_to_provider_id  text NOT NULL DEFAULT '',
    send_after            timestamptz NOT NULL,
    job_id                bigint,
    draft_started_at      timestamptz,
    draft_id              text NOT NULL DEFAULT '',
    internet_message_id   text NOT NULL DEFAULT '',
    conversation_id       text NOT NULL DEFAULT '',
    send_attempted_at     timestamptz,
    sent_at               timestamptz,
    status_reason         text NOT NULL DEFAULT '',
    -- Set when Graph may hold a draft of it that is not draft_id (a create
    -- whose answer was lost, a cancelled or failed message's draft): the
    -- draft cleanup looks for them.
    may_have_orphans      boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, caller, idempotency_key),
    -- A message on its way to Graph always has its draft, and one being
    -- sent the time of its attempt: recovery starts from them.
    CHECK (state NOT IN ('drafted', 'sending') OR draft_id <> ''),
    CHECK (state <> 'sending' OR send_attempted_at IS NOT NULL)
);

-- The queue of each mailbox: what is still on its way, in order.
CREATE INDEX messages_queue ON messages (mailbox_id, seq) WHERE state IN ('queued', 'drafted', 'sending');
-- Listing a mailbox's messages, newest first.
CREATE INDEX messages_by_mailbox ON messages (mailbox_id, created_at DESC, id DESC);
-- What a mailbox sent in the last day, for its daily limits.
CREATE INDEX messages_attempted ON messages (mailbox_id, send_attempted_at) WHERE send_attempted_at IS NOT NULL;
CREATE INDEX messages_orphans ON messages (mailbox_id) WHERE may_have_orphans;

-- +goose Down
DROP TABLE messages;
