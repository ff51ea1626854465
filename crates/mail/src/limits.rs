//! Outbound mail limits: how many verification and password-reset mails one address may
//! receive, per kind, in any 15 minutes and in any 24 hours.
//!
//! They stop anyone from using the shop to flood a customer's inbox (and burn the shop's
//! sender reputation). The count is what the outbox holds for the address and kind, so every
//! server process sharing the database shares the limit. A mail over the limit is not
//! queued; the caller answers exactly as if it had been (no enumeration, no signal to the
//! attacker), and the suppression is counted per kind (`GET /metrics`) and logged without the
//! address in clear. Mails that follow the account holder's own actions (welcome, password
//! changed, order confirmation) are never limited.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use emporium_core::Email;
use emporium_core::settings::MailSettings;
use emporium_db::Conn;
use emporium_db::schema::{mail_suppressions, outbox};

use crate::MessageKind;

/// The limits, per address and kind (0 = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailLimits {
    /// Mails in any 15 minutes (`MAIL_MAX_PER_ADDRESS_15MIN`).
    pub per_15min: u32,
    /// Mails in any 24 hours (`MAIL_MAX_PER_ADDRESS_DAY`).
    pub per_day: u32,
}

impl MailLimits {
    /// No limit at all.
    pub const OFF: MailLimits = MailLimits {
        per_15min: 0,
        per_day: 0,
    };

    /// The limits `settings` configure.
    pub fn from_settings(settings: &MailSettings) -> MailLimits {
        MailLimits {
            per_15min: settings.max_per_address_15min,
            per_day: settings.max_per_address_day,
        }
    }
}

impl Default for MailLimits {
    fn default() -> Self {
        MailLimits {
            per_15min: 3,
            per_day: 10,
        }
    }
}

/// Whether the kind is limited at all: only mails anyone can trigger for any address.
pub fn is_limited(kind: MessageKind) -> bool {
    matches!(kind, MessageKind::Verification | MessageKind::PasswordReset)
}

/// Whether one more mail of `kind` to `to` stays within `limits` at `now`. Always true for
/// kinds that are not limited.
pub fn allows(
    conn: &mut Conn,
    limits: &MailLimits,
    to: &Email,
    kind: MessageKind,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    if !is_limited(kind) {
        return Ok(true);
    }
    for (max, window) in [
        (limits.per_15min, Duration::minutes(15)),
        (limits.per_day, Duration::hours(24)),
    ] {
        if max == 0 {
            continue;
        }
        let sent: i64 = outbox::table
            .filter(outbox::to_email.eq(to.as_str()))
            .filter(outbox::kind.eq(kind.as_str()))
            .filter(outbox::created_at.gt((now - window).naive_utc()))
            .count()
            .get_result(conn)?;
        if sent >= i64::from(max) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Counts a mail that was not queued because its address had reached a limit, and logs it
/// at `warn` with the address masked.
pub fn record_suppressed(conn: &mut Conn, to: &Email, kind: MessageKind) -> QueryResult<()> {
    tracing::warn!(
        kind = kind.as_str(),
        to = %mask(to),
        "mail suppressed: the address reached its limit for this kind of mail"
    );
    diesel::update(mail_suppressions::table.find(kind.as_str()))
        .set(mail_suppressions::suppressed.eq(mail_suppressions::suppressed + 1))
        .execute(conn)?;
    Ok(())
}

/// Suppressed mails so far, per kind (`verification`, `password_reset`).
pub fn suppressed(conn: &mut Conn) -> QueryResult<Vec<(String, i64)>> {
    mail_suppressions::table
        .select((mail_suppressions::kind, mail_suppressions::suppressed))
        .order(mail_suppressions::kind.asc())
        .load(conn)
}

/// `ada@example.com` → `a***@example.com`: enough for an operator to tell addresses apart
/// in a log, not enough to read them.
pub fn mask(email: &Email) -> String {
    let text = email.as_str();
    match text.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        let email = Email::parse("Ada.Lovelace@Example.com").unwrap();
        assert_eq!(mask(&email), "a***@example.com");
    }

    #[test]
    fn only_mails_anyone_can_trigger_are_limited() {
        assert!(is_limited(MessageKind::Verification));
        assert!(is_limited(MessageKind::PasswordReset));
        assert!(!is_limited(MessageKind::OrderConfirmation));
        assert!(!is_limited(MessageKind::PasswordChanged));
        assert!(!is_limited(MessageKind::Welcome));
    }
}
