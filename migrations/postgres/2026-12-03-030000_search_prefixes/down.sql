-- PostgreSQL twin of migrations/sqlite/2026-12-03-030000_search_prefixes (down): nothing to do.
SELECT 1;
