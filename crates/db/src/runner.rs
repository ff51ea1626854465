//! Where background workers (the mail outbox, webhook deliveries) run their database work.
//!
//! By default ([`Runner::blocking`]) each piece runs on Tokio's blocking threads with a
//! connection from the pool. A server on SQLite instead hands it to its single writer, so the
//! workers' writes queue with the requests' writes instead of contending for SQLite's lock
//! (whose busy handler sleeps, and makes the slowest writes very slow).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::{Conn, Pool};

/// One piece of database work.
pub type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// What submits a [`Job`] and completes once it ran (or was refused).
pub type Submit = dyn Fn(Job) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// Runs database work for a background worker. Cheap to clone.
#[derive(Clone)]
pub struct Runner(Arc<Submit>);

impl Runner {
    /// A runner that hands each job to `submit`, which must run it (or drop it, if it
    /// cannot) before its future completes.
    pub fn new(
        submit: impl Fn(Job) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static,
    ) -> Runner {
        Runner(Arc::new(submit))
    }

    /// Each job on Tokio's blocking threads, with a connection from `pool`.
    pub fn blocking(pool: Pool) -> Runner {
        Runner::new(move |job| {
            let pool = pool.clone();
            Box::pin(async move {
                let ran = tokio::task::spawn_blocking(move || match pool.get() {
                    Ok(mut conn) => job(&mut conn),
                    Err(error) => tracing::warn!(%error, "no database connection for a worker"),
                })
                .await;
                if let Err(error) = ran {
                    tracing::error!(%error, "a worker's database job panicked");
                }
            })
        })
    }

    /// Runs `f` and returns its result; an error (as text) when it failed or could not run.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, diesel::result::Error> + Send + 'static,
    ) -> Result<T, String> {
        let slot: Arc<Mutex<Option<Result<T, String>>>> = Arc::new(Mutex::new(None));
        let filled = Arc::clone(&slot);
        (self.0)(Box::new(move |conn| {
            let result = f(conn).map_err(|e| e.to_string());
            *filled.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        }))
        .await;
        let result = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        result.unwrap_or_else(|| Err("the database work did not run (busy or unavailable)".into()))
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runner")
    }
}
