//! Checkout: a cart becomes a paid order in one write transaction.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use emporium_cart::{Shortage, StoredLine};
use emporium_core::{AddressId, Email, Money, OrderId, UserId, ValidationErrors};
use emporium_db::schema::{cart_items, idempotency_keys, order_items, orders, users};
use emporium_db::{Conn, write_transaction};
use emporium_mail::{MessageKind, OutgoingMail, templates};
use emporium_webhooks::EventType;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::OrderError;
use crate::addresses::{AddressInput, ShippingAddress};
use crate::model::{self, Order, Status};

/// The card the dummy processor declines; every other valid card is approved.
pub const DECLINED_CARD: &str = "4000000000000002";
/// Longest idempotency key, in characters.
pub const MAX_KEY_CHARS: usize = 255;
/// How long a key's first response is kept for replay (at least the 24 hours promised).
pub const KEY_RETENTION: Duration = Duration::hours(48);

/// The optional checkout body: `{"payment": {"method": "dummy", "card_number": "…"},
/// "shipping_address": {…} | "address_id": 3}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckoutRequest {
    /// How to pay; absent means the dummy processor with no card, which approves.
    #[serde(default, deserialize_with = "object_or_null")]
    pub payment: Option<PaymentInput>,
    /// Where to ship, given inline.
    #[serde(default, deserialize_with = "object_or_null")]
    pub shipping_address: Option<AddressInput>,
    /// Where to ship: one of the caller's saved addresses.
    #[serde(default)]
    pub address_id: Option<emporium_core::WholeNumber>,
}

/// An object or null, never an array (serde would otherwise fill a struct from one).
fn object_or_null<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        value @ serde_json::Value::Object(_) => {
            T::deserialize(value).map(Some).map_err(D::Error::custom)
        }
        _ => Err(D::Error::custom("must be an object")),
    }
}

/// Where a checkout ships.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ShipTo {
    /// Nowhere given (allowed unless `REQUIRE_SHIPPING_ADDRESS`); the order's
    /// `shipping_address` is null.
    #[default]
    Nowhere,
    /// An address given inline.
    Address(ShippingAddress),
    /// One of the buyer's saved addresses (copied into the order).
    Saved(AddressId),
}

/// A checked checkout body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkout {
    /// How to pay.
    pub payment: Payment,
    /// Where to ship.
    pub ship_to: ShipTo,
}

/// The payment part of the body, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentInput {
    /// Only `dummy` is supported.
    pub method: Option<String>,
    /// A card number (spaces and dashes allowed), checked with the Luhn algorithm.
    pub card_number: Option<String>,
}

/// A checked payment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payment {
    card_number: Option<String>,
}

