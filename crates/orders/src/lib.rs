//! Checkout and orders for Emporium — not filled yet.
//!
//! This crate will own checkout as one write transaction (stock decremented conditionally,
//! the order written with copies of names and prices, the cart emptied), idempotency keys,
//! the dummy payment step, and the order lifecycle (paid → shipped → delivered, cancellation
//! with restock): plain synchronous functions over `&mut emporium_db::Conn`.
