//! What every handler can reach, and the one way handlers touch the database.

use std::sync::Arc;

use actix_web::web;
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
}

/// How long a request waits for its turn to hash a password before it gives up with 503.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

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
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("emporium-hash-{n}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            // A panicking job must not take the thread with it.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            // The app is gone.
                            Err(_) => return,
                        }
                    }
                })?;
        }
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

    /// Runs `f` with a pooled connection on actix's blocking thread pool, so neither the
    /// checkout nor the query ever blocks an async worker. A pool that cannot hand out a
    /// connection in time is a 503; `f`'s own error converts into [`ApiError`].
    pub async fn db<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get().map_err(|e| {
                tracing::warn!(error = %e, "no database connection available");
                ApiError::unavailable("The database is busy; try again shortly.")
            })?;
            f(&mut conn).map_err(Into::into)
        })
        .await?
    }
}