impl Payment {
    /// Whether the dummy processor declines this payment.
    pub fn declined(&self) -> bool {
        self.card_number.as_deref() == Some(DECLINED_CARD)
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl CheckoutRequest {
    /// Checks the payment part, naming every bad field.
    pub fn into_payment(self) -> Result<Payment, ValidationErrors> {
        let Some(payment) = self.payment else {
            return Ok(Payment::default());
        };
        let mut errors = ValidationErrors::new();
        errors.check(
            "payment.method",
            match payment.method.as_deref() {
                None | Some("dummy") => Ok(()),
                Some(_) => Err("must be \"dummy\" (the only processor this shop has)"),
            },
        );
        let card = errors.check(
            "payment.card_number",
            match payment.card_number {
                None => Ok(None),
                Some(number) => {
                    let digits: String =
                        number.chars().filter(|c| *c != ' ' && *c != '-').collect();
                    if !(12..=19).contains(&digits.len())
                        || !digits.bytes().all(|b| b.is_ascii_digit())
                    {
                        Err("must be 12 to 19 digits")
                    } else if !luhn(&digits) {
                        Err("is not a valid card number")
                    } else {
                        Ok(Some(digits))
                    }
                }
            },
        );
        errors.finish(card.map(|card_number| Payment { card_number }))
    }
}

impl CheckoutRequest {
    /// Checks the whole body, naming every bad field: the payment, and at most one of
    /// `shipping_address` and `address_id` (both is a 422 naming both). With
    /// `require_address` (`REQUIRE_SHIPPING_ADDRESS`), giving neither is a 422 naming
    /// `shipping_address`.
    pub fn into_checkout(self, require_address: bool) -> Result<Checkout, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let address = self.shipping_address;
        let address_id = self.address_id;
        let payment = match (CheckoutRequest {
            payment: self.payment,
            shipping_address: None,
            address_id: None,
        })
        .into_payment()
        {
            Ok(payment) => Some(payment),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        let ship_to = match (address, address_id) {
            (Some(_), Some(_)) => {
                let message = "give either shipping_address or address_id, not both";
                errors.push("shipping_address", message);
                errors.push("address_id", message);
                None
            }
            (Some(input), None) => match input.into_fields("shipping_address.") {
                Ok((fields, _)) => Some(ShipTo::Address(fields)),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            },
            (None, Some(id)) => match i32::try_from(id.0) {
                Ok(id) if id > 0 => Some(ShipTo::Saved(AddressId(id))),
                _ => {
                    errors.push("address_id", "must be the id of one of your addresses");
                    None
                }
            },
            (None, None) if require_address => {
                errors.push(
                    "shipping_address",
                    "is required: give a shipping_address or an address_id",
                );
                None
            }
            (None, None) => Some(ShipTo::Nowhere),
        };
        errors.finish(
            payment
                .zip(ship_to)
                .map(|(payment, ship_to)| Checkout { payment, ship_to }),
        )
    }
}

/// Checks an `Idempotency-Key`: 1..=255 visible ASCII characters.
pub fn parse_key(key: &str) -> Result<String, ValidationErrors> {
    let ok =
        (1..=MAX_KEY_CHARS).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(key.to_string())
    } else {
        Err(ValidationErrors::single(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ))
    }
}

/// What a checkout produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per checkout, matched at once; boxing the order would only add a deref"
)]
pub enum Outcome {
    /// A new order. `body` is its JSON, exactly as stored for replay.
    Created {
        /// The order.
        order: Order,
        /// Its JSON.
        body: String,
    },
    /// A retry with a key whose first request succeeded: the first response, verbatim.
    Replayed {
        /// The first response's status.
        status: u16,
        /// The first response's body.
        body: String,
    },
}

