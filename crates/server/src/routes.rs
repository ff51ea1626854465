//! Every URL the server answers, in one table.
//!
//! Paths are written without a trailing slash; `NormalizePath::trim` (see `startup`) makes
//! `/products/` and `/products` the same route without a redirect. Each path is a
//! `web::resource` so that a wrong method is a 405, not a 404.

use actix_web::web::{self, delete, get, patch, post, put, resource};

use crate::handlers::{auth, cart, health, orders, products, users};

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg
        // Operations
        .service(resource("/health").route(get().to(health::health)))
        .service(resource("/ready").route(get().to(health::ready)))
        .service(resource("/metrics").route(get().to(health::metrics)))
        // Auth
        .service(resource("/auth/signup").route(post().to(auth::signup)))
        .service(
            resource("/auth/verify-email")
                .route(post().to(auth::verify_email))
                .route(get().to(auth::verify_email_link)),
        )
        .service(resource("/auth/resend-verification").route(post().to(auth::resend_verification)))
        .service(resource("/auth/signin").route(post().to(auth::signin)))
        .service(resource("/auth/refresh").route(post().to(auth::refresh)))
        .service(resource("/auth/logout").route(post().to(auth::logout)))
        .service(resource("/auth/forgot-password").route(post().to(auth::forgot_password)))
        .service(
            resource("/auth/reset-password")
                .route(post().to(auth::reset_password))
                .route(get().to(auth::reset_password_page)),
        )
        .service(resource("/auth/change-password").route(post().to(auth::change_password)))
        // Users
        .service(
            resource("/users/me")
                .route(get().to(users::me))
                .route(patch().to(users::update_me)),
        )
        .service(resource("/users").route(get().to(users::list)))
        .service(
            resource("/users/{id}")
                .route(get().to(users::get))
                .route(patch().to(users::update)),
        )
        // Products (the fixed paths before `{id}`, which would otherwise claim them)
        .service(
            resource("/products")
                .route(get().to(products::list))
                .route(post().to(products::create)),
        )
        .service(resource("/products/search").route(get().to(products::search)))
        .service(resource("/products/categories").route(get().to(products::categories)))
        .service(
            resource("/products/{id}")
                .route(get().to(products::get))
                .route(put().to(products::replace))
                .route(patch().to(products::patch))
                .route(delete().to(products::delete)),
        )
        // Cart
        .service(
            resource("/cart")
                .route(get().to(cart::get))
                .route(delete().to(cart::clear)),
        )
        .service(resource("/cart/add").route(post().to(cart::add)))
        .service(resource("/cart/update/{product_id}").route(put().to(cart::update)))
        .service(resource("/cart/remove/{product_id}").route(delete().to(cart::remove)))
        // Checkout and orders
        .service(resource("/checkout").route(post().to(orders::checkout)))
        .service(resource("/orders").route(get().to(orders::list)))
        .service(resource("/orders/{id}").route(get().to(orders::get)))
        .service(resource("/orders/{id}/cancel").route(post().to(orders::cancel)))
        .service(resource("/admin/orders").route(get().to(orders::admin_list)))
        .service(resource("/admin/orders/{id}").route(patch().to(orders::admin_update)));
}
