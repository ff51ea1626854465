//! Accounts: signup with email verification, password reset and change, and admin management.
//!
//! Every function that sends mail queues it in the outbox inside its own transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use emporium_core::{Email, Page, PageRequest, UserId, ValidationErrors};
use emporium_db::schema::{email_tokens, sessions, users};
use emporium_db::{Conn, serializable_transaction, write_transaction};
use emporium_mail::{MessageKind, OutgoingMail, templates};
use serde::Deserialize;

use crate::password::{Password, PasswordHash, Verified};
use crate::tokens::{random_token, sha256_hex};
use crate::user::{self, UserRow};
use crate::{AuthConfig, AuthError, Principal, Role, User};

/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Checks a display name: trimmed, 1..=100 characters, no control characters.
pub fn parse_name(text: &str) -> Result<String, &'static str> {
    // Length and characters are judged as sent (as the API schema states them), then trimmed.
    if text.chars().count() > MAX_NAME_CHARS {
        return Err("must be at most 100 characters");
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    let name = text.trim();
    if name.is_empty() {
        Err("is required")
    } else {
        Ok(name.to_string())
    }
}

fn required(value: &Option<String>) -> Result<&str, &'static str> {
    value.as_deref().ok_or("is required")
}

/// A signup as a client sends it. Fields are optional here so that every missing or invalid
/// one is reported at once; any `role` in the input is ignored (new accounts are users).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SignupRequest {
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Password, exactly as typed.
    pub password: Option<String>,
}

/// A checked signup.
#[derive(Debug, Clone)]
pub struct Signup {
    name: String,
    email: Email,
    password: Password,
}

impl TryFrom<SignupRequest> for Signup {
    type Error = ValidationErrors;

    fn try_from(request: SignupRequest) -> Result<Self, Self::Error> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", required(&request.name).and_then(parse_name));
        let email = errors.check(
            "email",
            required(&request.email).and_then(|e| Email::parse(e).map_err(|e| email_message(&e))),
        );
        let password = errors.check(
            "password",
            required(&request.password).and_then(Password::parse),
        );
        errors.finish((|| {
            Some(Signup {
                name: name?,
                email: email?,
                password: password?,
            })
        })())
    }
}

fn email_message(error: &emporium_core::EmailError) -> &'static str {
    match error {
        emporium_core::EmailError::Empty => "is required",
        emporium_core::EmailError::TooLong => "must be at most 254 characters",
        emporium_core::EmailError::Invalid => "must be a valid email address",
    }
}

/// Parses an email field of a request, as a 422 naming `email` when it is bad.
pub fn parse_email_field(text: &str) -> Result<Email, AuthError> {
    Email::parse(text).map_err(|e| ValidationErrors::single("email", email_message(&e)).into())
}

/// Parses a new password field, as a 422 naming `field` when it is bad.
pub fn parse_password_field(field: &str, text: &str) -> Result<Password, AuthError> {
    Password::parse(text).map_err(|m| ValidationErrors::single(field, m).into())
}

fn unique_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

impl Signup {
    /// Hashes the password (slow, CPU only): the first step of [`signup`], for callers that
    /// hash on other threads than they write on.
    pub fn hash_password(self, config: &AuthConfig) -> Result<HashedSignup, AuthError> {
        Ok(HashedSignup {
            hash: config.hasher.hash_password(&self.password)?,
            name: self.name,
            email: self.email,
        })
    }
}

/// A checked signup with its password hashed, for [`signup_hashed`].
#[derive(Debug, Clone)]
pub struct HashedSignup {
    name: String,
    email: Email,
    hash: PasswordHash,
}

/// Creates an unverified `user` account and queues its verification email.
///
/// [`Signup::hash_password`] then [`signup_hashed`]: the password is hashed before the
/// write transaction opens, so the database lock is never held for the hash.
pub fn signup(
    conn: &mut Conn,
    config: &AuthConfig,
    signup: Signup,
    now: DateTime<Utc>,
) -> Result<User, AuthError> {
    signup_hashed(conn, config, signup.hash_password(config)?, now)
}

/// The database half of [`signup`]: `EmailTaken` if the email is in use, else the account
/// and its verification email, in one write transaction.
pub fn signup_hashed(
    conn: &mut Conn,
    config: &AuthConfig,
    signup: HashedSignup,
    now: DateTime<Utc>,
) -> Result<User, AuthError> {
    write_transaction(conn, |conn| {
        if user::find_by_email(conn, &signup.email)?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let row = insert_user(
            conn,
            &signup.name,
            &signup.email,
            signup.hash.as_str(),
            Role::User,
            false,
            now,
        )?;
        send_verification(conn, config, &row, now)?;
        Ok(row.to_user())
    })
}

