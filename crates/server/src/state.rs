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
}

impl AppState {
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
