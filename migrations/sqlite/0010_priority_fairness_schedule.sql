-- Fair service (issue 16). A job's `priority` (higher runs first; see `Priority`) and its
-- `vtime`, the virtual time of start-time fair queueing: within a queue and priority a worker
-- takes the ready job with the lowest `vtime`, and each owner's jobs are spaced one step
-- apart from the later of its own last waiting job and the queue's head, so owners
-- alternate instead of queueing behind each other. A job submitted with `run_at` in the
-- future is `scheduled` until the scheduler promotes it to `queued`.
ALTER TABLE jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 20;
ALTER TABLE jobs ADD COLUMN vtime BIGINT NOT NULL DEFAULT 0;

-- The claim: the best ready job of a queue; also the head of a (queue, priority).
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, vtime, id)
    WHERE status IN ('queued', 'failed');
-- An owner's last waiting job of a (queue, priority), for the next one's `vtime`.
CREATE INDEX jobs_owner_waiting ON jobs (owner_id, queue, priority, vtime)
    WHERE status IN ('queued', 'failed');
-- The promoter: scheduled jobs that fell due.
CREATE INDEX jobs_scheduled_run_at ON jobs (run_at) WHERE status = 'scheduled';

-- A key's own service limits (NULL follows the settings): requests per `rate_limit.window_secs`
-- (0 = unlimited), jobs waiting at once (0 = unlimited), and its weight among keys sharing a
-- priority (2 gets twice the turns of 1).
ALTER TABLE api_keys ADD COLUMN rate_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN max_waiting_jobs BIGINT;
ALTER TABLE api_keys ADD COLUMN fair_weight BIGINT;
