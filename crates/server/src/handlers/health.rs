//! Liveness and readiness.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// How long readiness waits for a connection before calling the database unavailable.
const READY_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health`: 200 whenever the process serves requests.
#[utoipa::path(get, path = "/health", tag = "operations", operation_id = "health", responses((status = 200, description = "The process serves requests", body = crate::openapi::StatusBody)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /ready`: 200 when the database answers and every migration is applied, 503 otherwise.
#[utoipa::path(get, path = "/ready", tag = "operations", operation_id = "ready", responses((status = 200, description = "The database answers and every migration is applied", body = crate::openapi::StatusBody), (status = 503, description = "`not_ready`: the database does not answer or a migration is pending", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let outcome = web::block(move || -> Result<(), String> {
        let mut conn = pool
            .get_timeout(READY_CHECKOUT_TIMEOUT)
            .map_err(|e| e.to_string())?;
        emporium_db::check_ready(&mut conn).map_err(|e| e.to_string())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            Err(ApiError::unavailable("The database is not ready.").with_code("not_ready"))
        }
    }
}

/// Whether the request carries `Authorization: Bearer <token>`, compared in constant time
/// (over SHA-256 digests, so neither the content nor the length of the token leaks through
/// timing).
fn carries_token(req: &HttpRequest, token: &str) -> bool {
    use sha2::{Digest, Sha256};
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    let difference = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    difference == 0 && !presented.is_empty()
}

/// `GET /metrics`: Prometheus text format; with `METRICS_TOKEN` set, only for requests that
/// carry it as a bearer token.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics", responses((status = 200, description = "Prometheus text format: request counts and latency by route pattern and status; pool and outbox gauges; suppressed mails by kind", body = String, content_type = "text/plain"), (status = 401, description = "`unauthorized`: `METRICS_TOKEN` is set and the request does not carry it as `Authorization: Bearer <token>`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.settings.metrics_token
        && !carries_token(&req, token.expose())
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The metrics need the bearer token set in METRICS_TOKEN.",
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    let outbox = state.db(emporium_mail::outbox::counts).await?;
    let body = state
        .metrics
        .render(state.pool.state(), outbox)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
