//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations.
//!
//! Request bodies are documented with the schemas below, which state every bound the server
//! checks (so a body the schema accepts is a body the server accepts). Responses use the
//! domain types themselves. [`Finish`] then adds what every operation shares: the error
//! responses (problem+json) that the middleware and extractors can give, the security
//! schemes, and the links from one operation's output to the next operation's input.

use std::sync::OnceLock;

use serde::Serialize;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::handlers;

/// A name or category: not blank, no control characters.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

/// `{"status": "ok"}`.
#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub status: String,
}

/// A message for people.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    /// What happened.
    pub detail: String,
}

/// An RFC 9457 problem: the body of every error.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"type": "about:blank", "title": "Conflict", "status": 409, "code": "insufficient_stock", "detail": "Not enough stock for 1 product", "errors": [{"product_id": 7, "requested": 3, "available": 1}]}))]
pub struct ProblemDoc {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// A stable snake_case code to switch on (listed per response).
    pub code: String,
    /// For people; a 500 names the request id the logs carry.
    pub detail: String,
    /// Every invalid field (`{field, message}`) on a 422, every short line on an
    /// `insufficient_stock` 409.
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<serde_json::Value>>,
}

/// `POST /auth/signup`. Any other field (`role` included) is ignored: new accounts are users.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery"}))]
pub struct SignupBody {
    /// Display name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Email address (compared case-insensitively).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 128 characters, taken exactly as typed.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// A single-use token from an email link.
#[derive(Serialize, ToSchema)]
pub struct TokenBody {
    /// The `token` of the link.
    #[schema(min_length = 1)]
    pub token: String,
}

/// An email address.
#[derive(Serialize, ToSchema)]
pub struct EmailBody {
    /// Email address.
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
}

/// Signin as JSON.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery"}))]
pub struct SigninBody {
    /// Email address.
    #[schema(min_length = 1)]
    pub email: String,
    /// Password.
    #[schema(min_length = 1)]
    pub password: String,
}

/// Signin as the OAuth2 password-flow form (what Swagger UI's Authorize sends).
#[derive(Serialize, ToSchema)]
pub struct SigninForm {
    /// The email address.
    #[schema(min_length = 1)]
    pub username: String,
    /// Password.
    #[schema(min_length = 1)]
    pub password: String,
    /// `password` (optional).
    pub grant_type: Option<String>,
    /// Ignored.
    pub scope: Option<String>,
}

/// A refresh token.
#[derive(Serialize, ToSchema)]
pub struct RefreshBody {
    /// The refresh token of the latest pair.
    #[schema(min_length = 1)]
    pub refresh_token: String,
}

/// Optional logout body.
#[derive(Serialize, ToSchema)]
pub struct LogoutBody {
    /// End every session of the account, not only this one.
    #[schema(default = false)]
    pub all_sessions: Option<bool>,
}

/// A password reset.
#[derive(Serialize, ToSchema)]
pub struct ResetBody {
    /// The `token` of the emailed link.
    #[schema(min_length = 1)]
    pub token: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// A password change.
#[derive(Serialize, ToSchema)]
pub struct ChangePasswordBody {
    /// The password now.
    pub current_password: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// `PATCH /users/me`: only `name` changes here.
#[derive(Serialize, ToSchema)]
pub struct NameBody {
    /// New display name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
}

/// `PATCH /users/{id}` (admin).
#[derive(Serialize, ToSchema)]
pub struct UserAdminBody {
    /// New role.
    pub role: Option<emporium_auth::Role>,
    /// Enable or disable the account.
    pub is_active: Option<bool>,
}

/// A product, for create (`POST`) and full replace (`PUT`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "Desk Lamp", "description": "A warm light.", "price": 19.99, "stock": 5, "category": "Home", "image_url": "https://img.example/lamp.jpg"}))]
pub struct ProductBody {
    /// 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Up to 10,000 characters (empty when absent).
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// Greater than 0, at most 1,000,000.00, at most two decimals.
    #[schema(exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    pub price: f64,
    /// Units in stock.
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: i32,
    /// 1 to 100 characters; categories are compared case-insensitively.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub category: String,
    /// An http(s) address, or null.
    #[schema(
        max_length = 2048,
        pattern = r"^\s*https?://[^\s/?#\u0000-\u001f\u007f-\u009f][^\s\u0000-\u001f\u007f-\u009f]*\s*$"
    )]
    pub image_url: Option<String>,
}

/// A partial product update: only the fields given change; `image_url: null` removes the
/// image and `description: null` empties it. The other fields cannot be null.
#[derive(Serialize, ToSchema)]
pub struct ProductPatchBody {
    /// 1 to 200 characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Up to 10,000 characters.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// Greater than 0, at most 1,000,000.00, at most two decimals.
    #[serde(default)]
    #[schema(exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    pub price: f64,
    /// Units in stock.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: i32,
    /// 1 to 100 characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub category: String,
    /// An http(s) address, or null to remove it.
    #[schema(
        max_length = 2048,
        pattern = r"^\s*https?://[^\s/?#\u0000-\u001f\u007f-\u009f][^\s\u0000-\u001f\u007f-\u009f]*\s*$"
    )]
    pub image_url: Option<String>,
}

