//! The background worker that drains the outbox.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use emporium_core::settings::MailSettings;
use emporium_db::{Pool, Runner};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::outbox::{self, AfterFailure, OutboxEntry, RetryPolicy};
use crate::transport::Mailer;

/// How long a claimed message stays leased to this worker before another attempt may take it.
const LEASE: Duration = Duration::from_secs(120);
/// Messages claimed per round.
const BATCH: i64 = 20;

/// Worker configuration.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Retries and backoff.
    pub policy: RetryPolicy,
    /// How often to look for due messages when not woken.
    pub poll_interval: Duration,
}

impl WorkerConfig {
    /// The configuration `settings` describe.
    pub fn from_settings(settings: &MailSettings) -> WorkerConfig {
        WorkerConfig {
            policy: RetryPolicy {
                max_attempts: settings.max_attempts,
                base_delay: Duration::from_millis(settings.retry_base_ms),
                max_delay: Duration::from_secs(3600),
            },
            poll_interval: Duration::from_millis(settings.poll_interval_ms),
        }
    }
}

/// A running background worker (this crate's, and the webhook deliveries'). Wake it after
/// queueing work so it does not wait for the next poll; stop it on shutdown.
pub struct WorkerHandle {
    name: &'static str,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// A cloneable way to wake the worker (for request handlers).
#[derive(Clone)]
pub struct Waker(Arc<Notify>);

impl Waker {
    /// Asks the worker to look for due work now.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

impl WorkerHandle {
    /// Spawns the loop `run` makes of a wake-up signal and a stop signal on the current Tokio
    /// runtime; `name` is for the log.
    pub fn start<F>(
        name: &'static str,
        run: impl FnOnce(Arc<Notify>, watch::Receiver<bool>) -> F,
    ) -> WorkerHandle
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(Arc::clone(&wake), stopped));
        WorkerHandle {
            name,
            wake,
            stop,
            task,
        }
    }

    /// A cloneable waker.
    pub fn waker(&self) -> Waker {
        Waker(Arc::clone(&self.wake))
    }

    /// Asks the worker to look for due work now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the worker after what it is sending, if anything, and waits for it; what it has
    /// not sent stays queued for the next start (or another server).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.wake.notify_one();
        if let Err(error) = self.task.await {
            tracing::error!(%error, worker = self.name, "worker ended abnormally");
        }
    }
}

/// Starts the worker on the current Tokio runtime, its database work on blocking threads
/// with connections from `pool`.
pub fn spawn(pool: Pool, mailer: Arc<Mailer>, config: WorkerConfig) -> WorkerHandle {
    spawn_with(Runner::blocking(pool), mailer, config)
}

/// Starts the worker on the current Tokio runtime, its database work run by `db` (a server
/// on SQLite passes its single writer, so the worker's writes queue with everyone else's).
pub fn spawn_with(db: Runner, mailer: Arc<Mailer>, config: WorkerConfig) -> WorkerHandle {
    WorkerHandle::start("mail", move |wake, stopped| {
        run(db, mailer, config, wake, stopped)
    })
}

async fn run(
    pool: Runner,
    mailer: Arc<Mailer>,
    config: WorkerConfig,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    tracing::debug!("mail worker started");
    loop {
        if *stopped.borrow() {
            break;
        }
        // Deliver until nothing is due, then wait for a wake-up, the poll interval, or stop.
        loop {
            if *stopped.borrow() {
                break;
            }
            match deliver_due(&pool, &mailer, &config.policy).await {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "mail worker could not read the outbox");
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
    tracing::debug!("mail worker stopped");
}

/// One round: claims due messages and attempts each. Returns how many were attempted.
async fn deliver_due(
    pool: &Runner,
    mailer: &Mailer,
    policy: &RetryPolicy,
) -> Result<usize, String> {
    let due = blocking(pool, |conn| {
        outbox::claim_due(conn, Utc::now(), LEASE, BATCH)
    })
    .await?;
    let attempted = due.len();
    for entry in due {
        attempt(pool, mailer, policy, entry).await?;
    }
    Ok(attempted)
}

async fn attempt(
    pool: &Runner,
    mailer: &Mailer,
    policy: &RetryPolicy,
    entry: OutboxEntry,
) -> Result<(), String> {
    let id = entry.id;
    let number = entry.attempts + 1;
    let held = entry.next_attempt_at;
    let renewed = blocking(pool, move |conn| {
        outbox::renew_lease(conn, id, held, Utc::now(), LEASE)
    })
    .await?;
    if renewed.is_none() {
        tracing::debug!(
            outbox_id = id,
            "lease taken over by another worker; not sending"
        );
        return Ok(());
    }
    match mailer.send(&entry).await {
        Ok(()) => {
            tracing::info!(outbox_id = id, kind = %entry.kind, attempt = number, "email sent");
            blocking(pool, move |conn| outbox::mark_sent(conn, id, Utc::now())).await
        }
        Err(error) => {
            let message = error.to_string();
            let policy = *policy;
            let outcome = blocking(pool, move |conn| {
                outbox::mark_failed_attempt(conn, id, &message, Utc::now(), &policy)
            })
            .await?;
            match outcome {
                AfterFailure::RetryAt(at) => tracing::warn!(
                    outbox_id = id, kind = %entry.kind, attempt = number, %error, retry_at = %at,
                    "email delivery failed; will retry"
                ),
                AfterFailure::GaveUp => tracing::error!(
                    outbox_id = id, kind = %entry.kind, attempt = number, %error,
                    "email delivery failed for the last time; marked failed"
                ),
            }
            Ok(())
        }
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
