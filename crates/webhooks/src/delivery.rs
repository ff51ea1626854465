//! Deliveries: one per (event, endpoint), attempted until the endpoint answers 2xx or the
//! attempts run out.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::{DeliveryId, Email, EventId, Page, PageRequest, WebhookId};
use emporium_db::schema::{users, webhook_deliveries, webhook_endpoints, webhook_events};
use emporium_db::{Conn, write_transaction};
use emporium_mail::{MessageKind, OutgoingMail, templates};
use serde::Serialize;

pub use emporium_mail::outbox::RetryPolicy;

use crate::WebhookError;
use crate::event::EventType;

/// An endpoint whose deliveries have all failed for this long is disabled.
pub const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(3);
/// The most of a response body that is kept.
pub const MAX_RESPONSE_BYTES: usize = 1024;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every allowed attempt failed.
    Failed,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> DeliveryStatus {
        match text {
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The event (the `webhook-id` header is `evt_<event_id>`).
    pub event_id: EventId,
    /// The event's type.
    pub event: EventType,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// The HTTP status of the last attempt, if the endpoint answered.
    pub last_response_code: Option<i32>,
    /// The first 1 KiB of the last answer's body.
    pub last_response_body: Option<String>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// When the next attempt is due (null unless pending).
    #[serde(serialize_with = "emporium_core::time::rfc3339_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the event happened.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

type DeliveryColumns = (
    webhook_deliveries::id,
    webhook_deliveries::event_id,
    webhook_events::event_type,
    webhook_deliveries::status,
    webhook_deliveries::attempts,
    webhook_deliveries::last_response_code,
    webhook_deliveries::last_response_body,
    webhook_deliveries::last_error,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::created_at,
    webhook_deliveries::updated_at,
);

const DELIVERY_COLUMNS: DeliveryColumns = (
    webhook_deliveries::id,
    webhook_deliveries::event_id,
    webhook_events::event_type,
    webhook_deliveries::status,
    webhook_deliveries::attempts,
    webhook_deliveries::last_response_code,
    webhook_deliveries::last_response_body,
    webhook_deliveries::last_error,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::created_at,
    webhook_deliveries::updated_at,
);

type DeliveryTuple = (
    DeliveryId,
    EventId,
    String,
    String,
    i32,
    Option<i32>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    NaiveDateTime,
);

fn to_delivery(row: DeliveryTuple) -> Delivery {
    let (id, event_id, event, status, attempts, code, body, error, next, created, updated) = row;
    let status = DeliveryStatus::parse(&status);
    Delivery {
        id,
        event_id,
        event: EventType::parse(&event).unwrap_or(EventType::OrderPaid),
        status,
        attempts,
        last_response_code: code,
        last_response_body: body,
        last_error: error,
        next_attempt_at: (status == DeliveryStatus::Pending)
            .then(|| emporium_core::time::from_db(next)),
        created_at: emporium_core::time::from_db(created),
        updated_at: emporium_core::time::from_db(updated),
    }
}

/// One page of the deliveries to endpoint `id`, newest first.
pub fn list(
    conn: &mut Conn,
    id: WebhookId,
    page: PageRequest,
) -> Result<Page<Delivery>, WebhookError> {
    crate::endpoint::row(conn, id)?;
    let total: i64 = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(id))
        .count()
        .get_result(conn)?;
    let rows: Vec<DeliveryTuple> = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::endpoint_id.eq(id))
        .order(webhook_deliveries::id.desc())
        .limit(page.limit())
        .offset(page.offset())
        .select(DELIVERY_COLUMNS)
        .load(conn)?;
    Ok(Page::new(
        rows.into_iter().map(to_delivery).collect(),
        page,
        total,
    ))
}

/// Delivery `delivery` of endpoint `endpoint`.
pub fn get(
    conn: &mut Conn,
    endpoint: WebhookId,
    delivery: DeliveryId,
) -> Result<Delivery, WebhookError> {
    webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::id.eq(delivery))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .select(DELIVERY_COLUMNS)
        .first(conn)
        .optional()?
        .map(to_delivery)
        .ok_or(WebhookError::NotFound)
}

