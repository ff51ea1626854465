-- PostgreSQL twin of migrations/sqlite/2026-11-26-030000_create_outbox: the same table.
-- The durable outbox: a request that causes an email writes it here in the same transaction
-- as the change it belongs to; the mail worker delivers it later, with retries.
CREATE TABLE outbox (
    id SERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    to_email TEXT NOT NULL,
    to_name TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- The rendered bodies. They can hold single-use links, so they are blanked once the
    -- message is sent or has failed for good.
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);

-- The worker's query: pending messages that are due, oldest first.
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);
