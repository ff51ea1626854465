//! Each account's address book, and the shipping address an order keeps a copy of.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::{AddressId, UserId, ValidationErrors};
use emporium_db::schema::addresses;
use emporium_db::{Conn, serializable_transaction, write_transaction};
use serde::{Deserialize, Serialize};

use crate::{OrderError, countries};

/// Most addresses one account may keep.
pub const MAX_ADDRESSES: i64 = 20;
/// Longest name, address line, city or region, in characters.
pub const MAX_LINE_CHARS: usize = 200;
/// Longest postal code, in characters.
pub const MAX_POSTAL_CODE_CHARS: usize = 20;

/// Where to ship: what an order keeps a copy of, and what an [`Address`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShippingAddress {
    /// The recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, floor, company…
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or county.
    pub region: Option<String>,
    /// Postal or ZIP code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code (`DE`, `US`).
    pub country: String,
    /// E.164 phone number (`+4930123456`), for the carrier.
    pub phone: Option<String>,
}

/// A saved address as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Address {
    /// Its id.
    pub id: AddressId,
    /// The recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, floor, company…
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or county.
    pub region: Option<String>,
    /// Postal or ZIP code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Whether checkout suggests it first (at most one per account).
    pub is_default: bool,
    /// When it was saved.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = addresses)]
#[diesel(check_for_backend(emporium_db::MultiBackend))]
struct AddressRow {
    id: AddressId,
    name: String,
    line1: String,
    line2: Option<String>,
    city: String,
    region: Option<String>,
    postal_code: String,
    country: String,
    phone: Option<String>,
    is_default: bool,
    created_at: NaiveDateTime,
}

impl AddressRow {
    fn fields(&self) -> ShippingAddress {
        ShippingAddress {
            name: self.name.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            phone: self.phone.clone(),
        }
    }

    fn to_address(&self) -> Address {
        Address {
            id: self.id,
            name: self.name.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            phone: self.phone.clone(),
            is_default: self.is_default,
            created_at: emporium_core::time::from_db(self.created_at),
        }
    }
}

/// An address as a client sends it: to save (`POST`), to change (`PATCH`, the fields given),
/// or inline at checkout. Absent and null are told apart.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddressInput {
    /// 1..=200 characters.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub name: Option<Option<String>>,
    /// 1..=200 characters.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub line1: Option<Option<String>>,
    /// Up to 200 characters; null or empty for none.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub line2: Option<Option<String>>,
    /// 1..=200 characters.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub city: Option<Option<String>>,
    /// Up to 200 characters; null or empty for none.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub region: Option<Option<String>>,
    /// See [`POSTAL_CODE_PATTERN`].
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub postal_code: Option<Option<String>>,
    /// ISO 3166-1 alpha-2, in capitals.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub country: Option<Option<String>>,
    /// `+` then 7..=15 digits, optionally grouped by spaces, dots, dashes or parentheses;
    /// stored in E.164 form. Null for none.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub phone: Option<Option<String>>,
    /// Make it the default (saving and changing only).
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub is_default: Option<Option<bool>>,
}

/// Checked changes to a saved address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPatch {
    name: Option<String>,
    line1: Option<String>,
    line2: Option<Option<String>>,
    city: Option<String>,
    region: Option<Option<String>>,
    postal_code: Option<String>,
    country: Option<String>,
    phone: Option<Option<String>>,
    is_default: Option<bool>,
}

fn line(value: &str, max: usize) -> Result<String, String> {
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(trimmed.to_string())
}

fn optional_line(value: &str, max: usize) -> Result<Option<String>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    line(value, max).map(Some)
}

/// What a postal code looks like: 1..=20 ASCII letters, digits, spaces and dashes, starting
/// and ending with a letter or digit. The OpenAPI document publishes this same pattern.
pub const POSTAL_CODE_PATTERN: &str = r"^[A-Za-z0-9](?:[A-Za-z0-9 -]{0,18}[A-Za-z0-9])?$";

