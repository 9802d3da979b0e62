-- Schema version 1: the tables and column names the troubleshooting guide's SQL uses.
-- Timestamps are UTC text in SQLite's own 'YYYY-MM-DD HH:MM:SS' form.

CREATE TABLE agent_tokens (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash            TEXT    NOT NULL UNIQUE,   -- lowercase hex SHA-256 of the whole token
    user_id               TEXT    NOT NULL,          -- provider-namespaced, e.g. 'google:1234' or 'microsoft:{tid}:{oid}'
    user_email            TEXT    NOT NULL,
    provider              TEXT    NOT NULL,
    is_authenticated      INTEGER NOT NULL DEFAULT 0,
    is_active             INTEGER NOT NULL DEFAULT 1, -- revocation is a soft delete: 0
    created_at            TEXT    NOT NULL DEFAULT (datetime('now')),
    last_authenticated_at TEXT,
    auth_expires_at       TEXT
);
CREATE INDEX agent_tokens_user ON agent_tokens (user_id);

-- Sign-ins in progress (OIDC state, PKCE verifier, nonce) and confirmation codes (the browser half, `proxy/src/sso/`).
CREATE TABLE pending_authorizations (
    id                TEXT    PRIMARY KEY,            -- the OIDC state, or a confirmation id
    kind              TEXT    NOT NULL,               -- 'oidc' or 'confirmation'
    provider          TEXT,
    user_id           TEXT,
    user_email        TEXT,
    nonce             TEXT,
    pkce_verifier     TEXT,
    code_hash         TEXT,                           -- confirmation codes are stored hashed
    attempts          INTEGER NOT NULL DEFAULT 0,
    renew_token_hash  TEXT,                           -- set when re-authenticating an existing token
    client_ip         TEXT,
    created_at        TEXT    NOT NULL DEFAULT (datetime('now')),
    expires_at        TEXT    NOT NULL
);
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

CREATE TABLE rate_limits (
    identifier       TEXT    PRIMARY KEY,             -- the client IP
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  TEXT,
    blocked_until    TEXT
);
