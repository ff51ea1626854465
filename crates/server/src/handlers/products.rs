//! `/products`: the public catalog, and product management for the owning admin.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use emporium_catalog::{ListQuery, ProductInput, listing, manage};
use emporium_core::ProductId;
use emporium_core::time::now;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::pages::Page;
use crate::state::AppState;

/// The key a catalog answer is kept under: the (normalised) path and the query as sent.
fn page_key(req: &HttpRequest) -> String {
    match req.query_string() {
        "" => req.path().to_string(),
        query => format!("{}?{query}", req.path()),
    }
}

/// A public catalog answer: JSON with a strong `ETag` (a digest of the body, so it changes
/// whenever the body would, stock included) and `Cache-Control: public` with
/// `CATALOG_CACHE_MAX_AGE_SECS`; `304 Not Modified` (no body) when the request's
/// `If-None-Match` names that ETag.
fn catalog_answer(req: &HttpRequest, state: &AppState, page: &Page) -> HttpResponse {
    let etag = page.etag.as_bytes();
    let matches = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag.as_bytes() == etag);
    let mut answer = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, page.etag.clone()))
        // As the contract says; with 0 (the default) a cache may store the page but must
        // revalidate it every time, which the ETag makes a 304.
        .insert_header((header::CACHE_CONTROL, state.catalog_cache_control.clone()));
    if matches {
        answer.finish()
    } else {
        answer
            .content_type("application/json")
            .body(page.body.clone())
    }
}

/// Answers from the page kept in memory for this request, or computes it with `compute` (on
/// the database threads), keeps it and answers with it. See [`crate::pages`].
async fn cached<T, F>(
    req: &HttpRequest,
    state: &AppState,
    compute: F,
) -> Result<HttpResponse, ApiError>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&mut emporium_db::Conn) -> Result<T, ApiError> + Send + 'static,
{
    let key = page_key(req);
    if let Some(page) = state.pages.get(&key) {
        return Ok(catalog_answer(req, state, &page));
    }
    let generation = state.pages.generation();
    let value = state.db(compute).await?;
    let page = Arc::new(Page::encode(&value).map_err(ApiError::internal)?);
    state
        .pages
        .keep(key, generation, Arc::clone(&page), Instant::now());
    Ok(catalog_answer(req, state, &page))
}

/// `GET /products`: filters, sort and pagination.
#[utoipa::path(get, path = "/products", tag = "products", operation_id = "list_products", params(crate::openapi::ProductListParams), responses((status = 200, description = "Live products matching every filter", body = emporium_core::Page<emporium_catalog::Product>, headers(("ETag" = String, description = "Strong validator of this body"), ("Cache-Control" = String, description = "public, with CATALOG_CACHE_MAX_AGE_SECS"))), (status = 304, description = "Not Modified: `If-None-Match` names the current `ETag` (no body)")))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let listing = query.into_listing()?;
    let cache = state.catalog_cache.clone();
    cached(&req, &state, move |conn| {
        Ok(listing::list_cached(conn, &cache, &listing)?)
    })
    .await
}

/// `GET /products/search?q=…` (alias `keyword`): best match first, same filters.
#[utoipa::path(get, path = "/products/search", tag = "products", operation_id = "search_products", params(crate::openapi::SearchParams), responses((status = 200, description = "Matches, best first unless `sort_by` is given: products with every word in the name, then those with every word in the name or category, then the rest (a word found only in the description); within each group the most recently added first. The same order on SQLite and PostgreSQL", body = emporium_core::Page<emporium_catalog::Product>, headers(("ETag" = String, description = "Strong validator of this body"), ("Cache-Control" = String, description = "public, with CATALOG_CACHE_MAX_AGE_SECS"))), (status = 304, description = "Not Modified: `If-None-Match` names the current `ETag` (no body)")))]
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let search = query.into_search()?;
    let cache = state.catalog_cache.clone();
    cached(&req, &state, move |conn| {
        Ok(listing::search_cached(conn, &cache, &search)?)
    })
    .await
}

/// `GET /products/categories`.
#[utoipa::path(get, path = "/products/categories", tag = "products", operation_id = "list_categories", responses((status = 200, description = "Categories with live products, A to Z", body = Vec<emporium_catalog::Category>, headers(("ETag" = String, description = "Strong validator of this body"), ("Cache-Control" = String, description = "public, with CATALOG_CACHE_MAX_AGE_SECS"))), (status = 304, description = "Not Modified: `If-None-Match` names the current `ETag` (no body)")))]
pub async fn categories(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    cached(&req, &state, |conn| Ok(listing::categories(conn)?)).await
}

/// `GET /products/{id}`.
#[utoipa::path(get, path = "/products/{id}", tag = "products", operation_id = "get_product", params(("id" = i32, Path, description = "Product id")), responses((status = 200, description = "The product", body = emporium_catalog::Product, headers(("ETag" = String, description = "Strong validator of this body"), ("Cache-Control" = String, description = "public, with CATALOG_CACHE_MAX_AGE_SECS"))), (status = 304, description = "Not Modified: `If-None-Match` names the current `ETag` (no body)"), (status = 404, description = "`not_found` (also for deleted products)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id);
    cached(&req, &state, move |conn| Ok(manage::get(conn, id)?)).await
}

/// `POST /products` (admin): the product is owned by its creator.
#[utoipa::path(post, path = "/products", tag = "products", operation_id = "create_product", security(("bearer" = []), ("oauth2" = [])), request_body = crate::openapi::ProductBody, responses((status = 201, description = "The product, owned by the admin who created it", body = emporium_catalog::Product, headers(("Location" = String, description = "/products/{id}"))), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let fields = input.into_fields()?;
    let product = state
        .catalog_write(move |conn| manage::create(conn, admin.user_id, fields, now()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/products/{}", product.id)))
        .json(product))
}

/// `PUT /products/{id}` (owning admin): full replace.
#[utoipa::path(put, path = "/products/{id}", tag = "products", operation_id = "replace_product", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Product id")), request_body = crate::openapi::ProductBody, responses((status = 200, description = "The product, every field replaced", body = emporium_catalog::Product), (status = 403, description = "`not_owner`, `admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn replace(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id);
    let fields = input.into_fields()?;
    let product = state
        .catalog_write(move |conn| manage::replace(conn, admin.user_id, id, fields, now()))
        .await?;
    state.webhooks.wake();
    Ok(HttpResponse::Ok().json(product))
}

/// `PATCH /products/{id}` (owning admin): the fields given.
#[utoipa::path(patch, path = "/products/{id}", tag = "products", operation_id = "patch_product", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Product id")), request_body = crate::openapi::ProductPatchBody, responses((status = 200, description = "The product with the given fields changed", body = emporium_catalog::Product), (status = 403, description = "`not_owner`, `admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn patch(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id);
    let patch = input.into_patch()?;
    let product = state
        .catalog_write(move |conn| manage::patch(conn, admin.user_id, id, patch, now()))
        .await?;
    state.webhooks.wake();
    Ok(HttpResponse::Ok().json(product))
}

/// `DELETE /products/{id}` (owning admin).
#[utoipa::path(delete, path = "/products/{id}", tag = "products", operation_id = "delete_product", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Product id")), responses((status = 204, description = "Gone from the catalog and every cart; orders keep their copies"), (status = 403, description = "`not_owner`, `admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn delete(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id);
    state
        .catalog_write(move |conn| manage::delete(conn, admin.user_id, id, now()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
