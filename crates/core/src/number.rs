//! Whole numbers as JSON Schema counts them: `3` and `3.0` are both the integer 3.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// An integer from JSON that may be written with a zero fraction (`95.0`), as JSON Schema's
/// `integer` allows. `95.5` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WholeNumber(pub i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WholeVisitor;

        impl Visitor<'_> for WholeVisitor {
            type Value = WholeNumber;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WholeNumber, E> {
                Ok(WholeNumber(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WholeNumber, E> {
                i64::try_from(v)
                    .map(WholeNumber)
                    .map_err(|_| E::custom("is too large"))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WholeNumber, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(WholeNumber(v as i64))
                } else {
                    Err(E::custom("must be a whole number"))
                }
            }
        }

        deserializer.deserialize_any(WholeVisitor)
    }
}

/// An integer written as text (a path segment or query value): `262`, or `262.0` as JSON
/// Schema's `integer` allows. Only text: a JSON number or string body field uses
/// [`WholeNumber`] (numbers only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IntegerText(pub i64);

impl std::str::FromStr for IntegerText {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(IntegerText(n));
        }
        match text.split_once('.') {
            Some((whole, fraction))
                if !whole.is_empty()
                    && !fraction.is_empty()
                    && fraction.bytes().all(|b| b == b'0') =>
            {
                whole
                    .parse::<i64>()
                    .map(IntegerText)
                    .map_err(|_| "must be a whole number")
            }
            _ => Err("must be a whole number"),
        }
    }
}

impl<'de> Deserialize<'de> for IntegerText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::{IntegerText, WholeNumber};

    #[test]
    fn integer_text_accepts_integral_decimals() {
        assert_eq!("262".parse::<IntegerText>(), Ok(IntegerText(262)));
        assert_eq!("262.0".parse::<IntegerText>(), Ok(IntegerText(262)));
        assert_eq!("-3".parse::<IntegerText>(), Ok(IntegerText(-3)));
        for bad in ["262.5", "abc", "", ".0", "2.", "1e3"] {
            assert!(bad.parse::<IntegerText>().is_err(), "{bad}");
        }
    }

    #[test]
    fn integral_floats_count_as_integers() {
        assert_eq!(
            serde_json::from_str::<WholeNumber>("95").unwrap(),
            WholeNumber(95)
        );
        assert_eq!(
            serde_json::from_str::<WholeNumber>("95.0").unwrap(),
            WholeNumber(95)
        );
        assert_eq!(
            serde_json::from_str::<WholeNumber>("-3").unwrap(),
            WholeNumber(-3)
        );
        assert!(serde_json::from_str::<WholeNumber>("95.5").is_err());
        assert!(serde_json::from_str::<WholeNumber>("\"95\"").is_err());
        assert!(serde_json::from_str::<WholeNumber>("1e300").is_err());
    }
}
