//! `/admin/webhooks`: endpoints that receive signed order and stock events.

use actix_web::{HttpResponse, web};
use emporium_core::time::now;
use emporium_core::{DeliveryId, WebhookId};
use emporium_webhooks::{WebhookInput, delivery, endpoint};

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, PathId, PathIds};
use crate::handlers::users::PageQuery;
use crate::state::AppState;

/// `GET /admin/webhooks`.
#[utoipa::path(get, path = "/admin/webhooks", tag = "webhooks", operation_id = "list_webhooks", security(("bearer" = []), ("oauth2" = [])), responses((status = 200, description = "Every endpoint, oldest first, without secrets", body = Vec<emporium_webhooks::Webhook>), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, _: AdminUser) -> Result<HttpResponse, ApiError> {
    let list = state.db(endpoint::list).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `POST /admin/webhooks`.
#[utoipa::path(post, path = "/admin/webhooks", tag = "webhooks", operation_id = "create_webhook", security(("bearer" = []), ("oauth2" = [])), request_body = crate::openapi::WebhookBody, responses((status = 201, description = "The endpoint, enabled, with its signing `secret` (shown only here and on rotation)", body = emporium_webhooks::Webhook, headers(("Location" = String, description = "/admin/webhooks/{id}"))), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    _: AdminUser,
    ApiJson(input): ApiJson<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let changes = input.check(true, state.settings.webhooks.allow_private_urls)?;
    let webhook = state
        .db_write(move |conn| endpoint::create(conn, changes, now()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/admin/webhooks/{}", webhook.id)))
        .json(webhook))
}

/// `GET /admin/webhooks/{id}`.
#[utoipa::path(get, path = "/admin/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Webhook id")), responses((status = 200, description = "The endpoint, without its secret", body = emporium_webhooks::Webhook), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn get(
    state: web::Data<AppState>,
    _: AdminUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let webhook = state
        .db(move |conn| endpoint::get(conn, WebhookId(id)))
        .await?;
    Ok(HttpResponse::Ok().json(webhook))
}

/// `PATCH /admin/webhooks/{id}`.
#[utoipa::path(patch, path = "/admin/webhooks/{id}", tag = "webhooks", operation_id = "update_webhook", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Webhook id")), request_body = crate::openapi::WebhookPatchBody, responses((status = 200, description = "The changed endpoint. Enabling it again resumes its queued deliveries.", body = emporium_webhooks::Webhook), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let changes = input.check(false, state.settings.webhooks.allow_private_urls)?;
    let webhook = state
        .db_write(move |conn| endpoint::update(conn, WebhookId(id), changes, now()))
        .await?;
    state.webhooks.wake();
    Ok(HttpResponse::Ok().json(webhook))
}

/// `DELETE /admin/webhooks/{id}`.
#[utoipa::path(delete, path = "/admin/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Webhook id")), responses((status = 204, description = "Deleted, with its deliveries"), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn delete(
    state: web::Data<AppState>,
    _: AdminUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    state
        .db_write(move |conn| endpoint::delete(conn, WebhookId(id)))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /admin/webhooks/{id}/rotate-secret`.
#[utoipa::path(post, path = "/admin/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotate_webhook_secret", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Webhook id")), responses((status = 200, description = "The endpoint with its new `secret`; the old one stops signing at once", body = emporium_webhooks::Webhook), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    _: AdminUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let webhook = state
        .db_write(move |conn| endpoint::rotate_secret(conn, WebhookId(id), now()))
        .await?;
    Ok(HttpResponse::Ok().json(webhook))
}

/// `GET /admin/webhooks/{id}/deliveries`.
#[utoipa::path(get, path = "/admin/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "list_webhook_deliveries", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Webhook id"), crate::openapi::PageParams), responses((status = 200, description = "Its deliveries, newest first", body = emporium_core::Page<emporium_webhooks::Delivery>), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn deliveries(
    state: web::Data<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.request()?;
    let deliveries = state
        .db(move |conn| delivery::list(conn, WebhookId(id), page))
        .await?;
    Ok(HttpResponse::Ok().json(deliveries))
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery_id}/retry`.
#[utoipa::path(post, path = "/admin/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks", operation_id = "retry_webhook_delivery", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Webhook id"), ("delivery_id" = i32, Path, description = "Delivery id")), responses((status = 202, description = "Queued for an attempt now (also a delivery that succeeded: it is sent again with the same `webhook-id`)", body = emporium_webhooks::Delivery), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "`webhook_disabled`: enable the endpoint first", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn retry(
    state: web::Data<AppState>,
    _: AdminUser,
    PathIds(id, delivery_id): PathIds,
) -> Result<HttpResponse, ApiError> {
    let queued = state
        .db_write(move |conn| delivery::retry(conn, WebhookId(id), DeliveryId(delivery_id), now()))
        .await?;
    state.webhooks.wake();
    Ok(HttpResponse::Accepted().json(queued))
}
