-- Security round 3.

-- Networks a key's webhook and callback targets may resolve into although they are not
-- public (`quire keys set --allow-networks`), besides `webhooks.allow_networks`: comma-separated
-- CIDRs; NULL: none of its own.
ALTER TABLE api_keys ADD COLUMN allow_networks TEXT;
