//! Failed-signin throttling: per email (default 5 per 15 minutes) and per client address
//! (default 20 per minute), checked before any password hashing; and the per-address limit on
//! requests that send mail (signup, resend-verification, forgot-password: default 10 per
//! minute). Both live in the database, so every server process shares them.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use emporium_db::Conn;
use emporium_db::schema::{login_failures, mail_requests};

use crate::{AuthConfig, AuthError};

const EMAIL: &str = "email";
const IP: &str = "ip";

/// `Err(Throttled)` when `email` or `ip` has used up its failures; the error says when to
/// retry. Counting only failures means a throttled email stays throttled, even with the right
/// password, until the oldest failure leaves the window.
pub fn check(
    conn: &mut Conn,
    config: &AuthConfig,
    email: &str,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let mut retry_after: Option<Duration> = None;
    let mut limits = vec![(
        EMAIL,
        email,
        config.max_failures_per_email,
        config.email_window,
    )];
    if let Some(ip) = ip {
        limits.push((IP, ip, config.max_failures_per_ip, config.ip_window));
    }
    for (scope, subject, max, window) in limits {
        if max == 0 {
            continue;
        }
        let since = (now - window).naive_utc();
        // The failure that must leave the window before another attempt is allowed: with `max`
        // failures inside it, the oldest of the newest `max`.
        let times: Vec<chrono::NaiveDateTime> = login_failures::table
            .filter(login_failures::scope.eq(scope))
            .filter(login_failures::subject.eq(subject))
            .filter(login_failures::failed_at.gt(since))
            .order(login_failures::failed_at.desc())
            .limit(i64::from(max))
            .select(login_failures::failed_at)
            .load(conn)?;
        if times.len() >= max as usize
            && let Some(oldest) = times.last()
        {
            let wait = oldest.and_utc() + window - now;
            retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
        }
    }
    match retry_after {
        Some(wait) => Err(AuthError::Throttled {
            retry_after_secs: u64::try_from(wait.num_seconds()).unwrap_or(0).max(1) + 1,
        }),
        None => Ok(()),
    }
}

/// Records a failed signin for `email` and `ip`, and forgets failures older than any window.
pub fn record_failure(
    conn: &mut Conn,
    config: &AuthConfig,
    email: &str,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let at = now.naive_utc();
    let oldest_kept = (now - config.email_window.max(config.ip_window)).naive_utc();
    emporium_db::write_transaction(conn, |conn| {
        diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(oldest_kept)))
            .execute(conn)?;
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::scope.eq(EMAIL),
                login_failures::subject.eq(email),
                login_failures::failed_at.eq(at),
            ))
            .execute(conn)?;
        if let Some(ip) = ip {
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::scope.eq(IP),
                    login_failures::subject.eq(ip),
                    login_failures::failed_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Forgets the failures of `email` after a successful signin. Most signins have none to
/// forget: then nothing is written (no write lock is taken).
pub fn clear_email(conn: &mut Conn, email: &str) -> Result<(), AuthError> {
    let failed = || {
        login_failures::table
            .filter(login_failures::scope.eq(EMAIL))
            .filter(login_failures::subject.eq(email))
    };
    let any: Option<i32> = failed().select(login_failures::id).first(conn).optional()?;
    if any.is_some() {
        emporium_db::write_transaction(conn, |conn| {
            diesel::delete(failed()).execute(conn)?;
            Ok::<(), AuthError>(())
        })?;
    }
    Ok(())
}

/// The window of the per-address limit on requests that send mail.
const MAIL_REQUEST_WINDOW: Duration = Duration::minutes(1);

/// Counts a request that sends mail (signup, resend-verification, forgot-password) from
/// `client`, or refuses it with `TooManyRequests` when the address already made
/// `max_mail_requests_per_ip` of them in the last minute (refused requests are not counted,
/// so a client that waits out `Retry-After` gets through). No limit without a client address
/// or with the limit at 0.
pub fn mail_request(
    conn: &mut Conn,
    config: &AuthConfig,
    client: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let (Some(client), max) = (client, config.max_mail_requests_per_ip) else {
        return Ok(());
    };
    if max == 0 {
        return Ok(());
    }
    let since = (now - MAIL_REQUEST_WINDOW).naive_utc();
    emporium_db::write_transaction(conn, |conn| {
        diesel::delete(mail_requests::table.filter(mail_requests::requested_at.le(since)))
            .execute(conn)?;
        let recent: Vec<chrono::NaiveDateTime> = mail_requests::table
            .filter(mail_requests::client.eq(client))
            .filter(mail_requests::requested_at.gt(since))
            .order(mail_requests::requested_at.desc())
            .limit(i64::from(max))
            .select(mail_requests::requested_at)
            .load(conn)?;
        if recent.len() >= max as usize
            && let Some(oldest) = recent.last()
        {
            let wait = oldest.and_utc() + MAIL_REQUEST_WINDOW - now;
            return Err(AuthError::TooManyRequests {
                retry_after_secs: u64::try_from(wait.num_seconds()).unwrap_or(0).max(1) + 1,
            });
        }
        diesel::insert_into(mail_requests::table)
            .values((
                mail_requests::client.eq(client),
                mail_requests::requested_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        Ok(())
    })
}