/// Query of `GET /products`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListParams {
    /// 1-based page.
    #[param(minimum = 1, maximum = 2147483647)]
    pub page: Option<i64>,
    /// Rows per page.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
    /// Exact category, case-insensitive.
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub category: Option<String>,
    /// Lowest price, inclusive.
    #[param(exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    pub min_price: Option<f64>,
    /// Highest price, inclusive (below `min_price` simply matches nothing).
    #[param(exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    pub max_price: Option<f64>,
    /// `true`: only products in stock. `false`: no filter.
    pub in_stock: Option<bool>,
    /// Order; ties are broken by id. Default: `oldest`.
    #[param(inline)]
    pub sort_by: Option<SortBy>,
}

/// Query of `GET /products/search`: the listing's filters plus the search text.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Search text, 1 to 200 characters: words of the name, description and category, each
    /// matched as a prefix; punctuation and search syntax are plain text. The original shop's
    /// parameter name `keyword` is accepted too, as an alias.
    #[param(min_length = 1, max_length = 200, pattern = r"\S")]
    pub q: String,
    /// 1-based page.
    #[param(minimum = 1, maximum = 2147483647)]
    pub page: Option<i64>,
    /// Rows per page.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
    /// Exact category, case-insensitive.
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub category: Option<String>,
    /// Lowest price, inclusive.
    #[param(exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    pub min_price: Option<f64>,
    /// Highest price, inclusive.
    #[param(exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    pub max_price: Option<f64>,
    /// `true`: only products in stock.
    pub in_stock: Option<bool>,
    /// Order instead of relevance (best match first by default: every word in the name,
    /// then every word in the name or category, then the rest; newest first within each).
    #[param(inline)]
    pub sort_by: Option<SortBy>,
}

/// Sort orders of the listing and search.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// A to Z, case-insensitive.
    NameAsc,
    /// Z to A.
    NameDesc,
    /// Newest first.
    Newest,
    /// Oldest first.
    Oldest,
    /// Same as `price_asc`.
    Price,
    /// Same as `name_asc`.
    Name,
}

/// `page` and `page_size`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page.
    #[param(minimum = 1, maximum = 2147483647)]
    pub page: Option<i64>,
    /// Rows per page.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// Query of `GET /admin/orders`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminOrderParams {
    /// 1-based page.
    #[param(minimum = 1, maximum = 2147483647)]
    pub page: Option<i64>,
    /// Rows per page.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
    /// Only orders with this status.
    #[param(inline)]
    pub status: Option<emporium_orders::Status>,
}

/// `POST /cart/add`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"product_id": 1, "quantity": 2}))]
pub struct CartAddBody {
    /// The product.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub product_id: i64,
    /// Units to add (default 1); a product already in the cart gets them added.
    #[schema(minimum = 1, maximum = 999, default = 1)]
    pub quantity: Option<i64>,
}

/// `PUT /cart/update/{product_id}`.
#[derive(Serialize, ToSchema)]
pub struct CartQuantityBody {
    /// New quantity; 0 removes the line.
    #[schema(minimum = 0, maximum = 999)]
    pub quantity: i64,
}

/// The optional checkout body. Give at most one of `shipping_address` and `address_id` (both
/// is a 422 naming both). With `REQUIRE_SHIPPING_ADDRESS=true`, one of them is required (a 422
/// naming `shipping_address` otherwise). An `address_id` that is not one of the caller's
/// addresses is a 404 `not_found`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"payment": {"method": "dummy", "card_number": "4242424242424242"}, "address_id": 1}))]
pub struct CheckoutBody {
    /// How to pay (the dummy processor approves everything but `4000000000000002`).
    pub payment: Option<PaymentBody>,
    /// Where to ship, given inline; the order keeps a copy.
    pub shipping_address: Option<ShippingAddressBody>,
    /// Where to ship: one of the caller's saved addresses; the order keeps a copy.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub address_id: Option<i64>,
}

