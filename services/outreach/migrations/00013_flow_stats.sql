-- +goose Up
-- Per-flow and per-step figures, counted in the transaction of what they
-- count, so reading them never scans enrollments. step_index -1 is the
-- flow's own row (candidates); the others count e-mails of that step over
-- every version.
CREATE TABLE flow_stats (
    flow_id    uuid NOT NULL REFERENCES flows (id),
    step_index integer NOT NULL,
    enrolled   bigint NOT NULL DEFAULT 0,
    contacted  bigint NOT NULL DEFAULT 0,
    sent       bigint NOT NULL DEFAULT 0,
    opened     bigint NOT NULL DEFAULT 0,
    replied    bigint NOT NULL DEFAULT 0,
    interested bigint NOT NULL DEFAULT 0,
    bounced    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (flow_id, step_index)
);

-- +goose Down
DROP TABLE flow_stats;
