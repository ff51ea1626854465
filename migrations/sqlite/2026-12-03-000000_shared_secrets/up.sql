-- Secrets every server process of one shop must share, generated once. On PostgreSQL, with
-- no JWT_SECRET set, the token signing key lives here ('jwt'), so every server behind a
-- balancer signs and checks with the same key. (SQLite keeps it in a file beside the
-- database, as before; the table exists there too so both schemas stay the same.)
CREATE TABLE shared_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