/// What a phone number looks like: E.164 (`+`, a digit 1–9, then 6..=14 more digits), with at
/// most two of space, dot, dash or parentheses between digits (`+49 (30) 123-456`). The
/// OpenAPI document publishes this same pattern.
pub const PHONE_PATTERN: &str = r"^\+[1-9](?:[ .()-]{0,2}[0-9]){6,14}$";

#[expect(
    clippy::expect_used,
    reason = "constant patterns, compiled by the tests"
)]
fn pattern(which: &'static str) -> &'static regex::Regex {
    static POSTAL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static PHONE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let cell = if which == POSTAL_CODE_PATTERN {
        &POSTAL
    } else {
        &PHONE
    };
    cell.get_or_init(|| regex::Regex::new(which).expect("a valid pattern"))
}

/// Checks a postal code against [`POSTAL_CODE_PATTERN`].
pub fn parse_postal_code(value: &str) -> Result<String, String> {
    if pattern(POSTAL_CODE_PATTERN).is_match(value) {
        Ok(value.to_string())
    } else {
        Err("must be 1 to 20 letters, digits, spaces and dashes (such as 10115 or SW1A 1AA)".into())
    }
}

/// Checks a country: an ISO 3166-1 alpha-2 code in capitals (`DE`, `US`).
pub fn parse_country(value: &str) -> Result<String, String> {
    if countries::is_alpha2(value) {
        Ok(value.to_string())
    } else {
        Err("must be an ISO 3166-1 alpha-2 country code in capitals (such as DE or US)".into())
    }
}

/// Checks a phone number against [`PHONE_PATTERN`] and returns its E.164 form
/// (`+4930123456`).
pub fn parse_phone(value: &str) -> Result<String, String> {
    if !pattern(PHONE_PATTERN).is_match(value) {
        return Err(
            "must be an international number: + and 7 to 15 digits (such as +49 30 123456)".into(),
        );
    }
    Ok(value
        .chars()
        .filter(|c| *c == '+' || c.is_ascii_digit())
        .collect())
}

fn required<T>(
    field: Option<Option<String>>,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    match field {
        Some(Some(value)) => check(&value),
        Some(None) => Err("must not be null".into()),
        None => Err("is required".into()),
    }
}

fn optional<T>(
    field: Option<Option<String>>,
    check: impl FnOnce(&str) -> Result<Option<T>, String>,
) -> Result<Option<T>, String> {
    match field {
        Some(Some(value)) => check(&value),
        _ => Ok(None),
    }
}

impl AddressInput {
    /// A complete address (to save, or inline at checkout), naming every bad field under
    /// `prefix` (`""` or `"shipping_address."`). Returns the fields and whether it should be
    /// the default.
    pub fn into_fields(self, prefix: &str) -> Result<(ShippingAddress, bool), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let f = |name: &str| format!("{prefix}{name}");
        let name = errors.check(&f("name"), required(self.name, |v| line(v, MAX_LINE_CHARS)));
        let line1 = errors.check(
            &f("line1"),
            required(self.line1, |v| line(v, MAX_LINE_CHARS)),
        );
        let line2 = errors.check(
            &f("line2"),
            optional(self.line2, |v| optional_line(v, MAX_LINE_CHARS)),
        );
        let city = errors.check(&f("city"), required(self.city, |v| line(v, MAX_LINE_CHARS)));
        let region = errors.check(
            &f("region"),
            optional(self.region, |v| optional_line(v, MAX_LINE_CHARS)),
        );
        let postal_code = errors.check(
            &f("postal_code"),
            required(self.postal_code, parse_postal_code),
        );
        let country = errors.check(&f("country"), required(self.country, parse_country));
        let phone = errors.check(
            &f("phone"),
            optional(self.phone, |v| parse_phone(v).map(Some)),
        );
        // Null or absent: not asked to be the default.
        let is_default: Option<bool> = Some(self.is_default.flatten().unwrap_or(false));
        errors.finish((|| {
            Some((
                ShippingAddress {
                    name: name?,
                    line1: line1?,
                    line2: line2?,
                    city: city?,
                    region: region?,
                    postal_code: postal_code?,
                    country: country?,
                    phone: phone?,
                },
                is_default?,
            ))
        })())
    }

    /// The fields given, for `PATCH`. Null clears `line2`, `region` and `phone`; the other
    /// fields may not be null.
    pub fn into_patch(self) -> Result<AddressPatch, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        fn set<T>(
            value: Option<Option<String>>,
            check: impl FnOnce(&str) -> Result<T, String>,
        ) -> Result<Option<T>, String> {
            match value {
                None => Ok(None),
                Some(None) => Err("must not be null".into()),
                Some(Some(v)) => check(&v).map(Some),
            }
        }
        fn clearable(
            value: Option<Option<String>>,
            check: impl FnOnce(&str) -> Result<Option<String>, String>,
        ) -> Result<Option<Option<String>>, String> {
            match value {
                None => Ok(None),
                Some(None) => Ok(Some(None)),
                Some(Some(v)) => check(&v).map(Some),
            }
        }
        let name = errors.check("name", set(self.name, |v| line(v, MAX_LINE_CHARS)));
        let line1 = errors.check("line1", set(self.line1, |v| line(v, MAX_LINE_CHARS)));
        let line2 = errors.check(
            "line2",
            clearable(self.line2, |v| optional_line(v, MAX_LINE_CHARS)),
        );
        let city = errors.check("city", set(self.city, |v| line(v, MAX_LINE_CHARS)));
        let region = errors.check(
            "region",
            clearable(self.region, |v| optional_line(v, MAX_LINE_CHARS)),
        );
        let postal_code = errors.check("postal_code", set(self.postal_code, parse_postal_code));
        let country = errors.check("country", set(self.country, parse_country));
        let phone = errors.check("phone", clearable(self.phone, |v| parse_phone(v).map(Some)));
        let is_default = errors.check(
            "is_default",
            match self.is_default {
                None => Ok(None),
                Some(None) => Err("must not be null"),
                Some(Some(v)) => Ok(Some(v)),
            },
        );
        errors.finish((|| {
            Some(AddressPatch {
                name: name?,
                line1: line1?,
                line2: line2?,
                city: city?,
                region: region?,
                postal_code: postal_code?,
                country: country?,
                phone: phone?,
                is_default: is_default?,
            })
        })())
    }
}