/// An address inline at checkout (no `id`, `is_default` or `created_at`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB", "phone": "+44 20 7946 0958"}))]
pub struct ShippingAddressBody {
    /// The recipient, 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Street and number, 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub line1: String,
    /// Apartment, floor, company; up to 200 characters (empty or null for none).
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub line2: Option<String>,
    /// City or town, 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub city: String,
    /// State, province or county; up to 200 characters (empty or null for none).
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub region: Option<String>,
    /// Postal or ZIP code (pattern filled in from the validator).
    #[schema(min_length = 1, max_length = 20)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code in capitals (the list is filled in from the validator).
    pub country: String,
    /// E.164 phone number, optionally grouped (`+49 30 123456`); stored as `+4930123456`.
    pub phone: Option<String>,
}

/// `POST /users/me/addresses`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB", "is_default": true}))]
pub struct AddressBody {
    /// The recipient, 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Street and number, 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub line1: String,
    /// Apartment, floor, company; up to 200 characters (empty or null for none).
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub line2: Option<String>,
    /// City or town, 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub city: String,
    /// State, province or county; up to 200 characters (empty or null for none).
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub region: Option<String>,
    /// Postal or ZIP code.
    #[schema(min_length = 1, max_length = 20)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code in capitals.
    pub country: String,
    /// E.164 phone number, optionally grouped (`+49 30 123456`); stored as `+4930123456`.
    pub phone: Option<String>,
    /// Make it the default (the previous default stops being it); null or absent means
    /// false. An account's first address is the default anyway.
    pub is_default: Option<bool>,
}

/// `PATCH /users/me/addresses/{id}`: only the fields given change. `line2`, `region` and
/// `phone` may be null (cleared); the others may not. `is_default: true` makes it the default;
/// `false` on the default leaves the account without one.
#[derive(Serialize, ToSchema)]
pub struct AddressPatchBody {
    /// The recipient, 1 to 200 characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Street and number, 1 to 200 characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub line1: String,
    /// Up to 200 characters; null or empty clears it.
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub line2: Option<String>,
    /// City or town, 1 to 200 characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub city: String,
    /// Up to 200 characters; null or empty clears it.
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub region: Option<String>,
    /// Postal or ZIP code.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 20)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code in capitals.
    #[serde(default)]
    pub country: String,
    /// E.164 phone number; null clears it.
    pub phone: Option<String>,
    /// Make it the default.
    #[serde(default)]
    pub is_default: bool,
}

/// `POST /admin/webhooks`. Without `WEBHOOK_ALLOW_PRIVATE_URLS=true` the URL must be
/// `https://` with a public DNS name (no IP address, no localhost); every address the name
/// resolves to is checked again on each delivery, and a loopback, private, link-local or
/// metadata address is refused (the delivery fails with that reason).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"url": "https://erp.example.com/hooks/emporium", "events": ["order.paid", "order.shipped"], "description": "ERP"}))]
pub struct WebhookBody {
    /// Where events are POSTed (pattern filled in from the validator).
    #[schema(max_length = 2048)]
    pub url: String,
    /// The events to receive (duplicates are ignored).
    #[schema(min_items = 1)]
    pub events: Vec<emporium_webhooks::EventType>,
    /// What it is for, up to 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// `PATCH /admin/webhooks/{id}`: only the fields given change; `description: null` clears
/// it. `enabled: true` on a disabled endpoint resumes its queued deliveries.
#[derive(Serialize, ToSchema)]
pub struct WebhookPatchBody {
    /// Where events are POSTed.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: String,
    /// The events to receive.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub events: Vec<emporium_webhooks::EventType>,
    /// Up to 500 characters; null clears it.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Whether events are queued and sent.
    #[serde(default)]
    pub enabled: bool,
}

/// The dummy payment.
#[derive(Serialize, ToSchema)]
pub struct PaymentBody {
    /// Only `dummy`.
    #[schema(pattern = "^dummy$")]
    pub method: Option<String>,
    /// A card number passing the Luhn check (12 to 19 digits, spaces and dashes allowed).
    #[schema(
        example = "4242424242424242",
        pattern = "^(4242424242424242|4000000000000002)$"
    )]
    pub card_number: Option<String>,
}

