//! Products: the stored row, the API view, and checked input.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::{Money, ProductId, UserId, ValidationErrors};
use emporium_db::schema::products;
use serde::{Deserialize, Serialize};

/// Longest product name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest category, in characters.
pub const MAX_CATEGORY_CHARS: usize = 100;
/// Largest stock.
pub const MAX_STOCK: i64 = 1_000_000;
/// Longest image URL, in characters.
pub const MAX_URL_CHARS: usize = 2_048;

/// A product as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    /// Its id.
    pub id: ProductId,
    /// Name.
    pub name: String,
    /// Description (may be empty).
    pub description: String,
    /// Unit price.
    pub price: Money,
    /// Units in stock.
    pub stock: i32,
    /// Category, as the owner wrote it.
    pub category: String,
    /// An http(s) image address, or null.
    pub image_url: Option<String>,
    /// The admin who created it and may change it.
    pub owner_id: UserId,
    /// Creation time.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// The stored row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products)]
#[diesel(check_for_backend(emporium_db::MultiBackend))]
pub struct ProductRow {
    /// Id.
    pub id: ProductId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price in cents.
    pub price_cents: Money,
    /// Units in stock.
    pub stock: i32,
    /// Category.
    pub category: String,
    /// Image address.
    pub image_url: Option<String>,
    /// Owning admin.
    pub owner_id: UserId,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
    /// Last change (UTC).
    pub updated_at: NaiveDateTime,
    /// Set when deleted.
    pub deleted_at: Option<NaiveDateTime>,
}

impl ProductRow {
    /// The API view (taking the row's strings, not copying them).
    pub fn into_product(self) -> Product {
        Product {
            id: self.id,
            name: self.name,
            description: self.description,
            price: self.price_cents,
            stock: self.stock,
            category: self.category,
            image_url: self.image_url,
            owner_id: self.owner_id,
            created_at: emporium_core::time::from_db(self.created_at),
            updated_at: emporium_core::time::from_db(self.updated_at),
        }
    }
}

/// A product as a client sends it, for create (`POST`), full replace (`PUT`) or partial
/// update (`PATCH`). Each field distinguishes absent from null.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProductInput {
    /// 1..=200 characters.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub name: Option<Option<String>>,
    /// Up to 10,000 characters; empty when absent on create/replace.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub description: Option<Option<String>>,
    /// Greater than 0, at most 1,000,000.00, at most two decimals.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub price: Option<Option<f64>>,
    /// 0..=1,000,000.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub stock: Option<Option<emporium_core::WholeNumber>>,
    /// 1..=100 characters.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub category: Option<Option<String>>,
    /// An http(s) URL, or null for none.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub image_url: Option<Option<String>>,
}

/// Every field of a product, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFields {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price.
    pub price: Money,
    /// Units in stock.
    pub stock: i32,
    /// Category.
    pub category: String,
    /// Image address.
    pub image_url: Option<String>,
}

/// The fields a `PATCH` changes, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New price.
    pub price: Option<Money>,
    /// New stock.
    pub stock: Option<i32>,
    /// New category.
    pub category: Option<String>,
    /// New image address (`Some(None)` clears it).
    pub image_url: Option<Option<String>>,
}

/// Bounds are checked on the text as sent (as a JSON Schema `maxLength` is), then it is
/// trimmed.
fn text(value: &str, max: usize, allow_empty: bool) -> Result<String, String> {
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    let trimmed = value.trim();
    if trimmed.is_empty() && !allow_empty {
        return Err("must not be empty".into());
    }
    Ok(trimmed.to_string())
}

/// Checks a product name.
pub fn parse_name(value: &str) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    text(value, MAX_NAME_CHARS, false)
}

/// Checks a description.
pub fn parse_description(value: &str) -> Result<String, String> {
    text(value, MAX_DESCRIPTION_CHARS, true)
}

/// Checks a category.
pub fn parse_category(value: &str) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    text(value, MAX_CATEGORY_CHARS, false)
}

/// Checks a stock count.
pub fn parse_stock(value: i64) -> Result<i32, String> {
    if (0..=MAX_STOCK).contains(&value) {
        Ok(value as i32)
    } else {
        Err(format!("must be between 0 and {MAX_STOCK}"))
    }
}

/// Checks an image address: http or https, a host, no spaces, at most 2,048 characters.
pub fn parse_image_url(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    let url = value.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest
        .and_then(|r| r.split(['/', '?', '#']).next())
        .unwrap_or("");
    if rest.is_none() || host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must be an http:// or https:// address".into());
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    Ok(url.to_string())
}

fn price(value: f64) -> Result<Money, String> {
    Money::try_from_f64(value).map_err(|e| e.to_string())
}

impl ProductInput {
    /// The full set of fields, for create and replace: name, price, stock and category are
    /// required; description defaults to empty and image_url to none.
    pub fn into_fields(self) -> Result<ProductFields, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let required =
            |v: Option<Option<String>>| v.flatten().ok_or_else(|| "is required".to_string());
        let name = errors.check("name", required(self.name).and_then(|v| parse_name(&v)));
        let description = errors.check(
            "description",
            self.description
                .flatten()
                .map_or(Ok(String::new()), |v| parse_description(&v)),
        );
        let price = errors.check(
            "price",
            self.price
                .flatten()
                .ok_or_else(|| "is required".to_string())
                .and_then(price),
        );
        let stock = errors.check(
            "stock",
            self.stock
                .flatten()
                .ok_or_else(|| "is required".to_string())
                .and_then(|n| parse_stock(n.0)),
        );
        let category = errors.check(
            "category",
            required(self.category).and_then(|v| parse_category(&v)),
        );
        let image_url = errors.check(
            "image_url",
            self.image_url
                .flatten()
                .map(|v| parse_image_url(&v))
                .transpose(),
        );
        errors.finish((|| {
            Some(ProductFields {
                name: name?,
                description: description?,
                price: price?,
                stock: stock?,
                category: category?,
                image_url: image_url?,
            })
        })())
    }

    /// The fields present, for a partial update. Null is refused except for `image_url` (and
    /// `description`, where it means empty).
    pub fn into_patch(self) -> Result<ProductPatch, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        fn field<T, U>(
            value: Option<Option<T>>,
            check: impl FnOnce(T) -> Result<U, String>,
        ) -> Result<Option<U>, String> {
            match value {
                None => Ok(None),
                Some(None) => Err("must not be null".into()),
                Some(Some(v)) => check(v).map(Some),
            }
        }
        let name = errors.check("name", field(self.name, |v| parse_name(&v)));
        let description = errors.check(
            "description",
            match self.description {
                None => Ok(None),
                Some(None) => Ok(Some(String::new())),
                Some(Some(v)) => parse_description(&v).map(Some),
            },
        );
        let price = errors.check("price", field(self.price, price));
        let stock = errors.check("stock", field(self.stock, |n| parse_stock(n.0)));
        let category = errors.check("category", field(self.category, |v| parse_category(&v)));
        let image_url = errors.check(
            "image_url",
            match self.image_url {
                None => Ok(None),
                Some(None) => Ok(Some(None)),
                Some(Some(v)) => parse_image_url(&v).map(|u| Some(Some(u))),
            },
        );
        errors.finish((|| {
            Some(ProductPatch {
                name: name?,
                description: description?,
                price: price?,
                stock: stock?,
                category: category?,
                image_url: image_url?,
            })
        })())
    }
}
