//! Carts for Emporium: one per account.
//!
//! Plain synchronous functions over `&mut` [`Conn`](emporium_db::Conn). Adding a product that
//! is already in the cart adds to its quantity; setting a quantity to 0 removes the line;
//! asking for more than the stock is refused with the short line named. Lines of deleted
//! products never show. Totals are computed in cents.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use emporium_core::{Money, ProductId, UserId, ValidationErrors};
use emporium_db::schema::{cart_items, products};
use emporium_db::{Conn, write_transaction};
use serde::Serialize;

/// Most units of one product a cart line may hold.
pub const MAX_QUANTITY: i32 = 999;

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CartLine {
    /// The product.
    pub product_id: ProductId,
    /// Its current name.
    pub name: String,
    /// Its current price.
    pub unit_price: Money,
    /// Units in the cart.
    pub quantity: i32,
    /// `unit_price × quantity`.
    pub line_total: Money,
    /// Units in stock now; the line can be checked out while `quantity ≤ available`.
    pub available: i32,
}

/// A cart: its lines (oldest first), the number of units, and the subtotal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cart {
    /// The lines, in the order products were first added.
    pub items: Vec<CartLine>,
    /// Units across all lines.
    pub item_count: i64,
    /// Sum of the line totals.
    pub subtotal: Money,
}

/// A line that asks for more than the stock holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shortage {
    /// The product.
    pub product_id: ProductId,
    /// Units asked for.
    pub requested: i64,
    /// Units in stock.
    pub available: i64,
}

