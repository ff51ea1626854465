//! The account row and its public view.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::{Email, UserId};
use emporium_db::schema::users;
use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// A shopper.
    User,
    /// Manages products, orders and accounts.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub(crate) fn from_db(text: &str) -> Role {
        if text == "admin" {
            Role::Admin
        } else {
            Role::User
        }
    }
}

/// An account as the API shows it. It has no password hash, so none can be serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Normalised email address.
    pub email: Email,
    /// Role.
    pub role: Role,
    /// False when an admin disabled the account.
    pub is_active: bool,
    /// True once the email address is confirmed.
    pub email_verified: bool,
    /// When the account was created.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// The stored row, hash included. Never leaves this crate.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(emporium_db::MultiBackend))]
pub(crate) struct UserRow {
    pub id: UserId,
    pub name: String,
    pub email: Email,
    pub password_hash: String,
    pub role: String,
    pub is_active: bool,
    pub email_verified: bool,
    pub created_at: NaiveDateTime,
    #[expect(
        dead_code,
        reason = "selected so the row mirrors the table; not shown by the API"
    )]
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    pub fn role(&self) -> Role {
        Role::from_db(&self.role)
    }

    pub fn to_user(&self) -> User {
        User {
            id: self.id,
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role(),
            is_active: self.is_active,
            email_verified: self.email_verified,
            created_at: emporium_core::time::from_db(self.created_at),
        }
    }
}

pub(crate) fn find_by_email(
    conn: &mut emporium_db::Conn,
    email: &Email,
) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Replaces `row`'s password hash with `new`, only if the stored hash is still the one `row`
/// was read with (the one a password was checked against): false when it changed since,
/// and then nothing is written.
pub(crate) fn replace_hash(
    conn: &mut emporium_db::Conn,
    row: &UserRow,
    new: &crate::PasswordHash,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let replaced = diesel::update(
        users::table
            .find(row.id)
            .filter(users::password_hash.eq(&row.password_hash)),
    )
    .set((
        users::password_hash.eq(new.as_str()),
        users::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(replaced == 1)
}

pub(crate) fn find(conn: &mut emporium_db::Conn, id: UserId) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}
