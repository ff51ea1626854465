//! The outermost middleware: request ids, problem+json for every error, and no panics.

use std::panic::AssertUnwindSafe;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use futures_util::FutureExt;

use crate::error::{PROBLEM_JSON, Problem};

/// The `X-Request-Id` header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served: the client's `X-Request-Id` when it sent a usable one,
/// a fresh UUID otherwise. Logged with every line of the request and echoed in the response.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn usable_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| text.to_string())
}

/// Assigns the request id, runs the rest of the app, and makes sure that whatever comes back
/// is well-formed: every error status has a problem+json body (including actix's own 404,
/// 405 and friends), a 500 shows only the request id, a panic becomes a 500, and the response
/// carries `X-Request-Id`.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(usable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));

    // The request is moved into the call (routing needs it to be the only reference), so
    // the two failure paths answer through a pre-rendered error response instead.
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(Ok(response)) => {
            let (request, response) = response.map_into_boxed_body().into_parts();
            Ok(ServiceResponse::new(request, finish(response, &id)))
        }
        Ok(Err(error)) => {
            let response = finish(error.error_response(), &id);
            Err(InternalError::from_response(error, response).into())
        }
        Err(_) => {
            tracing::error!(request_id = %id, "request handler panicked");
            let response = finish(HttpResponse::InternalServerError().finish(), &id);
            Err(InternalError::from_response("request handler panicked", response).into())
        }
    }
}

/// Adds `X-Request-Id` and turns any error response into problem+json.
fn finish(response: HttpResponse<BoxBody>, id: &str) -> HttpResponse<BoxBody> {
    let mut response = as_problem(response, id);
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

fn as_problem(response: HttpResponse<BoxBody>, id: &str) -> HttpResponse<BoxBody> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    let problem = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        // Whatever the handler said, a 500 tells the client nothing but where to look.
        Problem::new(
            status,
            "internal_error",
            format!("Something went wrong on our side. Quote request id {id} when reporting it."),
        )
    } else if is_problem {
        return response;
    } else {
        Problem::for_status(status)
    };
    response.map_body(|head, _| {
        head.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        BoxBody::new(problem.to_body())
    })
}
