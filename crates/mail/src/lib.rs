//! Mail for Emporium — not filled yet.
//!
//! This crate will own the message templates (plain text and HTML), the durable outbox that
//! requests write to inside their own transaction, and the background worker that delivers
//! it over SMTP (Mailpit, Gmail, any server) or to the log, with retries and backoff.
