-- +goose Up
-- Hearing back from the connected mailboxes (issue 12 items 5 and 6).

-- One Graph subscription per mailbox on its Inbox, and the mailbox's
-- catch-up state. client_state_hash is the SHA-256 of the subscription's
-- clientState: a notification's is hashed and compared in constant time,
-- so the secret itself is never stored (a new subscription gets a new one).
-- subscription_id is null until Graph created it.
CREATE TABLE inbox_subscriptions (
    mailbox_id         uuid PRIMARY KEY,
    org_id             uuid NOT NULL,
    subscription_id    text UNIQUE,
    client_state_hash  bytea NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'active', 'failed', 'stopped')),
    expires_at         timestamptz,
    last_error         text NOT NULL DEFAULT '',
    -- Inbound mail received before this is not looked at: the mailbox's
    -- history is not a reply to anything Tandem sent.
    watch_since        timestamptz NOT NULL,
    last_catch_up_at   timestamptz,
    last_full_sync_at  timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX inbox_subscriptions_expiry ON inbox_subscriptions (expires_at) WHERE status = 'active';

-- Every message that arrived in a watched Inbox, once: the same
-- internetMessageId in one mailbox is the same message, whether a
-- notification, a repeated notification or a catch-up found it.
CREATE TABLE inbound_messages (
    id                   uuid PRIMARY KEY,
    org_id               uuid NOT NULL,
    mailbox_id           uuid NOT NULL,
    graph_message_id     text NOT NULL,
    internet_message_id  text NOT NULL,
    conversation_id      text NOT NULL DEFAULT '',
    kind                 text NOT NULL CHECK (kind IN ('reply', 'auto_reply', 'bounce', 'unrelated')),
    -- What decided the kind (a header, the message class), for support.
    marker               text NOT NULL DEFAULT '',
    from_address         text NOT NULL DEFAULT '',
    subject              text NOT NULL DEFAULT '',
    snippet              text NOT NULL DEFAULT '',
    received_at          timestamptz NOT NULL,
    sent_message_id      text NOT NULL DEFAULT '',
    sent_idempotency_key text NOT NULL DEFAULT '',
    match_method         text NOT NULL DEFAULT '',
    bounced_recipient    text NOT NULL DEFAULT '',
    bounce_status        text NOT NULL DEFAULT '',
    bounce_permanent     boolean NOT NULL DEFAULT false,
    detected_by          text NOT NULL CHECK (detected_by IN ('notification', 'catch_up')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mailbox_id, internet_message_id)
);

CREATE INDEX inbound_messages_page ON inbound_messages (org_id, mailbox_id, received_at DESC, id DESC);

-- Addresses an organization may no longer write to: a permanent bounce.
CREATE TABLE undeliverable_addresses (
    org_id             uuid NOT NULL,
    address            text NOT NULL CHECK (address = lower(address)),
    status             text NOT NULL DEFAULT '',
    inbound_message_id uuid NOT NULL REFERENCES inbound_messages (id),
    sent_message_id    text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, address)
);

-- Sent messages that bounced, per recipient; the sending side's own rows
-- are not changed from here.
CREATE TABLE message_bounces (
    sent_message_id    text NOT NULL,
    recipient          text NOT NULL,
    org_id             uuid NOT NULL,
    permanent          boolean NOT NULL,
    status             text NOT NULL DEFAULT '',
    inbound_message_id uuid NOT NULL REFERENCES inbound_messages (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sent_message_id, recipient)
);

-- +goose Down
DROP TABLE message_bounces;
DROP TABLE undeliverable_addresses;
DROP TABLE inbound_messages;
DROP TABLE inbox_subscriptions;
