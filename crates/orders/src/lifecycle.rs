//! The order lifecycle: `paid → shipped → delivered`, `paid → cancelled` (owner or admin,
//! restocks), `shipped → cancelled` (admin only). Anything else is an invalid transition.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use emporium_core::{OrderId, ProductId, UserId};
use emporium_db::schema::{order_items, orders, products};
use emporium_db::{Conn, write_transaction};

use crate::OrderError;
use crate::model::{self, Order, Status};

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

/// Moves order `id` to `to`. The buyer may only cancel a paid order; admins may make every
/// allowed move. A paid order that is cancelled gives its units back to stock. Someone
/// else's order is `NotFound`. The status changes with a conditional update, so two racing
/// cancellations restock once.
pub fn transition(
    conn: &mut Conn,
    id: OrderId,
    to: Status,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    write_transaction(conn, |conn| {
        let row = model::row(conn, id)?;
        if row.user_id != actor.user && !actor.is_admin {
            return Err(OrderError::NotFound);
        }
        let from = row.status();
        if !allowed(from, to, actor.is_admin) {
            return Err(OrderError::InvalidTransition { from, to });
        }
        let changed = diesel::update(
            orders::table
                .find(id)
                .filter(orders::status.eq(from.as_str())),
        )
        .set((
            orders::status.eq(to.as_str()),
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
                    diesel::update(products::table.find(product))
                        .set(products::stock.eq(products::stock + quantity))
                        .execute(conn)?;
                }
            }
        }
        model::load(conn, id)
    })
}

/// The buyer or an admin cancels order `id`.
pub fn cancel(
    conn: &mut Conn,
    id: OrderId,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    transition(conn, id, Status::Cancelled, actor, now)
}
