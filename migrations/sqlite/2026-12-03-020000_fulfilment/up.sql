-- Fulfilment: an address book per account, shipping and tracking on orders, and webhooks.

-- Each account's saved shipping addresses (at most 20, checked by the application).
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    line1 TEXT NOT NULL,
    line2 TEXT,
    city TEXT NOT NULL,
    region TEXT,
    postal_code TEXT NOT NULL,
    country TEXT NOT NULL CHECK (length(country) = 2),
    phone TEXT,
    is_default BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id, created_at, id);
-- At most one default address per account.
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default;

-- An order keeps a copy of where it goes (JSON, or NULL when none was given) and, once
-- shipped, how to follow it.
ALTER TABLE orders ADD COLUMN shipping_address TEXT;
ALTER TABLE orders ADD COLUMN carrier TEXT;
ALTER TABLE orders ADD COLUMN tracking_number TEXT;
ALTER TABLE orders ADD COLUMN tracking_url TEXT;

-- Where events are sent. `events` is a comma-separated list of event types; `secret` is
-- the Standard Webhooks signing secret (whsec_...). `failing_since` marks the first failed
-- delivery of an unbroken run of failures (NULL after a success).
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    secret TEXT NOT NULL,
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row per event, written in the transaction of the change that caused it. `body` is the
-- exact JSON that is signed and sent: {type, timestamp, data}.
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- One row per (event, endpoint subscribed when it happened). While pending,
-- `next_attempt_at` is when it is due, or the lease of the worker sending it.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY NOT NULL,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_response_code INTEGER,
    last_response_body TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
