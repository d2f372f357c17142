-- +goose Up
-- Files on candidates (resumes and others). The bytes live in the blob
-- bucket under blob_key (ADR 17); this row is their metadata. content_type
-- is what the content was sniffed as, never what the client declared.
-- A retried upload finds the file it made (same candidate, same content)
-- instead of adding a second: the store looks under the candidate's row
-- lock. A merge may leave a survivor with two copies; both are kept.
CREATE TABLE candidate_files (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL,
    candidate_id     uuid NOT NULL REFERENCES candidates (id),
    kind             text NOT NULL CHECK (kind IN ('resume', 'other')),
    name             text NOT NULL,
    content_type     text NOT NULL,
    size_bytes       bigint NOT NULL CHECK (size_bytes > 0),
    sha256           bytea NOT NULL CHECK (octet_length(sha256) = 32),
    blob_key         text NOT NULL UNIQUE,
    uploader_user_id text NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE INDEX candidate_files_by_candidate ON candidate_files (org_id, candidate_id, created_at DESC, id DESC);
CREATE INDEX candidate_files_content ON candidate_files (candidate_id, sha256);

-- +goose Down
DROP TABLE candidate_files;
