-- +goose Up
-- SYNC-3: a mailbox that recovers says so. Set when identity reports it
-- connected again after it was reconnect_required or disconnected; NULL
-- for one that never needed it.
ALTER TABLE mailboxes ADD COLUMN recovered_at timestamptz;

-- +goose Down
ALTER TABLE mailboxes DROP COLUMN recovered_at;
