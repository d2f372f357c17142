-- +goose Up
-- Events between services are delivered at least once; the receiver records
-- each event id it has handled, in the same transaction as the change the event
-- causes, and ignores an id it has seen.
CREATE TABLE processed_events (
    event_id     text PRIMARY KEY,
    source       text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE processed_events;
