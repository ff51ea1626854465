//! The order lifecycle: `paid → shipped → delivered`, `paid → cancelled` (owner or admin,
//! restocks), `shipped → cancelled` (admin only). Anything else is an invalid transition.
//! Shipping may carry tracking (carrier, number, page); the buyer is emailed when the order
//! ships and when an admin cancels it. Every transition publishes its webhook event.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use emporium_core::{Email, OrderId, ProductId, UserId, ValidationErrors};
use emporium_db::schema::{order_items, orders, products, users};
use emporium_db::{Conn, write_transaction};
use emporium_mail::{MessageKind, OutgoingMail, templates};
use emporium_webhooks::EventType;
use serde::Deserialize;

use crate::OrderError;
use crate::model::{self, Order, Status};

/// Longest carrier name or tracking number, in characters.
pub const MAX_TRACKING_CHARS: usize = 100;
/// Longest tracking URL, in characters.
pub const MAX_TRACKING_URL_CHARS: usize = 2048;

/// Tracking details to set; `Some(None)` clears one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    /// The carrier's name.
    pub carrier: Option<Option<String>>,
    /// The carrier's tracking number.
    pub tracking_number: Option<Option<String>>,
    /// An `https` page where the shipment can be followed.
    pub tracking_url: Option<Option<String>>,
}

impl Tracking {
    /// Whether any field is set.
    pub fn is_empty(&self) -> bool {
        self.carrier.is_none() && self.tracking_number.is_none() && self.tracking_url.is_none()
    }
}

/// Tracking as an admin sends it (beside `status` in `PATCH /admin/orders/{id}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TrackingInput {
    /// 1..=100 characters; null clears it.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub carrier: Option<Option<String>>,
    /// 1..=100 characters; null clears it.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub tracking_number: Option<Option<String>>,
    /// An `https://` URL of at most 2,048 characters; null clears it.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub tracking_url: Option<Option<String>>,
}

fn tracking_text(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_TRACKING_CHARS {
        return Err(format!("must be at most {MAX_TRACKING_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty (null clears it)".into());
    }
    Ok(value.to_string())
}

/// Checks a tracking URL: `https://`, a host, no spaces, at most 2,048 characters.
pub fn parse_tracking_url(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_TRACKING_URL_CHARS {
        return Err(format!(
            "must be at most {MAX_TRACKING_URL_CHARS} characters"
        ));
    }
    let url = value.trim();
    let host = url
        .strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an https:// address".into());
    }
    Ok(url.to_string())
}

impl TrackingInput {
    /// Checks every field, naming each bad one.
    pub fn into_tracking(self) -> Result<Tracking, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        fn field(
            value: Option<Option<String>>,
            check: impl FnOnce(&str) -> Result<String, String>,
        ) -> Result<Option<Option<String>>, String> {
            match value {
                None => Ok(None),
                Some(None) => Ok(Some(None)),
                Some(Some(v)) => check(&v).map(|v| Some(Some(v))),
            }
        }
        let carrier = errors.check("carrier", field(self.carrier, tracking_text));
        let tracking_number = errors.check(
            "tracking_number",
            field(self.tracking_number, tracking_text),
        );
        let tracking_url =
            errors.check("tracking_url", field(self.tracking_url, parse_tracking_url));
        errors.finish((|| {
            Some(Tracking {
                carrier: carrier?,
                tracking_number: tracking_number?,
                tracking_url: tracking_url?,
            })
        })())
    }
}

/// What an admin asks of an order: a new status, tracking, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminChange {
    /// The status to move to.
    pub status: Option<Status>,
    /// Tracking to set; only on an order that is, or becomes, shipped.
    pub tracking: Tracking,
}

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The account asking.
    pub user: UserId,
    /// Whether it is an admin.
    pub is_admin: bool,
}

/// Whether `actor` may move an order from `from` to `to`.
fn allowed(from: Status, to: Status, is_admin: bool) -> bool {
    matches!(
        (from, to, is_admin),
        (Status::Paid, Status::Cancelled, _)
            | (Status::Paid, Status::Shipped, true)
            | (Status::Shipped, Status::Delivered, true)
            | (Status::Shipped, Status::Cancelled, true)
    )
}

/// Moves order `id` to `to`: [`change`] with a status and no tracking.
pub fn transition(
    conn: &mut Conn,
    id: OrderId,
    to: Status,
    actor: Actor,
    shop_name: &str,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    let change = AdminChange {
        status: Some(to),
        tracking: Tracking::default(),
    };
    self::change(conn, id, &change, actor, shop_name, now)
}

