-- Schema version 4: sign-in from a terminal (RFC 8628 device authorization).
-- A terminal's request is a pending_authorizations row of kind 'device': its id is the
-- SHA-256 of the device code, code_hash the SHA-256 of the user code, attempts the number
-- of slow_down answers (each adds 5 seconds to the polling interval).
ALTER TABLE pending_authorizations ADD COLUMN device_status TEXT;   -- 'pending', 'approved' or 'denied'
ALTER TABLE pending_authorizations ADD COLUMN user_agent TEXT;      -- of the terminal that asked, shown to the user
ALTER TABLE pending_authorizations ADD COLUMN last_polled_at TEXT;
ALTER TABLE pending_authorizations ADD COLUMN device_id TEXT;       -- on a browser's sign-in: the request it approves
CREATE INDEX pending_authorizations_code ON pending_authorizations (code_hash);
