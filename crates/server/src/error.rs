//! The one error type of the HTTP layer and its RFC 9457 problem+json rendering.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use emporium_core::ValidationErrors;
use serde::Serialize;
use serde_json::Value;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of every error response.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// Always `about:blank`: the `code` says what happened.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// Stable snake_case code clients switch on.
    pub code: &'static str,
    /// For people.
    pub detail: String,
    /// Per-field validation errors, or the short lines of a stock conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
}

impl Problem {
    /// A problem for `status` with `code` and `detail`.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code,
            detail: detail.into(),
            errors: None,
        }
    }

    /// The problem an error status gets when nothing more specific was said (actix's own 404,
    /// 405 and friends).
    pub fn for_status(status: StatusCode) -> Problem {
        let (code, detail) = match status.as_u16() {
            400 => ("malformed_request", "The request could not be understood."),
            401 => ("unauthorized", "Authentication is required."),
            403 => ("forbidden", "You are not allowed to do this."),
            404 => ("not_found", "There is nothing at this address."),
            405 => (
                "method_not_allowed",
                "This address does not support that method.",
            ),
            406 => ("not_acceptable", "No acceptable representation."),
            408 => ("request_timeout", "The request took too long to arrive."),
            413 => (
                "payload_too_large",
                "The request body is larger than 64 KiB.",
            ),
            414 => ("uri_too_long", "The request address is too long."),
            415 => (
                "unsupported_media_type",
                "Send the body as application/json.",
            ),
            422 => ("validation_failed", "The request has invalid fields."),
            429 => ("too_many_requests", "Too many requests; slow down."),
            431 => ("headers_too_large", "The request headers are too large."),
            503 => ("unavailable", "The service is temporarily unavailable."),
            s if s >= 500 => ("internal_error", "Something went wrong on our side."),
            _ => ("error", "The request failed."),
        };
        Problem::new(status, code, detail)
    }

    /// The JSON body.
    pub fn to_body(&self) -> String {
        // Serializing this struct cannot fail: every field is a string, a number or a Value.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// An error answered to the client as problem+json.
///
/// Domain errors convert into it with `From`; handlers return `Result<_, ApiError>`. Internal
/// errors keep their cause for the log and show the client only the request id.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Option<Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
    cause: Option<anyhow::Error>,
}

impl ApiError {
    /// An error with `status`, a stable `code` and a `detail` for people.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            errors: None,
            headers: Vec::new(),
            cause: None,
        }
    }

    /// 400: the body is not well-formed.
    pub fn malformed_body(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", detail)
    }

    /// 404 with a detail naming what was not found.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 409 state conflict.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, detail)
    }

    /// 413: the body is over the limit.
    pub fn payload_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is larger than 64 KiB.",
        )
    }

    /// 415: the body is not JSON (or not the form a route takes).
    pub fn unsupported_media_type(expected: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Send the body as {expected}."),
        )
    }

    /// 422 listing every invalid field.
    pub fn validation(errors: ValidationErrors) -> ApiError {
        let detail = match errors.fields().len() {
            1 => "1 field is invalid.".to_string(),
            n => format!("{n} fields are invalid."),
        };
        let list = serde_json::to_value(errors.fields()).unwrap_or(Value::Null);
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
        .with_errors(list)
    }

    /// 503: a dependency (the database) does not answer.
    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// 500. The cause is logged; the client sees only the request id.
    pub fn internal(cause: impl Into<anyhow::Error>) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side.",
        );
        error.cause = Some(cause.into());
        error
    }

    /// The stable `code` of the problem document.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Replaces the stable code.
    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = code;
        self
    }

    /// Attaches the `errors` member.
    pub fn with_errors(mut self, errors: Value) -> ApiError {
        self.errors = Some(errors);
        self
    }

    /// Attaches the cause to log (never shown to the client).
    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> ApiError {
        self.cause = Some(cause.into());
        self
    }

    /// Adds a response header (`Retry-After`, `WWW-Authenticate`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    fn problem(&self) -> Problem {
        Problem {
            errors: self.errors.clone(),
            ..Problem::new(self.status, self.code, self.detail.clone())
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status.as_u16())
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            // `{:#}` prints anyhow's whole cause chain on one line.
            Some(cause) => write!(f, "{}: {cause:#}", self.code),
            None => write!(f, "{}: {}", self.code, self.detail),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, error = %self, "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.body(self.problem().to_body())
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::validation(errors)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

