-- PostgreSQL twin of migrations/sqlite/2026-12-03-010000_mail_limits: the same objects.
-- Outbound mail limits (a mail-bombing guard), shared by every server through the database.

-- What each address was sent, per kind, in the last 15 minutes and 24 hours.
CREATE INDEX outbox_recipient ON outbox (to_email, kind, created_at);

-- Requests that make the shop send mail (signup, resend-verification, forgot-password), per
-- client address, for the per-address request limit. Rows older than the window are pruned.
CREATE TABLE mail_requests (
    id SERIAL PRIMARY KEY,
    client TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);
CREATE INDEX mail_requests_client ON mail_requests (client, requested_at);
CREATE INDEX mail_requests_age ON mail_requests (requested_at);

-- How many mails of each kind were not sent because their address had reached a limit
-- (one row per kind; GET /metrics reports them).
CREATE TABLE mail_suppressions (
    kind TEXT PRIMARY KEY,
    suppressed BIGINT NOT NULL
);
INSERT INTO mail_suppressions (kind, suppressed) VALUES ('verification', 0), ('password_reset', 0);
