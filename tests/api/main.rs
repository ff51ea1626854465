//! Emporium's HTTP tests: the real app on a fresh database (a SQLite file, or a PostgreSQL
//! database when `EMPORIUM_TEST_POSTGRES_URL` is set) and a free port per test.
//!
//! One test binary with a module per area (many binaries link slowly).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] functions: a failed step must fail the test"
)]

mod abuse;
mod auth;
mod caching;
mod cart;
mod errors;
mod fulfilment;
mod health;
mod helpers;
mod openapi;
mod orders;
mod products;
mod servers;
mod users;
mod webhooks;
