-- Open Badges credentials (shared/src/credentials.rs): a certificate's index in the revocation
-- status lists, given when its credential is first served (NULL until then; SQLite's single
-- writer makes MAX + 1 safe, the unique index proves it). The status list is read from
-- `revoked_at` of the rows in its range: the second index keeps that read to the revoked ones.
ALTER TABLE certificates ADD COLUMN status_index INTEGER;
CREATE UNIQUE INDEX certificates_status_index ON certificates (status_index)
    WHERE status_index IS NOT NULL;
CREATE INDEX certificates_revoked_status ON certificates (status_index)
    WHERE status_index IS NOT NULL AND revoked_at IS NOT NULL;
