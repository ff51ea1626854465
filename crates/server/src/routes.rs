//! Every URL the server answers, in one table.
//!
//! Paths are written without a trailing slash; `NormalizePath::trim` (see `startup`) makes
//! `/products/` and `/products` the same route without a redirect. Routes of one path share a
//! `web::resource`, so a wrong method is a 405 (with `Allow`), not a 404. Fixed paths come
//! before parameterised ones (`/products/search` before `/products/{id}`).

use actix_web::Route;
use actix_web::http::Method;
use actix_web::web::{self, resource, to};

use crate::handlers::{addresses, auth, cart, docs, health, orders, products, users, webhooks};

/// The table: method, path, handler.
fn table() -> Vec<(Method, &'static str, Route)> {
    use Method as M;
    vec![
        // Operations
        (M::GET, "/health", to(health::health)),
        (M::GET, "/ready", to(health::ready)),
        (M::GET, "/metrics", to(health::metrics)),
        (M::GET, "/openapi.json", to(docs::openapi_json)),
        (M::GET, "/docs", to(docs::swagger_ui)),
        (M::GET, "/docs/{file}", to(docs::swagger_file)),
        // Auth
        (M::POST, "/auth/signup", to(auth::signup)),
        (M::POST, "/auth/verify-email", to(auth::verify_email)),
        (M::GET, "/auth/verify-email", to(auth::verify_email_link)),
        (
            M::POST,
            "/auth/resend-verification",
            to(auth::resend_verification),
        ),
        (M::POST, "/auth/signin", to(auth::signin)),
        (M::POST, "/auth/refresh", to(auth::refresh)),
        (M::POST, "/auth/logout", to(auth::logout)),
        (M::POST, "/auth/forgot-password", to(auth::forgot_password)),
        (M::POST, "/auth/reset-password", to(auth::reset_password)),
        (
            M::GET,
            "/auth/reset-password",
            to(auth::reset_password_page),
        ),
        (M::POST, "/auth/change-password", to(auth::change_password)),
        // Users
        (M::GET, "/users/me", to(users::me)),
        (M::PATCH, "/users/me", to(users::update_me)),
        (M::GET, "/users/me/addresses", to(addresses::list)),
        (M::POST, "/users/me/addresses", to(addresses::create)),
        (M::GET, "/users/me/addresses/{id}", to(addresses::get)),
        (M::PATCH, "/users/me/addresses/{id}", to(addresses::update)),
        (M::DELETE, "/users/me/addresses/{id}", to(addresses::delete)),
        (M::GET, "/users", to(users::list)),
        (M::GET, "/users/{id}", to(users::get)),
        (M::PATCH, "/users/{id}", to(users::update)),
        // Products
        (M::GET, "/products", to(products::list)),
        (M::POST, "/products", to(products::create)),
        (M::GET, "/products/search", to(products::search)),
        (M::GET, "/products/categories", to(products::categories)),
        (M::GET, "/products/{id}", to(products::get)),
        (M::PUT, "/products/{id}", to(products::replace)),
        (M::PATCH, "/products/{id}", to(products::patch)),
        (M::DELETE, "/products/{id}", to(products::delete)),
        // Cart
        (M::GET, "/cart", to(cart::get)),
        (M::DELETE, "/cart", to(cart::clear)),
        (M::POST, "/cart/add", to(cart::add)),
        (M::PUT, "/cart/update/{product_id}", to(cart::update)),
        (M::DELETE, "/cart/remove/{product_id}", to(cart::remove)),
        // Checkout and orders
        (M::POST, "/checkout", to(orders::checkout)),
        (M::GET, "/orders", to(orders::list)),
        (M::GET, "/orders/{id}", to(orders::get)),
        (M::POST, "/orders/{id}/cancel", to(orders::cancel)),
        (M::GET, "/admin/orders", to(orders::admin_list)),
        (M::PATCH, "/admin/orders/{id}", to(orders::admin_update)),
        // Webhooks
        (M::GET, "/admin/webhooks", to(webhooks::list)),
        (M::POST, "/admin/webhooks", to(webhooks::create)),
        (M::GET, "/admin/webhooks/{id}", to(webhooks::get)),
        (M::PATCH, "/admin/webhooks/{id}", to(webhooks::update)),
        (M::DELETE, "/admin/webhooks/{id}", to(webhooks::delete)),
        (
            M::POST,
            "/admin/webhooks/{id}/rotate-secret",
            to(webhooks::rotate_secret),
        ),
        (
            M::GET,
            "/admin/webhooks/{id}/deliveries",
            to(webhooks::deliveries),
        ),
        (
            M::POST,
            "/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
            to(webhooks::retry),
        ),
    ]
}

/// Every (method, path) the server serves, in table order.
pub fn endpoints() -> Vec<(Method, &'static str)> {
    table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut resources: Vec<(&'static str, actix_web::Resource)> = Vec::new();
    for (method, path, route) in table() {
        let route = route.method(method);
        match resources.iter().position(|(p, _)| *p == path) {
            Some(at) => {
                let (p, existing) = resources.remove(at);
                resources.insert(at, (p, existing.route(route)));
            }
            None => resources.push((path, resource(path).route(route))),
        }
    }
    for (_, resource) in resources {
        cfg.service(resource);
    }
}
