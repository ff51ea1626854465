//! Emporium, an e-commerce backend, for Rust programs that embed the shop.
//!
//! The domain crates are plain synchronous functions over Diesel models; this crate gathers
//! them under one name so an embedder depends on `emporium` alone:
//!
//! - [`core`]: ids, [`Money`](core::Money), [`Email`](core::Email), pagination, settings;
//! - [`db`]: the connection pool, migrations and schema;
//! - [`auth`], [`catalog`], [`cart`], [`orders`], [`mail`], [`webhooks`]: the shop's domains.
//!
//! The HTTP server (`emporium-server`, binary `emporium`) is a thin layer over the same
//! functions.

pub use emporium_auth as auth;
pub use emporium_cart as cart;
pub use emporium_catalog as catalog;
pub use emporium_core as core;
pub use emporium_db as db;
pub use emporium_mail as mail;
pub use emporium_orders as orders;
pub use emporium_webhooks as webhooks;
