-- API keys: only a hash of the key is stored; the key itself is shown once at creation.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    is_admin    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- The system of record for every job; the queue only carries ids. Times are Unix milliseconds
-- so one SQL text serves PostgreSQL and SQLite.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    owner_id         TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempt          BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_at           BIGINT NOT NULL,
    payload          TEXT NOT NULL,
    result           TEXT,
    error_code       TEXT,
    error_message    TEXT,
    idempotency_key  TEXT,
    request_hash     TEXT,
    lease_token      TEXT,
    lease_expires_at BIGINT,
    worker           TEXT,
    progress         TEXT,
    pushed_at        BIGINT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    updated_at       BIGINT NOT NULL
);

-- Listings: newest first per owner, optionally by status or kind; keyset on (created_at, id).
CREATE INDEX jobs_owner_created ON jobs (owner_id, created_at DESC, id DESC);
CREATE INDEX jobs_owner_status_created ON jobs (owner_id, status, created_at DESC, id DESC);
CREATE INDEX jobs_owner_kind_created ON jobs (owner_id, kind, created_at DESC, id DESC);
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
-- Idempotent submissions and one job per schedule tick.
CREATE UNIQUE INDEX jobs_owner_idempotency ON jobs (owner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The rescuer: waiting jobs whose message may be lost, and running jobs whose lease expired.
CREATE INDEX jobs_waiting_run_at ON jobs (run_at) WHERE status IN ('queued', 'failed');
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE status = 'running';