/// What a key is bound to: the cart's lines and, when given, the shipping address. (Without
/// an address it is what it was before addresses existed, so older keys still match.)
fn fingerprint(lines: &[StoredLine], address: Option<&ShippingAddress>) -> String {
    let mut parts: Vec<(i32, i32)> = lines
        .iter()
        .map(|l| (l.product_id.get(), l.quantity))
        .collect();
    parts.sort_unstable();
    let mut text: String = parts.iter().map(|(p, q)| format!("{p}:{q};")).collect();
    if let Some(address) = address {
        text.push_str("ship:");
        text.push_str(&serde_json::to_string(address).unwrap_or_default());
    }
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks out `user`'s cart with no shipping address: [`checkout_with`] with
/// [`ShipTo::Nowhere`].
pub fn checkout(
    conn: &mut Conn,
    user: UserId,
    key: Option<&str>,
    payment: &Payment,
    shop_name: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, OrderError> {
    let order = Checkout {
        payment: payment.clone(),
        ship_to: ShipTo::Nowhere,
    };
    checkout_with(conn, user, key, &order, shop_name, now)
}

/// Checks out `user`'s cart.
///
/// In one write transaction: with a `key` already used by this user, the first response is
/// replayed (also when the cart has since been emptied by that very checkout) unless the cart
/// now holds something different (`IdempotencyKeyReused`); otherwise the cart must have lines
/// (`CartEmpty`) that the stock covers (`InsufficientStock` lists every short line), the
/// payment must be approved (`PaymentDeclined`), and then stock is decremented, the order and
/// its lines written with copies of names and prices, the cart emptied, the confirmation
/// mail queued, the `order.paid` event (and `product.out_of_stock` for each product it sold
/// out) published and the response stored under the key. The order keeps a copy of the
/// shipping address (an `address_id` that is not the buyer's is `AddressNotFound`, as for a
/// cart line naming an unknown product).
/// The key's fingerprint covers the address. Any error leaves everything as it was; failed
/// attempts do not use up a key.
pub fn checkout_with(
    conn: &mut Conn,
    user: UserId,
    key: Option<&str>,
    order: &Checkout,
    shop_name: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, OrderError> {
    let payment = &order.payment;
    write_transaction(conn, |conn| {
        let address = match &order.ship_to {
            ShipTo::Nowhere => None,
            ShipTo::Address(address) => Some(address.clone()),
            ShipTo::Saved(id) => Some(crate::addresses::shipping_fields(conn, user, *id)?),
        };
        let lines = emporium_cart::lines(conn, user)?;
        let print = fingerprint(&lines, address.as_ref());
        if let Some(key) = key {
            diesel::delete(
                idempotency_keys::table
                    .filter(idempotency_keys::created_at.lt((now - KEY_RETENTION).naive_utc())),
            )
            .execute(conn)?;
            let first: Option<(String, i32, String)> = idempotency_keys::table
                .find((user, key))
                .select((
                    idempotency_keys::cart_fingerprint,
                    idempotency_keys::response_status,
                    idempotency_keys::response_body,
                ))
                .first(conn)
                .optional()?;
            if let Some((first_print, status, body)) = first {
                if lines.is_empty() || first_print == print {
                    return Ok(Outcome::Replayed {
                        status: u16::try_from(status).unwrap_or(201),
                        body,
                    });
                }
                return Err(OrderError::IdempotencyKeyReused);
            }
        }
        if lines.is_empty() {
            return Err(OrderError::CartEmpty);
        }
        let short: Vec<Shortage> = lines
            .iter()
            .filter(|l| l.quantity > l.stock)
            .map(|l| Shortage {
                product_id: l.product_id,
                requested: i64::from(l.quantity),
                available: i64::from(l.stock),
            })
            .collect();
        if !short.is_empty() {
            return Err(OrderError::InsufficientStock(short));
        }
        if payment.declined() {
            return Err(OrderError::PaymentDeclined);
        }

        let overflow = || OrderError::Internal("order total overflows".into());
        let mut total = Money::ZERO;
        let mut item_count = 0i32;
        for line in &lines {
            // The conditional update is what keeps stock from going negative, whatever else
            // runs at the same time.
            let left: Option<i32> = TakeStock {
                product: line.product_id.0,
                quantity: line.quantity,
            }
            .get_result(conn)
            .optional()?;
            let Some(left) = left else {
                return Err(OrderError::InsufficientStock(vec![Shortage {
                    product_id: line.product_id,
                    requested: i64::from(line.quantity),
                    available: i64::from(line.stock),
                }]));
            };
            emporium_catalog::manage::stock_changed(
                conn,
                line.product_id,
                left + line.quantity,
                left,
                now,
            )?;
            let line_total = line
                .unit_price
                .checked_mul(i64::from(line.quantity))
                .ok_or_else(overflow)?;
            total = total.checked_add(line_total).ok_or_else(overflow)?;
            item_count = item_count.checked_add(line.quantity).ok_or_else(overflow)?;
        }

        // To the microsecond, as both backends keep it: the order built below is the one a
        // later read returns.
        let at = emporium_core::time::to_micros(now);
        let shipping_json = address
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| OrderError::Internal(e.to_string()))?;
        let order_id: OrderId = diesel::insert_into(orders::table)
            .values((
                orders::user_id.eq(user),
                orders::status.eq(Status::Paid.as_str()),
                orders::total_cents.eq(total),
                orders::item_count.eq(item_count),
                orders::shipping_address.eq(shipping_json.as_deref()),
                orders::created_at.eq(at),
                orders::updated_at.eq(at),
            ))
            .returning(orders::id)
            .get_result(conn)?;
        let mut mail_lines = Vec::with_capacity(lines.len());
        let mut items = Vec::with_capacity(lines.len());
        for line in &lines {
            let line_total = line
                .unit_price
                .checked_mul(i64::from(line.quantity))
                .ok_or_else(overflow)?;
            diesel::insert_into(order_items::table)
                .values((
                    order_items::order_id.eq(order_id),
                    order_items::product_id.eq(Some(line.product_id)),
                    order_items::product_name.eq(&line.name),
                    order_items::unit_price_cents.eq(line.unit_price),
                    order_items::quantity.eq(line.quantity),
                    order_items::line_total_cents.eq(line_total),
                ))
                .execute(conn)?;
            mail_lines.push(templates::OrderLine {
                name: line.name.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price,
                line_total,
            });
            items.push(model::OrderItem {
                product_id: Some(line.product_id),
                product_name: line.name.clone(),
                unit_price: line.unit_price,
                quantity: line.quantity,
                line_total,
            });
        }
        diesel::delete(cart_items::table.filter(cart_items::user_id.eq(user))).execute(conn)?;

        let (email, name): (Email, String) = users::table
            .find(user)
            .select((users::email, users::name))
            .first(conn)?;
        let content =
            templates::order_confirmation(shop_name, &name, order_id.get(), &mail_lines, total);
        emporium_mail::enqueue(
            conn,
            &OutgoingMail {
                kind: MessageKind::OrderConfirmation,
                to: email,
                to_name: name,
                content,
            },
            now,
        )?;

        // What was just written, without reading it back (the single SQLite writer runs
        // every checkout; two queries fewer each).
        let created = emporium_core::time::from_db(at);
        let order = model::Order {
            id: order_id,
            status: Status::Paid,
            items,
            total,
            shipping_address: address,
            carrier: None,
            tracking_number: None,
            tracking_url: None,
            created_at: created,
            updated_at: created,
        };
        emporium_webhooks::publish(conn, EventType::OrderPaid, &order, now)?;
        let body =
            serde_json::to_string(&order).map_err(|e| OrderError::Internal(e.to_string()))?;
        if let Some(key) = key {
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::user_id.eq(user),
                    idempotency_keys::idempotency_key.eq(key),
                    idempotency_keys::cart_fingerprint.eq(&print),
                    idempotency_keys::order_id.eq(order_id),
                    idempotency_keys::response_status.eq(201),
                    idempotency_keys::response_body.eq(&body),
                    idempotency_keys::created_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok(Outcome::Created { order, body })
    })
}

/// `UPDATE products SET stock = stock - quantity WHERE id = product AND deleted_at IS NULL AND
/// stock >= quantity RETURNING stock`, as a statement the connection keeps prepared.
///
/// Diesel prepares every UPDATE it builds afresh on each run (a changeset may leave fields
/// out, so it never caches one), and this one runs for every line of every checkout, on
/// SQLite's single writer: preparing it was 7% of the writer's time in the checkout benchmark.
/// Spelled out here, it has a fixed text and a static query id, so it is prepared once per
/// connection.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct TakeStock {
    product: i32,
    quantity: i32,
}

impl diesel::query_builder::QueryFragment<emporium_db::MultiBackend> for TakeStock {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, emporium_db::MultiBackend>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Integer;
        out.push_sql("UPDATE products SET stock = stock - ");
        out.push_bind_param::<Integer, _>(&self.quantity)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Integer, _>(&self.product)?;
        out.push_sql(" AND deleted_at IS NULL AND stock >= ");
        out.push_bind_param::<Integer, _>(&self.quantity)?;
        out.push_sql(" RETURNING stock");
        Ok(())
    }
}

impl diesel::query_builder::Query for TakeStock {
    type SqlType = diesel::sql_types::Integer;
}

impl RunQueryDsl<Conn> for TakeStock {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_rules() {
        assert_eq!(
            CheckoutRequest::default().into_payment(),
            Ok(Payment::default())
        );
        let pay = |method: &str, card: &str| {
            CheckoutRequest {
                payment: Some(PaymentInput {
                    method: Some(method.into()),
                    card_number: Some(card.into()),
                }),
                ..CheckoutRequest::default()
            }
            .into_payment()
        };
        assert!(!pay("dummy", "4242424242424242").unwrap().declined());
        assert!(!pay("dummy", "4242 4242 4242 4242").unwrap().declined());
        assert!(pay("dummy", DECLINED_CARD).unwrap().declined());
        assert_eq!(
            pay("dummy", "4242424242424241").unwrap_err().fields()[0].field,
            "payment.card_number"
        );
        assert_eq!(
            pay("dummy", "12ab").unwrap_err().fields()[0].field,
            "payment.card_number"
        );
        let both = pay("paypal", "1").unwrap_err();
        assert_eq!(both.fields().len(), 2);
    }

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(parse_key("order-2026-11-26-abc").is_ok());
        assert!(parse_key(&"k".repeat(255)).is_ok());
        assert!(parse_key(&"k".repeat(256)).is_err());
        assert!(parse_key("").is_err());
        assert!(parse_key("has space").is_err());
        assert!(parse_key("é").is_err());
    }
}
