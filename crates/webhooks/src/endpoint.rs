//! Webhook endpoints: where events go, which events, and the secret they are signed with.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use emporium_core::{ValidationErrors, WebhookId};
use emporium_db::schema::webhook_endpoints;
use emporium_db::{Conn, write_transaction};
use serde::{Deserialize, Serialize};

use crate::event::EventType;
use crate::{WebhookError, guard, sign};

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// An endpoint as the API shows it. `secret` is only present in the answer to its creation
/// and to a secret rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// Where events are POSTed.
    pub url: String,
    /// The events it receives.
    pub events: Vec<EventType>,
    /// What it is for.
    pub description: Option<String>,
    /// Whether events are queued and sent to it (false after an admin disabled it, or after
    /// three days of failed deliveries).
    pub enabled: bool,
    /// Registration time.
    #[serde(serialize_with = "emporium_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// The signing secret (`whsec_…`), shown only on creation and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The stored endpoint.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
#[diesel(check_for_backend(emporium_db::MultiBackend))]
pub struct EndpointRow {
    /// Id.
    pub id: WebhookId,
    /// URL.
    pub url: String,
    /// Comma-separated event names.
    pub events: String,
    /// Description.
    pub description: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// Signing secret.
    pub secret: String,
    /// Start of the current run of failed deliveries.
    pub failing_since: Option<NaiveDateTime>,
    /// Created (UTC).
    pub created_at: NaiveDateTime,
    /// Updated (UTC).
    pub updated_at: NaiveDateTime,
}

impl EndpointRow {
    /// As the API shows it, without the secret.
    pub fn to_webhook(&self) -> Webhook {
        Webhook {
            id: self.id,
            url: self.url.clone(),
            events: self
                .events
                .split(',')
                .filter_map(EventType::parse)
                .collect(),
            description: self.description.clone(),
            enabled: self.enabled,
            created_at: emporium_core::time::from_db(self.created_at),
            secret: None,
        }
    }
}

/// An endpoint as an admin sends it (`POST` needs `url` and `events`; `PATCH` changes the
/// fields given). Absent and null are told apart.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookInput {
    /// An `https` URL of a public host.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub url: Option<Option<String>>,
    /// One or more event names.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub events: Option<Option<Vec<String>>>,
    /// Up to 500 characters; null clears it.
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub description: Option<Option<String>>,
    /// Enable or disable (`PATCH` only; a new endpoint is enabled).
    #[serde(default, deserialize_with = "emporium_core::present")]
    pub enabled: Option<Option<bool>>,
}

/// Checked changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChanges {
    /// New URL.
    pub url: Option<String>,
    /// New events (sorted, no duplicates).
    pub events: Option<Vec<EventType>>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

fn parse_events(names: Vec<String>) -> Result<Vec<EventType>, String> {
    if names.is_empty() {
        return Err("must name at least one event".into());
    }
    let mut events = Vec::with_capacity(names.len());
    for name in &names {
        match EventType::parse(name) {
            Some(event) => events.push(event),
            None => {
                let known: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                return Err(format!(
                    "'{}' is not an event; known events: {}",
                    name.chars().take(60).collect::<String>(),
                    known.join(", ")
                ));
            }
        }
    }
    events.sort_unstable();
    events.dedup();
    Ok(events)
}

fn parse_description(text: String) -> Result<Option<String>, String> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "must be at most {MAX_DESCRIPTION_CHARS} characters"
        ));
    }
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}

impl WebhookInput {
    /// Checks the input, naming every bad field. With `create`, `url` and `events` are
    /// required; null is refused everywhere except `description`.
    pub fn check(
        self,
        create: bool,
        allow_private: bool,
    ) -> Result<WebhookChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let required = |field: Option<Option<String>>| match field {
            None if create => Err("is required".to_string()),
            Some(None) => Err("must not be null".to_string()),
            other => Ok(other.flatten()),
        };
        let url = errors.check(
            "url",
            required(self.url)
                .and_then(|url| url.map(|u| guard::check_url(&u, allow_private)).transpose()),
        );
        let events = errors.check(
            "events",
            match self.events {
                None if create => Err("is required".to_string()),
                Some(None) => Err("must not be null".to_string()),
                None => Ok(None),
                Some(Some(names)) => parse_events(names).map(Some),
            },
        );
        let description = errors.check(
            "description",
            match self.description {
                None => Ok(None),
                Some(None) => Ok(Some(None)),
                Some(Some(text)) => parse_description(text).map(Some),
            },
        );
        let enabled = errors.check(
            "enabled",
            match self.enabled {
                None => Ok(None),
                Some(None) => Err("must not be null"),
                Some(Some(enabled)) => Ok(Some(enabled)),
            },
        );
        errors.finish((|| {
            Some(WebhookChanges {
                url: url?,
                events: events?,
                description: description?,
                enabled: enabled?,
            })
        })())
    }
}

