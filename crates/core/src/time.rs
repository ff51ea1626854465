//! Time as the API shows it: RFC 3339 in UTC with whole seconds (`2026-11-26T01:02:03Z`).

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::Serializer;

/// The current time.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Interprets a stored timestamp (kept in UTC without an offset) as UTC.
pub fn from_db(naive: NaiveDateTime) -> DateTime<Utc> {
    naive.and_utc()
}

/// `at` as stored, to the whole microsecond: what both backends keep, so a value read back
/// compares equal to the one written (the leases of the mail and webhook workers).
pub fn to_micros(at: DateTime<Utc>) -> NaiveDateTime {
    use chrono::Timelike;
    let at = at.naive_utc();
    at.with_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

/// Formats `time` as the API does.
pub fn format(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `#[serde(serialize_with = "emporium_core::time::rfc3339")]` for `DateTime<Utc>` fields.
pub fn rfc3339<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(time))
}

/// `#[serde(serialize_with = "emporium_core::time::rfc3339_opt")]` for optional times (null
/// when absent).
pub fn rfc3339_opt<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_str(&format(time)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_with_z() {
        let time = DateTime::parse_from_rfc3339("2026-11-26T01:02:03.456789+00:00")
            .unwrap()
            .to_utc();
        assert_eq!(format(&time), "2026-11-26T01:02:03Z");
    }
}
