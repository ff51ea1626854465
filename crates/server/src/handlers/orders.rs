//! `/checkout`, `/orders` and `/admin/orders`.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use emporium_core::time::now;
use emporium_core::{OrderId, ValidationErrors};
use emporium_orders::checkout::{self, CheckoutRequest, Outcome};
use emporium_orders::lifecycle::{self, Actor};
use emporium_orders::{AdminChange, Status, TrackingInput, model};
use serde::Deserialize;

use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson, PathId};
use crate::handlers::users::PageQuery;
use crate::state::AppState;

/// The `Idempotency-Key` header, checked.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                ApiError::validation(ValidationErrors::single(
                    "Idempotency-Key",
                    "must be visible ASCII",
                ))
            })?;
            Ok(Some(checkout::parse_key(text)?))
        }
    }
}

/// `POST /checkout`: the cart becomes a paid order (201), or a retry with the same
/// `Idempotency-Key` gets the first response again with `Idempotent-Replayed: true`.
#[utoipa::path(post, path = "/checkout", tag = "orders", operation_id = "checkout", security(("bearer" = []), ("oauth2" = [])), params(("Idempotency-Key" = Option<String>, Header, description = "Up to 255 visible ASCII characters. A retry with the same key replays the first successful response with `Idempotent-Replayed: true`; the same key with a different cart is 409.", min_length = 1, max_length = 255, pattern = "^[!-~]+$")), request_body = crate::openapi::CheckoutBody, responses((status = 201, description = "A paid order; the cart is emptied and a confirmation email queued", body = emporium_orders::Order, headers(("Location" = String, description = "/orders/{id}"), ("Idempotent-Replayed" = String, description = "`true` when this is the replay of an earlier response"))), (status = 402, description = "`payment_declined`: nothing changed", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "`not_found`: `address_id` is not one of the caller's addresses; nothing changed", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "`cart_empty`, `insufficient_stock` (`errors` lists every short line), `idempotency_key_reused`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn checkout(
    req: HttpRequest,
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    OptionalJson(body): OptionalJson<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let order = body
        .unwrap_or_default()
        .into_checkout(state.settings.require_shipping_address)?;
    let shop = state.settings.mail.from_name.clone();
    let outcome = state
        .catalog_write(move |conn| {
            checkout::checkout_with(conn, user.user_id, key.as_deref(), &order, &shop, now())
        })
        .await?;
    Ok(match outcome {
        Outcome::Created { order, body } => {
            state.mail.wake();
            state.webhooks.wake();
            HttpResponse::Created()
                .content_type(ContentType::json())
                .insert_header(("Location", format!("/orders/{}", order.id)))
                .body(body)
        }
        Outcome::Replayed { status, body } => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED))
                .content_type(ContentType::json())
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body)
        }
    })
}

/// `GET /orders`: the caller's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders", operation_id = "list_orders", security(("bearer" = []), ("oauth2" = [])), params(crate::openapi::PageParams), responses((status = 200, description = "The orders of the caller, newest first", body = emporium_core::Page<emporium_orders::OrderSummary>)))]
pub async fn list(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.request()?;
    let orders = state
        .db(move |conn| model::list_for_user(conn, user.user_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(orders))
}

/// `GET /orders/{id}`: the buyer's or any for an admin; anyone else's is 404.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", operation_id = "get_order", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Order id")), responses((status = 200, description = "The order (its buyer or an admin)", body = emporium_orders::Order), (status = 404, description = "`not_found` (also for an order of another account)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn get(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId(id);
    let order = state
        .db(move |conn| model::get_for(conn, id, user.user_id, user.is_admin()))
        .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// `POST /orders/{id}/cancel`.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", operation_id = "cancel_order", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Order id")), responses((status = 200, description = "The cancelled order; the units of a paid order go back to stock", body = emporium_orders::Order), (status = 404, description = "`not_found` (also for an order of another account)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "`invalid_transition`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn cancel(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId(id);
    let actor = Actor {
        user: user.user_id,
        is_admin: user.is_admin(),
    };
    let shop = state.settings.mail.from_name.clone();
    let order = state
        .catalog_write(move |conn| lifecycle::cancel(conn, id, actor, &shop, now()))
        .await?;
    state.mail.wake();
    state.webhooks.wake();
    Ok(HttpResponse::Ok().json(order))
}

/// `GET /admin/orders` query: pagination and an optional `status`.
#[derive(Debug, Deserialize)]
pub struct AdminListQuery {
    page: Option<emporium_core::IntegerText>,
    page_size: Option<emporium_core::IntegerText>,
    status: Option<Status>,
}

/// `GET /admin/orders`: everyone's orders, newest first.
#[utoipa::path(get, path = "/admin/orders", tag = "orders", operation_id = "admin_list_orders", security(("bearer" = []), ("oauth2" = [])), params(crate::openapi::AdminOrderParams), responses((status = 200, description = "Orders of every account, newest first", body = emporium_core::Page<emporium_orders::OrderSummary>), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn admin_list(
    state: web::Data<AppState>,
    _: AdminUser,
    ApiQuery(query): ApiQuery<AdminListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = emporium_core::PageRequest::from_query(
        query.page.map(|p| p.0),
        query.page_size.map(|p| p.0),
    )?;
    let status = query.status;
    let orders = state
        .db(move |conn| model::list_all(conn, status, page))
        .await?;
    Ok(HttpResponse::Ok().json(orders))
}

/// `{status, carrier, tracking_number, tracking_url}`, each optional.
#[derive(Debug, Deserialize)]
pub struct AdminOrderInput {
    status: Option<Status>,
    #[serde(flatten)]
    tracking: TrackingInput,
}

/// `PATCH /admin/orders/{id}`: moves the order along the allowed transitions and/or sets its
/// tracking.
#[utoipa::path(patch, path = "/admin/orders/{id}", tag = "orders", operation_id = "admin_update_order", security(("bearer" = []), ("oauth2" = [])), params(("id" = i32, Path, description = "Order id")), request_body = crate::openapi::OrderStatusBody, responses((status = 200, description = "The order in its new status", body = emporium_orders::Order), (status = 403, description = "`admin_required`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 404, description = "`not_found`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 409, description = "`invalid_transition`; `not_shipped`: tracking given for an order that is not (or does not become) shipped", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn admin_update(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AdminOrderInput>,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId(id);
    let change = AdminChange {
        status: input.status,
        tracking: input.tracking.into_tracking()?,
    };
    let actor = Actor {
        user: admin.user_id,
        is_admin: true,
    };
    let shop = state.settings.mail.from_name.clone();
    let order = state
        .catalog_write(move |conn| lifecycle::change(conn, id, &change, actor, &shop, now()))
        .await?;
    state.mail.wake();
    state.webhooks.wake();
    Ok(HttpResponse::Ok().json(order))
}
