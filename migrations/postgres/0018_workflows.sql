-- Workflows (issue 37): a DAG of steps submitted at once, each step an ordinary job row.
-- A step waits (`waiting`) until its parents have ended; the triggers below make it ready
-- (`queued`), or cancel it (`parent_failed`), in the transaction that ends its last parent,
-- whatever code path ends it (a worker's completion, a failure, the rescuer, a cancel).
-- So a crash can neither lose a step nor start it twice, and no step starts early.
CREATE TABLE workflows (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL,
    name            TEXT,
    -- running | completed | failed | cancelled
    status          TEXT NOT NULL,
    steps_total     BIGINT NOT NULL,
    -- Steps not ended yet (jobs, not named steps: a batch step is one job per row).
    steps_left      BIGINT NOT NULL,
    -- The named steps as submitted (name, kind, after, policy, jobs): what the answer draws.
    graph           TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash    TEXT,
    callback_url    TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX workflows_owner_created ON workflows (owner_id, created_at DESC, id DESC);
CREATE INDEX workflows_created ON workflows (created_at DESC, id DESC);
CREATE UNIQUE INDEX workflows_owner_idempotency ON workflows (owner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- One row per step job: its name, the parents it still waits for, its failure policy.
CREATE TABLE workflow_steps (
    job_id            TEXT PRIMARY KEY,
    workflow_id       TEXT NOT NULL,
    name              TEXT NOT NULL,
    -- The job's place in the submission: steps in order, a batch's rows in row order.
    position          BIGINT NOT NULL,
    parents_left      BIGINT NOT NULL,
    -- cancel | continue: what a parent that ended `dead` or `cancelled` does to this step.
    on_parent_failure TEXT NOT NULL,
    -- 1 when this step's own failure does not fail the workflow: it has children and every
    -- one of them continues regardless.
    tolerated         BIGINT NOT NULL
);
CREATE INDEX workflow_steps_workflow ON workflow_steps (workflow_id, position);

-- "child runs after parent"; `position` is the parent's place among the child's parents,
-- the order a merge concatenates them in.
CREATE TABLE workflow_edges (
    parent_id TEXT NOT NULL,
    child_id  TEXT NOT NULL,
    position  BIGINT NOT NULL,
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX workflow_edges_child ON workflow_edges (child_id, position);

ALTER TABLE jobs ADD COLUMN workflow_id TEXT;
CREATE INDEX jobs_workflow ON jobs (workflow_id, status) WHERE workflow_id IS NOT NULL;

CREATE FUNCTION quire_workflow_step() RETURNS trigger AS $$
DECLARE
    ended     BOOLEAN := NEW.status IN ('succeeded', 'dead', 'cancelled');
    was_ended BOOLEAN := OLD.status IN ('succeeded', 'dead', 'cancelled');
    fails     BOOLEAN;
BEGIN
    IF ended AND NOT was_ended THEN
        -- A parent that succeeded releases its children; one that failed releases only those
        -- that continue regardless.
        UPDATE workflow_steps SET parents_left = parents_left - 1
        WHERE job_id IN (SELECT child_id FROM workflow_edges WHERE parent_id = NEW.id)
          AND (NEW.status = 'succeeded' OR on_parent_failure = 'continue');
        UPDATE jobs SET status = 'queued', run_at = NEW.updated_at, pushed_at = NEW.updated_at,
               updated_at = NEW.updated_at
        WHERE id IN (SELECT s.job_id FROM workflow_edges e
                     JOIN workflow_steps s ON s.job_id = e.child_id
                     WHERE e.parent_id = NEW.id AND s.parents_left = 0)
          AND status = 'waiting';
        IF NEW.status <> 'succeeded' THEN
            -- Each cancelled child's own trigger cancels its children in turn.
            UPDATE jobs SET status = 'cancelled', error_code = 'parent_failed',
                   error_message = 'a step it runs after ended ' || NEW.status,
                   finished_at = NEW.updated_at, updated_at = NEW.updated_at
            WHERE id IN (SELECT s.job_id FROM workflow_edges e
                         JOIN workflow_steps s ON s.job_id = e.child_id
                         WHERE e.parent_id = NEW.id AND s.on_parent_failure = 'cancel')
              AND status = 'waiting';
        END IF;
        fails := NEW.status <> 'succeeded'
            AND (SELECT tolerated FROM workflow_steps WHERE job_id = NEW.id) = 0;
        UPDATE workflows SET steps_left = steps_left - 1, updated_at = NEW.updated_at,
               status = CASE WHEN status <> 'running' THEN status
                             WHEN fails THEN 'failed'
                             WHEN steps_left <= 1 THEN 'completed' ELSE status END,
               finished_at = CASE WHEN status = 'running' AND (fails OR steps_left <= 1)
                             THEN NEW.updated_at ELSE finished_at END
        WHERE id = NEW.workflow_id;
    ELSIF was_ended AND NOT ended THEN
        -- A manual retry: the children it cancelled wait again (unless another parent of
        -- theirs failed too), and the workflow runs again once nothing failed remains.
        UPDATE jobs SET status = 'waiting', error_code = NULL, error_message = NULL,
               finished_at = NULL, updated_at = NEW.updated_at
        WHERE status = 'cancelled' AND error_code = 'parent_failed'
          AND id IN (SELECT child_id FROM workflow_edges WHERE parent_id = NEW.id)
          AND NOT EXISTS (SELECT 1 FROM workflow_edges o JOIN jobs p ON p.id = o.parent_id
                          WHERE o.child_id = jobs.id AND o.parent_id <> NEW.id
                            AND p.status IN ('dead', 'cancelled'));
        UPDATE workflows SET steps_left = steps_left + 1, updated_at = NEW.updated_at,
               status = CASE WHEN status IN ('failed', 'completed') AND NOT EXISTS (
                                 SELECT 1 FROM jobs j JOIN workflow_steps s ON s.job_id = j.id
                                 WHERE j.workflow_id = NEW.workflow_id
                                   AND j.status IN ('dead', 'cancelled') AND s.tolerated = 0)
                             THEN 'running' ELSE status END,
               finished_at = CASE WHEN status IN ('failed', 'completed') AND NOT EXISTS (
                                 SELECT 1 FROM jobs j JOIN workflow_steps s ON s.job_id = j.id
                                 WHERE j.workflow_id = NEW.workflow_id
                                   AND j.status IN ('dead', 'cancelled') AND s.tolerated = 0)
                             THEN NULL ELSE finished_at END
        WHERE id = NEW.workflow_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_workflow_step AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.workflow_id IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION quire_workflow_step();
