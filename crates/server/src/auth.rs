//! Authentication for handlers: the `AuthUser` and `AdminUser` extractors, role and ownership
//! checks, and the client's address.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, web};
use emporium_auth::{Principal, sessions};
use emporium_core::UserId;
use emporium_core::settings::IpNet;
use futures_util::future::LocalBoxFuture;

use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in account with a valid access token (and, when verification is required, a
/// verified email). Extracting it costs one indexed query.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

/// A signed-in admin; anyone else signed in gets 403.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Principal);

fn unauthenticated(code: &'static str, detail: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

/// The bearer token of the `Authorization` header.
fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(unauthenticated(
            "not_authenticated",
            "Sign in and send Authorization: Bearer <access_token>.",
        ));
    };
    let text = value.to_str().unwrap_or("");
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_string())
        }
        _ => Err(unauthenticated(
            "invalid_token",
            "The Authorization header must be `Bearer <access_token>`.",
        )),
    }
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state is not registered")))
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state_of(req);
        let token = bearer_token(req);
        Box::pin(async move {
            let (state, token) = (state?, token?);
            let auth = state.auth.clone();
            let principal = state
                .db(move |conn| {
                    sessions::authenticate(conn, &auth, &token, emporium_core::time::now())
                })
                .await?;
            Ok(AuthUser(principal))
        })
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let AuthUser(principal) = user.await?;
            require_admin(&principal)?;
            Ok(AdminUser(principal))
        })
    }
}

/// 403 unless `principal` is an admin.
pub fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_required",
            "Only admins may do this.",
        ))
    }
}

/// 403 `not_owner` unless `principal` is `owner`.
pub fn require_owner(principal: &Principal, owner: UserId) -> Result<(), ApiError> {
    if principal.user_id == owner {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_owner",
            "Only the admin who owns this may change it.",
        ))
    }
}

/// The client's address: the socket peer, or, when the peer is a trusted proxy, the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return Some(peer.to_string());
    }
    let forwarded: Vec<String> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|part| part.trim().to_string()))
        .collect();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => continue,
            Ok(ip) => return Some(ip.to_string()),
            Err(_) => break,
        }
    }
    Some(peer.to_string())
}
