-- Schema version 4: sign-in from a terminal (RFC 8628 device authorization); see the SQLite migration.
ALTER TABLE pending_authorizations ADD COLUMN device_status TEXT;
ALTER TABLE pending_authorizations ADD COLUMN user_agent TEXT;
ALTER TABLE pending_authorizations ADD COLUMN last_polled_at TIMESTAMP;
ALTER TABLE pending_authorizations ADD COLUMN device_id TEXT;
CREATE INDEX pending_authorizations_code ON pending_authorizations (code_hash);
