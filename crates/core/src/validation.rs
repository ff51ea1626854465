//! Field-level validation errors, collected so that a client learns every bad field at once.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// `#[serde(default, deserialize_with = "emporium_core::present")]` on an
/// `Option<Option<T>>` field tells a field left out (`None`) from one sent as null
/// (`Some(None)`) and one with a value: what partial updates (`PATCH`) need.
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// One invalid field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as the client sent it (`email`, `page_size`, `items[2].quantity`).
    pub field: String,
    /// What is wrong, for people (`must be at least 8 characters`).
    pub message: String,
}

/// Every invalid field of one input, in the order they were checked.
///
/// Collect with [`ValidationErrors::check`], finish with [`ValidationErrors::finish`]:
///
/// ```
/// use emporium_core::{Email, PageRequest, ValidationErrors};
///
/// let mut errors = ValidationErrors::new();
/// let email = errors.check("email", Email::parse("not an email"));
/// let page = errors.check("page", PageRequest::new(0, 20));
/// let result = errors.finish(email.zip(page));
/// assert_eq!(result.unwrap_err().fields().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single invalid field.
    pub fn single(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let mut errors = Self::new();
        errors.push(field, message);
        errors
    }

    /// Records that `field` is invalid.
    pub fn push(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.to_string(),
        });
    }

    /// Records the error of `result` against `field`, if any, and returns its value.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(field, error);
                None
            }
        }
    }

    /// Takes over every error of `other`, for nested inputs.
    pub fn extend(&mut self, other: ValidationErrors) {
        self.0.extend(other.0);
    }

    /// `Ok(value)` when nothing was recorded, the collected errors otherwise.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ValidationErrors> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self),
        }
    }

    /// True when no field was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded fields.
    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for error in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{}: {}", error.field, error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        ValidationErrors(vec![error])
    }
}
