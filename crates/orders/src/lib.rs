//! Checkout and orders for Emporium.
//!
//! [`checkout::checkout`] turns a cart into a paid order in ONE write transaction: every
//! line's stock is decremented by a conditional update (`stock >= quantity`), the order is
//! written with copies of each product's name and price, the cart is emptied and the
//! confirmation email queued — all of it or nothing. However many checkouts run at once,
//! stock never goes below zero. An idempotency key makes a retried checkout answer with the
//! first response instead of ordering twice. An order may ship to an address given inline or
//! taken from the buyer's address book ([`addresses`]); it keeps a copy. [`lifecycle`] moves
//! orders along `paid → shipped → delivered` (with tracking) and cancels them (restocking a
//! paid order), emailing the buyer when an order ships or an admin cancels it. Every
//! transition publishes its webhook event (`order.paid`, `order.shipped`, …) in its own
//! transaction.

pub mod addresses;
pub mod checkout;
pub mod countries;
pub mod lifecycle;
pub mod model;

pub use addresses::{Address, AddressInput, ShippingAddress};
pub use checkout::{Checkout, CheckoutRequest, Outcome, Payment, ShipTo};
pub use lifecycle::{AdminChange, Tracking, TrackingInput};
pub use model::{Order, OrderItem, OrderSummary, Status};

use emporium_cart::Shortage;
use emporium_core::ValidationErrors;

/// Why an order operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Input is invalid.
    #[error("invalid input: {0}")]
    Validation(#[from] ValidationErrors),
    /// The cart has no lines.
    #[error("the cart is empty")]
    CartEmpty,
    /// Some lines ask for more than the stock; every short line is listed.
    #[error("not enough stock for {} product(s)", .0.len())]
    InsufficientStock(Vec<Shortage>),
    /// The (dummy) payment processor declined the card.
    #[error("the payment was declined")]
    PaymentDeclined,
    /// The idempotency key was used before for a different cart.
    #[error("the idempotency key was used for a different cart")]
    IdempotencyKeyReused,
    /// No such order, or not the caller's.
    #[error("no such order")]
    NotFound,
    /// The status change is not allowed from the current status (or not for this caller).
    #[error("cannot change an order from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
    },
    /// No such address in the caller's address book.
    #[error("no such address")]
    AddressNotFound,
    /// The address book is full.
    #[error("an account may keep at most {} addresses", addresses::MAX_ADDRESSES)]
    AddressLimit,
    /// Tracking can only be set on an order that is (or becomes) shipped.
    #[error("tracking can only be set on a shipped order; this one is {0}")]
    NotShipped(Status),
    /// A database failure.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// Anything else that is not the caller's fault.
    #[error("{0}")]
    Internal(String),
}

impl emporium_db::TransactionError for OrderError {
    fn is_transient(&self) -> bool {
        matches!(self, OrderError::Database(e) if emporium_db::TransactionError::is_transient(e))
    }
}

impl From<emporium_catalog::CatalogError> for OrderError {
    fn from(error: emporium_catalog::CatalogError) -> Self {
        match error {
            emporium_catalog::CatalogError::Database(e) => OrderError::Database(e),
            other => OrderError::Internal(other.to_string()),
        }
    }
}

impl From<emporium_cart::CartError> for OrderError {
    fn from(error: emporium_cart::CartError) -> Self {
        use emporium_cart::CartError as E;
        match error {
            E::Validation(v) => OrderError::Validation(v),
            E::InsufficientStock(lines) => OrderError::InsufficientStock(lines),
            E::Database(e) => OrderError::Database(e),
            other => OrderError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
