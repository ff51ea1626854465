//! Sessions: signin, rotating refresh tokens with reuse detection, logout, and checking an
//! access token on every request.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::{Email, SessionId, UserId};
use emporium_db::schema::{sessions, users};
use emporium_db::{Conn, serializable_transaction, write_transaction};
use serde::Serialize;

use crate::password::{PasswordHash, Verified};
use crate::tokens::{AUDIENCE, Claims, ISSUER, TokenType, random_token};
use crate::user::{self, UserRow};
use crate::{AuthConfig, AuthError, Principal, Role, throttle};

/// What signin and refresh return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    /// Short-lived bearer token for API calls.
    pub access_token: String,
    /// Single-use token for `/auth/refresh`.
    pub refresh_token: String,
    /// Always `bearer`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "bearer"))]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

fn issue_pair(
    config: &AuthConfig,
    user: UserId,
    session: SessionId,
    refresh_jti: &str,
    now: DateTime<Utc>,
) -> Result<TokenPair, AuthError> {
    let claims = |typ, jti: String, ttl: chrono::Duration| Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user.to_string(),
        exp: (now + ttl).timestamp(),
        iat: now.timestamp(),
        jti,
        typ,
        sid: session.get(),
    };
    let access = config.keys.sign(&claims(
        TokenType::Access,
        random_token()?,
        config.access_ttl,
    ))?;
    let refresh = config.keys.sign(&claims(
        TokenType::Refresh,
        refresh_jti.to_string(),
        config.refresh_ttl,
    ))?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "bearer",
        expires_in: config.access_ttl.num_seconds(),
    })
}

/// Signs in with an email and a password, from client address `ip` (for throttling).
///
/// Throttling is checked first, before any hashing. An unknown email costs one hash like a
/// wrong password and gives the same error. Only a correct password learns whether the
/// account is disabled or unverified. A carried-over bcrypt hash (or an Argon2 hash with
/// older parameters) is replaced on success.
///
/// This is [`begin_signin`], [`SigninAttempt::check_password`] and [`finish_signin`] in a
/// row, on one connection. A server that hashes on other threads calls the three itself, so
/// no connection or write lock is held while the password is hashed.
pub fn signin(
    conn: &mut Conn,
    config: &AuthConfig,
    email: &str,
    password: &str,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TokenPair, AuthError> {
    let attempt = begin_signin(conn, config, email, ip, now)?;
    let checked = attempt.check_password(config, password)?;
    finish_signin(conn, config, checked, now)
}

/// A signin that passed the throttle and found its account (or found none): the first of
/// [`signin`]'s three steps, from [`begin_signin`]. Its `Debug` shows no hash.
pub struct SigninAttempt {
    /// What failures are counted under.
    subject: String,
    ip: Option<String>,
    account: Option<UserRow>,
}

impl std::fmt::Debug for SigninAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigninAttempt")
            .field("subject", &self.subject)
            .field("ip", &self.ip)
            .field("account", &self.account.as_ref().map(|row| row.id))
            .finish()
    }
}

/// A checked password, from [`SigninAttempt::check_password`]: the second step. No
/// database work was done for it. Its `Debug` shows no hash.
pub struct CheckedSignin {
    subject: String,
    ip: Option<String>,
    /// The account, when the password matched it, with the hash it was checked against.
    matched: Option<UserRow>,
    /// A fresh hash to replace a carried-over one with, made only for a signin that will
    /// succeed.
    new_hash: Option<PasswordHash>,
}

impl std::fmt::Debug for CheckedSignin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedSignin")
            .field("subject", &self.subject)
            .field("ip", &self.ip)
            .field("matched", &self.matched.as_ref().map(|row| row.id))
            .field("rehashed", &self.new_hash.is_some())
            .finish()
    }
}

