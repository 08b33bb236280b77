-- Schedule state every scheduler and the API share; the schedules themselves (cron, time
-- zone, policies) are configuration. One row per schedule that has ever fired or been paused.
CREATE TABLE schedules (
    name         TEXT PRIMARY KEY,
    paused       BIGINT NOT NULL DEFAULT 0,
    -- The latest tick instant (Unix ms) a job was enqueued for, and that job.
    last_tick    BIGINT,
    last_job_id  TEXT,
    updated_at   BIGINT NOT NULL
);

-- The latest result of each check the `health` job runs, for `/ready` and `/v1/status`.
CREATE TABLE health_checks (
    name         TEXT PRIMARY KEY,
    ok           BIGINT NOT NULL,
    detail       TEXT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    checked_at   BIGINT NOT NULL
);

-- Cancelling a running job: the API sets this; the worker holding the job stops at its next
-- safe point and records `cancelled` (signalled at once over Redis, or seen on a heartbeat).
ALTER TABLE jobs ADD COLUMN cancel_requested_at BIGINT;

-- Cleanup: finished jobs by kind, status and age, oldest first.
CREATE INDEX jobs_cleanup ON jobs (kind, status, finished_at) WHERE finished_at IS NOT NULL;
