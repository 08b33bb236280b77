-- Cache invalidation driven by the changes themselves (issue 36): every change to a row some
-- API process may hold in memory NOTIFYs the tags it touches on `quire_cache`. PostgreSQL
-- delivers a transaction's notifications once, at its commit, and never for a rollback, so no
-- code path can forget to invalidate and nothing is invalidated for a change that did not
-- happen. Tags: `key:<hash>` (an API key by its hash), `template:<id>`,
-- `template-name:<name>`, `templates` (the public list), `cert:<code>`, `job:<id>`,
-- `job:*` (finished jobs were deleted) and `registry` (a listed certificate changed).
CREATE FUNCTION quire_cache_notify(tags TEXT[]) RETURNS void AS $$
DECLARE
    tag TEXT;
BEGIN
    FOREACH tag IN ARRAY tags LOOP
        IF tag IS NOT NULL THEN
            PERFORM pg_notify('quire_cache', tag);
        END IF;
    END LOOP;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION quire_cache_api_keys() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM quire_cache_notify(ARRAY['key:' || NEW.key_hash]);
    ELSE
        PERFORM quire_cache_notify(ARRAY['key:' || OLD.key_hash]);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- An update that changes nothing (the callback secret's `COALESCE`, run per callback delivery)
-- notifies nothing.
CREATE TRIGGER api_keys_cache AFTER INSERT OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION quire_cache_api_keys();
CREATE TRIGGER api_keys_cache_update AFTER UPDATE ON api_keys
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION quire_cache_api_keys();

CREATE FUNCTION quire_cache_templates() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM quire_cache_notify(ARRAY['template:' || OLD.id, 'template-name:' || OLD.name]);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM quire_cache_notify(ARRAY['template:' || NEW.id, 'template-name:' || NEW.name]);
    END IF;
    PERFORM quire_cache_notify(ARRAY['templates']);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER templates_cache AFTER INSERT OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION quire_cache_templates();
CREATE TRIGGER templates_cache_update AFTER UPDATE ON templates
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION quire_cache_templates();

-- A certificate row changes by a revocation or when its render is kept (re-render); inserts
-- need nothing: a certificate is cached only once its job has finished.
CREATE FUNCTION quire_cache_certificates() RETURNS trigger AS $$
BEGIN
    PERFORM quire_cache_notify(ARRAY['cert:' || OLD.verification_code, 'registry']);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER certificates_cache AFTER DELETE ON certificates
    FOR EACH ROW EXECUTE FUNCTION quire_cache_certificates();
CREATE TRIGGER certificates_cache_update AFTER UPDATE ON certificates
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION quire_cache_certificates();

-- Jobs: a finished row changes only by a retry, a re-render or a deletion. Other status changes
-- (the hot path) match no WHEN clause and cost nothing but the clause. A certificate job that
-- finishes adds to the public registry but notifies nothing: that would cost a transaction per
-- certificate in every listening API process (PostgreSQL reads each notification in one), so
-- cached registry pages show new certificates within `cache.registry_ttl_secs` instead;
-- revocations and deletions, which must never show late, notify.
CREATE FUNCTION quire_cache_finished_job() RETURNS trigger AS $$
BEGIN
    PERFORM quire_cache_notify(ARRAY['job:' || OLD.id]);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_finished_cache AFTER UPDATE ON jobs
    FOR EACH ROW WHEN (OLD.status IN ('succeeded', 'dead', 'cancelled') AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION quire_cache_finished_job();

-- Deletions remove many finished rows at once (the cleanup): one notification per statement.
CREATE FUNCTION quire_cache_jobs_deleted() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone WHERE status IN ('succeeded', 'dead', 'cancelled')) THEN
        PERFORM quire_cache_notify(ARRAY['job:*', 'registry']);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_deleted_cache AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION quire_cache_jobs_deleted();
