//! Webhooks for Emporium: tell fulfilment, ERP and analytics systems what happened, signed.
//!
//! - [`endpoint`]: the endpoints admins register (`url`, the `events` they want, a signing
//!   secret shown once), with URLs checked against server-side request forgery ([`guard`]).
//! - [`publish`]: called by the domain crates inside the transaction of the change that causes
//!   an event. It writes the event and one delivery per subscribed, enabled endpoint, so a
//!   rolled-back change sends nothing and a committed one survives crashes.
//! - [`delivery`]: the deliveries as stored and shown; claiming due ones with a lease (several
//!   server processes deliver each once); recording outcomes with exponential backoff; an
//!   endpoint failing for three days running is disabled and the admins are emailed.
//! - [`sign`]: the Standard Webhooks signature (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).
//! - [`worker`]: the background task that sends due deliveries over HTTPS (10 s timeout, no
//!   redirects, at most 1 KiB of each response kept), checking every resolved address.

pub mod delivery;
pub mod endpoint;
pub mod guard;
pub mod sign;
pub mod worker;

mod event;

pub use delivery::{Delivery, DeliveryStatus, RetryPolicy};
pub use endpoint::{Webhook, WebhookInput};
pub use event::{EventType, publish};
pub use worker::{WorkerConfig, WorkerHandle};

use emporium_core::ValidationErrors;

/// Why a webhook operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Input is invalid.
    #[error("invalid input: {0}")]
    Validation(#[from] ValidationErrors),
    /// No such endpoint or delivery.
    #[error("no such webhook or delivery")]
    NotFound,
    /// The endpoint is disabled, so a retry would not be sent.
    #[error("the webhook is disabled; enable it first")]
    Disabled,
    /// A database failure.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// Anything else that is not the caller's fault (no randomness for a secret).
    #[error("{0}")]
    Internal(String),
}

impl emporium_db::TransactionError for WebhookError {
    fn is_transient(&self) -> bool {
        matches!(self, WebhookError::Database(e) if emporium_db::TransactionError::is_transient(e))
    }
}

#[cfg(test)]
mod tests;
