//! Money as integer minor units (cents).

use std::fmt;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::BigInt;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in integer cents.
///
/// Inside Emporium every amount is a `Money`; arithmetic is on cents and never on floats.
/// On the wire it is a JSON number with at most two decimals (`19.99`).
///
/// Amounts that come from clients go through [`Money::parse`] (or `Deserialize`, or
/// [`Money::try_from_f64`]), which accept only positive amounts with at most two decimals and
/// no more than [`Money::MAX_INPUT`]. Amounts computed inside the shop (totals) are built with
/// [`Money::from_cents`] and checked arithmetic.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, AsExpression, FromSqlRow,
)]
#[diesel(sql_type = BigInt)]
pub struct Money(i64);

/// Why a client-supplied amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a decimal number.
    #[error("must be a decimal number such as 19.99")]
    Invalid,
    /// More than two digits after the decimal point.
    #[error("must have at most two decimals")]
    TooManyDecimals,
    /// Zero or negative.
    #[error("must be greater than 0")]
    NotPositive,
    /// Above [`Money::MAX_INPUT`].
    #[error("must be at most 1000000.00")]
    TooLarge,
}

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);
    /// The largest amount a client may send: 1,000,000.00.
    pub const MAX_INPUT: Money = Money(100_000_000);

    /// An amount of `cents` minor units. For amounts computed inside the shop.
    pub const fn from_cents(cents: i64) -> Money {
        Money(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Parses a client-supplied decimal string (`"19.99"`, `"20"`, `"0.5"`).
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix('-') {
            // A well-formed negative number is "not positive", anything else is invalid.
            return match parse_unsigned(rest) {
                Ok(_) | Err(MoneyError::TooLarge) => Err(MoneyError::NotPositive),
                Err(e) => Err(e),
            };
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        let money = parse_unsigned(text)?;
        if money.0 == 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(money)
    }

    /// Checks a client-supplied JSON number. The number's shortest decimal representation is
    /// what counts, so `19.99` is accepted and `19.999` is refused.
    pub fn try_from_f64(value: f64) -> Result<Money, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::Invalid);
        }
        // `Display` for f64 prints the shortest representation that round-trips, never in
        // exponent form, so this sees exactly the digits the client wrote (up to f64 precision).
        Money::parse(&value.to_string())
    }

    /// `self * quantity`, or `None` on overflow.
    pub fn checked_mul(self, quantity: i64) -> Option<Money> {
        self.0.checked_mul(quantity).map(Money)
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// The amount as a JSON-friendly float (`1999` cents → `19.99`). For output only.
    pub fn as_f64(self) -> f64 {
        // Division of two exactly representable integers is correctly rounded, so this is the
        // double closest to the decimal amount and prints back as exactly two decimals.
        self.0 as f64 / 100.0
    }
}

fn parse_unsigned(text: &str) -> Result<Money, MoneyError> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(MoneyError::Invalid);
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 {
        return Err(MoneyError::TooManyDecimals);
    }
    let whole = whole.trim_start_matches('0');
    // 1,000,000 has 7 digits; anything longer is certainly too large (and might overflow).
    if whole.len() > 7 {
        return Err(MoneyError::TooLarge);
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| MoneyError::Invalid)?
    };
    let mut cents_part: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| MoneyError::Invalid)?
    };
    if fraction.len() == 1 {
        cents_part *= 10;
    }
    let cents = whole * 100 + cents_part;
    if cents > Money::MAX_INPUT.0 {
        return Err(MoneyError::TooLarge);
    }
    Ok(Money(cents))
}

impl fmt::Display for Money {
    /// Two decimals, no currency sign: `19.99`, `20.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MoneyVisitor;

        impl Visitor<'_> for MoneyVisitor {
            type Value = Money;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number with at most two decimals")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
                Money::try_from_f64(v).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                Money::parse(&v.to_string()).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                Money::parse(&v.to_string()).map_err(E::custom)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                // Query strings deliver numbers as text.
                Money::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_f64(MoneyVisitor)
    }
}

