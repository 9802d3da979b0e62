-- Schema version 5: nothing an anonymous client does from many addresses locks others out.
-- Sign-ins in progress are also capped per network (IPv4 /24, IPv6 /48), and anonymous
-- requests are limited per network in time by token buckets (refilled continuously).
ALTER TABLE pending_authorizations ADD COLUMN client_network TEXT;   -- e.g. '203.0.113.0/24'
CREATE INDEX pending_authorizations_network ON pending_authorizations (client_network);
CREATE TABLE request_buckets (
    bucket TEXT PRIMARY KEY,       -- what is limited, for whom: 'device-code 203.0.113.0/24', 'user-code *'
    tokens REAL NOT NULL,          -- requests left now
    updated_at INTEGER NOT NULL    -- unix seconds of the last take
);
