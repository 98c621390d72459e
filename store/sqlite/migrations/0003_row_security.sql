-- PostgreSQL's migration 0003 turns on row-level security. SQLite has no
-- such feature: one process owns the file and the store's tenant
-- predicate is the wall. The version exists so both stores report the
-- same schema version.
SELECT 1;
