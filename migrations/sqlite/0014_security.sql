-- Security round 3.

-- Networks a key's webhook and callback targets may resolve into although they are not
-- public (`quire keys set --allow-networks`), besides `webhooks.allow_networks`: comma-separated
-- CIDRs; NULL: none of its own.
ALTER TABLE api_keys ADD COLUMN allow_networks TEXT;

-- A certificate whose job an operator deleted keeps answering verification: the job's end as
-- it was (status, result with the PDF's sha256, finished_at) is kept in its registry row,
-- read when the job row is gone.
ALTER TABLE certificates ADD COLUMN kept_status TEXT;
ALTER TABLE certificates ADD COLUMN kept_result TEXT;
ALTER TABLE certificates ADD COLUMN kept_finished_at BIGINT;

-- Who deleted what through a user action (the dashboard's delete and discard): one row per
-- job, written in the transaction that deletes it. `quire audit` lists them.
CREATE TABLE audit_log (
    id       TEXT PRIMARY KEY,
    at       BIGINT NOT NULL,
    -- The key that acted.
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    -- Whose it was.
    owner_id TEXT,
    detail   TEXT
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
