//! `/cart`: the signed-in account's cart.

use actix_web::{HttpResponse, web};
use emporium_cart as cart;
use emporium_core::time::now;
use emporium_core::{ProductId, ValidationErrors};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

/// `GET /cart`.
pub async fn get(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let cart = state.db(move |conn| cart::get(conn, user.user_id)).await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `{product_id, quantity?}`.
#[derive(Debug, Deserialize)]
pub struct AddInput {
    product_id: Option<i64>,
    quantity: Option<i64>,
}

fn product_id(value: Option<i64>, errors: &mut ValidationErrors) -> Option<ProductId> {
    errors.check(
        "product_id",
        value.ok_or("is required").and_then(|id| {
            i32::try_from(id)
                .map(ProductId)
                .map_err(|_| "is not a product id")
        }),
    )
}

/// `POST /cart/add`: adding a product already in the cart adds to its quantity.
pub async fn add(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(input): ApiJson<AddInput>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let product = product_id(input.product_id, &mut errors);
    let quantity = match cart::parse_add_quantity(input.quantity) {
        Ok(q) => Some(q),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let (product, quantity) = errors.finish(product.zip(quantity))?;
    let cart = state
        .db(move |conn| cart::add(conn, user.user_id, product, quantity, now()))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `{quantity}`.
#[derive(Debug, Deserialize)]
pub struct UpdateInput {
    quantity: Option<i64>,
}

/// `PUT /cart/update/{product_id}`: 0 removes the line.
pub async fn update(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    product: web::Path<i32>,
    ApiJson(input): ApiJson<UpdateInput>,
) -> Result<HttpResponse, ApiError> {
    let product = ProductId(product.into_inner());
    let quantity = cart::parse_set_quantity(input.quantity)?;
    let cart = state
        .db(move |conn| cart::update(conn, user.user_id, product, quantity))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `DELETE /cart/remove/{product_id}`.
pub async fn remove(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    product: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let product = ProductId(product.into_inner());
    let cart = state
        .db(move |conn| cart::remove(conn, user.user_id, product))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `DELETE /cart`: empties it.
pub async fn clear(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let cart = state
        .db(move |conn| cart::clear(conn, user.user_id))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}