/// Queues delivery `delivery` of endpoint `endpoint` for an attempt now, whatever its state
/// (a succeeded one is sent again, with the same `webhook-id` so a receiver can tell). A failed
/// delivery gets one more attempt (and the backoff again if that fails and attempts remain).
/// Refused with `Disabled` while the endpoint is disabled.
pub fn retry(
    conn: &mut Conn,
    endpoint: WebhookId,
    delivery: DeliveryId,
    now: DateTime<Utc>,
) -> Result<Delivery, WebhookError> {
    write_transaction(conn, |conn| {
        let enabled: bool = webhook_endpoints::table
            .find(endpoint)
            .select(webhook_endpoints::enabled)
            .first(conn)
            .optional()?
            .ok_or(WebhookError::NotFound)?;
        get(conn, endpoint, delivery)?;
        if !enabled {
            return Err(WebhookError::Disabled);
        }
        let at = now.naive_utc();
        diesel::update(webhook_deliveries::table.find(delivery))
            .set((
                webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                webhook_deliveries::next_attempt_at.eq(at),
                webhook_deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
        get(conn, endpoint, delivery)
    })
}

/// A delivery taken by a worker: everything needed to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery.
    pub id: DeliveryId,
    /// Its endpoint.
    pub endpoint_id: WebhookId,
    /// The event (its id names the message: `evt_<id>`).
    pub event_id: EventId,
    /// The event type.
    pub event_type: String,
    /// The JSON body to send.
    pub body: String,
    /// Where to send it.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: String,
    /// Attempts made before this one.
    pub attempts: i32,
    /// The lease this worker holds (pass it to [`renew_lease`]).
    pub lease: NaiveDateTime,
}

impl Claimed {
    /// The `webhook-id` header: the same for every attempt of one event.
    pub fn message_id(&self) -> String {
        format!("evt_{}", self.event_id)
    }
}

/// Takes up to `limit` pending deliveries of enabled endpoints that are due at `now`, oldest
/// first, and leases them for `lease` (their next attempt moves to `now + lease`, so if the
/// process dies while sending, another attempt follows the lease). Several processes may
/// claim at once: the claim is one write transaction, so each delivery goes to one of them.
pub fn claim_due(
    conn: &mut Conn,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Claimed>, diesel::result::Error> {
    let due_at = now.naive_utc();
    let until = emporium_core::time::to_micros(now + lease);
    // A cheap read first: an idle shop does not take the write lock every poll.
    let any_due: Option<DeliveryId> = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::next_attempt_at.le(due_at))
        .select(webhook_deliveries::id)
        .first(conn)
        .optional()?;
    if any_due.is_none() {
        return Ok(Vec::new());
    }
    /// Delivery, endpoint, event, event type, body, URL, secret, attempts.
    type ClaimRow = (
        DeliveryId,
        WebhookId,
        EventId,
        String,
        String,
        String,
        String,
        i32,
    );
    write_transaction(conn, |conn| {
        let rows: Vec<ClaimRow> = webhook_deliveries::table
            .inner_join(webhook_endpoints::table)
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_deliveries::next_attempt_at.le(due_at))
            .filter(webhook_endpoints::enabled.eq(true))
            .order((
                webhook_deliveries::next_attempt_at.asc(),
                webhook_deliveries::id.asc(),
            ))
            .limit(limit)
            .select((
                webhook_deliveries::id,
                webhook_deliveries::endpoint_id,
                webhook_deliveries::event_id,
                webhook_events::event_type,
                webhook_events::body,
                webhook_endpoints::url,
                webhook_endpoints::secret,
                webhook_deliveries::attempts,
            ))
            .load(conn)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<DeliveryId> = rows.iter().map(|r| r.0).collect();
        diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
            .set(webhook_deliveries::next_attempt_at.eq(until))
            .execute(conn)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, endpoint_id, event_id, event_type, body, url, secret, attempts)| Claimed {
                    id,
                    endpoint_id,
                    event_id,
                    event_type,
                    body,
                    url,
                    secret,
                    attempts,
                    lease: until,
                },
            )
            .collect())
    })
}

/// Confirms, right before sending, that the lease `held` is still this worker's and extends
/// it; `None` when another worker took the delivery over (or it was settled meanwhile).
pub fn renew_lease(
    conn: &mut Conn,
    id: DeliveryId,
    held: NaiveDateTime,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<NaiveDateTime>, diesel::result::Error> {
    let until = emporium_core::time::to_micros(now + lease);
    let renewed = diesel::update(
        webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_deliveries::next_attempt_at.eq(held)),
    )
    .set(webhook_deliveries::next_attempt_at.eq(until))
    .execute(conn)?;
    Ok((renewed == 1).then_some(until))
}

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The HTTP status, if the endpoint answered.
    pub status: Option<u16>,
    /// The start of the answer's body (at most 1 KiB is kept).
    pub body: Option<String>,
    /// Why it failed (connection, timeout, refusal, non-2xx); `None` on success.
    pub error: Option<String>,
}

impl Attempt {
    /// Whether the endpoint took the event (a 2xx answer).
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Delivered.
    Succeeded,
    /// It will be tried again at this time.
    RetryAt(DateTime<Utc>),
    /// That was the last attempt; it is marked failed.
    GaveUp,
    /// The endpoint had failed for [`DISABLE_AFTER`]: it is now disabled and the admins are
    /// emailed. The delivery stays pending for when it is enabled again.
    EndpointDisabled,
}

