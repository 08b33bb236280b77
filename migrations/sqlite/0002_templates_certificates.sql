-- Templates managed over the API. A template row names the current version; every change adds
-- an immutable row to template_versions, and jobs pin (template_id, version).
CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    description TEXT NOT NULL,
    is_public   BIGINT NOT NULL,
    builtin     BIGINT NOT NULL,
    owner_id    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
-- A name is unique among live templates; a soft-deleted one gives its name up.
CREATE UNIQUE INDEX templates_live_name ON templates (name) WHERE deleted_at IS NULL;

CREATE TABLE template_versions (
    template_id TEXT NOT NULL REFERENCES templates (id),
    version     BIGINT NOT NULL,
    -- main.typ
    source      TEXT NOT NULL,
    -- JSON object: virtual path -> base64 bytes
    assets      TEXT NOT NULL,
    -- JSON array of declared input fields
    fields      TEXT NOT NULL,
    -- sha256 over source, assets and fields: seeding compares it to the shipped files
    digest      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- Batches of certificates issued together; their jobs carry batch_id.
CREATE TABLE batches (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
ALTER TABLE jobs ADD COLUMN batch_id TEXT;
CREATE INDEX jobs_batch_status ON jobs (batch_id, status) WHERE batch_id IS NOT NULL;

-- The certificate registry: one row per certificate job, written in the job's transaction.
-- Status (pending, valid, expired, revoked, failed) derives from the job row and these columns.
CREATE TABLE certificates (
    job_id            TEXT PRIMARY KEY,
    owner_id          TEXT NOT NULL,
    template_id       TEXT NOT NULL,
    template_version  BIGINT NOT NULL,
    template_name     TEXT NOT NULL,
    batch_id          TEXT,
    verification_code TEXT NOT NULL,
    recipient_name    TEXT NOT NULL,
    -- lower-cased recipient_name, for the recipient filter
    recipient_key     TEXT NOT NULL,
    course_name       TEXT NOT NULL,
    issuer_name       TEXT,
    -- YYYY-MM-DD: sorts and compares as text
    issued_on         TEXT NOT NULL,
    expires_on        TEXT,
    is_public         BIGINT NOT NULL,
    revoked_at        BIGINT,
    revoked_reason    TEXT,
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX certificates_code ON certificates (verification_code);
-- Registry listings: keyset on (sort key, job_id), per owner, for admins, and public.
CREATE INDEX certificates_owner_created ON certificates (owner_id, created_at DESC, job_id DESC);
CREATE INDEX certificates_owner_issued ON certificates (owner_id, issued_on DESC, job_id DESC);
CREATE INDEX certificates_created ON certificates (created_at DESC, job_id DESC);
CREATE INDEX certificates_issued ON certificates (issued_on DESC, job_id DESC);
CREATE INDEX certificates_public_created ON certificates (created_at DESC, job_id DESC)
    WHERE is_public = 1;
CREATE INDEX certificates_public_issued ON certificates (issued_on DESC, job_id DESC)
    WHERE is_public = 1;
CREATE INDEX certificates_template ON certificates (template_id, created_at DESC, job_id DESC);
