-- +goose Up
-- Each organization's stage set. stage_sets has one row per organization
-- that has its set: inserting it is what creates the defaults, once, even
-- when two first uses race.
CREATE TABLE stage_sets (
    org_id     uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE stages (
    id         uuid PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES stage_sets (org_id),
    name       text NOT NULL,
    position   integer NOT NULL,
    retired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX stages_active_name ON stages (org_id, lower(name)) WHERE retired_at IS NULL;
CREATE INDEX stages_by_org ON stages (org_id, position);

-- A candidate's stage, and the version of its stage that events carry.
ALTER TABLE candidates ADD COLUMN stage_id uuid REFERENCES stages (id);
ALTER TABLE candidates ADD COLUMN stage_version bigint NOT NULL DEFAULT 0;
CREATE INDEX candidates_by_stage ON candidates (org_id, stage_id) WHERE deleted_at IS NULL AND merged_into IS NULL;

-- +goose Down
ALTER TABLE candidates DROP COLUMN stage_version;
ALTER TABLE candidates DROP COLUMN stage_id;
DROP TABLE stages;
DROP TABLE stage_sets;
