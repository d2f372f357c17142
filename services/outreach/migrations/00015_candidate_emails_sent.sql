-- +goose Up
-- A recruiter's one-off e-mail to a candidate. It is handed to mailbox by a
-- job enqueued with the row (key "candidate_email:<id>"), and marked sent
-- when mailbox's message.sent comes back. request_id makes a retried
-- request return the same e-mail.
CREATE TABLE candidate_emails_sent (
    id                     uuid PRIMARY KEY,
    org_id                 uuid NOT NULL,
    candidate_id           uuid NOT NULL REFERENCES candidates (id),
    request_id             text NOT NULL,
    created_by             text NOT NULL,
    mailbox_connection_id  text NOT NULL,
    sender_user_id         text NOT NULL,
    sender_email           text NOT NULL DEFAULT '',
    to_address             text NOT NULL,
    to_name                text NOT NULL DEFAULT '',
    subject                text NOT NULL,
    html_body              text NOT NULL,
    send_at                timestamptz,
    reply_conversation_id  uuid REFERENCES conversations (id),
    -- The provider id of the message the e-mail answers (the thread's last).
    reply_to_provider_id   text NOT NULL DEFAULT '',
    state                  text NOT NULL CHECK (state IN ('pending', 'queued', 'sent', 'cancelled', 'failed')),
    mailbox_message_id     text NOT NULL DEFAULT '',
    conversation_id        uuid REFERENCES conversations (id),
    provider_message_id    text NOT NULL DEFAULT '',
    internet_message_id    text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    sent_at                timestamptz,
    UNIQUE (org_id, created_by, request_id)
);
CREATE INDEX candidate_emails_sent_by_candidate ON candidate_emails_sent (org_id, candidate_id, created_at DESC, id DESC);

-- A conversation's message knows which mailbox message it was, so a reply
-- in thread can name the provider id of the thread's last message.
ALTER TABLE conversation_messages ADD COLUMN provider_message_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE conversation_messages DROP COLUMN provider_message_id;
DROP TABLE candidate_emails_sent;
