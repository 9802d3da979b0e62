-- Schema version 3: a sign-in is bound to the browser that started it, and the per-client cap counts by IP.
ALTER TABLE pending_authorizations ADD COLUMN browser_hash TEXT;
CREATE INDEX pending_authorizations_client ON pending_authorizations (client_ip);
