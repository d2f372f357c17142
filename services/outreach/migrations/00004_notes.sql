-- +goose Up
-- Notes on candidates. A private note is seen by its author and admins
-- only; its timeline entry carries the visibility so the timeline can hide
-- it the same way.
CREATE TABLE notes (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL,
    candidate_id   uuid NOT NULL REFERENCES candidates (id),
    author_user_id text NOT NULL,
    body           text NOT NULL,
    private        boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX notes_by_candidate ON notes (org_id, candidate_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE notes;
