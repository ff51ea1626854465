//! The background worker that sends due deliveries.
//!
//! Each round claims up to [`BATCH`] due deliveries (with a lease, so several server processes
//! share the work and each delivery goes to one of them), sends them in parallel — each on a
//! blocking thread, so at most [`BATCH`] threads wait on slow endpoints — and records every
//! outcome. It wakes when a handler publishes an event, every poll interval (retries coming
//! due, events published by another process), and stops on shutdown after the round in flight.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use emporium_core::settings::WebhookSettings;
use emporium_db::{Pool, Runner};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::delivery::{self, AfterAttempt, Attempt, Claimed, MAX_RESPONSE_BYTES, RetryPolicy};
use crate::{guard, sign};

/// How long a claimed delivery stays leased: longer than one attempt can take (10 s).
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries claimed, and sent in parallel, per round.
pub const BATCH: i64 = 8;
/// How long one attempt may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Retries and backoff.
    pub policy: RetryPolicy,
    /// How often to look for due deliveries when not woken.
    pub poll_interval: Duration,
    /// Allow `http` and private addresses (tests, local development).
    pub allow_private_urls: bool,
    /// Signs the email to admins when an endpoint is disabled.
    pub shop_name: String,
}

impl WorkerConfig {
    /// The configuration `settings` describe.
    pub fn from_settings(settings: &WebhookSettings, shop_name: &str) -> WorkerConfig {
        WorkerConfig {
            policy: RetryPolicy {
                max_attempts: settings.max_attempts,
                base_delay: Duration::from_millis(settings.retry_base_ms),
                max_delay: Duration::from_secs(3600),
            },
            poll_interval: Duration::from_millis(settings.poll_interval_ms),
            allow_private_urls: settings.allow_private_urls,
            shop_name: shop_name.to_string(),
        }
    }
}

/// The handle and waker of the mail worker serve this worker too.
pub use emporium_mail::worker::{Waker, WorkerHandle};

/// Starts the worker on the current Tokio runtime, its database work on blocking threads
/// with connections from `pool`.
pub fn spawn(pool: Pool, config: WorkerConfig) -> WorkerHandle {
    spawn_with(Runner::blocking(pool), config)
}

/// Starts the worker on the current Tokio runtime, its database work run by `db` (a server
/// on SQLite passes its single writer).
pub fn spawn_with(db: Runner, config: WorkerConfig) -> WorkerHandle {
    let agent = agent(config.allow_private_urls);
    WorkerHandle::start("webhook", move |wake, stopped| {
        run(db, agent, config, wake, stopped)
    })
}

/// The HTTP client: 10 s timeout, no redirects, and a resolver that refuses forbidden
/// addresses (so the addresses checked are the ones connected to).
fn agent(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(TIMEOUT)
        .redirects(0)
        .user_agent(concat!("Emporium-Webhooks/", env!("CARGO_PKG_VERSION")))
        .resolver(move |netloc: &str| guard::resolve(netloc, allow_private))
        .build()
}

async fn run(
    pool: Runner,
    agent: ureq::Agent,
    config: WorkerConfig,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    tracing::debug!("webhook worker started");
    let config = Arc::new(config);
    loop {
        if *stopped.borrow() {
            break;
        }
        loop {
            if *stopped.borrow() {
                break;
            }
            match deliver_due(&pool, &agent, &config).await {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "webhook worker could not read its queue");
                    break;
                }
            }
        }
        tokio::select! {
            _ = stopped.changed() => {}
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }
    tracing::debug!("webhook worker stopped");
}

/// One round: claims due deliveries and attempts them in parallel. Returns how many were
/// claimed.
async fn deliver_due(
    pool: &Runner,
    agent: &ureq::Agent,
    config: &Arc<WorkerConfig>,
) -> Result<usize, String> {
    let due = blocking(pool, |conn| {
        delivery::claim_due(conn, Utc::now(), LEASE, BATCH)
    })
    .await?;
    let claimed = due.len();
    let mut sends = JoinSet::new();
    for claim in due {
        let pool = pool.clone();
        let agent = agent.clone();
        let config = Arc::clone(config);
        sends.spawn(async move { attempt(&pool, agent, &config, claim).await });
    }
    while let Some(result) = sends.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "webhook delivery could not be recorded"),
            Err(error) => tracing::error!(%error, "webhook delivery task failed"),
        }
    }
    Ok(claimed)
}

