-- Wake-ups instead of polling (issue 34): the scheduler's event pump and promoter LISTEN, and
-- these triggers NOTIFY when there is something for them, so an idle deployment runs no
-- queries. A notification is only a wake-up: the loops read the tables (and still look now
-- and then, in case a listening connection broke). Notifications of one transaction are
-- delivered once, at its commit.
CREATE FUNCTION quire_notify_outbox() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('quire_outbox', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER event_outbox_wake AFTER INSERT ON event_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION quire_notify_outbox();

CREATE FUNCTION quire_notify_scheduled() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('quire_scheduled', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_scheduled_wake AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.status = 'scheduled') EXECUTE FUNCTION quire_notify_scheduled();
