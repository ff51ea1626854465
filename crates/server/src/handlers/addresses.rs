//! `/users/me/addresses`: the signed-in account's address book.

use actix_web::{HttpResponse, web};
use emporium_core::AddressId;
use emporium_core::time::now;
use emporium_orders::AddressInput;
use emporium_orders::addresses;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, PathId};
use crate::state::AppState;

/// `GET /users/me/addresses`.
#[utoipa::path(get, path = "/users/me/addresses", tag = "addresses", operation_id = "list_addresses", security(("bearer" = []), ("oauth2" = [])), responses((status = 200, description = "The caller's addresses: the default first, then newest first", body = Vec<emporium_orders::Address>)))]
pub async fn list(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .db(move |conn| addresses::list(conn, user.user_id))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `POST /users/me/addresses`.
#[utoipa::path(post, path = "/users/me/addresses", tag = "addresses", operation_id = "create_address", security(("bearer" = []), ("oauth2" = [])), request_body = crate::openapi::AddressBody, responses((status = 201, description = "The saved address (the default if asked, or if it is the first)", body = emporium_orders::Address, headers(("Location" = String, description = "/users/me/addresses/{id}"))), (status = 409, description = "`address_limit`: the account already keeps 20 addresses", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(input): ApiJson<AddressInput>,
) -> Result<HttpResponse, ApiError> {
    let (fields, is_default) = input.into_fields("")?;
    let address = state
        .db_write(move |conn| addresses::create(conn, user.user_id, fields, is_default, now()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/users/me/addresses/{}", address.id)))
        .json(address))
}

/// `GET /users/me/addresses/{id}`.
#[utoipa::path(get, path = "/users/me/addresses/{id}", tag = "addresses", operation_id = "get_address", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Address id")), responses((status = 200, description = "The address", body = emporium_orders::Address), (status = 404, description = "`not_found` (also for another account's address)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn get(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let address = state
        .db(move |conn| addresses::get(conn, user.user_id, AddressId(id)))
        .await?;
    Ok(HttpResponse::Ok().json(address))
}

/// `PATCH /users/me/addresses/{id}`.
#[utoipa::path(patch, path = "/users/me/addresses/{id}", tag = "addresses", operation_id = "update_address", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Address id")), request_body = crate::openapi::AddressPatchBody, responses((status = 200, description = "The changed address; orders placed to it keep their copy", body = emporium_orders::Address), (status = 404, description = "`not_found` (also for another account's address)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AddressInput>,
) -> Result<HttpResponse, ApiError> {
    let patch = input.into_patch()?;
    let address = state
        .db_write(move |conn| addresses::update(conn, user.user_id, AddressId(id), patch))
        .await?;
    Ok(HttpResponse::Ok().json(address))
}

/// `DELETE /users/me/addresses/{id}`.
#[utoipa::path(delete, path = "/users/me/addresses/{id}", tag = "addresses", operation_id = "delete_address", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Address id")), responses((status = 204, description = "Deleted (a deleted default passes to the newest remaining address); orders keep their copy"), (status = 404, description = "`not_found` (also for another account's address)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn delete(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    state
        .db_write(move |conn| addresses::delete(conn, user.user_id, AddressId(id)))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
