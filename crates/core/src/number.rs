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

#[cfg(test)]
mod tests {
    use super::WholeNumber;

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
