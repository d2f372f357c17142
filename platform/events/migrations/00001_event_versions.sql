-- +goose Up
-- The newest version a receiver has applied of each kind of change to each
-- aggregate, so an older event that arrives late is recorded but never
-- applied over a newer one (ADR 0015). A version orders the events of one
-- type about one aggregate from one source.
CREATE TABLE event_versions (
    organization_id text NOT NULL,
    aggregate_id    text NOT NULL,
    event_type      text NOT NULL,
    source          text NOT NULL,
    version         bigint NOT NULL CHECK (version > 0),
    event_id        text NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, aggregate_id, event_type, source)
);

-- +goose Down
DROP TABLE event_versions;
