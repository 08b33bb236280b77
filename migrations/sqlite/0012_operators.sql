-- What operators look at (the dashboard, `quire status`).

-- A job's history is its events: who ran each attempt, and why one failed (the job row keeps
-- only the last error).
ALTER TABLE events ADD COLUMN worker TEXT;
ALTER TABLE events ADD COLUMN error_code TEXT;
ALTER TABLE events ADD COLUMN error_message TEXT;

DROP TRIGGER jobs_events;
CREATE TRIGGER jobs_events AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN OLD.status IS NOT NEW.status AND NEW.kind <> 'webhook'
BEGIN
    INSERT INTO events (type, owner_id, job_id, batch_id, kind, status, attempt,
                        callback_url, at, worker, error_code, error_message)
    VALUES ('job.' || NEW.status, NEW.owner_id, NEW.id, NEW.batch_id, NEW.kind, NEW.status,
            NEW.attempt,
            CASE WHEN NEW.status IN ('succeeded', 'dead', 'cancelled')
                 THEN NEW.callback_url END,
            NEW.updated_at,
            -- A released job's worker is cleared in the same update.
            COALESCE(NEW.worker, OLD.worker),
            CASE WHEN NEW.status IN ('failed', 'dead', 'cancelled') THEN NEW.error_code END,
            CASE WHEN NEW.status IN ('failed', 'dead', 'cancelled') THEN NEW.error_message END);
END;

-- Worker processes: each writes its row at start, refreshes `heartbeat_at` and `running`
-- every few seconds and deletes it when it stops cleanly. A row whose heartbeat is old is a
-- worker that died; heartbeats remove rows an hour old.
CREATE TABLE workers (
    name         TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    version      TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    -- `queue:concurrency` pairs, comma-separated.
    queues       TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    running      BIGINT NOT NULL
);

-- `GET /v1/batches`: a key's batches, newest first.
CREATE INDEX batches_owner_created ON batches (owner_id, created_at DESC, id DESC);
CREATE INDEX batches_created ON batches (created_at DESC, id DESC);

-- Dashboard sessions of the embedded deployment (production keeps them in Redis): the
-- SHA-256 of the cookie, the session as JSON, and when it ends unless used again.
CREATE TABLE dashboard_sessions (
    id         TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The dashboard's counts of unfinished jobs by kind, and its failures (newest first, and
-- grouped by error), without reading the finished millions.
CREATE INDEX jobs_unfinished ON jobs (status, kind)
    WHERE status IN ('scheduled', 'queued', 'running', 'failed');
CREATE INDEX jobs_failures ON jobs (finished_at DESC)
    WHERE status IN ('failed', 'dead');