async fn attempt(
    pool: &Runner,
    agent: ureq::Agent,
    config: &WorkerConfig,
    claim: Claimed,
) -> Result<(), String> {
    let id = claim.id;
    let held = claim.lease;
    let renewed = blocking(pool, move |conn| {
        delivery::renew_lease(conn, id, held, Utc::now(), LEASE)
    })
    .await?;
    if renewed.is_none() {
        tracing::debug!(delivery_id = %id, "lease taken over by another worker; not sending");
        return Ok(());
    }
    let number = claim.attempts + 1;
    let event = claim.event_type.clone();
    let endpoint = claim.endpoint_id;
    let outcome = tokio::task::spawn_blocking(move || send(&agent, &claim))
        .await
        .map_err(|e| e.to_string())?;
    let policy = config.policy;
    let shop = config.shop_name.clone();
    let recorded = outcome.clone();
    let after = blocking(pool, move |conn| {
        delivery::record(conn, id, &recorded, Utc::now(), &policy, &shop)
    })
    .await?;
    let code = outcome.status.unwrap_or(0);
    let error = outcome.error.unwrap_or_default();
    match after {
        AfterAttempt::Succeeded => tracing::info!(
            delivery_id = %id, webhook_id = %endpoint, %event, attempt = number, status = code,
            "webhook delivered"
        ),
        AfterAttempt::RetryAt(at) => tracing::warn!(
            delivery_id = %id, webhook_id = %endpoint, %event, attempt = number, status = code,
            %error, retry_at = %at, "webhook delivery failed; will retry"
        ),
        AfterAttempt::GaveUp => tracing::error!(
            delivery_id = %id, webhook_id = %endpoint, %event, attempt = number, status = code,
            %error, "webhook delivery failed for the last time; marked failed"
        ),
        AfterAttempt::EndpointDisabled => tracing::error!(
            delivery_id = %id, webhook_id = %endpoint, %event, attempt = number, status = code,
            %error, "webhook endpoint failed for three days; disabled and the admins emailed"
        ),
    }
    Ok(())
}

/// Sends one delivery, signed, and reports what the endpoint answered.
pub fn send(agent: &ureq::Agent, claim: &Claimed) -> Attempt {
    let message_id = claim.message_id();
    let timestamp = Utc::now().timestamp();
    let Some(signature) = sign::signature(&claim.secret, &message_id, timestamp, &claim.body)
    else {
        return Attempt {
            status: None,
            body: None,
            error: Some("the endpoint's secret is not a whsec_ secret".into()),
        };
    };
    let result = agent
        .post(&claim.url)
        .set("content-type", "application/json")
        .set("webhook-id", &message_id)
        .set("webhook-timestamp", &timestamp.to_string())
        .set("webhook-signature", &signature)
        .send_string(&claim.body);
    let (response, error) = match result {
        Ok(response) => (response, None),
        Err(ureq::Error::Status(code, response)) => {
            (response, Some(format!("the endpoint answered {code}")))
        }
        Err(ureq::Error::Transport(transport)) => {
            return Attempt {
                status: None,
                body: None,
                error: Some(transport.to_string()),
            };
        }
    };
    let status = response.status();
    let mut body = Vec::new();
    let _ = response
        .into_reader()
        .take(MAX_RESPONSE_BYTES as u64)
        .read_to_end(&mut body);
    let error = error.or_else(|| {
        (!(200..300).contains(&status))
            .then(|| format!("the endpoint answered {status} (redirects are not followed)"))
    });
    Attempt {
        status: Some(status),
        body: Some(String::from_utf8_lossy(&body).into_owned()),
        error,
    }
}

/// Runs a Diesel call where the worker's database work runs.
async fn blocking<T, F>(db: &Runner, f: F) -> Result<T, String>
where
    F: FnOnce(&mut emporium_db::Conn) -> Result<T, diesel::result::Error> + Send + 'static,
    T: Send + 'static,
{
    db.run(f).await
}

/// A client for one-off sends outside the worker (tests, tools), with the same rules.
pub fn client(allow_private: bool) -> ureq::Agent {
    agent(allow_private)
}
