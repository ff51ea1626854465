//! Liveness and readiness.

use std::time::Duration;

use actix_web::{HttpResponse, web};
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

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics", responses((status = 200, description = "Prometheus text format: request counts and latency by route pattern and status; pool and outbox gauges", body = String, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let outbox = state.db(emporium_mail::outbox::counts).await?;
    let body = state
        .metrics
        .render(state.pool.state(), outbox)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
