//! `/auth`: signup, email verification, signin, refresh, logout, password reset and change.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use emporium_auth::accounts::{self, Signup};
use emporium_auth::{SignupRequest, sessions, throttle};
use emporium_core::ValidationErrors;
use emporium_core::time::now;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{AuthUser, client_ip};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, JsonOrForm, OptionalJson};
use crate::state::AppState;

/// The one answer of `resend-verification` and `forgot-password`, whether or not the account
/// exists.
fn accepted(detail: &str) -> HttpResponse {
    HttpResponse::Accepted().json(json!({ "detail": detail }))
}

/// The per-client-address limit on requests that send mail (signup, resend-verification,
/// forgot-password together): counted in the database, so every server shares it; 429 with
/// `Retry-After` past it.
async fn mail_request_allowed(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let ip = client_ip(req, &state.settings.trusted_proxies);
    let auth = state.auth.clone();
    state
        .db_write(move |conn| throttle::mail_request(conn, &auth, ip.as_deref(), now()))
        .await
}

fn required(errors: &mut ValidationErrors, field: &str, value: Option<String>) -> Option<String> {
    errors.check(field, value.filter(|v| !v.is_empty()).ok_or("is required"))
}

/// `POST /auth/signup`.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", operation_id = "signup", request_body = crate::openapi::SignupBody, responses((status = 201, description = "The new, unverified account; a verification email is queued", body = emporium_auth::User), (status = 409, description = "`email_taken`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 429, description = "`too_many_requests`: this client address made too many signup, resend-verification and forgot-password requests in the last minute (`MAIL_REQUESTS_MAX_PER_IP`)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until such a request is accepted again")))))]
pub async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    mail_request_allowed(&req, &state).await?;
    let signup = Signup::try_from(request)?;
    let auth = state.auth.clone();
    let hashed = state.hash(move || signup.hash_password(&auth)).await?;
    let auth = state.auth.clone();
    let user = state
        .db_write(move |conn| accounts::signup_hashed(conn, &auth, hashed, now()))
        .await?;
    state.mail.wake();
    Ok(HttpResponse::Created().json(user))
}

/// A body or query with a `token`.
#[derive(Debug, Deserialize)]
pub struct TokenInput {
    token: Option<String>,
}

impl TokenInput {
    fn token(self) -> Result<String, ApiError> {
        let mut errors = ValidationErrors::new();
        let token = required(&mut errors, "token", self.token);
        Ok(errors.finish(token)?)
    }
}

async fn verify(state: web::Data<AppState>, token: String) -> Result<HttpResponse, ApiError> {
    let auth = state.auth.clone();
    let user = state
        .db_write(move |conn| accounts::verify_email(conn, &auth, &token, now()))
        .await?;
    state.mail.wake();
    Ok(HttpResponse::Ok().json(user))
}

/// `POST /auth/verify-email` with `{token}`.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", operation_id = "verify_email", request_body = crate::openapi::TokenBody, responses((status = 200, description = "The account, now verified; a welcome email is queued", body = emporium_auth::User), (status = 400, description = "`token_invalid`, `token_expired`, `token_used`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn verify_email(
    state: web::Data<AppState>,
    ApiJson(input): ApiJson<TokenInput>,
) -> Result<HttpResponse, ApiError> {
    verify(state, input.token()?).await
}

/// `GET /auth/verify-email?token=…`: the link in the email.
#[utoipa::path(get, path = "/auth/verify-email", tag = "auth", operation_id = "verify_email_link", params(("token" = String, Query, description = "The token of the emailed link", min_length = 1)), responses((status = 200, description = "The account, now verified (the link in the email; no redirect)", body = emporium_auth::User), (status = 400, description = "`token_invalid`, `token_expired`, `token_used`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn verify_email_link(
    state: web::Data<AppState>,
    ApiQuery(input): ApiQuery<TokenInput>,
) -> Result<HttpResponse, ApiError> {
    verify(state, input.token()?).await
}

/// A body with an `email`.
#[derive(Debug, Deserialize)]
pub struct EmailInput {
    email: Option<String>,
}

impl EmailInput {
    fn email(self) -> Result<emporium_core::Email, ApiError> {
        let mut errors = ValidationErrors::new();
        let email = required(&mut errors, "email", self.email);
        let email = errors.finish(email)?;
        Ok(accounts::parse_email_field(&email)?)
    }
}

