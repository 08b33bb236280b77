-- The public registry's recipient search (`LIKE '%…%'` on recipient_key) needs no key, so it
-- must not scan the table: a trigram index serves infix matches. pg_trgm ships with
-- PostgreSQL (contrib); where the role may not create extensions, the search stays a scan,
-- still bounded by the public search's statement timeout.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX IF NOT EXISTS certificates_recipient_trgm
        ON certificates USING gin (recipient_key gin_trgm_ops);
EXCEPTION
    WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE NOTICE 'pg_trgm is not available: recipient search will scan';
END
$$;
