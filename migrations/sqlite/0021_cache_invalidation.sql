-- Cache invalidation driven by the changes themselves (issue 36; see PostgreSQL's 0021 for the
-- tags). SQLite has no NOTIFY: triggers append the tags to this log in the writing
-- transaction, and each process reads the rows after the last it saw. SQLite runs one write
-- transaction at a time, so ids grow in commit order and a reader never skips a row. The
-- embedded deployment is one process; the log also covers the CLI writing the same file.
CREATE TABLE cache_invalidations (
    id  INTEGER PRIMARY KEY AUTOINCREMENT,
    tag TEXT NOT NULL,
    at  BIGINT NOT NULL
);

CREATE TRIGGER api_keys_cache_insert AFTER INSERT ON api_keys BEGIN
    INSERT INTO cache_invalidations (tag, at)
        VALUES ('key:' || NEW.key_hash, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER api_keys_cache_update AFTER UPDATE ON api_keys BEGIN
    INSERT INTO cache_invalidations (tag, at)
        VALUES ('key:' || OLD.key_hash, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER api_keys_cache_delete AFTER DELETE ON api_keys BEGIN
    INSERT INTO cache_invalidations (tag, at)
        VALUES ('key:' || OLD.key_hash, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER templates_cache_insert AFTER INSERT ON templates BEGIN
    INSERT INTO cache_invalidations (tag, at) VALUES
        ('template:' || NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('template-name:' || NEW.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('templates', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER templates_cache_update AFTER UPDATE ON templates BEGIN
    INSERT INTO cache_invalidations (tag, at) VALUES
        ('template:' || OLD.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('template-name:' || OLD.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('template-name:' || NEW.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('templates', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER templates_cache_delete AFTER DELETE ON templates BEGIN
    INSERT INTO cache_invalidations (tag, at) VALUES
        ('template:' || OLD.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('template-name:' || OLD.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('templates', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER certificates_cache_update AFTER UPDATE ON certificates BEGIN
    INSERT INTO cache_invalidations (tag, at) VALUES
        ('cert:' || OLD.verification_code, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('registry', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER certificates_cache_delete AFTER DELETE ON certificates BEGIN
    INSERT INTO cache_invalidations (tag, at) VALUES
        ('cert:' || OLD.verification_code, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('registry', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER jobs_finished_cache AFTER UPDATE ON jobs
    WHEN OLD.status IN ('succeeded', 'dead', 'cancelled') BEGIN
    INSERT INTO cache_invalidations (tag, at)
        VALUES ('job:' || OLD.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER jobs_deleted_cache AFTER DELETE ON jobs
    WHEN OLD.status IN ('succeeded', 'dead', 'cancelled') BEGIN
    INSERT INTO cache_invalidations (tag, at) VALUES
        ('job:' || OLD.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
        ('registry', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