/// `POST /auth/resend-verification`.
#[utoipa::path(post, path = "/auth/resend-verification", tag = "auth", operation_id = "resend_verification", request_body = crate::openapi::EmailBody, responses((status = 202, description = "The same answer whether or not an unverified account uses this email", body = crate::openapi::Detail), (status = 429, description = "`too_many_requests`: this client address made too many signup, resend-verification and forgot-password requests in the last minute (`MAIL_REQUESTS_MAX_PER_IP`)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until such a request is accepted again")))))]
pub async fn resend_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(input): ApiJson<EmailInput>,
) -> Result<HttpResponse, ApiError> {
    mail_request_allowed(&req, &state).await?;
    let email = input.email()?;
    let auth = state.auth.clone();
    state
        .db_write(move |conn| accounts::resend_verification(conn, &auth, &email, now()))
        .await?;
    state.mail.wake();
    Ok(accepted(
        "If an unverified account uses this email, a new verification link is on its way.",
    ))
}

/// Signin as JSON.
#[derive(Debug, Deserialize)]
pub struct SigninJson {
    email: Option<String>,
    password: Option<String>,
}

/// Signin as the OAuth2 password-flow form (`grant_type` and `scope` are accepted and unused).
#[derive(Debug, Deserialize)]
pub struct SigninForm {
    username: Option<String>,
    password: Option<String>,
}

/// `POST /auth/signin`, JSON `{email, password}` or form `username=…&password=…`.
#[utoipa::path(post, path = "/auth/signin", tag = "auth", operation_id = "signin", request_body(content((crate::openapi::SigninBody = "application/json"), (crate::openapi::SigninForm = "application/x-www-form-urlencoded"))), responses((status = 200, description = "A token pair", body = emporium_auth::TokenPair), (status = 401, description = "`invalid_credentials`: unknown email or wrong password (indistinguishable)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "`email_not_verified`, `account_disabled` (only after a correct password)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 429, description = "`too_many_attempts`: too many failed signins for this email or address", body = crate::openapi::ProblemDoc, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until a signin is considered again")))))]
pub async fn signin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonOrForm<SigninJson, SigninForm>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let (email, password) = match body {
        JsonOrForm::Json(json) => (required(&mut errors, "email", json.email), json.password),
        JsonOrForm::Form(form) => (
            required(&mut errors, "username", form.username),
            form.password,
        ),
    };
    // The password is taken exactly as sent; only its presence is checked here.
    let password = errors.check(
        "password",
        password.filter(|p| !p.is_empty()).ok_or("is required"),
    );
    let (email, password) = errors.finish(email.zip(password))?;
    let ip = client_ip(&req, &state.settings.trusted_proxies);
    // Three steps, so that no connection or write turn is held while the password is
    // checked: the throttle and the account (a read), the hash (a hashing thread), then the
    // failure or the session (a write, committed with the writes queued beside it).
    let auth = state.auth.clone();
    let attempt = state
        .db(move |conn| sessions::begin_signin(conn, &auth, &email, ip.as_deref(), now()))
        .await?;
    let auth = state.auth.clone();
    let checked = state
        .hash(move || attempt.check_password(&auth, &password))
        .await?;
    let auth = state.auth.clone();
    let pair = state
        .db_write(move |conn| sessions::finish_signin(conn, &auth, checked, now()))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(pair))
}

/// `{refresh_token}`.
#[derive(Debug, Deserialize)]
pub struct RefreshInput {
    refresh_token: Option<String>,
}

/// `POST /auth/refresh`.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "refresh", request_body = crate::openapi::RefreshBody, responses((status = 200, description = "A new pair; the refresh token sent is spent", body = emporium_auth::TokenPair), (status = 401, description = "`invalid_refresh_token`; `refresh_token_reused` (a spent token: its session is revoked)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"), (status = 403, description = "`account_disabled`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn refresh(
    state: web::Data<AppState>,
    ApiJson(input): ApiJson<RefreshInput>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let token = required(&mut errors, "refresh_token", input.refresh_token);
    let token = errors.finish(token)?;
    let auth = state.auth.clone();
    let pair = state
        .db_write(move |conn| sessions::refresh(conn, &auth, &token, now()))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(pair))
}

/// Optional `{all_sessions}`.
#[derive(Debug, Deserialize)]
pub struct LogoutInput {
    all_sessions: Option<bool>,
}

