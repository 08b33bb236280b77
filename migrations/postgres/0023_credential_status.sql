-- Open Badges credentials (shared/src/credentials.rs): a certificate's index in the revocation
-- status lists, given when its credential is first served (NULL until then), from a sequence
-- so concurrent first reads get distinct ones. The status list is read from `revoked_at` of
-- the rows in its range: the second index keeps that read to the revoked ones.
ALTER TABLE certificates ADD COLUMN status_index BIGINT;
CREATE UNIQUE INDEX certificates_status_index ON certificates (status_index)
    WHERE status_index IS NOT NULL;
CREATE INDEX certificates_revoked_status ON certificates (status_index)
    WHERE status_index IS NOT NULL AND revoked_at IS NOT NULL;
CREATE SEQUENCE certificate_status_index MINVALUE 0 START 0;
