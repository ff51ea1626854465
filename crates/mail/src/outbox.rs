//! The durable outbox: messages written in the caller's transaction, delivered later.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::Email;
use emporium_db::schema::outbox;
use emporium_db::{Conn, write_transaction};

use crate::templates::Content;

/// What a message is for. Stored with it, for the log and for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Confirm the email address of a new account.
    Verification,
    /// The address is confirmed.
    Welcome,
    /// A password-reset link.
    PasswordReset,
    /// Notice that the password changed.
    PasswordChanged,
    /// An order was placed.
    OrderConfirmation,
    /// An order was handed to the carrier (with tracking, when given).
    OrderShipped,
    /// An admin cancelled an order.
    OrderCancelled,
    /// A webhook endpoint was disabled after failing for days (to every admin).
    WebhookDisabled,
}

impl MessageKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Verification => "verification",
            MessageKind::Welcome => "welcome",
            MessageKind::PasswordReset => "password_reset",
            MessageKind::PasswordChanged => "password_changed",
            MessageKind::OrderConfirmation => "order_confirmation",
            MessageKind::OrderShipped => "order_shipped",
            MessageKind::OrderCancelled => "order_cancelled",
            MessageKind::WebhookDisabled => "webhook_disabled",
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// What it is for.
    pub kind: MessageKind,
    /// The recipient's address.
    pub to: Email,
    /// The recipient's name, for the `To:` header.
    pub to_name: String,
    /// Subject and bodies.
    pub content: Content,
}

/// The id of a queued message.
pub type OutboxId = i32;

/// Delivery state of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its (next) attempt.
    Pending,
    /// Accepted by the SMTP server (or written to the log).
    Sent,
    /// Gave up after the last allowed attempt.
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            _ => Status::Pending,
        }
    }
}

/// A queued message as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(emporium_db::MultiBackend))]
pub struct OutboxEntry {
    /// Its id.
    pub id: OutboxId,
    /// What it is for (see [`MessageKind::as_str`]).
    pub kind: String,
    /// The recipient's address.
    pub to_email: String,
    /// The recipient's name.
    pub to_name: String,
    /// The subject.
    pub subject: String,
    /// The plain-text part (blank once sent or failed).
    pub text_body: String,
    /// The HTML part (blank once sent or failed).
    pub html_body: String,
    status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due (UTC).
    pub next_attempt_at: NaiveDateTime,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was queued (UTC).
    pub created_at: NaiveDateTime,
    /// When it was sent (UTC).
    pub sent_at: Option<NaiveDateTime>,
}

impl OutboxEntry {
    /// Its delivery state.
    pub fn status(&self) -> Status {
        Status::parse(&self.status)
    }
}

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewEntry<'a> {
    kind: &'a str,
    to_email: &'a str,
    to_name: &'a str,
    subject: &'a str,
    text_body: &'a str,
    html_body: &'a str,
    status: &'a str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// Queues `mail` for delivery as soon as possible.
///
/// Call it inside the transaction of the change the mail belongs to: if that transaction
/// rolls back, the mail was never queued; once it commits, the mail survives crashes and SMTP
/// outages until it is delivered.
pub fn enqueue(
    conn: &mut Conn,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
) -> Result<OutboxId, diesel::result::Error> {
    let now = now.naive_utc();
    diesel::insert_into(outbox::table)
        .values(NewEntry {
            kind: mail.kind.as_str(),
            to_email: mail.to.as_str(),
            to_name: &mail.to_name,
            subject: &mail.content.subject,
            text_body: &mail.content.text,
            html_body: &mail.content.html,
            status: Status::Pending.as_str(),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        })
        .returning(outbox::id)
        .get_result(conn)
}