/// `PATCH /admin/orders/{id}`: a new status, tracking, or both. Tracking can only be set on an
/// order that is or becomes `shipped` (409 `not_shipped` otherwise); null clears a tracking
/// field. Shipping emails the buyer (with the tracking); an admin's cancellation emails the
/// buyer too. Each transition is published to webhooks.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "shipped", "carrier": "DHL", "tracking_number": "JD014600006281230704", "tracking_url": "https://www.dhl.com/track?id=JD014600006281230704"}))]
pub struct OrderStatusBody {
    /// The status to move to: `shipped` (from paid), `delivered` (from shipped),
    /// `cancelled` (from paid, restocking; or from shipped). Required unless tracking is given.
    #[serde(default)]
    pub status: emporium_orders::Status,
    /// The carrier, 1 to 100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub carrier: Option<String>,
    /// The carrier's tracking number, 1 to 100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub tracking_number: Option<String>,
    /// An `https://` page where the shipment can be followed.
    #[schema(
        max_length = 2048,
        pattern = r"^\s*https://[^\s/?#\u0000-\u001f\u007f-\u009f][^\s\u0000-\u001f\u007f-\u009f]*\s*$"
    )]
    pub tracking_url: Option<String>,
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Emporium",
        description = "An e-commerce backend: accounts with email verification, JWT access and refresh tokens, \
                       roles, a catalog with filtering and search, carts, checkout into orders.\n\n\
                       Every error is `application/problem+json` (RFC 9457) with a stable `code`. \
                       Paths work with and without a trailing slash. Money is a JSON number with at most \
                       two decimals. Timestamps are RFC 3339 in UTC.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        handlers::health::health,
        handlers::health::ready,
        handlers::health::metrics,
        handlers::docs::openapi_json,
        handlers::docs::swagger_ui,
        handlers::docs::swagger_file,
        handlers::auth::signup,
        handlers::auth::verify_email,
        handlers::auth::verify_email_link,
        handlers::auth::resend_verification,
        handlers::auth::signin,
        handlers::auth::refresh,
        handlers::auth::logout,
        handlers::auth::forgot_password,
        handlers::auth::reset_password,
        handlers::auth::reset_password_page,
        handlers::auth::change_password,
        handlers::users::me,
        handlers::users::update_me,
        handlers::users::list,
        handlers::users::get,
        handlers::users::update,
        handlers::products::list,
        handlers::products::create,
        handlers::products::search,
        handlers::products::categories,
        handlers::products::get,
        handlers::products::replace,
        handlers::products::patch,
        handlers::products::delete,
        handlers::cart::get,
        handlers::cart::clear,
        handlers::cart::add,
        handlers::cart::update,
        handlers::cart::remove,
        handlers::orders::checkout,
        handlers::orders::list,
        handlers::orders::get,
        handlers::orders::cancel,
        handlers::orders::admin_list,
        handlers::orders::admin_update,
        handlers::addresses::list,
        handlers::addresses::create,
        handlers::addresses::get,
        handlers::addresses::update,
        handlers::addresses::delete,
        handlers::webhooks::list,
        handlers::webhooks::create,
        handlers::webhooks::get,
        handlers::webhooks::update,
        handlers::webhooks::delete,
        handlers::webhooks::rotate_secret,
        handlers::webhooks::deliveries,
        handlers::webhooks::retry,
    ),
    components(schemas(ProblemDoc)),
    modifiers(&Finish),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "auth", description = "Signup, verification, signin, tokens, passwords"),
        (name = "users", description = "The signed-in account; account management for admins"),
        (name = "products", description = "The catalog: public reads, admin writes. Public reads are served from the \
            server's memory: a change made through a server shows in its next answer, and on the other servers of \
            the shop (or after a CLI change) within 1 second."),
        (name = "cart", description = "The signed-in account's cart"),
        (name = "orders", description = "Checkout, orders and their lifecycle"),
        (name = "addresses", description = "The signed-in account's address book"),
        (name = "webhooks", description = "Signed event deliveries to other systems (Standard Webhooks: \
            `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">` \
            with the endpoint's `whsec_` secret). The body is `{type, timestamp, data}`, `data` being the \
            order or product as this API shows it. Delivery is at least once: the same `webhook-id` may \
            arrive twice after a crash or a manual retry. Failed deliveries are retried with exponential \
            backoff (`WEBHOOK_MAX_ATTEMPTS`, `WEBHOOK_RETRY_BASE_MS`, doubling up to an hour); an endpoint \
            that fails for three days running is disabled and the admins are emailed."),
    )
)]
pub struct ApiDoc;

/// Adds the shared parts of every operation.
pub struct Finish;

const PROBLEM: &str = "application/problem+json";

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ProblemDoc")))
                .build(),
        )
        .build()
}

fn add(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(problem(description)));
}

fn link(
    operation: &mut Operation,
    status: &str,
    name: &str,
    target: &str,
    parameters: &[(&str, &str)],
    body: Option<serde_json::Value>,
) {
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) {
        let mut builder = utoipa::openapi::link::LinkBuilder::new().operation_id(target);
        for (name, expression) in parameters {
            builder = builder.parameter(*name, *expression);
        }
        if let Some(body) = body {
            builder = builder.request_body(Some(body));
        }
        let built: Link = builder.build();
        response.links.insert(name.to_string(), RefOr::T(built));
    }
}

impl Modify for Finish {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        validators(components);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/auth/signin", Scopes::new()))],
                "Swagger UI's Authorize: signs in through POST /auth/signin with the OAuth2 password form.",
            )),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                finish_operation(path, operation);
            }
        }
    }
}

fn finish_operation(path: &str, operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if secured {
        add(
            operation,
            "401",
            "Not signed in: `not_authenticated` (no token), `invalid_token` (malformed, expired, revoked or a refresh token). Carries `WWW-Authenticate: Bearer`.",
        );
        add(
            operation,
            "403",
            "Signed in but not allowed: `account_disabled`, `email_not_verified`.",
        );
    }
    if let Some(RefOr::T(body)) = &operation.request_body {
        let json = body.content.contains_key("application/json");
        add(
            operation,
            "400",
            "`malformed_body`: the body is not valid JSON.",
        );
        add(
            operation,
            "413",
            "`payload_too_large`: the body is larger than 64 KiB.",
        );
        add(
            operation,
            "415",
            if json {
                "`unsupported_media_type`: send `Content-Type: application/json`."
            } else {
                "`unsupported_media_type`."
            },
        );
        add(
            operation,
            "422",
            "`validation_failed`: `errors` lists every invalid field as `{field, message}`.",
        );
    }
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if has_parameters {
        add(
            operation,
            "422",
            "`validation_failed`: `errors` lists every invalid parameter as `{field, message}`.",
        );
    }
    // The reset form (GET) is static; the reset itself (POST) hashes and writes, so it can
    // be answered 503 like any other database work.
    let static_or_process = matches!(path, "/health" | "/openapi.json" | "/docs" | "/docs/{file}")
        || operation.operation_id.as_deref() == Some("reset_password_page");
    if !static_or_process {
        add(
            operation,
            "503",
            "`busy`: too many requests are waiting for the database (`DB_QUEUE_MAX`) or, \
             where a password is hashed, for a hashing thread (256 per thread, or a turn \
             within 10 s); `unavailable`: the database is unreachable or a write kept \
             conflicting with concurrent ones. Nothing was changed; retry after \
             `Retry-After` seconds.",
        );
    }
    add(
        operation,
        "500",
        "`internal_error`: the `detail` names the request id the logs carry.",
    );
    if let Some(body) = operation.request_body.as_mut().and_then(|b| match b {
        RefOr::T(body) => Some(body),
        RefOr::Ref(_) => None,
    }) && matches!(
        operation.operation_id.as_deref(),
        Some("logout" | "checkout")
    ) {
        body.required = Some(Required::False);
    }
    match operation.operation_id.as_deref() {
        Some("signup") => link(
            operation,
            "201",
            "ResendVerification",
            "resend_verification",
            &[],
            Some(serde_json::json!({"email": "$response.body#/email"})),
        ),
        Some("signin") | Some("refresh") => link(
            operation,
            "200",
            "Refresh",
            "refresh",
            &[],
            Some(serde_json::json!({"refresh_token": "$response.body#/refresh_token"})),
        ),
        Some("create_product") => {
            for (name, target) in [
                ("GetProduct", "get_product"),
                ("ReplaceProduct", "replace_product"),
                ("PatchProduct", "patch_product"),
                ("DeleteProduct", "delete_product"),
            ] {
                link(
                    operation,
                    "201",
                    name,
                    target,
                    &[("id", "$response.body#/id")],
                    None,
                );
            }
            link(
                operation,
                "201",
                "AddToCart",
                "cart_add",
                &[],
                Some(serde_json::json!({"product_id": "$response.body#/id", "quantity": 1})),
            );
        }
        Some("cart_add") => {
            link(
                operation,
                "200",
                "UpdateLine",
                "cart_update",
                &[("product_id", "$request.body#/product_id")],
                None,
            );
            link(
                operation,
                "200",
                "RemoveLine",
                "cart_remove",
                &[("product_id", "$request.body#/product_id")],
                None,
            );
            link(operation, "200", "Checkout", "checkout", &[], None);
        }
        Some("checkout") => {
            link(
                operation,
                "201",
                "GetOrder",
                "get_order",
                &[("id", "$response.body#/id")],
                None,
            );
            link(
                operation,
                "201",
                "CancelOrder",
                "cancel_order",
                &[("id", "$response.body#/id")],
                None,
            );
        }
        Some("create_address") => {
            for (name, target) in [
                ("GetAddress", "get_address"),
                ("UpdateAddress", "update_address"),
                ("DeleteAddress", "delete_address"),
            ] {
                link(
                    operation,
                    "201",
                    name,
                    target,
                    &[("id", "$response.body#/id")],
                    None,
                );
            }
        }
        Some("create_webhook") => {
            for (name, target) in [
                ("GetWebhook", "get_webhook"),
                ("UpdateWebhook", "update_webhook"),
                ("DeleteWebhook", "delete_webhook"),
                ("RotateSecret", "rotate_webhook_secret"),
                ("ListDeliveries", "list_webhook_deliveries"),
            ] {
                link(
                    operation,
                    "201",
                    name,
                    target,
                    &[("id", "$response.body#/id")],
                    None,
                );
            }
        }
        Some("get_order") => link(
            operation,
            "200",
            "CancelOrder",
            "cancel_order",
            &[("id", "$response.body#/id")],
            None,
        ),
        _ => {}
    }
}

/// Fills in the rules that live in the validators, so the document publishes exactly what
/// the server accepts: the country list, the postal code, phone and webhook URL patterns, and
/// "not both" for the checkout's two ways of naming an address.
fn validators(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::schema::Schema;
    fn object<'a>(
        components: &'a mut utoipa::openapi::Components,
        name: &str,
    ) -> Option<&'a mut utoipa::openapi::schema::Object> {
        match components.schemas.get_mut(name) {
            Some(RefOr::T(Schema::Object(object))) => Some(object),
            _ => None,
        }
    }
    fn property<'a>(
        object: &'a mut utoipa::openapi::schema::Object,
        name: &str,
    ) -> Option<&'a mut utoipa::openapi::schema::Object> {
        match object.properties.get_mut(name) {
            Some(RefOr::T(Schema::Object(property))) => Some(property),
            _ => None,
        }
    }
    let countries: Vec<serde_json::Value> = emporium_orders::countries::ALPHA2
        .iter()
        .map(|code| serde_json::Value::from(*code))
        .collect();
    for name in ["AddressBody", "AddressPatchBody", "ShippingAddressBody"] {
        let Some(body) = object(components, name) else {
            continue;
        };
        if let Some(country) = property(body, "country") {
            country.enum_values = Some(countries.clone());
        }
        if let Some(postal) = property(body, "postal_code") {
            postal.pattern = Some(emporium_orders::addresses::POSTAL_CODE_PATTERN.into());
        }
        if let Some(phone) = property(body, "phone") {
            phone.pattern = Some(emporium_orders::addresses::PHONE_PATTERN.into());
        }
    }
    for name in ["WebhookBody", "WebhookPatchBody"] {
        if let Some(url) = object(components, name).and_then(|body| property(body, "url")) {
            url.pattern = Some(emporium_webhooks::guard::URL_PATTERN.into());
        }
    }
    // Both given (and not null) is a 422.
    if let Some(checkout) = object(components, "CheckoutBody") {
        checkout
            .extensions
            .get_or_insert_with(Default::default)
            .insert(
                "not".into(),
                serde_json::json!({
                    "required": ["shipping_address", "address_id"],
                    "properties": {
                        "shipping_address": {"type": "object"},
                        "address_id": {"type": "number"}
                    }
                }),
            );
    }
    // A status or some tracking: an empty change is a 422.
    if let Some(change) = object(components, "OrderStatusBody") {
        change
            .extensions
            .get_or_insert_with(Default::default)
            .insert(
                "anyOf".into(),
                serde_json::json!([
                    {"required": ["status"]},
                    {"required": ["carrier"]},
                    {"required": ["tracking_number"]},
                    {"required": ["tracking_url"]}
                ]),
            );
    }
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".into())
    })
}