/// `POST /auth/logout`.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "logout", security(("bearer" = []), ("oauth2" = [])), request_body = crate::openapi::LogoutBody, responses((status = 204, description = "The session (or every session) is revoked")))]
pub async fn logout(
    state: web::Data<AppState>,
    AuthUser(principal): AuthUser,
    OptionalJson(input): OptionalJson<LogoutInput>,
) -> Result<HttpResponse, ApiError> {
    let all = input.and_then(|i| i.all_sessions).unwrap_or(false);
    state
        .db_write(move |conn| sessions::logout(conn, &principal, all, now()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /auth/forgot-password`.
#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", operation_id = "forgot_password", request_body = crate::openapi::EmailBody, responses((status = 202, description = "The same answer whether or not the account exists; earlier reset links stop working", body = crate::openapi::Detail), (status = 429, description = "`too_many_requests`: this client address made too many signup, resend-verification and forgot-password requests in the last minute (`MAIL_REQUESTS_MAX_PER_IP`)", body = crate::openapi::ProblemDoc, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds until such a request is accepted again")))))]
pub async fn forgot_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(input): ApiJson<EmailInput>,
) -> Result<HttpResponse, ApiError> {
    mail_request_allowed(&req, &state).await?;
    let email = input.email()?;
    let auth = state.auth.clone();
    state
        .db_write(move |conn| accounts::forgot_password(conn, &auth, &email, now()))
        .await?;
    state.mail.wake();
    Ok(accepted(
        "If an account uses this email, a password-reset link is on its way.",
    ))
}

/// `{token, new_password}`.
#[derive(Debug, Deserialize)]
pub struct ResetInput {
    token: Option<String>,
    new_password: Option<String>,
}

/// `POST /auth/reset-password`.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", operation_id = "reset_password", request_body = crate::openapi::ResetBody, responses((status = 200, description = "The password is changed and every session revoked", body = crate::openapi::Detail), (status = 400, description = "`token_invalid`, `token_expired`, `token_used`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn reset_password(
    state: web::Data<AppState>,
    ApiJson(input): ApiJson<ResetInput>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let token = required(&mut errors, "token", input.token);
    let password = errors.check(
        "new_password",
        input
            .new_password
            .ok_or("is required")
            .and_then(|p| emporium_auth::Password::parse(&p)),
    );
    let (token, password) = errors.finish(token.zip(password))?;
    let auth = state.auth.clone();
    let hash = state.hash(move || auth.hash_password(&password)).await?;
    let auth = state.auth.clone();
    state
        .db_write(move |conn| accounts::reset_password_hashed(conn, &auth, &token, &hash, now()))
        .await?;
    state.mail.wake();
    Ok(HttpResponse::Ok().json(json!({"detail": "Your password was changed and every session signed out. Sign in with the new password."})))
}

/// `GET /auth/reset-password?token=…`: the link in the reset email opens a small form that
/// posts the new password to `POST /auth/reset-password`.
#[utoipa::path(get, path = "/auth/reset-password", tag = "auth", operation_id = "reset_password_page", params(("token" = Option<String>, Query, description = "The token of the emailed link")), responses((status = 200, description = "A small page with a form that posts the new password", body = String, content_type = "text/html")))]
pub async fn reset_password_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'"))
        .body(RESET_PAGE)
}

const RESET_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Choose a new password</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}input,button{font-size:1em;padding:.4em;width:100%;margin:.3em 0}</style>
</head><body>
<h1>Choose a new password</h1>
<form id="f"><label>New password (8 to 128 characters)<input id="p" type="password" minlength="8" maxlength="128" required autocomplete="new-password"></label>
<button>Change password</button></form><p id="m" role="status"></p>
<script>
const token = new URLSearchParams(location.search).get("token") || "";
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("reset-password", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token, new_password: document.getElementById("p").value})});
  const b = await r.json().catch(() => ({}));
  document.getElementById("m").textContent = r.ok ? "Your password was changed. You can sign in now." : (b.detail || "Something went wrong.");
});
</script></body></html>
"#;

/// `{current_password, new_password}`.
#[derive(Debug, Deserialize)]
pub struct ChangeInput {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// `POST /auth/change-password`.
#[utoipa::path(post, path = "/auth/change-password", tag = "auth", operation_id = "change_password", security(("bearer" = []), ("oauth2" = [])), request_body = crate::openapi::ChangePasswordBody, responses((status = 200, description = "Changed; every other session is revoked", body = crate::openapi::Detail), (status = 403, description = "`invalid_current_password`, `account_disabled`, `email_not_verified`", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")))]
pub async fn change_password(
    state: web::Data<AppState>,
    AuthUser(principal): AuthUser,
    ApiJson(input): ApiJson<ChangeInput>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let current = errors.check(
        "current_password",
        input.current_password.ok_or("is required"),
    );
    let new_password = errors.check(
        "new_password",
        input
            .new_password
            .ok_or("is required")
            .and_then(|p| emporium_auth::Password::parse(&p)),
    );
    let (current, new_password) = errors.finish(current.zip(new_password))?;
    let reader = principal.clone();
    let on_file = state
        .db(move |conn| accounts::begin_password_change(conn, &reader))
        .await?;
    let auth = state.auth.clone();
    let change = state
        .hash(move || on_file.check(&auth, &current, &new_password))
        .await?;
    let auth = state.auth.clone();
    state
        .db_write(move |conn| {
            accounts::finish_password_change(conn, &auth, &principal, change, now())
        })
        .await?;
    state.mail.wake();
    Ok(HttpResponse::Ok()
        .json(json!({"detail": "Your password was changed and your other sessions signed out."})))
}
