-- Schema version 2: the CSRF token of a confirmation form is kept with its pending authorization.
ALTER TABLE pending_authorizations ADD COLUMN csrf_token TEXT;
