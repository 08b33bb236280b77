-- Files of deleted jobs still to be removed from storage (the cleanup task). Rows are written
-- in the transaction that deletes the jobs and removed once their files are gone, so a
-- cleanup interrupted in between never leaves a row pointing at a missing file, and its next
-- run removes the files it left behind.
CREATE TABLE file_deletions (
    job_id     TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
