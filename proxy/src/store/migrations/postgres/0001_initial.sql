-- Schema version 1 (PostgreSQL): the tables and column names of the SQLite schema and of the
-- troubleshooting guide's SQL, with PostgreSQL's own types: BIGSERIAL ids, BOOLEAN flags and
-- TIMESTAMP columns (UTC, without time zone).

CREATE TABLE agent_tokens (
    id                    BIGSERIAL PRIMARY KEY,
    token_hash            TEXT      NOT NULL UNIQUE,   -- lowercase hex SHA-256 of the whole token
    user_id               TEXT      NOT NULL,
    user_email            TEXT      NOT NULL,
    provider              TEXT      NOT NULL,
    is_authenticated      BOOLEAN   NOT NULL DEFAULT FALSE,
    is_active             BOOLEAN   NOT NULL DEFAULT TRUE, -- revocation is a soft delete: FALSE
    created_at            TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_authenticated_at TIMESTAMP,
    auth_expires_at       TIMESTAMP
);
CREATE INDEX agent_tokens_user ON agent_tokens (user_id);

CREATE TABLE pending_authorizations (
    id                TEXT      PRIMARY KEY,
    kind              TEXT      NOT NULL,
    provider          TEXT,
    user_id           TEXT,
    user_email        TEXT,
    nonce             TEXT,
    pkce_verifier     TEXT,
    code_hash         TEXT,
    attempts          INTEGER   NOT NULL DEFAULT 0,
    renew_token_hash  TEXT,
    client_ip         TEXT,
    created_at        TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    expires_at        TIMESTAMP NOT NULL
);
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

CREATE TABLE rate_limits (
    identifier       TEXT    PRIMARY KEY,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  TIMESTAMP,
    blocked_until    TIMESTAMP
);