fn owned(conn: &mut Conn, user: UserId, id: AddressId) -> Result<AddressRow, OrderError> {
    addresses::table
        .find(id)
        .filter(addresses::user_id.eq(user))
        .select(AddressRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(OrderError::AddressNotFound)
}

fn clear_default(conn: &mut Conn, user: UserId) -> Result<(), diesel::result::Error> {
    diesel::update(
        addresses::table
            .filter(addresses::user_id.eq(user))
            .filter(addresses::is_default.eq(true)),
    )
    .set(addresses::is_default.eq(false))
    .execute(conn)?;
    Ok(())
}

/// `user`'s addresses: the default first, then newest first.
pub fn list(conn: &mut Conn, user: UserId) -> Result<Vec<Address>, OrderError> {
    let rows: Vec<AddressRow> = addresses::table
        .filter(addresses::user_id.eq(user))
        .order((
            addresses::is_default.desc(),
            addresses::created_at.desc(),
            addresses::id.desc(),
        ))
        .select(AddressRow::as_select())
        .load(conn)?;
    Ok(rows.iter().map(AddressRow::to_address).collect())
}

/// `user`'s address `id`; anyone else's is `AddressNotFound`.
pub fn get(conn: &mut Conn, user: UserId, id: AddressId) -> Result<Address, OrderError> {
    Ok(owned(conn, user, id)?.to_address())
}

/// The shipping fields of `user`'s address `id`.
pub fn shipping_fields(
    conn: &mut Conn,
    user: UserId,
    id: AddressId,
) -> Result<ShippingAddress, OrderError> {
    Ok(owned(conn, user, id)?.fields())
}

/// Saves an address for `user` (at most [`MAX_ADDRESSES`]: `AddressLimit` past that). It is
/// the default when asked, or when it is the account's first address.
pub fn create(
    conn: &mut Conn,
    user: UserId,
    fields: ShippingAddress,
    make_default: bool,
    now: DateTime<Utc>,
) -> Result<Address, OrderError> {
    // Serializable on PostgreSQL: two saves at once must not both see 19 and make 21.
    serializable_transaction(conn, |conn| {
        let count: i64 = addresses::table
            .filter(addresses::user_id.eq(user))
            .count()
            .get_result(conn)?;
        if count >= MAX_ADDRESSES {
            return Err(OrderError::AddressLimit);
        }
        let is_default = make_default || count == 0;
        if is_default {
            clear_default(conn, user)?;
        }
        let id: AddressId = diesel::insert_into(addresses::table)
            .values((
                addresses::user_id.eq(user),
                addresses::name.eq(&fields.name),
                addresses::line1.eq(&fields.line1),
                addresses::line2.eq(&fields.line2),
                addresses::city.eq(&fields.city),
                addresses::region.eq(&fields.region),
                addresses::postal_code.eq(&fields.postal_code),
                addresses::country.eq(&fields.country),
                addresses::phone.eq(&fields.phone),
                addresses::is_default.eq(is_default),
                addresses::created_at.eq(now.naive_utc()),
            ))
            .returning(addresses::id)
            .get_result(conn)?;
        get(conn, user, id)
    })
}

/// Changes the given fields of `user`'s address `id`. `is_default: true` makes it the default
/// (the previous one stops being it); `false` on the default leaves the account without one.
/// Orders placed to it keep their copy unchanged.
pub fn update(
    conn: &mut Conn,
    user: UserId,
    id: AddressId,
    patch: AddressPatch,
) -> Result<Address, OrderError> {
    write_transaction(conn, |conn| {
        let row = owned(conn, user, id)?;
        let patch = patch.clone();
        let is_default = patch.is_default.unwrap_or(row.is_default);
        if is_default && !row.is_default {
            clear_default(conn, user)?;
        }
        diesel::update(addresses::table.find(id))
            .set((
                addresses::name.eq(patch.name.unwrap_or(row.name)),
                addresses::line1.eq(patch.line1.unwrap_or(row.line1)),
                addresses::line2.eq(patch.line2.unwrap_or(row.line2)),
                addresses::city.eq(patch.city.unwrap_or(row.city)),
                addresses::region.eq(patch.region.unwrap_or(row.region)),
                addresses::postal_code.eq(patch.postal_code.unwrap_or(row.postal_code)),
                addresses::country.eq(patch.country.unwrap_or(row.country)),
                addresses::phone.eq(patch.phone.unwrap_or(row.phone)),
                addresses::is_default.eq(is_default),
            ))
            .execute(conn)?;
        get(conn, user, id)
    })
}

/// Deletes `user`'s address `id`. When it was the default, the newest remaining address
/// becomes the default. Orders placed to it keep their copy.
pub fn delete(conn: &mut Conn, user: UserId, id: AddressId) -> Result<(), OrderError> {
    write_transaction(conn, |conn| {
        let row = owned(conn, user, id)?;
        diesel::delete(addresses::table.find(id)).execute(conn)?;
        if row.is_default {
            let newest: Option<AddressId> = addresses::table
                .filter(addresses::user_id.eq(user))
                .order((addresses::created_at.desc(), addresses::id.desc()))
                .select(addresses::id)
                .first(conn)
                .optional()?;
            if let Some(newest) = newest {
                diesel::update(addresses::table.find(newest))
                    .set(addresses::is_default.eq(true))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}
