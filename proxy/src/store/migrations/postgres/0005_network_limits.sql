-- Schema version 5: per-network caps and token buckets; see the SQLite migration.
ALTER TABLE pending_authorizations ADD COLUMN client_network TEXT;
CREATE INDEX pending_authorizations_network ON pending_authorizations (client_network);
CREATE TABLE request_buckets (
    bucket TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    updated_at BIGINT NOT NULL
);
