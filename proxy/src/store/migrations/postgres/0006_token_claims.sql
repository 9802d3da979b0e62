-- Schema version 6: the policy's claims with each token; see the SQLite migration.
ALTER TABLE agent_tokens ADD COLUMN claims TEXT;
ALTER TABLE pending_authorizations ADD COLUMN claims TEXT;
