//! A validated, normalised email address.

use std::fmt;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Deserializer, Serialize};
use validator::ValidateEmail;

/// An email address: trimmed, lower-cased and syntactically valid, at most 254 characters.
///
/// Two addresses that differ only in case are the same `Email`, so comparing or looking up
/// by `Email` is case-insensitive.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, AsExpression, FromSqlRow,
)]
#[serde(transparent)]
#[diesel(sql_type = Text)]
pub struct Email(String);

/// Why an email address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("is required")]
    Empty,
    /// Longer than 254 characters.
    #[error("must be at most 254 characters")]
    TooLong,
    /// Not an email address.
    #[error("must be a valid email address")]
    Invalid,
}

impl Email {
    /// Longest accepted address, in characters (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Validates and normalises `text`.
    pub fn parse(text: &str) -> Result<Email, EmailError> {
        // The length bound applies to the text as sent, surrounding spaces included.
        if text.chars().count() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        let normalised = text.to_lowercase();
        if !normalised.validate_email() {
            return Err(EmailError::Invalid);
        }
        Ok(Email(normalised))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Email::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl<DB: Backend> ToSql<Text, DB> for Email
where
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        <str as ToSql<Text, DB>>::to_sql(self.0.as_str(), out)
    }
}

impl<DB: Backend> FromSql<Text, DB> for Email
where
    String: FromSql<Text, DB>,
{
    /// Rows hold addresses that were normalised on the way in; they are not re-validated.
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        <String as FromSql<Text, DB>>::from_sql(bytes).map(Email)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .max_length(Some(254))
            .description(Some("An email address, stored trimmed and lower-cased."))
            .examples(["ada@example.com"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Email {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Email")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let email = Email::parse("  Alice@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "alice@example.com");
        assert_eq!(email, Email::parse("alice@example.com").unwrap());
    }

    #[test]
    fn refuses_non_addresses() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(Email::parse("not-an-email"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("a@"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("@b.com"), Err(EmailError::Invalid));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn deserializes_through_parse() {
        let email: Email = serde_json::from_str("\"Bob@Example.org\"").unwrap();
        assert_eq!(email.as_str(), "bob@example.org");
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }
}
