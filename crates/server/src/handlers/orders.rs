//! `/checkout`, `/orders` and `/admin/orders`.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use emporium_core::time::now;
use emporium_core::{OrderId, ValidationErrors};
use emporium_orders::checkout::{self, CheckoutRequest, Outcome};
use emporium_orders::lifecycle::{self, Actor};
use emporium_orders::{Status, model};
use serde::Deserialize;

use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
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
pub async fn checkout(
    req: HttpRequest,
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    OptionalJson(body): OptionalJson<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let payment = body.unwrap_or_default().into_payment()?;
    let shop = state.settings.mail.from_name.clone();
    let outcome = state
        .db(move |conn| {
            checkout::checkout(conn, user.user_id, key.as_deref(), &payment, &shop, now())
        })
        .await?;
    Ok(match outcome {
        Outcome::Created { order, body } => {
            state.mail.wake();
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
pub async fn get(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId(id.into_inner());
    let order = state
        .db(move |conn| model::get_for(conn, id, user.user_id, user.is_admin()))
        .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// `POST /orders/{id}/cancel`.
pub async fn cancel(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId(id.into_inner());
    let actor = Actor {
        user: user.user_id,
        is_admin: user.is_admin(),
    };
    let order = state
        .db(move |conn| lifecycle::cancel(conn, id, actor, now()))
        .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// `GET /admin/orders` query: pagination and an optional `status`.
#[derive(Debug, Deserialize)]
pub struct AdminListQuery {
    page: Option<i64>,
    page_size: Option<i64>,
    status: Option<Status>,
}

/// `GET /admin/orders`: everyone's orders, newest first.
pub async fn admin_list(
    state: web::Data<AppState>,
    _: AdminUser,
    ApiQuery(query): ApiQuery<AdminListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = emporium_core::PageRequest::from_query(query.page, query.page_size)?;
    let status = query.status;
    let orders = state
        .db(move |conn| model::list_all(conn, status, page))
        .await?;
    Ok(HttpResponse::Ok().json(orders))
}

/// `{status}`.
#[derive(Debug, Deserialize)]
pub struct StatusInput {
    status: Option<Status>,
}

/// `PATCH /admin/orders/{id}`: moves the order along the allowed transitions.
pub async fn admin_update(
    state: web::Data<AppState>,
    AdminUser(admin): AdminUser,
    id: web::Path<i32>,
    ApiJson(input): ApiJson<StatusInput>,
) -> Result<HttpResponse, ApiError> {
    let id = OrderId(id.into_inner());
    let to = input
        .status
        .ok_or_else(|| ApiError::validation(ValidationErrors::single("status", "is required")))?;
    let actor = Actor {
        user: admin.user_id,
        is_admin: true,
    };
    let order = state
        .db(move |conn| lifecycle::transition(conn, id, to, actor, now()))
        .await?;
    Ok(HttpResponse::Ok().json(order))
}
