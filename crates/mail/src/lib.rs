//! Mail for Emporium: templates, a durable outbox and delivery.
//!
//! A request that causes an email renders it with [`templates`] and writes it with
//! [`outbox::enqueue`] inside the same transaction as the change it belongs to, so a
//! rolled-back change sends nothing and a committed one is never lost. The [`worker`] drains
//! the outbox in the background through a [`Mailer`] (the log, or SMTP: Mailpit, Gmail, any
//! server), retrying failures with exponential backoff, so no request ever waits for SMTP.

pub mod limits;
pub mod outbox;
pub mod templates;
pub mod transport;
pub mod worker;

pub use limits::MailLimits;
pub use outbox::{MessageKind, OutgoingMail, enqueue};
pub use templates::Content;
pub use transport::{MailError, Mailer};
pub use worker::{WorkerConfig, WorkerHandle};

#[cfg(test)]
mod strict_smtp;
#[cfg(test)]
mod tests;