/// Takes up to `limit` pending messages that are due at `now`, oldest first, and leases them
/// for `lease`: their next attempt moves to `now + lease`, so if the process dies while
/// sending, they are tried again after the lease (delivery is at least once).
///
/// Each returned entry's `next_attempt_at` is the lease it holds; pass it to [`renew_lease`]
/// right before sending. Several processes may claim at once (several servers on one
/// PostgreSQL database): the claim is one serializable transaction, so each message goes to
/// one of them.
pub fn claim_due(
    conn: &mut Conn,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<OutboxEntry>, diesel::result::Error> {
    let now_naive = now.naive_utc();
    let until = emporium_core::time::to_micros(now + lease);
    write_transaction(conn, |conn| {
        let mut due: Vec<OutboxEntry> = outbox::table
            .filter(outbox::status.eq(Status::Pending.as_str()))
            .filter(outbox::next_attempt_at.le(now_naive))
            .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
            .limit(limit)
            .select(OutboxEntry::as_select())
            .load(conn)?;
        if !due.is_empty() {
            let ids: Vec<OutboxId> = due.iter().map(|e| e.id).collect();
            diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                .set(outbox::next_attempt_at.eq(until))
                .execute(conn)?;
            for entry in &mut due {
                entry.next_attempt_at = until;
            }
        }
        Ok(due)
    })
}

/// Confirms, right before a send, that the lease taken by [`claim_due`] (`held`, the entry's
/// `next_attempt_at`) is still this worker's, and extends it to `now + lease`. `None` when it
/// is not: the lease ran out while earlier messages of the batch were sent and another worker
/// claimed the message, or it was sent meanwhile. Skipping then is what keeps a slow batch
/// from sending a message twice.
pub fn renew_lease(
    conn: &mut Conn,
    id: OutboxId,
    held: NaiveDateTime,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<NaiveDateTime>, diesel::result::Error> {
    let until = emporium_core::time::to_micros(now + lease);
    let renewed = diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.eq(Status::Pending.as_str()))
            .filter(outbox::next_attempt_at.eq(held)),
    )
    .set(outbox::next_attempt_at.eq(until))
    .execute(conn)?;
    Ok((renewed == 1).then_some(until))
}

/// Records a successful delivery and blanks the bodies (they can hold single-use links).
pub fn mark_sent(
    conn: &mut Conn,
    id: OutboxId,
    now: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(Status::Sent.as_str()),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::sent_at.eq(Some(now.naive_utc())),
            outbox::last_error.eq(None::<String>),
            outbox::text_body.eq(""),
            outbox::html_body.eq(""),
        ))
        .execute(conn)?;
    Ok(())
}

/// When failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further failure.
    pub base_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before attempt `attempts + 1`, after `attempts` failures (≥ 1).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(3600),
        }
    }
}

/// What became of a message after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// It will be tried again at this time.
    RetryAt(DateTime<Utc>),
    /// That was the last attempt; it is marked failed.
    GaveUp,
}

/// Records a failed attempt: schedules the next one with exponential backoff, or marks the
/// message failed (and blanks its bodies) after the last allowed attempt.
pub fn mark_failed_attempt(
    conn: &mut Conn,
    id: OutboxId,
    error: &str,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
) -> Result<AfterFailure, diesel::result::Error> {
    write_transaction(conn, |conn| {
        let attempts: i32 = outbox::table
            .find(id)
            .select(outbox::attempts)
            .first(conn)?;
        let attempts = u32::try_from(attempts).unwrap_or(0) + 1;
        let error: String = error.chars().take(1000).collect();
        if attempts >= policy.max_attempts {
            diesel::update(outbox::table.find(id))
                .set((
                    outbox::status.eq(Status::Failed.as_str()),
                    outbox::attempts.eq(attempts as i32),
                    outbox::last_error.eq(Some(error)),
                    outbox::text_body.eq(""),
                    outbox::html_body.eq(""),
                ))
                .execute(conn)?;
            return Ok(AfterFailure::GaveUp);
        }
        let next = now + policy.delay_after(attempts);
        diesel::update(outbox::table.find(id))
            .set((
                outbox::attempts.eq(attempts as i32),
                outbox::last_error.eq(Some(error)),
                outbox::next_attempt_at.eq(next.naive_utc()),
            ))
            .execute(conn)?;
        Ok(AfterFailure::RetryAt(next))
    })
}

/// Messages by delivery state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting for delivery.
    pub pending: i64,
    /// Delivered.
    pub sent: i64,
    /// Given up.
    pub failed: i64,
    /// Not queued because the address reached its limit, per kind (all servers).
    pub suppressed: Vec<(String, i64)>,
}

/// Counts messages by delivery state.
pub fn counts(conn: &mut Conn) -> Result<OutboxCounts, diesel::result::Error> {
    let rows: Vec<(String, i64)> = outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut counts = OutboxCounts::default();
    for (status, n) in rows {
        match Status::parse(&status) {
            Status::Pending => counts.pending += n,
            Status::Sent => counts.sent += n,
            Status::Failed => counts.failed += n,
        }
    }
    counts.suppressed = crate::limits::suppressed(conn)?;
    Ok(counts)
}

/// Every message, oldest first (for tests and operators).
pub fn all(conn: &mut Conn) -> Result<Vec<OutboxEntry>, diesel::result::Error> {
    outbox::table
        .order(outbox::id.asc())
        .select(OutboxEntry::as_select())
        .load(conn)
}
