//! `/users`: the signed-in account, and account management for admins.

use actix_web::{HttpResponse, web};
use emporium_auth::Role;
use emporium_auth::accounts::{self, AdminChanges};
use emporium_core::time::now;
use emporium_core::{PageRequest, UserId};
use serde::Deserialize;

use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

/// `GET /users/me`.
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
pub async fn update_me(
    state: web::Data<AppState>,
    AuthUser(principal): AuthUser,
    ApiJson(changes): ApiJson<MeChanges>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .db(move |conn| match changes.name {
            Some(name) => accounts::update_name(conn, principal.user_id, &name, now()),
            None => accounts::get_user(conn, principal.user_id),
        })
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `page` and `page_size`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
    page_size: Option<i64>,
}

impl PageQuery {
    /// The validated request.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::from_query(self.page, self.page_size)?)
    }
}

/// `GET /users` (admin).
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
pub async fn get(
    state: web::Data<AppState>,
    _: AdminUser,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
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
pub async fn update(
    state: web::Data<AppState>,
    _: AdminUser,
    id: web::Path<i32>,
    ApiJson(patch): ApiJson<AdminPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
    let changes = AdminChanges {
        role: patch.role,
        is_active: patch.is_active,
    };
    let user = state
        .db(move |conn| accounts::admin_update(conn, id, changes, now()))
        .await?;
    Ok(HttpResponse::Ok().json(user))
}
