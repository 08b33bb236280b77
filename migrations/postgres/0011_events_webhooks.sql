-- Events and webhooks (issue 17).
--
-- `events` is the outbox: a trigger writes one row for every status change of a job in the
-- transaction that changes it, so an event exists exactly when its transition committed.
-- `id` is the insert order, which on PostgreSQL is not the commit order (a transaction may
-- take id 7, commit after the one that took id 8). Readers therefore follow `seq`, given by
-- the scheduler's event pump to committed rows only, one pump at a time (an advisory lock):
-- a reader that has seen seq N can never later find a new row below N.
CREATE TABLE events (
    id        BIGSERIAL PRIMARY KEY,
    seq       BIGINT,
    type      TEXT NOT NULL,
    owner_id  TEXT NOT NULL,
    job_id    TEXT,
    batch_id  TEXT,
    kind      TEXT,
    status    TEXT,
    attempt   BIGINT,
    -- A terminal event of a job submitted with a `callback_url`.
    callback_url TEXT,
    at        BIGINT NOT NULL
);
CREATE SEQUENCE event_seq;
CREATE UNIQUE INDEX events_seq ON events (seq);
CREATE INDEX events_owner_seq ON events (owner_id, seq);
CREATE INDEX events_job_seq ON events (job_id, seq);
CREATE INDEX events_batch_seq ON events (batch_id, seq);
CREATE INDEX events_unnumbered ON events (id) WHERE seq IS NULL;
CREATE INDEX events_at ON events (at);

ALTER TABLE jobs ADD COLUMN callback_url TEXT;
ALTER TABLE batches ADD COLUMN callback_url TEXT;
ALTER TABLE batches ADD COLUMN completed_at BIGINT;

CREATE FUNCTION quire_job_event() RETURNS trigger AS $$
BEGIN
    -- Deliveries are jobs too; their events would feed webhooks about webhooks.
    IF NEW.kind <> 'webhook' THEN
        INSERT INTO events (type, owner_id, job_id, batch_id, kind, status, attempt,
                            callback_url, at)
        VALUES ('job.' || NEW.status, NEW.owner_id, NEW.id, NEW.batch_id, NEW.kind, NEW.status,
                NEW.attempt,
                CASE WHEN NEW.status IN ('succeeded', 'dead', 'cancelled')
                     THEN NEW.callback_url END,
                NEW.updated_at);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_events AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION quire_job_event();

CREATE FUNCTION quire_revocation_event() RETURNS trigger AS $$
BEGIN
    INSERT INTO events (type, owner_id, job_id, batch_id, kind, status, at)
    VALUES ('certificate.revoked', NEW.owner_id, NEW.job_id, NEW.batch_id, 'certificate',
            'revoked', NEW.revoked_at);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER certificates_revoked AFTER UPDATE OF revoked_at ON certificates
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION quire_revocation_event();

-- A key's webhook endpoints. The secrets sign deliveries, so they are stored as given.
CREATE TABLE webhooks (
    id                    TEXT PRIMARY KEY,
    owner_id              TEXT NOT NULL,
    url                   TEXT NOT NULL,
    -- JSON array of event types (`*` for all).
    events                TEXT NOT NULL,
    description           TEXT,
    secret                TEXT NOT NULL,
    -- After a rotation, the old secret still signs (a second signature) until then.
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    consecutive_failures  BIGINT NOT NULL DEFAULT 0,
    disabled_at           BIGINT,
    disabled_reason       TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (owner_id, created_at);

-- One row per (event, endpoint): the delivery log. `id` is the delivery job's id; its status
-- and attempts are that job's.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT,
    owner_id        TEXT NOT NULL,
    url             TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    response_status BIGINT,
    response_ms     BIGINT,
    response_body   TEXT,
    error           TEXT,
    last_attempt_at BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Where a key's notices go (an endpoint disabled), and the secret that signs its one-off
-- `callback_url` deliveries.
ALTER TABLE api_keys ADD COLUMN notify_email TEXT;
ALTER TABLE api_keys ADD COLUMN callback_secret TEXT;
