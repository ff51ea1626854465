//! `/products`: the public catalog, and product management for the owning admin.

use actix_web::{HttpResponse, web};
use emporium_catalog::{ListQuery, ProductInput, listing, manage};
use emporium_core::ProductId;
use emporium_core::time::now;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

/// `GET /products`: filters, sort and pagination.
pub async fn list(
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let listing = query.into_listing()?;
    let page = state.db(move |conn| listing::list(conn, &listing)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /products/search?q=…` (alias `keyword`): best match first, same filters.
pub async fn search(
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let search = query.into_search()?;
    let page = state.db(move |conn| listing::search(conn, &search)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /products/categories`.
pub async fn categories(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let categories = state.db(listing::categories).await?;
    Ok(HttpResponse::Ok().json(categories))
}

/// `GET /products/{id}`.
pub async fn get(state: web::Data<AppState>, id: web::Path<i32>) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id.into_inner());
    let product = state.db(move |conn| manage::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(product))
}

/// `POST /products` (admin): the product is owned by its creator.
pub async fn create(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let fields = input.into_fields()?;
    let product = state
        .db(move |conn| manage::create(conn, admin.user_id, fields, now()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/products/{}", product.id)))
        .json(product))
}

/// `PUT /products/{id}` (owning admin): full replace.
pub async fn replace(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    id: web::Path<i32>,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id.into_inner());
    let fields = input.into_fields()?;
    let product = state
        .db(move |conn| manage::replace(conn, admin.user_id, id, fields, now()))
        .await?;
    Ok(HttpResponse::Ok().json(product))
}

/// `PATCH /products/{id}` (owning admin): the fields given.
pub async fn patch(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    id: web::Path<i32>,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id.into_inner());
    let patch = input.into_patch()?;
    let product = state
        .db(move |conn| manage::patch(conn, admin.user_id, id, patch, now()))
        .await?;
    Ok(HttpResponse::Ok().json(product))
}

/// `DELETE /products/{id}` (owning admin).
pub async fn delete(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id.into_inner());
    state
        .db(move |conn| manage::delete(conn, admin.user_id, id, now()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
