//! Event types and publishing an event in the caller's transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use emporium_core::EventId;
use emporium_db::Conn;
use emporium_db::schema::{webhook_deliveries, webhook_endpoints, webhook_events};
use serde::{Deserialize, Serialize};

use crate::delivery::DeliveryStatus;

/// What happened. The names are part of the API (`order.paid` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    /// An order was placed and paid (checkout).
    #[serde(rename = "order.paid")]
    OrderPaid,
    /// An order was handed to the carrier.
    #[serde(rename = "order.shipped")]
    OrderShipped,
    /// An order arrived.
    #[serde(rename = "order.delivered")]
    OrderDelivered,
    /// An order was cancelled (by its buyer or an admin).
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// A product's stock reached zero.
    #[serde(rename = "product.out_of_stock")]
    ProductOutOfStock,
    /// A product's stock went from zero to more.
    #[serde(rename = "product.back_in_stock")]
    ProductBackInStock,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 6] = [
        EventType::OrderPaid,
        EventType::OrderShipped,
        EventType::OrderDelivered,
        EventType::OrderCancelled,
        EventType::ProductOutOfStock,
        EventType::ProductBackInStock,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPaid => "order.paid",
            EventType::OrderShipped => "order.shipped",
            EventType::OrderDelivered => "order.delivered",
            EventType::OrderCancelled => "order.cancelled",
            EventType::ProductOutOfStock => "product.out_of_stock",
            EventType::ProductBackInStock => "product.back_in_stock",
        }
    }

    /// The event type called `name`.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// The stock event for a change from `before` to `after` units, if it crosses zero.
    pub fn for_stock_change(before: i32, after: i32) -> Option<EventType> {
        match (before > 0, after > 0) {
            (true, false) => Some(EventType::ProductOutOfStock),
            (false, true) => Some(EventType::ProductBackInStock),
            _ => None,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body every endpoint receives: `{type, timestamp, data}`.
#[derive(Serialize)]
struct Body<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    timestamp: DateTime<Utc>,
    data: &'a T,
}

/// Queues event `kind` with `data` (the order or product as the API shows it) for every
/// enabled endpoint subscribed to it. Returns the event's id, or `None` when no endpoint
/// wants it (then nothing is written).
///
/// Call it inside the transaction of the change that causes the event: if that transaction
/// rolls back, the event never existed; once it commits, it is delivered even across crashes
/// and restarts.
pub fn publish<T: Serialize>(
    conn: &mut Conn,
    kind: EventType,
    data: &T,
    now: DateTime<Utc>,
) -> Result<Option<EventId>, diesel::result::Error> {
    let endpoints: Vec<(i32, String)> = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .order(webhook_endpoints::id.asc())
        .select((webhook_endpoints::id, webhook_endpoints::events))
        .load(conn)?;
    let subscribed: Vec<i32> = endpoints
        .into_iter()
        .filter(|(_, events)| events.split(',').any(|e| e == kind.as_str()))
        .map(|(id, _)| id)
        .collect();
    if subscribed.is_empty() {
        return Ok(None);
    }
    let body = serde_json::to_string(&Body {
        kind: kind.as_str(),
        timestamp: now,
        data,
    })
    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let at = now.naive_utc();
    let event: EventId = diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::event_type.eq(kind.as_str()),
            webhook_events::body.eq(&body),
            webhook_events::created_at.eq(at),
        ))
        .returning(webhook_events::id)
        .get_result(conn)?;
    for endpoint in subscribed {
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::endpoint_id.eq(endpoint),
                webhook_deliveries::event_id.eq(event),
                webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(at),
                webhook_deliveries::created_at.eq(at),
                webhook_deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(Some(event))
}
