-- PostgreSQL twin of migrations/sqlite/2026-12-03-030000_search_prefixes: nothing to do. That
-- migration adds prefix indexes to SQLite's FTS5 table; PostgreSQL's GIN index over the
-- weighted tsvector already answers prefix queries (`lapt:*`) from the index.
SELECT 1;