/// The first step of a signin: checks the throttle (`Throttled` when `email` or `ip` has
/// used up its failures) and looks the account up. Reads only.
pub fn begin_signin(
    conn: &mut Conn,
    config: &AuthConfig,
    email: &str,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SigninAttempt, AuthError> {
    let parsed = Email::parse(email).ok();
    // What failures are counted under. Text that is not an email address (no account can
    // have it) is counted under its digest: bounded in size, and storable on every backend
    // (PostgreSQL's text cannot hold the NUL characters such input may carry).
    let subject = parsed.as_ref().map_or_else(
        || {
            format!(
                "unparsed:{}",
                crate::tokens::sha256_hex(&email.trim().to_lowercase())
            )
        },
        |e| e.as_str().to_string(),
    );
    throttle::check(conn, config, &subject, ip, now)?;
    let account = match &parsed {
        Some(email) => user::find_by_email(conn, email)?,
        None => None,
    };
    Ok(SigninAttempt {
        subject,
        ip: ip.map(str::to_string),
        account,
    })
}

impl SigninAttempt {
    /// The second step: checks `password` (one hash, the same work whether or not the
    /// account exists) and, when the signin will succeed and the stored hash is a
    /// carried-over one, hashes the password anew. CPU only: no database.
    pub fn check_password(
        self,
        config: &AuthConfig,
        password: &str,
    ) -> Result<CheckedSignin, AuthError> {
        let verified = match &self.account {
            Some(row) => config.hasher.verify(password, &row.password_hash),
            None => config.hasher.verify_nobody(password),
        };
        let (matched, rehash) = match (self.account, verified) {
            (Some(row), Verified::Yes { rehash }) => (Some(row), rehash),
            _ => (None, false),
        };
        let will_succeed = matched.as_ref().is_some_and(|row| {
            row.is_active && (row.email_verified || !config.require_email_verification)
        });
        let new_hash = if rehash && will_succeed {
            Some(PasswordHash::of(&config.hasher, password)?)
        } else {
            None
        };
        Ok(CheckedSignin {
            subject: self.subject,
            ip: self.ip,
            matched,
            new_hash,
        })
    }
}

/// The last step of a signin: records a failure (`InvalidCredentials`), or clears the
/// email's failures and starts a session, replacing a carried-over hash.
///
/// If failures recorded since [`begin_signin`] (concurrent guesses) used up the limit, the
/// answer is `Throttled`, whatever the password: the throttle bounds how many guesses get an
/// answer, not just how many start. The account is read again: if its password changed
/// since it was checked, the check no longer counts and the answer is `InvalidCredentials`
/// (no failure is recorded: it was not a wrong guess).
pub fn finish_signin(
    conn: &mut Conn,
    config: &AuthConfig,
    checked: CheckedSignin,
    now: DateTime<Utc>,
) -> Result<TokenPair, AuthError> {
    let CheckedSignin {
        subject,
        ip,
        matched,
        new_hash,
    } = checked;
    let ip = ip.as_deref();
    let Some(checked) = matched else {
        // Checked and recorded together (serializable on PostgreSQL, where such finishes run
        // side by side): wrong guesses that finish at once cannot all slip under the limit.
        serializable_transaction(conn, |conn| {
            throttle::check(conn, config, &subject, ip, now)?;
            throttle::record_failure(conn, config, &subject, ip, now)
        })?;
        return Err(AuthError::InvalidCredentials);
    };
    throttle::check(conn, config, &subject, ip, now)?;
    // A password changed since the check (a reset, or a concurrent signin's rehash) makes
    // the check stale. Not a wrong guess, so no failure is recorded.
    let row = user::find(conn, checked.id)?
        .filter(|row| row.password_hash == checked.password_hash)
        .ok_or(AuthError::InvalidCredentials)?;
    throttle::clear_email(conn, &subject)?;
    if !row.is_active {
        return Err(AuthError::AccountDisabled);
    }
    if config.require_email_verification && !row.email_verified {
        return Err(AuthError::EmailNotVerified);
    }
    write_transaction(conn, |conn| {
        // Only over the hash that was checked: a change in between wins.
        if let Some(hash) = &new_hash
            && !user::replace_hash(conn, &row, hash, now)?
        {
            return Err(AuthError::InvalidCredentials);
        }
        start_session(conn, config, &row, now)
    })
}

fn start_session(
    conn: &mut Conn,
    config: &AuthConfig,
    row: &UserRow,
    now: DateTime<Utc>,
) -> Result<TokenPair, AuthError> {
    let jti = random_token()?;
    let at = now.naive_utc();
    let session: SessionId = diesel::insert_into(sessions::table)
        .values((
            sessions::user_id.eq(row.id),
            sessions::refresh_jti.eq(&jti),
            sessions::created_at.eq(at),
            sessions::last_used_at.eq(at),
            sessions::expires_at.eq((now + config.refresh_ttl).naive_utc()),
        ))
        .returning(sessions::id)
        .get_result(conn)?;
    issue_pair(config, row.id, session, &jti, now)
}

enum Rotation {
    Rotated(TokenPair),
    Reused,
    Refused(AuthError),
}

/// Exchanges a refresh token for a new pair. The old refresh token is spent; presenting a
/// spent one again revokes the whole session (someone else may hold a copy of it).
pub fn refresh(
    conn: &mut Conn,
    config: &AuthConfig,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TokenPair, AuthError> {
    let claims = config
        .keys
        .check(token, TokenType::Refresh)
        .ok_or(AuthError::InvalidRefreshToken)?;
    let session_id = SessionId(claims.sid);
    let outcome = write_transaction(conn, |conn| -> Result<Rotation, AuthError> {
        let found: Option<(UserId, String, NaiveDateTime, Option<NaiveDateTime>)> = sessions::table
            .find(session_id)
            .select((
                sessions::user_id,
                sessions::refresh_jti,
                sessions::expires_at,
                sessions::revoked_at,
            ))
            .first(conn)
            .optional()?;
        let Some((user_id, current_jti, expires_at, revoked_at)) = found else {
            return Ok(Rotation::Refused(AuthError::InvalidRefreshToken));
        };
        if revoked_at.is_some()
            || expires_at <= now.naive_utc()
            || user_id.to_string() != claims.sub
        {
            return Ok(Rotation::Refused(AuthError::InvalidRefreshToken));
        }
        if current_jti != claims.jti {
            diesel::update(sessions::table.find(session_id))
                .set(sessions::revoked_at.eq(Some(now.naive_utc())))
                .execute(conn)?;
            return Ok(Rotation::Reused);
        }
        let row = user::find(conn, user_id)?.ok_or(AuthError::InvalidRefreshToken)?;
        if !row.is_active {
            return Ok(Rotation::Refused(AuthError::AccountDisabled));
        }
        let next_jti = random_token()?;
        diesel::update(
            sessions::table
                .find(session_id)
                .filter(sessions::refresh_jti.eq(&claims.jti)),
        )
        .set((
            sessions::refresh_jti.eq(&next_jti),
            sessions::last_used_at.eq(now.naive_utc()),
            sessions::expires_at.eq((now + config.refresh_ttl).naive_utc()),
        ))
        .execute(conn)?;
        Ok(Rotation::Rotated(issue_pair(
            config, user_id, session_id, &next_jti, now,
        )?))
    })?;
    match outcome {
        Rotation::Rotated(pair) => Ok(pair),
        Rotation::Reused => {
            tracing::warn!(session = %session_id, "refresh token reused; session revoked");
            Err(AuthError::RefreshTokenReused)
        }
        Rotation::Refused(error) => Err(error),
    }
}

/// Ends the principal's session, or every session of the account with `all_sessions`.
pub fn logout(
    conn: &mut Conn,
    principal: &Principal,
    all_sessions: bool,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    write_transaction(conn, |conn| {
        if all_sessions {
            crate::accounts::revoke_sessions(conn, principal.user_id, None, now)?;
        } else {
            diesel::update(
                sessions::table
                    .find(principal.session_id)
                    .filter(sessions::revoked_at.is_null()),
            )
            .set(sessions::revoked_at.eq(Some(now.naive_utc())))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Checks an access token and returns who it belongs to, reading the session and the account
/// in one indexed query, so that logout, password changes, role changes and disabling an
/// account all take effect on the next request.
///
/// Errors: `InvalidAccessToken` (bad, expired, refresh-typed, or revoked session);
/// `AccountDisabled`; `EmailNotVerified` when verification is required.
pub fn authenticate(
    conn: &mut Conn,
    config: &AuthConfig,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Principal, AuthError> {
    let claims = config
        .keys
        .check(token, TokenType::Access)
        .ok_or(AuthError::InvalidAccessToken)?;
    let session_id = SessionId(claims.sid);
    let found: Option<(
        UserId,
        Option<NaiveDateTime>,
        NaiveDateTime,
        String,
        bool,
        bool,
    )> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .select((
            sessions::user_id,
            sessions::revoked_at,
            sessions::expires_at,
            users::role,
            users::is_active,
            users::email_verified,
        ))
        .first(conn)
        .optional()?;
    let Some((user_id, revoked_at, expires_at, role, is_active, email_verified)) = found else {
        return Err(AuthError::InvalidAccessToken);
    };
    if revoked_at.is_some() || expires_at <= now.naive_utc() || user_id.to_string() != claims.sub {
        return Err(AuthError::InvalidAccessToken);
    }
    if !is_active {
        return Err(AuthError::AccountDisabled);
    }
    if config.require_email_verification && !email_verified {
        return Err(AuthError::EmailNotVerified);
    }
    Ok(Principal {
        user_id,
        session_id,
        role: Role::from_db(&role),
        email_verified,
    })
}