fn insert_user(
    conn: &mut Conn,
    name: &str,
    email: &Email,
    hash: &str,
    role: Role,
    verified: bool,
    now: DateTime<Utc>,
) -> Result<UserRow, AuthError> {
    let at = now.naive_utc();
    let id: UserId = diesel::insert_into(users::table)
        .values((
            users::name.eq(name),
            users::email.eq(email),
            users::password_hash.eq(hash),
            users::role.eq(role.as_str()),
            users::is_active.eq(true),
            users::email_verified.eq(verified),
            users::created_at.eq(at),
            users::updated_at.eq(at),
        ))
        .returning(users::id)
        .get_result(conn)
        .map_err(|e| {
            if unique_violation(&e) {
                AuthError::EmailTaken
            } else {
                e.into()
            }
        })?;
    user::find(conn, id)?.ok_or(AuthError::NotFound)
}

/// What a single-use email token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

/// Stores the hash of a new random token and returns the token.
fn issue_token(
    conn: &mut Conn,
    user: UserId,
    purpose: Purpose,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<String, AuthError> {
    let token = random_token()?;
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::user_id.eq(user),
            email_tokens::purpose.eq(purpose.as_str()),
            email_tokens::token_hash.eq(sha256_hex(&token)),
            email_tokens::created_at.eq(now.naive_utc()),
            email_tokens::expires_at.eq((now + ttl).naive_utc()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Spends a token: it must exist for `purpose`, be unused and unexpired. Returns its user.
/// The conditional update makes two concurrent uses of one token succeed at most once.
fn consume_token(
    conn: &mut Conn,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<UserId, AuthError> {
    let found: Option<(
        i32,
        UserId,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    )> = email_tokens::table
        .filter(email_tokens::token_hash.eq(sha256_hex(token)))
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .select((
            email_tokens::id,
            email_tokens::user_id,
            email_tokens::expires_at,
            email_tokens::used_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, user_id, expires_at, used_at)) = found else {
        return Err(AuthError::TokenInvalid);
    };
    if used_at.is_some() {
        return Err(AuthError::TokenUsed);
    }
    if expires_at <= now.naive_utc() {
        return Err(AuthError::TokenExpired);
    }
    let spent = diesel::update(
        email_tokens::table
            .find(id)
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(Some(now.naive_utc())))
    .execute(conn)?;
    if spent == 0 {
        return Err(AuthError::TokenUsed);
    }
    Ok(user_id)
}

fn link(config: &AuthConfig, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", config.public_base_url)
}

fn queue(
    conn: &mut Conn,
    kind: MessageKind,
    row: &UserRow,
    content: templates::Content,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let mail = OutgoingMail {
        kind,
        to: row.email.clone(),
        to_name: row.name.clone(),
        content,
    };
    emporium_mail::enqueue(conn, &mail, now)?;
    Ok(())
}

/// Whether one more mail of `kind` may go to the account's address; when not, the
/// suppression is recorded (metrics, a masked log line) and the caller carries on as if it had
/// been sent.
fn within_mail_limits(
    conn: &mut Conn,
    config: &AuthConfig,
    row: &UserRow,
    kind: MessageKind,
    now: DateTime<Utc>,
) -> Result<bool, AuthError> {
    if emporium_mail::limits::allows(conn, &config.mail_limits, &row.email, kind, now)? {
        return Ok(true);
    }
    emporium_mail::limits::record_suppressed(conn, &row.email, kind)?;
    Ok(false)
}

/// Issues a verification token and queues its mail, unless the address has reached its
/// limit of verification mails (then nothing is issued or queued).
fn send_verification(
    conn: &mut Conn,
    config: &AuthConfig,
    row: &UserRow,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    if !within_mail_limits(conn, config, row, MessageKind::Verification, now)? {
        return Ok(());
    }
    let token = issue_token(
        conn,
        row.id,
        Purpose::VerifyEmail,
        config.verification_ttl,
        now,
    )?;
    let hours = u64::try_from(config.verification_ttl.num_hours())
        .unwrap_or(0)
        .max(1);
    let content = templates::verification(
        &config.shop_name,
        &row.name,
        &link(config, "/auth/verify-email", &token),
        hours,
    );
    queue(conn, MessageKind::Verification, row, content, now)
}

/// Marks the account of a verification token verified and queues the welcome email.
pub fn verify_email(
    conn: &mut Conn,
    config: &AuthConfig,
    token: &str,
    now: DateTime<Utc>,
) -> Result<User, AuthError> {
    write_transaction(conn, |conn| {
        let user_id = consume_token(conn, token, Purpose::VerifyEmail, now)?;
        diesel::update(users::table.find(user_id))
            .set((
                users::email_verified.eq(true),
                users::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        let row = user::find(conn, user_id)?.ok_or(AuthError::TokenInvalid)?;
        let content = templates::welcome(&config.shop_name, &row.name, &config.public_base_url);
        queue(conn, MessageKind::Welcome, &row, content, now)?;
        Ok(row.to_user())
    })
}

/// Sends a new verification link if `email` belongs to an active, unverified account, and
/// does nothing otherwise: the caller answers the same either way.
pub fn resend_verification(
    conn: &mut Conn,
    config: &AuthConfig,
    email: &Email,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    write_transaction(conn, |conn| match user::find_by_email(conn, email)? {
        Some(row) if row.is_active && !row.email_verified => {
            send_verification(conn, config, &row, now)
        }
        _ => Ok(()),
    })
}

/// Sends a password-reset link if `email` belongs to an active account, and does nothing
/// otherwise. Earlier reset links of the account stop working — unless the address has
/// reached its limit of reset mails: then nothing changes and nothing is sent, and the caller
/// answers the same. (Serializable: two requests at the same moment must not leave two valid
/// links.)
pub fn forgot_password(
    conn: &mut Conn,
    config: &AuthConfig,
    email: &Email,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    serializable_transaction(conn, |conn| {
        let Some(row) = user::find_by_email(conn, email)?.filter(|row| row.is_active) else {
            return Ok(());
        };
        if !within_mail_limits(conn, config, &row, MessageKind::PasswordReset, now)? {
            return Ok(());
        }
        diesel::update(
            email_tokens::table
                .filter(email_tokens::user_id.eq(row.id))
                .filter(email_tokens::purpose.eq(Purpose::ResetPassword.as_str()))
                .filter(email_tokens::used_at.is_null()),
        )
        .set(email_tokens::used_at.eq(Some(now.naive_utc())))
        .execute(conn)?;
        let token = issue_token(conn, row.id, Purpose::ResetPassword, config.reset_ttl, now)?;
        let minutes = u64::try_from(config.reset_ttl.num_minutes())
            .unwrap_or(0)
            .max(1);
        let content = templates::password_reset(
            &config.shop_name,
            &row.name,
            &link(config, "/auth/reset-password", &token),
            minutes,
        );
        queue(conn, MessageKind::PasswordReset, &row, content, now)
    })
}

/// Sets a new password with a reset token, revokes every session of the account, marks the
/// email verified (the link proved the address), and queues a notice.
///
/// The password is hashed first, then [`reset_password_hashed`] does the database work.
pub fn reset_password(
    conn: &mut Conn,
    config: &AuthConfig,
    token: &str,
    new_password: &Password,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let hash = config.hash_password(new_password)?;
    reset_password_hashed(conn, config, token, &hash, now)
}

/// [`reset_password`] with the new password already hashed
/// ([`AuthConfig::hash_password`]): one write transaction, no hashing.
pub fn reset_password_hashed(
    conn: &mut Conn,
    config: &AuthConfig,
    token: &str,
    hash: &PasswordHash,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    write_transaction(conn, |conn| {
        let user_id = consume_token(conn, token, Purpose::ResetPassword, now)?;
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(hash.as_str()),
                users::email_verified.eq(true),
                users::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        revoke_sessions(conn, user_id, None, now)?;
        let row = user::find(conn, user_id)?.ok_or(AuthError::TokenInvalid)?;
        queue(
            conn,
            MessageKind::PasswordChanged,
            &row,
            templates::password_changed(&config.shop_name, &row.name),
            now,
        )
    })
}

/// Changes the signed-in user's password after checking the current one; every other
/// session of the account is revoked and a notice is queued.
///
/// This is [`begin_password_change`], [`PasswordOnFile::check`] and
/// [`finish_password_change`] in a row; a server that hashes on other threads calls the
/// three itself.
pub fn change_password(
    conn: &mut Conn,
    config: &AuthConfig,
    principal: &Principal,
    current: &str,
    new_password: &Password,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let on_file = begin_password_change(conn, principal)?;
    let change = on_file.check(config, current, new_password)?;
    finish_password_change(conn, config, principal, change, now)
}

/// The signed-in account's stored password, to check a change against: from
/// [`begin_password_change`]. Its `Debug` shows no hash.
pub struct PasswordOnFile {
    row: UserRow,
}

impl std::fmt::Debug for PasswordOnFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordOnFile")
            .field("user", &self.row.id)
            .finish_non_exhaustive()
    }
}

/// A checked password change: the current password matched, and the new one is hashed.
/// From [`PasswordOnFile::check`], for [`finish_password_change`].
pub struct PasswordChange {
    row: UserRow,
    new_hash: PasswordHash,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange")
            .field("user", &self.row.id)
            .finish_non_exhaustive()
    }
}

/// The first step of a password change: reads the account's stored hash.
pub fn begin_password_change(
    conn: &mut Conn,
    principal: &Principal,
) -> Result<PasswordOnFile, AuthError> {
    let row = user::find(conn, principal.user_id)?.ok_or(AuthError::InvalidAccessToken)?;
    Ok(PasswordOnFile { row })
}

impl PasswordOnFile {
    /// The second step, CPU only: `WrongCurrentPassword` unless `current` matches; then the
    /// new password is hashed.
    pub fn check(
        self,
        config: &AuthConfig,
        current: &str,
        new_password: &Password,
    ) -> Result<PasswordChange, AuthError> {
        if config.hasher.verify(current, &self.row.password_hash) == Verified::No {
            return Err(AuthError::WrongCurrentPassword);
        }
        Ok(PasswordChange {
            new_hash: config.hasher.hash_password(new_password)?,
            row: self.row,
        })
    }
}

/// The last step of a password change: stores the new hash, revokes every other session
/// and queues the notice, in one write transaction. If the password changed since it was
/// checked (a reset in between), nothing is written and the answer is
/// `WrongCurrentPassword`: the password checked is no longer the current one.
pub fn finish_password_change(
    conn: &mut Conn,
    config: &AuthConfig,
    principal: &Principal,
    change: PasswordChange,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let PasswordChange { row, new_hash } = change;
    write_transaction(conn, |conn| {
        if !user::replace_hash(conn, &row, &new_hash, now)? {
            return Err(AuthError::WrongCurrentPassword);
        }
        revoke_sessions(conn, row.id, Some(principal.session_id), now)?;
        queue(
            conn,
            MessageKind::PasswordChanged,
            &row,
            templates::password_changed(&config.shop_name, &row.name),
            now,
        )
    })
}

/// Revokes every live session of `user`, except `keep`.
pub(crate) fn revoke_sessions(
    conn: &mut Conn,
    user: UserId,
    keep: Option<emporium_core::SessionId>,
    now: DateTime<Utc>,
) -> Result<usize, AuthError> {
    let live = sessions::table
        .filter(sessions::user_id.eq(user))
        .filter(sessions::revoked_at.is_null());
    let revoked = match keep {
        Some(keep) => diesel::update(live.filter(sessions::id.ne(keep)))
            .set(sessions::revoked_at.eq(Some(now.naive_utc())))
            .execute(conn)?,
        None => diesel::update(live)
            .set(sessions::revoked_at.eq(Some(now.naive_utc())))
            .execute(conn)?,
    };
    Ok(revoked)
}

/// An account created by an operator (command line, `ADMIN_EMAIL`, demo data, tests).
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: Email,
    /// Password.
    pub password: Password,
    /// Role.
    pub role: Role,
    /// Whether the email counts as verified.
    pub email_verified: bool,
}

/// Creates an account as given, sending no mail. `EmailTaken` if the email is in use.
pub fn create_account(
    conn: &mut Conn,
    config: &AuthConfig,
    account: NewAccount,
    now: DateTime<Utc>,
) -> Result<User, AuthError> {
    let name = parse_name(&account.name).map_err(|m| ValidationErrors::single("name", m))?;
    let hash = config.hasher.hash(account.password.expose())?;
    write_transaction(conn, |conn| {
        insert_user(
            conn,
            &name,
            &account.email,
            &hash,
            account.role,
            account.email_verified,
            now,
        )
        .map(|row| row.to_user())
    })
}

/// Makes the account with `email` an admin.
pub fn promote(conn: &mut Conn, email: &Email, now: DateTime<Utc>) -> Result<User, AuthError> {
    write_transaction(conn, |conn| {
        let row = user::find_by_email(conn, email)?.ok_or(AuthError::NotFound)?;
        diesel::update(users::table.find(row.id))
            .set((
                users::role.eq(Role::Admin.as_str()),
                users::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        Ok(user::find(conn, row.id)?
            .ok_or(AuthError::NotFound)?
            .to_user())
    })
}

/// The account with `id`.
pub fn get_user(conn: &mut Conn, id: UserId) -> Result<User, AuthError> {
    Ok(user::find(conn, id)?.ok_or(AuthError::NotFound)?.to_user())
}

/// The account with `email`, if any.
pub fn find_by_email(conn: &mut Conn, email: &Email) -> Result<Option<User>, AuthError> {
    Ok(user::find_by_email(conn, email)?.map(|row| row.to_user()))
}

/// Renames an account.
pub fn update_name(
    conn: &mut Conn,
    id: UserId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<User, AuthError> {
    let name = parse_name(name).map_err(|m| ValidationErrors::single("name", m))?;
    write_transaction(conn, |conn| {
        let updated = diesel::update(users::table.find(id))
            .set((users::name.eq(&name), users::updated_at.eq(now.naive_utc())))
            .execute(conn)?;
        if updated == 0 {
            return Err(AuthError::NotFound);
        }
        get_user(conn, id)
    })
}

/// One page of every account, oldest first (ties by id).
pub fn list_users(conn: &mut Conn, page: PageRequest) -> Result<Page<User>, AuthError> {
    let total: i64 = users::table.count().get_result(conn)?;
    let rows: Vec<UserRow> = users::table
        .order((users::created_at.asc(), users::id.asc()))
        .limit(page.limit())
        .offset(page.offset())
        .select(UserRow::as_select())
        .load(conn)?;
    Ok(Page::new(
        rows.iter().map(UserRow::to_user).collect(),
        page,
        total,
    ))
}

/// What an admin may change about an account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdminChanges {
    /// New role.
    pub role: Option<Role>,
    /// Enable or disable.
    pub is_active: Option<bool>,
}

/// Applies an admin's changes to an account. They take effect on the account's next request
/// (roles and the active flag are read from the database on every request). Refuses to leave
/// the shop without an active admin (serializable: two admins demoting each other at the same
/// moment cannot both succeed).
pub fn admin_update(
    conn: &mut Conn,
    id: UserId,
    changes: AdminChanges,
    now: DateTime<Utc>,
) -> Result<User, AuthError> {
    serializable_transaction(conn, |conn| {
        let row = user::find(conn, id)?.ok_or(AuthError::NotFound)?;
        let was_active_admin = row.role() == Role::Admin && row.is_active;
        let role = changes.role.unwrap_or(row.role());
        let is_active = changes.is_active.unwrap_or(row.is_active);
        if was_active_admin && !(role == Role::Admin && is_active) {
            let active_admins: i64 = users::table
                .filter(users::role.eq(Role::Admin.as_str()))
                .filter(users::is_active.eq(true))
                .count()
                .get_result(conn)?;
            if active_admins <= 1 {
                return Err(AuthError::LastAdmin);
            }
        }
        diesel::update(users::table.find(id))
            .set((
                users::role.eq(role.as_str()),
                users::is_active.eq(is_active),
                users::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        get_user(conn, id)
    })
}

/// Creates the verified admin `email` if no account has that email (the `ADMIN_EMAIL` start-up
/// bootstrap). Returns the account when it was created.
pub fn ensure_admin(
    conn: &mut Conn,
    config: &AuthConfig,
    email: &Email,
    password: &Password,
    now: DateTime<Utc>,
) -> Result<Option<User>, AuthError> {
    if user::find_by_email(conn, email)?.is_some() {
        return Ok(None);
    }
    let account = NewAccount {
        name: "Administrator".into(),
        email: email.clone(),
        password: password.clone(),
        role: Role::Admin,
        email_verified: true,
    };
    match create_account(conn, config, account, now) {
        Ok(user) => Ok(Some(user)),
        // Another process created it in the meantime.
        Err(AuthError::EmailTaken) => Ok(None),
        Err(e) => Err(e),
    }
}
