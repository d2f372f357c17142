-- +goose Up
-- Each connection's sealed credentials, the durable copy of what Redis
-- holds hot (DESIGN §2): written before Redis on every connect and refresh,
-- read back when Redis has lost them. version grows with every change, and
-- every write but a reconnect is a compare-and-swap on it, so a refresh's
-- rotated refresh token never overwrites a newer one, nor is overwritten by
-- an older one. sealed is NULL once the provider refused the grant, with
-- refused saying why.
CREATE TABLE connection_credentials (
    connection_id uuid PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES organizations (id),
    sealed        text,
    refused       text NOT NULL DEFAULT '',
    version       bigint NOT NULL CHECK (version > 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((sealed IS NULL) <> (refused = ''))
);

-- +goose Down
DROP TABLE connection_credentials;
