//! Every URL the server answers, in one table.
//!
//! Paths are written without a trailing slash; `NormalizePath::trim` (see `startup`) makes
//! `/products/` and `/products` the same route without a redirect. Each path is a
//! `web::resource` so that a wrong method is a 405, not a 404.

use actix_web::web;

use crate::handlers::health;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(health::health)))
        .service(web::resource("/ready").route(web::get().to(health::ready)));
}