/// A database failure: 503 `unavailable` with `Retry-After` when it is a conflict with
/// concurrent writes that persisted through every retry (PostgreSQL under heavy contention:
/// nothing was changed, and trying again shortly succeeds), otherwise 500.
fn database(error: diesel::result::Error) -> ApiError {
    use emporium_db::TransactionError;
    if error.is_transient() {
        tracing::warn!(%error, "a write kept conflicting with concurrent writes; answered 503");
        ApiError::unavailable(
            "The shop is very busy right now; nothing was changed. Retry shortly.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(1u32))
    } else {
        ApiError::internal(error)
    }
}

impl From<emporium_db::DbError> for ApiError {
    fn from(error: emporium_db::DbError) -> Self {
        match error {
            emporium_db::DbError::Query(error) => database(error),
            other => ApiError::internal(other),
        }
    }
}

impl From<emporium_auth::AuthError> for ApiError {
    fn from(error: emporium_auth::AuthError) -> Self {
        use emporium_auth::AuthError as E;
        let bearer = |error: ApiError, challenge: &'static str| {
            error.with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            )
        };
        let detail = error.to_string();
        match error {
            E::Validation(errors) => ApiError::validation(errors),
            E::EmailTaken => {
                ApiError::conflict("email_taken", "An account with this email already exists.")
            }
            E::InvalidCredentials => bearer(
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                    "Wrong email or password.",
                ),
                "Bearer",
            ),
            E::EmailNotVerified => ApiError::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "Confirm your email address first: follow the link we sent, or ask for a new one at /auth/resend-verification.",
            ),
            E::AccountDisabled => ApiError::new(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "This account is disabled.",
            ),
            E::Throttled { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("Too many failed signins. Try again in {retry_after_secs} seconds."),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs)),
            E::TooManyRequests { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!(
                    "Too many requests from this address. Try again in {retry_after_secs} seconds."
                ),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs)),
            E::InvalidAccessToken => bearer(
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "The access token is invalid, expired or revoked.",
                ),
                "Bearer error=\"invalid_token\"",
            ),
            E::InvalidRefreshToken => bearer(
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_refresh_token",
                    "The refresh token is invalid, expired or revoked.",
                ),
                "Bearer error=\"invalid_token\"",
            ),
            E::RefreshTokenReused => bearer(
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "refresh_token_reused",
                    "This refresh token was already used, so the session was ended. Sign in again.",
                ),
                "Bearer error=\"invalid_token\"",
            ),
            E::TokenInvalid => ApiError::new(
                StatusCode::BAD_REQUEST,
                "token_invalid",
                "This link is not valid.",
            ),
            E::TokenExpired => ApiError::new(
                StatusCode::BAD_REQUEST,
                "token_expired",
                "This link has expired; ask for a new one.",
            ),
            E::TokenUsed => ApiError::new(
                StatusCode::BAD_REQUEST,
                "token_used",
                "This link was already used.",
            ),
            E::NotFound => ApiError::not_found("No such account."),
            E::WrongCurrentPassword => ApiError::new(
                StatusCode::FORBIDDEN,
                "invalid_current_password",
                "The current password is wrong.",
            ),
            E::LastAdmin => ApiError::conflict(
                "last_admin",
                "The last active admin cannot be demoted or disabled.",
            ),
            E::Database(error) => database(error),
            E::Internal(_) => ApiError::internal(anyhow::anyhow!(detail)),
        }
    }
}

impl From<emporium_catalog::CatalogError> for ApiError {
    fn from(error: emporium_catalog::CatalogError) -> Self {
        use emporium_catalog::CatalogError as E;
        match error {
            E::Validation(errors) => ApiError::validation(errors),
            E::NotFound => ApiError::not_found("No such product."),
            E::NotOwner => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_owner",
                "Only the admin who created this product may change or delete it.",
            ),
            E::Database(error) => database(error),
        }
    }
}

fn insufficient_stock(lines: &[emporium_cart::Shortage]) -> ApiError {
    let detail = match lines.len() {
        1 => "Not enough stock for 1 product".to_string(),
        n => format!("Not enough stock for {n} products"),
    };
    ApiError::conflict("insufficient_stock", detail)
        .with_errors(serde_json::to_value(lines).unwrap_or(Value::Null))
}

impl From<emporium_cart::CartError> for ApiError {
    fn from(error: emporium_cart::CartError) -> Self {
        use emporium_cart::CartError as E;
        match error {
            E::Validation(errors) => ApiError::validation(errors),
            E::ProductNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "product_not_found",
                "No such product.",
            ),
            E::NotInCart => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_in_cart",
                "This product is not in the cart.",
            ),
            E::InsufficientStock(lines) => insufficient_stock(&lines),
            E::LineLimit => ApiError::conflict(
                "line_limit",
                "A cart line holds at most 999 units of a product.",
            ),
            E::Database(error) => database(error),
        }
    }
}

impl From<emporium_orders::OrderError> for ApiError {
    fn from(error: emporium_orders::OrderError) -> Self {
        use emporium_orders::OrderError as E;
        match error {
            E::Validation(errors) => ApiError::validation(errors),
            E::CartEmpty => ApiError::conflict("cart_empty", "The cart is empty."),
            E::InsufficientStock(lines) => insufficient_stock(&lines),
            E::PaymentDeclined => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment_declined",
                "The card was declined. Nothing was charged and the cart is unchanged.",
            ),
            E::IdempotencyKeyReused => ApiError::conflict(
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different cart.",
            ),
            E::NotFound => ApiError::not_found("No such order."),
            E::InvalidTransition { from, to } => ApiError::conflict(
                "invalid_transition",
                format!("An order that is {from} cannot become {to}."),
            ),
            E::AddressNotFound => ApiError::not_found("No such address."),
            E::AddressLimit => ApiError::conflict(
                "address_limit",
                format!(
                    "An account keeps at most {} addresses; delete one first.",
                    emporium_orders::addresses::MAX_ADDRESSES
                ),
            ),
            E::NotShipped(status) => ApiError::conflict(
                "not_shipped",
                format!(
                    "Tracking can only be set on a shipped order (or with \"status\": \"shipped\"); this order is {status}."
                ),
            ),
            E::Database(error) => database(error),
            E::Internal(message) => ApiError::internal(anyhow::anyhow!(message)),
        }
    }
}

impl From<emporium_webhooks::WebhookError> for ApiError {
    fn from(error: emporium_webhooks::WebhookError) -> Self {
        use emporium_webhooks::WebhookError as E;
        match error {
            E::Validation(errors) => ApiError::validation(errors),
            E::NotFound => ApiError::not_found("No such webhook or delivery."),
            E::Disabled => ApiError::conflict(
                "webhook_disabled",
                "The webhook is disabled; enable it (PATCH {\"enabled\": true}) before retrying.",
            ),
            E::Database(error) => database(error),
            E::Internal(message) => ApiError::internal(anyhow::anyhow!(message)),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        database(error)
    }
}
