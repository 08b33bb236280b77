-- Wake-ups instead of polling (issue 34) are PostgreSQL's LISTEN/NOTIFY (see its migration
-- 0020). The embedded deployment is one process: nothing to add here.
SELECT 1;
