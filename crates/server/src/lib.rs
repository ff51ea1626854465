//! Emporium's HTTP server.
//!
//! This crate only wires HTTP onto the domain crates: the route table ([`routes`]),
//! extractors ([`extract`]), the problem+json error type ([`error`]), request ids and
//! telemetry ([`middleware`], [`telemetry`]). Behaviour lives in the domain crates.

pub mod auth;
pub mod cores;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use error::ApiError;
pub use startup::{Application, open_database};
pub use state::AppState;