/// The buyer or an admin cancels order `id`.
pub fn cancel(
    conn: &mut Conn,
    id: OrderId,
    actor: Actor,
    shop_name: &str,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    transition(conn, id, Status::Cancelled, actor, shop_name, now)
}

/// Changes order `id` in one write transaction: moves it to `change.status` (the buyer may
/// only cancel a paid order; admins may make every allowed move) and sets the tracking given,
/// which only an admin may do and only on an order that is or becomes `shipped`
/// (`NotShipped` otherwise). A paid order that is cancelled gives its units back to stock
/// (publishing `product.back_in_stock` where that crosses zero). The buyer is emailed when the
/// order ships (with its tracking) and when an admin cancels it; each transition publishes
/// `order.shipped`, `order.delivered` or `order.cancelled`. Someone else's order is
/// `NotFound`. The status changes with a conditional update, so two racing cancellations
/// restock once.
pub fn change(
    conn: &mut Conn,
    id: OrderId,
    change: &AdminChange,
    actor: Actor,
    shop_name: &str,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    if change.status.is_none() && change.tracking.is_empty() {
        return Err(OrderError::Validation(ValidationErrors::single(
            "status",
            "is required (or give carrier, tracking_number or tracking_url)",
        )));
    }
    write_transaction(conn, |conn| {
        let row = model::row(conn, id)?;
        if row.user_id != actor.user && !actor.is_admin {
            return Err(OrderError::NotFound);
        }
        let from = row.status();
        let to = change.status.unwrap_or(from);
        if let Some(to) = change.status
            && !allowed(from, to, actor.is_admin)
        {
            return Err(OrderError::InvalidTransition { from, to });
        }
        if !change.tracking.is_empty() && (to != Status::Shipped || !actor.is_admin) {
            return Err(OrderError::NotShipped(to));
        }
        let tracking = &change.tracking;
        let changed = diesel::update(
            orders::table
                .find(id)
                .filter(orders::status.eq(from.as_str())),
        )
        .set((
            orders::status.eq(to.as_str()),
            orders::carrier.eq(tracking.carrier.clone().unwrap_or(row.carrier.clone())),
            orders::tracking_number.eq(tracking
                .tracking_number
                .clone()
                .unwrap_or(row.tracking_number.clone())),
            orders::tracking_url.eq(tracking
                .tracking_url
                .clone()
                .unwrap_or(row.tracking_url.clone())),
            orders::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(OrderError::InvalidTransition { from, to });
        }
        if from == Status::Paid && to == Status::Cancelled {
            let lines: Vec<(Option<ProductId>, i32)> = order_items::table
                .filter(order_items::order_id.eq(id))
                .select((order_items::product_id, order_items::quantity))
                .load(conn)?;
            for (product, quantity) in lines {
                if let Some(product) = product {
                    let stock: Option<(i32, bool)> = diesel::update(products::table.find(product))
                        .set(products::stock.eq(products::stock + quantity))
                        .returning((products::stock, products::deleted_at.is_null()))
                        .get_result(conn)
                        .optional()?;
                    if let Some((after, true)) = stock {
                        emporium_catalog::manage::stock_changed(
                            conn,
                            product,
                            after - quantity,
                            after,
                            now,
                        )?;
                    }
                }
            }
        }
        let order = model::load(conn, id)?;
        if from != to {
            let event = match to {
                Status::Shipped => Some(EventType::OrderShipped),
                Status::Delivered => Some(EventType::OrderDelivered),
                Status::Cancelled => Some(EventType::OrderCancelled),
                Status::Paid => None,
            };
            if let Some(event) = event {
                emporium_webhooks::publish(conn, event, &order, now)?;
            }
            let mail = match to {
                Status::Shipped => Some((
                    MessageKind::OrderShipped,
                    templates::Tracking {
                        carrier: order.carrier.clone(),
                        tracking_number: order.tracking_number.clone(),
                        tracking_url: order.tracking_url.clone(),
                    },
                )),
                Status::Cancelled if actor.user != row.user_id => {
                    Some((MessageKind::OrderCancelled, templates::Tracking::default()))
                }
                _ => None,
            };
            if let Some((kind, tracking)) = mail {
                let (email, name): (Email, String) = users::table
                    .find(row.user_id)
                    .select((users::email, users::name))
                    .first(conn)?;
                let content = match kind {
                    MessageKind::OrderShipped => {
                        templates::order_shipped(shop_name, &name, id.get(), &tracking)
                    }
                    _ => templates::order_cancelled(shop_name, &name, id.get(), order.total),
                };
                emporium_mail::enqueue(
                    conn,
                    &OutgoingMail {
                        kind,
                        to: email,
                        to_name: name,
                        content,
                    },
                    now,
                )?;
            }
        }
        Ok(order)
    })
}
