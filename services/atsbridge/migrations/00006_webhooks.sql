-- +goose Up
-- The webhooks atsbridge registered at the ATS for a connection (issue 15
-- item 5, ADR 25): one per event, with the signature token Lever signs
-- its deliveries with, sealed (envelope, bound to the organization, the
-- connection and the webhook).
CREATE TABLE ats_webhooks (
    connection_id   uuid NOT NULL REFERENCES ats_connections (id) ON DELETE CASCADE,
    event           text NOT NULL,
    remote_id       text NOT NULL,
    url             text NOT NULL,
    signature_token text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, event)
);

-- atsbridge's own data keys (envelope encryption, DESIGN §4): one per
-- organization, wrapped by a key-encryption key from configuration.
CREATE TABLE data_keys (
    org_id     text PRIMARY KEY,
    wrapped    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A signed (token, triggeredAt) pair is taken once: Lever's signature does
-- not cover the body, so a captured delivery sent again under another id
-- with other data is a replay too.
ALTER TABLE ats_webhook_deliveries ADD COLUMN token_sha256 bytea;
CREATE UNIQUE INDEX ats_webhook_deliveries_token ON ats_webhook_deliveries (connection_id, token_sha256);

-- The ATS time of the last change applied to a link (webhook or
-- reconcile), so an older delivery arriving late is not applied over it.
ALTER TABLE candidate_links ADD COLUMN last_inbound_at timestamptz;

-- +goose Down
ALTER TABLE candidate_links DROP COLUMN last_inbound_at;
DROP INDEX ats_webhook_deliveries_token;
ALTER TABLE ats_webhook_deliveries DROP COLUMN token_sha256;
DROP TABLE data_keys;
DROP TABLE ats_webhooks;
