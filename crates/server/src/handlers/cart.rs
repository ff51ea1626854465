//! `/cart`: the signed-in account's cart.

use actix_web::{HttpResponse, web};
use emporium_cart as cart;
use emporium_core::time::now;
use emporium_core::{ProductId, ValidationErrors, WholeNumber};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, PathId};
use crate::state::AppState;

/// `GET /cart`.
#[utoipa::path(get, path = "/cart", tag = "cart", operation_id = "get_cart", security(("bearer" = []), ("oauth2" = [])), responses((status = 200, description = "The cart", body = emporium_cart::Cart)))]
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
    product_id: Option<WholeNumber>,
    quantity: Option<WholeNumber>,
}

fn product_id(value: Option<WholeNumber>, errors: &mut ValidationErrors) -> Option<ProductId> {
    errors.check(
        "product_id",
        value.ok_or("is required").and_then(|id| {
            i32::try_from(id.0)
                .map(ProductId)
                .map_err(|_| "is not a product id")
        }),
    )
}

/// `POST /cart/add`: adding a product already in the cart adds to its quantity.
#[utoipa::path(post, path = "/cart/add", tag = "cart", operation_id = "cart_add", security(("bearer" = []), ("oauth2" = [])), request_body = crate::openapi::CartAddBody, responses((status = 200, description = "The cart", body = emporium_cart::Cart), (status = 404, description = "`product_not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "`insufficient_stock`: `errors` names the line; `line_limit`: the line would pass 999 units", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn add(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(input): ApiJson<AddInput>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let product = product_id(input.product_id, &mut errors);
    let quantity = match cart::parse_add_quantity(input.quantity.map(|q| q.0)) {
        Ok(q) => Some(q),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let (product, quantity) = errors.finish(product.zip(quantity))?;
    let cart = state
        .db_write(move |conn| cart::add(conn, user.user_id, product, quantity, now()))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `{quantity}`.
#[derive(Debug, Deserialize)]
pub struct UpdateInput {
    quantity: Option<WholeNumber>,
}

/// `PUT /cart/update/{product_id}`: 0 removes the line.
#[utoipa::path(put, path = "/cart/update/{product_id}", tag = "cart", operation_id = "cart_update", security(("bearer" = []), ("oauth2" = [])), params(("product_id" = i32, Path, description = "The product of the line")), request_body = crate::openapi::CartQuantityBody, responses((status = 200, description = "The cart", body = emporium_cart::Cart), (status = 404, description = "`not_in_cart`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "`insufficient_stock`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    PathId(product): PathId,
    ApiJson(input): ApiJson<UpdateInput>,
) -> Result<HttpResponse, ApiError> {
    let product = ProductId(product);
    let quantity = cart::parse_set_quantity(input.quantity.map(|q| q.0))?;
    let cart = state
        .db_write(move |conn| cart::update(conn, user.user_id, product, quantity))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `DELETE /cart/remove/{product_id}`.
#[utoipa::path(delete, path = "/cart/remove/{product_id}", tag = "cart", operation_id = "cart_remove", security(("bearer" = []), ("oauth2" = [])), params(("product_id" = i32, Path, description = "The product of the line")), responses((status = 200, description = "The cart", body = emporium_cart::Cart), (status = 404, description = "`not_in_cart`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn remove(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    PathId(product): PathId,
) -> Result<HttpResponse, ApiError> {
    let product = ProductId(product);
    let cart = state
        .db_write(move |conn| cart::remove(conn, user.user_id, product))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `DELETE /cart`: empties it.
#[utoipa::path(delete, path = "/cart", tag = "cart", operation_id = "clear_cart", security(("bearer" = []), ("oauth2" = [])), responses((status = 200, description = "The empty cart", body = emporium_cart::Cart)))]
pub async fn clear(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let cart = state
        .db_write(move |conn| cart::clear(conn, user.user_id))
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}
