-- +goose Up
-- Every refresh token a session has rotated away from, so presenting any of
-- them (not only the one just before the current) is seen as reuse and ends
-- the session. Rows go with their session.
-- successor_hash is the token that replaced it: a retry of that very
-- rotation, moments later, is answered with the same successor instead of
-- being taken for a theft.
CREATE TABLE retired_refresh_tokens (
    token_hash     bytea PRIMARY KEY,
    session_id     uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    successor_hash bytea NOT NULL,
    retired_at     timestamptz NOT NULL
);
CREATE INDEX retired_refresh_tokens_session ON retired_refresh_tokens (session_id);
-- Ended sessions are deleted by a periodic job, which looks them up by time.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

INSERT INTO retired_refresh_tokens (token_hash, session_id, successor_hash, retired_at)
SELECT previous_refresh_token_hash, id, refresh_token_hash, coalesce(rotated_at, created_at)
FROM sessions WHERE previous_refresh_token_hash IS NOT NULL;

ALTER TABLE sessions DROP COLUMN previous_refresh_token_hash;

-- +goose Down
ALTER TABLE sessions ADD COLUMN previous_refresh_token_hash bytea UNIQUE;
UPDATE sessions s SET previous_refresh_token_hash = r.token_hash
FROM (SELECT DISTINCT ON (session_id) session_id, token_hash FROM retired_refresh_tokens
      ORDER BY session_id, retired_at DESC) r
WHERE r.session_id = s.id;
DROP TABLE retired_refresh_tokens;
DROP INDEX sessions_revoked;
DROP INDEX sessions_expires;
