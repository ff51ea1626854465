//! Orders as stored and as shown.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::{Money, OrderId, Page, PageRequest, ProductId, UserId};
use emporium_db::Conn;
use emporium_db::schema::{order_items, orders};
use serde::{Deserialize, Serialize};

use crate::OrderError;
use crate::addresses::ShippingAddress;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    /// Paid at checkout.
    Paid,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled.
    Cancelled,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses a status name.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "paid" => Some(Status::Paid),
            "shipped" => Some(Status::Shipped),
            "delivered" => Some(Status::Delivered),
            "cancelled" => Some(Status::Cancelled),
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of an order: a copy of what was bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderItem {
    /// The product, or null if it no longer exists at all.
    pub product_id: Option<ProductId>,
    /// Its name at checkout.
    pub product_name: String,
    /// Its price at checkout.
    pub unit_price: Money,
    /// Units bought.
    pub quantity: i32,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// An order with its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// Status.
    pub status: Status,
    /// The lines.
    pub items: Vec<OrderItem>,
    /// Sum of the line totals.
    pub total: Money,
    /// Where it ships: a copy taken at checkout (later address book edits do not change it),
    /// or null when none was given.
    pub shipping_address: Option<ShippingAddress>,
    /// The carrier, once shipped with one.
    pub carrier: Option<String>,
    /// The carrier's tracking number, once shipped with one.
    pub tracking_number: Option<String>,
    /// Where the shipment can be followed, once shipped with it.
    pub tracking_url: Option<String>,
    /// Checkout time.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last status change.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// An order without its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderSummary {
    /// Its id.
    pub id: OrderId,
    /// Status.
    pub status: Status,
    /// Sum of the line totals.
    pub total: Money,
    /// Units across all lines.
    pub item_count: i32,
    /// Checkout time.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last status change.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// The stored order row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders)]
#[diesel(check_for_backend(emporium_db::MultiBackend))]
pub struct OrderRow {
    /// Id.
    pub id: OrderId,
    /// Buyer.
    pub user_id: UserId,
    /// Status name.
    pub status: String,
    /// Total.
    pub total_cents: Money,
    /// Units.
    pub item_count: i32,
    /// Created (UTC).
    pub created_at: NaiveDateTime,
    /// Updated (UTC).
    pub updated_at: NaiveDateTime,
    /// The shipping address copy, as JSON.
    pub shipping_address: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Tracking page.
    pub tracking_url: Option<String>,
}

impl OrderRow {
    /// The status.
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Paid)
    }

    fn summary(&self) -> OrderSummary {
        OrderSummary {
            id: self.id,
            status: self.status(),
            total: self.total_cents,
            item_count: self.item_count,
            created_at: emporium_core::time::from_db(self.created_at),
            updated_at: emporium_core::time::from_db(self.updated_at),
        }
    }
}

/// The order row `id`.
pub fn row(conn: &mut Conn, id: OrderId) -> Result<OrderRow, OrderError> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(OrderError::NotFound)
}

/// The lines of an order, in checkout order.
pub fn items(conn: &mut Conn, id: OrderId) -> Result<Vec<OrderItem>, OrderError> {
    let rows: Vec<(Option<ProductId>, String, Money, i32, Money)> = order_items::table
        .filter(order_items::order_id.eq(id))
        .order(order_items::id.asc())
        .select((
            order_items::product_id,
            order_items::product_name,
            order_items::unit_price_cents,
            order_items::quantity,
            order_items::line_total_cents,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(product_id, product_name, unit_price, quantity, line_total)| OrderItem {
                product_id,
                product_name,
                unit_price,
                quantity,
                line_total,
            },
        )
        .collect())
}

/// The full order `id`.
pub fn load(conn: &mut Conn, id: OrderId) -> Result<Order, OrderError> {
    let row = row(conn, id)?;
    let items = items(conn, id)?;
    let shipping_address = row
        .shipping_address
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| OrderError::Internal(format!("stored shipping address: {e}")))?;
    Ok(Order {
        id: row.id,
        status: row.status(),
        items,
        total: row.total_cents,
        shipping_address,
        carrier: row.carrier,
        tracking_number: row.tracking_number,
        tracking_url: row.tracking_url,
        created_at: emporium_core::time::from_db(row.created_at),
        updated_at: emporium_core::time::from_db(row.updated_at),
    })
}

/// The order `id` if `viewer` may see it: its buyer, or an admin. Anyone else gets
/// `NotFound`, exactly as for an order that does not exist.
pub fn get_for(
    conn: &mut Conn,
    id: OrderId,
    viewer: UserId,
    viewer_is_admin: bool,
) -> Result<Order, OrderError> {
    let row = row(conn, id)?;
    if row.user_id != viewer && !viewer_is_admin {
        return Err(OrderError::NotFound);
    }
    load(conn, id)
}

/// One page of `user`'s orders, newest first (ties by descending id).
pub fn list_for_user(
    conn: &mut Conn,
    user: UserId,
    page: PageRequest,
) -> Result<Page<OrderSummary>, OrderError> {
    let total: i64 = orders::table
        .filter(orders::user_id.eq(user))
        .count()
        .get_result(conn)?;
    let rows: Vec<OrderRow> = orders::table
        .filter(orders::user_id.eq(user))
        .order((orders::created_at.desc(), orders::id.desc()))
        .limit(page.limit())
        .offset(page.offset())
        .select(OrderRow::as_select())
        .load(conn)?;
    Ok(Page::new(
        rows.iter().map(OrderRow::summary).collect(),
        page,
        total,
    ))
}

/// One page of everyone's orders (optionally of one status), newest first.
pub fn list_all(
    conn: &mut Conn,
    status: Option<Status>,
    page: PageRequest,
) -> Result<Page<OrderSummary>, OrderError> {
    let (total, rows): (i64, Vec<OrderRow>) = match status {
        Some(status) => (
            orders::table
                .filter(orders::status.eq(status.as_str()))
                .count()
                .get_result(conn)?,
            orders::table
                .filter(orders::status.eq(status.as_str()))
                .order((orders::created_at.desc(), orders::id.desc()))
                .limit(page.limit())
                .offset(page.offset())
                .select(OrderRow::as_select())
                .load(conn)?,
        ),
        None => (
            orders::table.count().get_result(conn)?,
            orders::table
                .order((orders::created_at.desc(), orders::id.desc()))
                .limit(page.limit())
                .offset(page.offset())
                .select(OrderRow::as_select())
                .load(conn)?,
        ),
    };
    Ok(Page::new(
        rows.iter().map(OrderRow::summary).collect(),
        page,
        total,
    ))
}
