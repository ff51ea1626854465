//! What every handler can reach, and the one way handlers touch the database.

use std::sync::Arc;

use emporium_auth::AuthConfig;
use emporium_core::Settings;
use emporium_db::{Conn, Pool};
use emporium_mail::worker::Waker;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Shared application state, registered as `web::Data<AppState>`.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub pool: Pool,
    /// The settings the server was started with.
    pub settings: Arc<Settings>,
    /// Wakes the mail worker after a handler queued mail, so it goes out at once.
    pub mail: Waker,
    /// Token keys, password hasher and account rules.
    pub auth: Arc<AuthConfig>,
    /// The app's metrics registry.
    pub metrics: Metrics,
    /// The threads that hash passwords (`PASSWORD_HASH_CONCURRENCY` of them).
    pub hashing: Arc<HashPool>,
    /// Listing totals and ranked search results for the current catalog version.
    pub catalog_cache: Arc<emporium_catalog::ListingCache>,
    /// The threads that run database work (`DB_POOL_SIZE` of them, `DB_QUEUE_MAX` waiting).
    pub db_threads: Arc<DbThreads>,
}

/// How long a request waits for its turn to hash a password before it gives up with 503.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

/// Starts `threads` threads that take jobs from `queue` one at a time, in order, until every
/// sender is gone. A panicking job does not take its thread with it.
fn spawn_threads(
    name: &str,
    threads: usize,
    queue: std::sync::mpsc::Receiver<Job>,
) -> std::io::Result<()> {
    let queue = Arc::new(std::sync::Mutex::new(queue));
    for n in 0..threads {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name(format!("{name}-{n}"))
            .spawn(move || {
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        // The app is gone.
                        Err(_) => return,
                    }
                }
            })?;
    }
    Ok(())
}

/// The threads that run database work: as many as the pool has connections, fed from one
/// bounded FIFO queue.
///
/// A request's database work waits its turn in order, and the number of threads blocked on
/// the database never exceeds the connections there are (each thread also keeps a malloc
/// arena: piles of blocked threads are what made the server's memory grow under write
/// load). When the queue is full the request is answered at once with 503 `busy` and
/// `Retry-After`, instead of joining an ever longer wait.
pub struct DbThreads {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl DbThreads {
    /// Starts `threads` threads with room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<DbThreads> {
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        spawn_threads("emporium-db", threads, receiver)?;
        Ok(DbThreads { jobs })
    }

    /// Runs `f` on a database thread in its turn; 503 `busy` when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                tracing::warn!("database queue full; answered 503 busy");
                return Err(ApiError::unavailable(
                    "The shop is very busy right now; nothing was done. Retry shortly.",
                )
                .with_code("busy")
                .with_header(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(1u32),
                ));
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "the database threads are gone"
                )));
            }
        }
        result
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("a database task panicked")))
    }
}

/// A few dedicated threads for work that hashes passwords.
///
/// Argon2id takes a core and `ARGON2_MEMORY_KIB` for each hash. On actix's general blocking
/// pool a signin flood would hash on every thread at once, starving other requests of CPU
/// and connections, and leave an Argon2-sized block in every thread's malloc arena (a
/// gigabyte of RSS in the benchmark). Here at most `PASSWORD_HASH_CONCURRENCY` hashes run,
/// always on the same threads; other requests queue for a turn.
pub struct HashPool {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl HashPool {
    /// Starts `threads` hashing threads.
    pub fn new(threads: usize) -> std::io::Result<HashPool> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        spawn_threads("emporium-hash", threads, queue)?;
        Ok(HashPool { jobs })
    }

    /// Runs `f` on a hashing thread when one is free (waiting at most 10 s for a turn).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs
            .send(job)
            .map_err(|_| ApiError::internal(anyhow::anyhow!("the hashing threads are gone")))?;
        match tokio::time::timeout(HASH_WAIT, result).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(ApiError::internal(anyhow::anyhow!(
                "a password-hashing task panicked"
            ))),
            Err(_) => Err(ApiError::unavailable(
                "Too many sign-ins at once; try again shortly.",
            )),
        }
    }
}

impl AppState {
    /// Like [`AppState::db`], for work that hashes passwords (signup, signin, password change
    /// and reset): it runs on the [`HashPool`], so hashing is bounded and never competes
    /// with the catalog for the general blocking threads.
    pub async fn db_hashing<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.hashing
            .run(move || {
                let mut conn = pool.get().map_err(|e| {
                    tracing::warn!(error = %e, "no database connection available");
                    ApiError::unavailable("The database is busy; try again shortly.")
                })?;
                f(&mut conn).map_err(Into::into)
            })
            .await?
    }

    /// Runs `f` with a pooled connection on the [`DbThreads`], in its turn, so neither the
    /// checkout nor the query ever blocks an async worker and blocked threads never pile up.
    /// A full queue is a 503 `busy`, a pool that cannot hand out a connection in time a 503
    /// `unavailable`; `f`'s own error converts into [`ApiError`].
    pub async fn db<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.db_threads
            .run(move || {
                let mut conn = pool.get().map_err(|e| {
                    tracing::warn!(error = %e, "no database connection available");
                    ApiError::unavailable("The database is busy; try again shortly.")
                })?;
                f(&mut conn).map_err(Into::into)
            })
            .await?
    }
}
