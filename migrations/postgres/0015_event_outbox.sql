-- Events written once (issue 34). Triggers used to insert each event into `events` without a
-- `seq`, and the pump then numbered it with a second write (an UPDATE that touched every index
-- holding `seq`). Now triggers insert into `event_outbox`, a table with only its primary key,
-- and the pump moves committed rows into `events` with their `seq` in one statement: each
-- event is written to `events` once, whole, and the outbox row is only deleted. The ordering
-- guarantee is the same: `seq` is given to committed rows only, by one pump at a time (an
-- advisory lock), in id order.
CREATE TABLE event_outbox (
    id            BIGSERIAL PRIMARY KEY,
    type          TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    job_id        TEXT,
    batch_id      TEXT,
    kind          TEXT,
    status        TEXT,
    attempt       BIGINT,
    callback_url  TEXT,
    at            BIGINT NOT NULL,
    worker        TEXT,
    error_code    TEXT,
    error_message TEXT
);

-- Events not numbered yet move to the outbox, keeping their order.
INSERT INTO event_outbox (type, owner_id, job_id, batch_id, kind, status, attempt,
                          callback_url, at, worker, error_code, error_message)
SELECT type, owner_id, job_id, batch_id, kind, status, attempt, callback_url, at, worker,
       error_code, error_message
FROM events WHERE seq IS NULL ORDER BY id;
DELETE FROM events WHERE seq IS NULL;
DROP INDEX events_unnumbered;
ALTER TABLE events ALTER COLUMN seq SET NOT NULL;
-- Only batch events have a batch: the others need no entry.
DROP INDEX events_batch_seq;
CREATE INDEX events_batch_seq ON events (batch_id, seq) WHERE batch_id IS NOT NULL;

CREATE OR REPLACE FUNCTION quire_job_event() RETURNS trigger AS $$
BEGIN
    -- Deliveries are jobs too; their events would feed webhooks about webhooks.
    IF NEW.kind <> 'webhook' THEN
        INSERT INTO event_outbox (type, owner_id, job_id, batch_id, kind, status, attempt,
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
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION quire_revocation_event() RETURNS trigger AS $$
BEGIN
    INSERT INTO event_outbox (type, owner_id, job_id, batch_id, kind, status, at)
    VALUES ('certificate.revoked', NEW.owner_id, NEW.job_id, NEW.batch_id, 'certificate',
            'revoked', NEW.revoked_at);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