fn truncate_bytes(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Records the outcome of an attempt on delivery `id`: success settles it and ends the
/// endpoint's failure streak; a failure schedules the next attempt with exponential backoff,
/// or marks the delivery failed after the last allowed attempt. A failure at least
/// [`DISABLE_AFTER`] into an unbroken run of failures disables the endpoint and queues an email
/// to every active admin (`shop_name` signs it).
pub fn record(
    conn: &mut Conn,
    id: DeliveryId,
    attempt: &Attempt,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    shop_name: &str,
) -> Result<AfterAttempt, diesel::result::Error> {
    let at = now.naive_utc();
    let body = attempt
        .body
        .as_deref()
        .map(|b| truncate_bytes(b, MAX_RESPONSE_BYTES));
    let code = attempt.status.map(i32::from);
    write_transaction(conn, |conn| {
        let (endpoint, attempts): (WebhookId, i32) = webhook_deliveries::table
            .find(id)
            .select((
                webhook_deliveries::endpoint_id,
                webhook_deliveries::attempts,
            ))
            .first(conn)?;
        let attempts = attempts.saturating_add(1);
        if attempt.succeeded() {
            diesel::update(webhook_deliveries::table.find(id))
                .set((
                    webhook_deliveries::status.eq(DeliveryStatus::Succeeded.as_str()),
                    webhook_deliveries::attempts.eq(attempts),
                    webhook_deliveries::last_response_code.eq(code),
                    webhook_deliveries::last_response_body.eq(&body),
                    webhook_deliveries::last_error.eq(None::<String>),
                    webhook_deliveries::updated_at.eq(at),
                ))
                .execute(conn)?;
            diesel::update(webhook_endpoints::table.find(endpoint))
                .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
                .execute(conn)?;
            return Ok(AfterAttempt::Succeeded);
        }
        let error: String = attempt
            .error
            .as_deref()
            .unwrap_or("the endpoint did not answer 2xx")
            .chars()
            .take(1000)
            .collect();
        let gave_up = u32::try_from(attempts).unwrap_or(u32::MAX) >= policy.max_attempts;
        let next = now + policy.delay_after(u32::try_from(attempts).unwrap_or(1));
        diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::status.eq(if gave_up {
                    DeliveryStatus::Failed.as_str()
                } else {
                    DeliveryStatus::Pending.as_str()
                }),
                webhook_deliveries::attempts.eq(attempts),
                webhook_deliveries::last_response_code.eq(code),
                webhook_deliveries::last_response_body.eq(&body),
                webhook_deliveries::last_error.eq(Some(&error)),
                webhook_deliveries::next_attempt_at.eq(next.naive_utc()),
                webhook_deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
        let (url, failing_since, enabled): (String, Option<NaiveDateTime>, bool) =
            webhook_endpoints::table
                .find(endpoint)
                .select((
                    webhook_endpoints::url,
                    webhook_endpoints::failing_since,
                    webhook_endpoints::enabled,
                ))
                .first(conn)?;
        match failing_since {
            None => {
                diesel::update(webhook_endpoints::table.find(endpoint))
                    .set(webhook_endpoints::failing_since.eq(Some(at)))
                    .execute(conn)?;
            }
            Some(since) if enabled && at - since >= DISABLE_AFTER => {
                diesel::update(webhook_endpoints::table.find(endpoint))
                    .set((
                        webhook_endpoints::enabled.eq(false),
                        webhook_endpoints::updated_at.eq(at),
                    ))
                    .execute(conn)?;
                notify_admins(conn, endpoint, &url, now, shop_name)?;
                return Ok(AfterAttempt::EndpointDisabled);
            }
            Some(_) => {}
        }
        Ok(if gave_up {
            AfterAttempt::GaveUp
        } else {
            AfterAttempt::RetryAt(next)
        })
    })
}

fn notify_admins(
    conn: &mut Conn,
    endpoint: WebhookId,
    url: &str,
    now: DateTime<Utc>,
    shop_name: &str,
) -> Result<(), diesel::result::Error> {
    let admins: Vec<(Email, String)> = users::table
        .filter(users::role.eq("admin"))
        .filter(users::is_active.eq(true))
        .order(users::id.asc())
        .select((users::email, users::name))
        .load(conn)?;
    for (email, name) in admins {
        let content = templates::webhook_disabled(shop_name, &name, url, endpoint.get());
        emporium_mail::enqueue(
            conn,
            &OutgoingMail {
                kind: MessageKind::WebhookDisabled,
                to: email,
                to_name: name,
                content,
            },
            now,
        )?;
    }
    Ok(())
}
