-- +goose Up
-- Each save of an organization's stage mapping is a new version; the
-- current one is the newest. Older versions stay: a change already synced
-- keeps the version it was synced with (SYNC-2).
CREATE TABLE stage_mappings (
    connection_id uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    version       integer NOT NULL,
    org_id        uuid NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, version)
);
CREATE INDEX stage_mappings_org ON stage_mappings (org_id, version DESC);

-- The rows of a version. An ATS place is a stage or an archive reason,
-- never both.
CREATE TABLE stage_mapping_rows (
    connection_id     uuid NOT NULL,
    version           integer NOT NULL,
    -- to_ats: a Tandem stage's place in the ATS; from_ats: an ATS place's
    -- Tandem stage.
    direction         text NOT NULL CHECK (direction IN ('to_ats', 'from_ats')),
    position          integer NOT NULL,
    tandem_stage_id   text NOT NULL,
    ats_stage_id      text NOT NULL DEFAULT '',
    archive_reason_id text NOT NULL DEFAULT '',
    CHECK ((ats_stage_id = '') <> (archive_reason_id = '')),
    PRIMARY KEY (connection_id, version, direction, position),
    FOREIGN KEY (connection_id, version) REFERENCES stage_mappings (connection_id, version) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE stage_mapping_rows;
DROP TABLE stage_mappings;
