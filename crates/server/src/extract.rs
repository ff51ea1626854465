//! Extractors whose failures are problem+json: JSON bodies, query strings and path segments.
//!
//! actix's own `web::Json`/`web::Query` answer with plain-text 400s and do not say which field
//! was wrong; these answer 400 for a body that is not JSON, 415 for a body that is not
//! `application/json`, 413 above the body limit, and 422 naming the field otherwise.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use emporium_core::ValidationErrors;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted, in bytes (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body, deserialized into `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json =
            content_type(req).is_some_and(|ct| ct == "application/json" || ct.ends_with("+json"));
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::unsupported_media_type("application/json"));
            }
            let bytes = body.await.map_err(payload_error)?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// The essence of the request's content type, lower-cased (`application/json`).
pub fn content_type(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// Maps a failure to read the body: 413 when it is over the limit, 400 otherwise.
pub fn payload_error(error: actix_web::Error) -> ApiError {
    if error.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large()
    } else {
        ApiError::malformed_body(format!("The body could not be read: {error}"))
    }
}

/// Deserializes a JSON document: syntax errors are 400, a document of the wrong shape is 422
/// naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object; serde would otherwise fill a struct from an array.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => {
                    ApiError::validation(ValidationErrors::single("body", "must be a JSON object"))
                }
                Err(e) => ApiError::malformed_body(format!(
                    "The body is not valid JSON: {}",
                    message_of(&e)
                )),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => field_error(&path, &message_of(&inner)),
            _ => ApiError::malformed_body(format!(
                "The body is not valid JSON: {}",
                message_of(&inner)
            )),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::malformed_body(format!("The body is not valid JSON: {}", message_of(&e)))
    })?;
    Ok(value)
}

/// A query string, deserialized into `T`. Any bad parameter is a 422 naming it.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

/// Deserializes an `application/x-www-form-urlencoded` string (a query string or a form body).
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|error| {
        let path = error.path().to_string();
        field_error(&path, &error.into_inner().to_string())
    })
}

/// The handler for path segments that do not parse (`/orders/abc`): 422 naming the path.
pub fn path_error(error: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::validation(ValidationErrors::single("path", error.to_string())).into()
}

/// serde's message without serde_json's " at line L column C" suffix.
fn message_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// A 422 for one field. serde reports a missing field at its parent with the name in the
/// message; that is turned into the field's own path with "is required".
fn field_error(path: &str, message: &str) -> ApiError {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'));
    let (field, message) = match missing {
        Some(name) if path == "." || path.is_empty() => {
            (name.to_string(), "is required".to_string())
        }
        Some(name) => (format!("{path}.{name}"), "is required".to_string()),
        None if path == "." || path.is_empty() => ("body".to_string(), message.to_string()),
        // A top-level array where an object was expected.
        None if path.starts_with('[') => ("body".to_string(), "must be a JSON object".to_string()),
        None => (path.to_string(), message.to_string()),
    };
    ApiError::validation(ValidationErrors::single(field, message))
}

/// A JSON body that may be absent: no body (or an empty one) gives `None`; a body that is
/// present must be valid JSON of the right shape, exactly as for [`ApiJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = content_type(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(payload_error)?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            if !kind.is_some_and(|ct| ct == "application/json" || ct.ends_with("+json")) {
                return Err(ApiError::unsupported_media_type("application/json"));
            }
            parse_json(&bytes).map(|value| OptionalJson(Some(value)))
        })
    }
}

/// A body that may be JSON or an HTML form (`application/x-www-form-urlencoded`), as the
/// OAuth2 password flow sends it. `J` and `F` are the two shapes.
#[derive(Debug)]
pub enum JsonOrForm<J, F> {
    /// The body was JSON.
    Json(J),
    /// The body was a form.
    Form(F),
}

impl<J: DeserializeOwned + 'static, F: DeserializeOwned + 'static> FromRequest
    for JsonOrForm<J, F>
{
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = content_type(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let form = match kind.as_deref() {
                Some(ct) if ct == "application/json" || ct.ends_with("+json") => false,
                Some("application/x-www-form-urlencoded") => true,
                _ => {
                    return Err(ApiError::unsupported_media_type(
                        "application/json or application/x-www-form-urlencoded",
                    ));
                }
            };
            let bytes = body.await.map_err(payload_error)?;
            if form {
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| ApiError::malformed_body("The form is not valid UTF-8."))?;
                parse_query(text).map(JsonOrForm::Form)
            } else {
                parse_json(&bytes).map(JsonOrForm::Json)
            }
        })
    }
}

/// The id in the path (`/products/{id}`, `/cart/update/{product_id}`): a 32-bit integer,
/// also accepted as an integral decimal (`262.0`), as JSON Schema's `integer` allows.
/// Anything else is a 422 naming the parameter.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub i32);

impl FromRequest for PathId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let info = req.match_info();
        let found = info
            .iter()
            .last()
            .map(|(name, value)| (name.to_string(), value.to_string()));
        ready(match found {
            Some((name, value)) => value
                .parse::<emporium_core::IntegerText>()
                .ok()
                .and_then(|n| i32::try_from(n.0).ok())
                .map(PathId)
                .ok_or_else(|| {
                    ApiError::validation(ValidationErrors::single(name, "must be a 32-bit integer"))
                }),
            None => Err(ApiError::internal(anyhow::anyhow!(
                "PathId used on a route without a parameter"
            ))),
        })
    }
}

/// The two ids of a nested path (`/admin/webhooks/{id}/deliveries/{delivery_id}`), each
/// checked as [`PathId`] checks one; every bad one is named in the 422.
#[derive(Debug, Clone, Copy)]
pub struct PathIds(pub i32, pub i32);

impl FromRequest for PathIds {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let params: Vec<(String, String)> = req
            .match_info()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        if params.len() != 2 {
            return ready(Err(ApiError::internal(anyhow::anyhow!(
                "PathIds used on a route without two parameters"
            ))));
        }
        let mut errors = ValidationErrors::new();
        let ids: Vec<Option<i32>> = params
            .iter()
            .map(|(name, value)| {
                let id = value
                    .parse::<emporium_core::IntegerText>()
                    .ok()
                    .and_then(|n| i32::try_from(n.0).ok());
                if id.is_none() {
                    errors.push(name.clone(), "must be a 32-bit integer");
                }
                id
            })
            .collect();
        ready(match (ids[0], ids[1]) {
            (Some(first), Some(second)) => Ok(PathIds(first, second)),
            _ => Err(ApiError::validation(errors)),
        })
    }
}
