-- +goose Up
-- The threads of messages exchanged with a candidate, which the mailbox
-- service and outreach's flows record. A merge moves a candidate's threads
-- to the survivor.
CREATE TABLE conversations (
    id                       uuid PRIMARY KEY,
    org_id                   uuid NOT NULL,
    candidate_id             uuid NOT NULL REFERENCES candidates (id),
    subject                  text NOT NULL DEFAULT '',
    mailbox_connection_id    text NOT NULL DEFAULT '',
    sender_user_id           text NOT NULL DEFAULT '',
    provider_conversation_id text,
    created_at               timestamptz NOT NULL,
    last_message_at          timestamptz NOT NULL,
    message_count            integer NOT NULL DEFAULT 0
);
-- A provider's thread (in one mailbox) finds the candidate's conversation.
-- Not unique: a merge can give the survivor two threads of one provider
-- thread, which the newest of them continues.
CREATE INDEX conversations_provider ON conversations (org_id, provider_conversation_id, mailbox_connection_id)
    WHERE provider_conversation_id IS NOT NULL;
-- A candidate's threads, newest activity first.
CREATE INDEX conversations_by_candidate ON conversations (org_id, candidate_id, last_message_at DESC, id DESC);

-- One message. dedupe_key (the caller's key, or the Message-ID header) makes
-- recording it again a no-op; a Message-ID is one message per organization.
CREATE TABLE conversation_messages (
    id                  uuid PRIMARY KEY,
    org_id              uuid NOT NULL,
    conversation_id     uuid NOT NULL REFERENCES conversations (id),
    direction           text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    kind                text NOT NULL CHECK (kind IN ('sent', 'reply', 'auto_reply', 'bounce')),
    from_address        text NOT NULL,
    to_addresses        text[] NOT NULL DEFAULT '{}',
    cc_addresses        text[] NOT NULL DEFAULT '{}',
    subject             text NOT NULL DEFAULT '',
    body_text           text NOT NULL DEFAULT '',
    body_html           text NOT NULL DEFAULT '',
    snippet             text NOT NULL DEFAULT '',
    internet_message_id text NOT NULL DEFAULT '',
    in_reply_to         text NOT NULL DEFAULT '',
    message_at          timestamptz NOT NULL,
    mailbox_message_id  text NOT NULL DEFAULT '',
    dedupe_key          text NOT NULL,
    created_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX conversation_messages_dedupe ON conversation_messages (org_id, dedupe_key);
CREATE UNIQUE INDEX conversation_messages_internet_id ON conversation_messages (org_id, internet_message_id) WHERE internet_message_id <> '';
-- A thread's messages in order.
CREATE INDEX conversation_messages_by_conversation ON conversation_messages (conversation_id, message_at, id);

-- +goose Down
DROP TABLE conversation_messages;
DROP TABLE conversations;
