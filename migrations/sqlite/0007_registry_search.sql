-- PostgreSQL gets a trigram index for the public registry's recipient search here. SQLite
-- (the embedded, single-host mode) has none to offer for infix LIKE; its registry is one
-- machine's, and the search's result size is capped. Kept so both backends share versions.
SELECT 1;
