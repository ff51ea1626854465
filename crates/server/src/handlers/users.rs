//! `/users`: the signed-in account, and account management for admins.

use actix_web::{HttpResponse, web};
use emporium_auth::Role;
use emporium_auth::accounts::{self, AdminChanges};
use emporium_core::time::now;
use emporium_core::{IntegerText, PageRequest, UserId};
use serde::Deserialize;

use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::state::AppState;

/// `GET /users/me`.
#[utoipa::path(get, path = "/users/me", tag = "users", operation_id = "get_me", security(("bearer" = []), ("oauth2" = [])), responses((status = 200, description = "The signed-in account", body = emporium_auth::User)))]
pub async fn me(
    state: web::Data<AppState>,
    AuthUser(principal): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .db(move |conn| accounts::get_user(conn, principal.user_id))
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `PATCH /users/me`: only `name` can be changed here; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct MeChanges {
    name: Option<String>,
}

/// `PATCH /users/me`.
#[utoipa::path(patch, path = "/users/me", tag = "users", operation_id = "update_me", security(("bearer" = []), ("oauth2" = [])), request_body = crate::openapi::NameBody, responses((status = 200, description = "The account (only `name` changes)", body = emporium_auth::User)))]
pub async fn update_me(
    state: web::Data<AppState>,
    AuthUser(principal): AuthUser,
    ApiJson(changes): ApiJson<MeChanges>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .db_write(move |conn| match changes.name {
            Some(name) => accounts::update_name(conn, principal.user_id, &name, now()),
            None => accounts::get_user(conn, principal.user_id),
        })
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `page` and `page_size`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<IntegerText>,
    page_size: Option<IntegerText>,
}

impl PageQuery {
    /// The validated request.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::from_query(
            self.page.map(|p| p.0),
            self.page_size.map(|p| p.0),
        )?)
    }
}

/// `GET /users` (admin).
#[utoipa::path(get, path = "/users", tag = "users", operation_id = "list_users", security(("bearer" = []), ("oauth2" = [])), params(crate::openapi::PageParams), responses((status = 200, description = "Accounts, oldest first", body = emporium_core::Page<emporium_auth::User>), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn list(
    state: web::Data<AppState>,
    _: AdminUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.request()?;
    let users = state
        .db(move |conn| accounts::list_users(conn, page))
        .await?;
    Ok(HttpResponse::Ok().json(users))
}

/// `GET /users/{id}` (admin).
#[utoipa::path(get, path = "/users/{id}", tag = "users", operation_id = "get_user", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Account id")), responses((status = 200, description = "The account", body = emporium_auth::User), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn get(
    state: web::Data<AppState>,
    _: AdminUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id);
    let user = state.db(move |conn| accounts::get_user(conn, id)).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `PATCH /users/{id}` body: `role` and/or `is_active`.
#[derive(Debug, Deserialize)]
pub struct AdminPatch {
    role: Option<Role>,
    is_active: Option<bool>,
}

/// `PATCH /users/{id}` (admin). Takes effect on the account's next request.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", operation_id = "update_user", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Account id")), request_body = crate::openapi::UserAdminBody, responses((status = 200, description = "The account; the change applies to its next request", body = emporium_auth::User), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "`last_admin`: the last active admin cannot be demoted or disabled", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<AdminPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id);
    let changes = AdminChanges {
        role: patch.role,
        is_active: patch.is_active,
    };
    let user = state
        .db_write(move |conn| accounts::admin_update(conn, id, changes, now()))
        .await?;
    Ok(HttpResponse::Ok().json(user))
}
