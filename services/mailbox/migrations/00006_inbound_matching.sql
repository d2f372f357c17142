-- +goose Up
-- Matching an inbound message to what a mailbox sent reads the sending
-- side's messages by conversation and by Message-ID (package inbound's
-- SentLogDB).
CREATE INDEX messages_by_conversation ON messages (mailbox_id, conversation_id) WHERE conversation_id <> '';
CREATE INDEX messages_by_internet_id ON messages (mailbox_id, internet_message_id) WHERE internet_message_id <> '';

-- +goose Down
DROP INDEX messages_by_internet_id;
DROP INDEX messages_by_conversation;