/// Why a cart operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// Input is invalid.
    #[error("invalid input: {0}")]
    Validation(#[from] ValidationErrors),
    /// No live product has this id.
    #[error("no such product")]
    ProductNotFound,
    /// The product is not in the cart.
    #[error("the product is not in the cart")]
    NotInCart,
    /// Adding would take the line past 999 units.
    #[error("a cart line holds at most 999 units")]
    LineLimit,
    /// Not enough stock.
    #[error("not enough stock")]
    InsufficientStock(Vec<Shortage>),
    /// A database failure.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

impl emporium_db::TransactionError for CartError {
    fn is_transient(&self) -> bool {
        matches!(self, CartError::Database(e) if emporium_db::TransactionError::is_transient(e))
    }
}

/// Checks a quantity for adding (1..=999).
pub fn parse_add_quantity(quantity: Option<i64>) -> Result<i32, ValidationErrors> {
    match quantity.unwrap_or(1) {
        q if (1..=i64::from(MAX_QUANTITY)).contains(&q) => Ok(q as i32),
        _ => Err(ValidationErrors::single(
            "quantity",
            "must be between 1 and 999",
        )),
    }
}

/// Checks a quantity for setting (0..=999; 0 removes the line).
pub fn parse_set_quantity(quantity: Option<i64>) -> Result<i32, ValidationErrors> {
    match quantity {
        None => Err(ValidationErrors::single("quantity", "is required")),
        Some(q) if (0..=i64::from(MAX_QUANTITY)).contains(&q) => Ok(q as i32),
        Some(_) => Err(ValidationErrors::single(
            "quantity",
            "must be between 0 and 999",
        )),
    }
}

/// A cart line joined with its live product, as stored.
#[derive(Debug, Clone, Queryable)]
pub struct StoredLine {
    /// The product.
    pub product_id: ProductId,
    /// Units in the cart.
    pub quantity: i32,
    /// The product's name.
    pub name: String,
    /// The product's price.
    pub unit_price: Money,
    /// The product's stock.
    pub stock: i32,
}

/// The lines of `user`'s cart whose products are live, in the order they were added.
pub fn lines(conn: &mut Conn, user: UserId) -> Result<Vec<StoredLine>, CartError> {
    Ok(cart_items::table
        .inner_join(products::table)
        .filter(cart_items::user_id.eq(user))
        .filter(products::deleted_at.is_null())
        .order((cart_items::added_at.asc(), cart_items::product_id.asc()))
        .select((
            cart_items::product_id,
            cart_items::quantity,
            products::name,
            products::price_cents,
            products::stock,
        ))
        .load(conn)?)
}

/// `user`'s cart.
pub fn get(conn: &mut Conn, user: UserId) -> Result<Cart, CartError> {
    let lines = lines(conn, user)?;
    let mut subtotal = Money::ZERO;
    let mut item_count = 0i64;
    let items = lines
        .into_iter()
        .map(|line| {
            let line_total = line
                .unit_price
                .checked_mul(i64::from(line.quantity))
                .unwrap_or(Money::ZERO);
            subtotal = subtotal.checked_add(line_total).unwrap_or(subtotal);
            item_count += i64::from(line.quantity);
            CartLine {
                product_id: line.product_id,
                name: line.name,
                unit_price: line.unit_price,
                quantity: line.quantity,
                line_total,
                available: line.stock,
            }
        })
        .collect();
    Ok(Cart {
        items,
        item_count,
        subtotal,
    })
}

fn live_stock(conn: &mut Conn, product: ProductId) -> Result<i32, CartError> {
    products::table
        .find(product)
        .filter(products::deleted_at.is_null())
        .select(products::stock)
        .first(conn)
        .optional()?
        .ok_or(CartError::ProductNotFound)
}

fn current_quantity(
    conn: &mut Conn,
    user: UserId,
    product: ProductId,
) -> Result<Option<i32>, CartError> {
    Ok(cart_items::table
        .find((user, product))
        .select(cart_items::quantity)
        .first(conn)
        .optional()?)
}

/// Adds `quantity` units of a product; a product already in the cart gets the units added to
/// its line. Refused when the line would exceed the stock (`InsufficientStock`) or 999 units
/// (`LineLimit`).
pub fn add(
    conn: &mut Conn,
    user: UserId,
    product: ProductId,
    quantity: i32,
    now: DateTime<Utc>,
) -> Result<Cart, CartError> {
    write_transaction(conn, |conn| {
        let stock = live_stock(conn, product)?;
        let existing = current_quantity(conn, user, product)?;
        let wanted = existing.unwrap_or(0) + quantity;
        if wanted > MAX_QUANTITY {
            return Err(CartError::LineLimit);
        }
        if wanted > stock {
            return Err(CartError::InsufficientStock(vec![Shortage {
                product_id: product,
                requested: i64::from(wanted),
                available: i64::from(stock),
            }]));
        }
        match existing {
            Some(_) => set_quantity(conn, user, product, wanted)?,
            None => {
                diesel::insert_into(cart_items::table)
                    .values((
                        cart_items::user_id.eq(user),
                        cart_items::product_id.eq(product),
                        cart_items::quantity.eq(wanted),
                        cart_items::added_at.eq(now.naive_utc()),
                    ))
                    .execute(conn)?;
            }
        }
        get(conn, user)
    })
}

/// Sets the quantity of a line that is in the cart; 0 removes it.
pub fn update(
    conn: &mut Conn,
    user: UserId,
    product: ProductId,
    quantity: i32,
) -> Result<Cart, CartError> {
    write_transaction(conn, |conn| {
        let stock = match live_stock(conn, product) {
            Ok(stock) => stock,
            // A deleted product's line no longer exists as far as the cart shows.
            Err(CartError::ProductNotFound) => return Err(CartError::NotInCart),
            Err(e) => return Err(e),
        };
        if current_quantity(conn, user, product)?.is_none() {
            return Err(CartError::NotInCart);
        }
        if quantity == 0 {
            diesel::delete(cart_items::table.find((user, product))).execute(conn)?;
        } else {
            if quantity > stock {
                return Err(CartError::InsufficientStock(vec![Shortage {
                    product_id: product,
                    requested: i64::from(quantity),
                    available: i64::from(stock),
                }]));
            }
            set_quantity(conn, user, product, quantity)?;
        }
        get(conn, user)
    })
}

/// Removes a line that is in the cart.
pub fn remove(conn: &mut Conn, user: UserId, product: ProductId) -> Result<Cart, CartError> {
    update(conn, user, product, 0)
}

/// Empties the cart.
pub fn clear(conn: &mut Conn, user: UserId) -> Result<Cart, CartError> {
    write_transaction(conn, |conn| {
        diesel::delete(cart_items::table.filter(cart_items::user_id.eq(user))).execute(conn)?;
        get(conn, user)
    })
}

/// `UPDATE cart_items SET quantity = … WHERE user_id = … AND product_id = …`, prepared once per
/// connection: Diesel prepares every UPDATE it builds afresh (a changeset may leave fields
/// out, so it never caches one), and adding to a line already in the cart runs this on
/// SQLite's single writer.
fn set_quantity(
    conn: &mut Conn,
    user: UserId,
    product: ProductId,
    quantity: i32,
) -> Result<(), CartError> {
    SetQuantity {
        user: user.0,
        product: product.0,
        quantity,
    }
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct SetQuantity {
    user: i32,
    product: i32,
    quantity: i32,
}

impl diesel::query_builder::QueryFragment<emporium_db::MultiBackend> for SetQuantity {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, emporium_db::MultiBackend>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Integer;
        out.push_sql("UPDATE cart_items SET quantity = ");
        out.push_bind_param::<Integer, _>(&self.quantity)?;
        out.push_sql(" WHERE user_id = ");
        out.push_bind_param::<Integer, _>(&self.user)?;
        out.push_sql(" AND product_id = ");
        out.push_bind_param::<Integer, _>(&self.product)?;
        Ok(())
    }
}

impl RunQueryDsl<Conn> for SetQuantity {}

#[cfg(test)]
mod tests;
