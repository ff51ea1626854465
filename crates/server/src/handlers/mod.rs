//! Request handlers, one module per area. Each handler extracts, calls a domain function
//! through [`AppState::db`](crate::state::AppState::db), and maps the result.

pub mod addresses;
pub mod auth;
pub mod cart;
pub mod docs;
pub mod health;
pub mod orders;
pub mod products;
pub mod users;
pub mod webhooks;

use crate::error::ApiError;

/// The answer for a path no route matches.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("There is nothing at this address."))
}
