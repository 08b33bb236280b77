-- Workflow events (issue 37): `workflow.completed` and `workflow.failed` are written into the
-- outbox by a trigger in the transaction that changes the workflow's status (the one that
-- ended its last step, or its failing step), like a job's events; the pump numbers them and
-- creates their webhook deliveries.
ALTER TABLE event_outbox ADD COLUMN workflow_id TEXT;
ALTER TABLE events ADD COLUMN workflow_id TEXT;
CREATE INDEX events_workflow_seq ON events (workflow_id, seq) WHERE workflow_id IS NOT NULL;

-- A step's own events name its workflow too, so `GET /v1/events?workflow=` (and the
-- dashboard's live graph) follow every step of one workflow.
CREATE OR REPLACE FUNCTION quire_job_event() RETURNS trigger AS $$
BEGIN
    -- Deliveries are jobs too; their events would feed webhooks about webhooks.
    IF NEW.kind <> 'webhook' THEN
        INSERT INTO event_outbox (type, owner_id, job_id, batch_id, workflow_id, kind, status,
                                  attempt, callback_url, at, worker, error_code, error_message)
        VALUES ('job.' || NEW.status, NEW.owner_id, NEW.id, NEW.batch_id, NEW.workflow_id,
                NEW.kind, NEW.status, NEW.attempt,
                CASE WHEN NEW.status IN ('succeeded', 'dead', 'cancelled')
                     THEN NEW.callback_url END,
                NEW.updated_at,
                -- A released job's worker is cleared in the same update.
                COALESCE(NEW.worker, OLD.worker),
                CASE WHEN NEW.status IN ('failed', 'dead', 'cancelled') THEN NEW.error_code END,
                CASE WHEN NEW.status IN ('failed', 'dead', 'cancelled') THEN NEW.error_message END);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION quire_workflow_event() RETURNS trigger AS $$
BEGIN
    INSERT INTO event_outbox (type, owner_id, workflow_id, status, callback_url, at)
    VALUES ('workflow.' || NEW.status, NEW.owner_id, NEW.id, NEW.status, NEW.callback_url,
            NEW.updated_at);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER workflows_events AFTER UPDATE OF status ON workflows
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NEW.status IN ('completed', 'failed'))
    EXECUTE FUNCTION quire_workflow_event();