impl<DB: Backend> ToSql<BigInt, DB> for Money
where
    i64: ToSql<BigInt, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        <i64 as ToSql<BigInt, DB>>::to_sql(&self.0, out)
    }
}

impl<DB: Backend> FromSql<BigInt, DB> for Money
where
    i64: FromSql<BigInt, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        <i64 as FromSql<BigInt, DB>>::from_sql(bytes).map(Money)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .minimum(Some(0.0))
            .description(Some("An amount of money: a JSON number with at most two decimals (kept as integer cents)."))
            .examples([19.99])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Money {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Money")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_strings() {
        assert_eq!(Money::parse("19.99"), Ok(Money(1999)));
        assert_eq!(Money::parse("20"), Ok(Money(2000)));
        assert_eq!(Money::parse("0.5"), Ok(Money(50)));
        assert_eq!(Money::parse(".5"), Ok(Money(50)));
        assert_eq!(Money::parse("7."), Ok(Money(700)));
        assert_eq!(Money::parse("1.10"), Ok(Money(110)));
        assert_eq!(
            Money::parse("1.100"),
            Ok(Money(110)),
            "trailing zeros are not decimals"
        );
        assert_eq!(Money::parse("1000000.00"), Ok(Money::MAX_INPUT));
        assert_eq!(Money::parse("0.01"), Ok(Money(1)));
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(Money::parse("19.999"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::parse("0"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse("0.00"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse("-5"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse("1000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::parse("99999999999999999999999"),
            Err(MoneyError::TooLarge)
        );
        for bad in ["", ".", "abc", "1e5", "1,5", "1.2.3", "--1", " ", "NaN"] {
            assert_eq!(Money::parse(bad), Err(MoneyError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn json_numbers_round_trip_exactly() {
        for text in [
            "19.99",
            "0.01",
            "0.1",
            "1000000.0",
            "123456.78",
            "0.29",
            "1.15",
        ] {
            let money: Money = serde_json::from_str(text).unwrap();
            let back = serde_json::to_string(&money).unwrap();
            let reparsed: f64 = back.parse().unwrap();
            let original: f64 = text.parse().unwrap();
            assert_eq!(reparsed, original, "{text} came back as {back}");
        }
        let money: Money = serde_json::from_str("19.99").unwrap();
        assert_eq!(money.cents(), 1999);
        assert_eq!(serde_json::to_string(&money).unwrap(), "19.99");
        let money: Money = serde_json::from_str("5").unwrap();
        assert_eq!(money.cents(), 500);
    }

    #[test]
    fn json_refuses_bad_numbers() {
        assert!(serde_json::from_str::<Money>("19.999").is_err());
        assert!(serde_json::from_str::<Money>("0").is_err());
        assert!(serde_json::from_str::<Money>("-1.5").is_err());
        assert!(serde_json::from_str::<Money>("1e-7").is_err());
        assert!(serde_json::from_str::<Money>("1e300").is_err());
        assert!(serde_json::from_str::<Money>("1000000.01").is_err());
    }

    #[test]
    fn every_cent_value_survives_the_float_trip() {
        // Every amount up to the input maximum prints back with at most two decimals.
        for cents in (1..=100_000_000i64)
            .step_by(9_973)
            .chain([1, 10, 99, 1999, 100_000_000])
        {
            let money = Money::from_cents(cents);
            let text = serde_json::to_string(&money).unwrap();
            let again: Money = serde_json::from_str(&text).unwrap();
            assert_eq!(again, money, "{cents} cents printed as {text}");
        }
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Money::from_cents(2000).to_string(), "20.00");
        assert_eq!(Money::from_cents(5).to_string(), "0.05");
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(Money(1999).checked_mul(3), Some(Money(5997)));
        assert_eq!(Money(i64::MAX).checked_mul(2), None);
        assert_eq!(Money(1).checked_add(Money(2)), Some(Money(3)));
    }
}
