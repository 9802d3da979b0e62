-- Schema version 6: the claims an access policy reads (directory, groups, roles) are kept with each token,
-- and with a terminal's approved request until its token is issued, so the policy can be checked again at
-- every request from the identity the token was issued to. JSON written by the proxy; NULL before.
ALTER TABLE agent_tokens ADD COLUMN claims TEXT;
ALTER TABLE pending_authorizations ADD COLUMN claims TEXT;
