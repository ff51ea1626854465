//! Accounts for Emporium: users, roles, passwords, sessions, tokens and login throttling.
//!
//! Plain synchronous functions over `&mut` [`Conn`](emporium_db::Conn), with no HTTP in them.
//! Password hashing is deliberately slow (Argon2id), so callers in an async server run these
//! functions on a blocking thread pool; the functions that hash also come in steps (reads,
//! hashing, writes) so the hashing can run on threads that hold no database connection.
//!
//! - [`accounts`]: signup with email verification, password reset, admin management.
//! - [`sessions`]: signin, rotating refresh tokens, logout, and [`sessions::authenticate`],
//!   which turns an access token into a [`Principal`] with one indexed query per request.
//! - [`throttle`]: failed-signin limits per email and per client address, and the
//!   per-address limit on requests that send mail.

pub mod accounts;
pub mod password;
pub mod sessions;
pub mod throttle;
pub mod tokens;
mod user;

use chrono::Duration;
use emporium_core::settings::Settings;
use emporium_core::{SessionId, UserId, ValidationErrors};

pub use accounts::{NewAccount, SignupRequest};
pub use password::{Password, PasswordHash};
pub use sessions::TokenPair;
pub use user::{Role, User};

/// Everything the account functions need to know, built once at start-up.
pub struct AuthConfig {
    pub(crate) keys: tokens::Keys,
    pub(crate) hasher: password::Hasher,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens (and of an idle session).
    pub refresh_ttl: Duration,
    /// Lifetime of email-verification links.
    pub verification_ttl: Duration,
    /// Lifetime of password-reset links.
    pub reset_ttl: Duration,
    /// Signin is refused until the email is verified.
    pub require_email_verification: bool,
    /// Failed signins allowed per email within [`AuthConfig::email_window`] (0 = no limit).
    pub max_failures_per_email: u32,
    /// Failed signins allowed per client address within [`AuthConfig::ip_window`] (0 = no
    /// limit).
    pub max_failures_per_ip: u32,
    /// The per-email throttling window (15 minutes).
    pub email_window: Duration,
    /// The per-address throttling window (1 minute).
    pub ip_window: Duration,
    /// The shop's name in emails.
    pub shop_name: String,
    /// Base of the links in emails, without a trailing slash.
    pub public_base_url: String,
    /// Verification and reset mails one address may receive (`MAIL_MAX_PER_ADDRESS_*`).
    pub mail_limits: emporium_mail::MailLimits,
    /// Requests that send mail (signup, resend-verification, forgot-password) one client
    /// address may make per minute (`MAIL_REQUESTS_MAX_PER_IP`; 0 = no limit).
    pub max_mail_requests_per_ip: u32,
}

impl AuthConfig {
    /// The configuration `settings` describe. Computes one Argon2 hash (the stand-in used to
    /// make unknown emails cost the same as wrong passwords).
    pub fn from_settings(settings: &Settings) -> Result<AuthConfig, AuthError> {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        if !settings.jwt.has_secret() {
            return Err(AuthError::Internal(
                "JWT_SECRET is not set and the signing key kept in the database has not been \
                 read yet (open the database with emporium_server::open_database first)"
                    .into(),
            ));
        }
        Ok(AuthConfig {
            keys: tokens::Keys::new(settings.jwt.secret.expose().as_bytes()),
            hasher: password::Hasher::new(&settings.argon2)?,
            access_ttl: secs(settings.jwt.access_ttl_secs),
            refresh_ttl: secs(settings.jwt.refresh_ttl_secs),
            verification_ttl: secs(settings.jwt.verification_ttl_secs),
            reset_ttl: secs(settings.jwt.reset_ttl_secs),
            require_email_verification: settings.require_email_verification,
            max_failures_per_email: settings.login_max_failures_per_email,
            max_failures_per_ip: settings.login_max_failures_per_ip,
            email_window: Duration::minutes(15),
            ip_window: Duration::minutes(1),
            shop_name: settings.mail.from_name.clone(),
            public_base_url: settings.public_base_url.clone(),
            mail_limits: emporium_mail::MailLimits::from_settings(&settings.mail),
            max_mail_requests_per_ip: settings.mail_requests_max_per_ip,
        })
    }

    /// A new Argon2id hash of `password` with this configuration's cost (slow, CPU only),
    /// for [`accounts::reset_password_hashed`].
    pub fn hash_password(&self, password: &Password) -> Result<PasswordHash, AuthError> {
        self.hasher.hash_password(password)
    }
}

/// Who is making a request: the result of checking an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub user_id: UserId,
    /// The session the token names.
    pub session_id: SessionId,
    /// The account's role now (not when the token was issued).
    pub role: Role,
    /// Whether the account's email is verified.
    pub email_verified: bool,
}

impl Principal {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Why an account operation failed. Each variant is something a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Input fields are invalid; every bad field is listed.
    #[error("invalid input: {0}")]
    Validation(#[from] ValidationErrors),
    /// An account with this email exists.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Unknown email or wrong password (deliberately indistinguishable).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The email is not verified yet and verification is required.
    #[error("the email address is not verified")]
    EmailNotVerified,
    /// The account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// Too many failed signins; try again after this many seconds.
    #[error("too many failed signins; retry after {retry_after_secs} s")]
    Throttled {
        /// Seconds until a signin is considered again.
        retry_after_secs: u64,
    },
    /// Too many requests that send mail from one client address; try again after this many
    /// seconds.
    #[error("too many requests from this address; retry after {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until such a request is accepted again.
        retry_after_secs: u64,
    },
    /// The access token is missing, malformed, expired, of the wrong type, or its session
    /// was revoked.
    #[error("the access token is invalid")]
    InvalidAccessToken,
    /// The refresh token is malformed, expired, of the wrong type, or its session ended.
    #[error("the refresh token is invalid")]
    InvalidRefreshToken,
    /// A refresh token was presented a second time; its session is now revoked.
    #[error("the refresh token was already used; the session is revoked")]
    RefreshTokenReused,
    /// A verification or reset token is unknown (or for another purpose).
    #[error("the link is invalid")]
    TokenInvalid,
    /// A verification or reset token has expired.
    #[error("the link has expired")]
    TokenExpired,
    /// A verification or reset token was already used (or superseded by a newer one).
    #[error("the link was already used")]
    TokenUsed,
    /// No such account.
    #[error("no such account")]
    NotFound,
    /// The current password given for a password change is wrong.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// The change would leave the shop without an active admin.
    #[error("the last active admin cannot be demoted or disabled")]
    LastAdmin,
    /// A database failure.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// Anything else that is not the caller's fault.
    #[error("{0}")]
    Internal(String),
}

impl emporium_db::TransactionError for AuthError {
    fn is_transient(&self) -> bool {
        matches!(self, AuthError::Database(e) if emporium_db::TransactionError::is_transient(e))
    }
}

#[cfg(test)]
mod tests;