fn join(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored endpoint `id`.
pub fn row(conn: &mut Conn, id: WebhookId) -> Result<EndpointRow, WebhookError> {
    webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(WebhookError::NotFound)
}

/// Registers an endpoint (enabled, with a new secret) and returns it with its secret.
/// `changes` must come from [`WebhookInput::check`] with `create = true`.
pub fn create(
    conn: &mut Conn,
    changes: WebhookChanges,
    now: DateTime<Utc>,
) -> Result<Webhook, WebhookError> {
    let (Some(url), Some(events)) = (changes.url, changes.events) else {
        let mut errors = ValidationErrors::new();
        errors.push("url", "is required");
        errors.push("events", "is required");
        return Err(errors.into());
    };
    let secret = sign::generate_secret().map_err(|e| WebhookError::Internal(e.to_string()))?;
    let at = now.naive_utc();
    write_transaction(conn, |conn| {
        let id: WebhookId = diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::url.eq(&url),
                webhook_endpoints::events.eq(join(&events)),
                webhook_endpoints::description.eq(changes.description.clone().flatten()),
                webhook_endpoints::enabled.eq(changes.enabled.unwrap_or(true)),
                webhook_endpoints::secret.eq(&secret),
                webhook_endpoints::created_at.eq(at),
                webhook_endpoints::updated_at.eq(at),
            ))
            .returning(webhook_endpoints::id)
            .get_result(conn)?;
        let mut webhook = row(conn, id)?.to_webhook();
        webhook.secret = Some(secret.clone());
        Ok(webhook)
    })
}

/// Every endpoint, oldest first (no secrets).
pub fn list(conn: &mut Conn) -> Result<Vec<Webhook>, WebhookError> {
    let rows: Vec<EndpointRow> = webhook_endpoints::table
        .order(webhook_endpoints::id.asc())
        .select(EndpointRow::as_select())
        .load(conn)?;
    Ok(rows.iter().map(EndpointRow::to_webhook).collect())
}

/// The endpoint `id` (no secret).
pub fn get(conn: &mut Conn, id: WebhookId) -> Result<Webhook, WebhookError> {
    Ok(row(conn, id)?.to_webhook())
}

/// Changes the given fields. Enabling an endpoint clears its failure streak, so it gets three
/// fresh days before it could be disabled again; its queued deliveries resume.
pub fn update(
    conn: &mut Conn,
    id: WebhookId,
    changes: WebhookChanges,
    now: DateTime<Utc>,
) -> Result<Webhook, WebhookError> {
    write_transaction(conn, |conn| {
        let current = row(conn, id)?;
        let enabled = changes.enabled.unwrap_or(current.enabled);
        let failing_since = if enabled && !current.enabled {
            None
        } else {
            current.failing_since
        };
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::url.eq(changes.url.clone().unwrap_or(current.url)),
                webhook_endpoints::events
                    .eq(changes.events.as_deref().map_or(current.events, join)),
                webhook_endpoints::description
                    .eq(changes.description.clone().unwrap_or(current.description)),
                webhook_endpoints::enabled.eq(enabled),
                webhook_endpoints::failing_since.eq(failing_since),
                webhook_endpoints::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        get(conn, id)
    })
}

/// Deletes the endpoint and its deliveries.
pub fn delete(conn: &mut Conn, id: WebhookId) -> Result<(), WebhookError> {
    write_transaction(conn, |conn| {
        use emporium_db::schema::webhook_deliveries;
        row(conn, id)?;
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
            .execute(conn)?;
        diesel::delete(webhook_endpoints::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Replaces the signing secret (the old one stops working at once) and returns the endpoint
/// with the new secret.
pub fn rotate_secret(
    conn: &mut Conn,
    id: WebhookId,
    now: DateTime<Utc>,
) -> Result<Webhook, WebhookError> {
    let secret = sign::generate_secret().map_err(|e| WebhookError::Internal(e.to_string()))?;
    write_transaction(conn, |conn| {
        row(conn, id)?;
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::secret.eq(&secret),
                webhook_endpoints::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        let mut webhook = get(conn, id)?;
        webhook.secret = Some(secret.clone());
        Ok(webhook)
    })
}
