-- +goose Up
-- The custom fields an organization gives its candidates; a candidate's
-- values are a JSON object by key, checked against these by the service.
CREATE TABLE custom_field_definitions (
    org_id       uuid NOT NULL,
    key          text NOT NULL,
    display_name text NOT NULL,
    type         text NOT NULL,
    options      text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
ALTER TABLE candidates ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE candidates DROP COLUMN custom_fields;
DROP TABLE custom_field_definitions;
