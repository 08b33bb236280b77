-- Events written once (issue 34): triggers insert into `event_outbox`, and the pump moves
-- rows into `events` with their `seq` in one statement (see the PostgreSQL migration). On
-- SQLite (one writer at a time) an outbox row's id is already in commit order, so it becomes
-- the event's `seq`; AUTOINCREMENT never reuses an id, and the sequence starts above the
-- highest `seq` given so far.
CREATE TABLE event_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO sqlite_sequence (name, seq)
VALUES ('event_outbox', (SELECT COALESCE(MAX(id), 0) FROM events));

-- Events not numbered yet move to the outbox with their ids (above every numbered one).
INSERT INTO event_outbox (id, type, owner_id, job_id, batch_id, kind, status, attempt,
                          callback_url, at, worker, error_code, error_message)
SELECT id, type, owner_id, job_id, batch_id, kind, status, attempt, callback_url, at, worker,
       error_code, error_message
FROM events WHERE seq IS NULL ORDER BY id;
DELETE FROM events WHERE seq IS NULL;
DROP INDEX events_unnumbered;
DROP INDEX events_batch_seq;
CREATE INDEX events_batch_seq ON events (batch_id, seq) WHERE batch_id IS NOT NULL;

DROP TRIGGER jobs_events;
CREATE TRIGGER jobs_events AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN OLD.status IS NOT NEW.status AND NEW.kind <> 'webhook'
BEGIN
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
END;

DROP TRIGGER certificates_revoked;
CREATE TRIGGER certificates_revoked AFTER UPDATE OF revoked_at ON certificates
    FOR EACH ROW WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO event_outbox (type, owner_id, job_id, batch_id, kind, status, at)
    VALUES ('certificate.revoked', NEW.owner_id, NEW.job_id, NEW.batch_id, 'certificate',
            'revoked', NEW.revoked_at);
END;
