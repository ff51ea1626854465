//! Building and running the application.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::Service as _;
use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders, NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use emporium_auth::AuthConfig;
use emporium_core::Settings;
use emporium_core::settings::EmailBackend;
use emporium_db::Pool;
use emporium_mail::{Mailer, WorkerConfig, WorkerHandle};
use tracing_actix_web::TracingLogger;

use crate::extract::{MAX_BODY_BYTES, path_error};
use crate::handlers;
use crate::metrics::Metrics;
use crate::middleware::{X_REQUEST_ID, request_context};
use crate::routes;
use crate::state::AppState;
use crate::telemetry::RequestSpan;

/// A built server, bound to its port and ready to run, with its mail worker.
pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    mail_worker: WorkerHandle,
    webhook_worker: emporium_webhooks::WorkerHandle,
}

impl Application {
    /// Opens the database (applying pending migrations), binds `HOST:PORT` (port 0 picks a
    /// free one) and builds the HTTP server. Call from within an actix/tokio runtime.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with_routes(settings, |_| {}).await
    }

    /// Like [`Application::build`], with `extra_routes` registered after the shop's own
    /// routes and behind the same middleware (errors, request ids, limits). For programs that
    /// embed the server with routes of their own, and for tests.
    pub async fn build_with_routes(
        mut settings: Settings,
        extra_routes: fn(&mut web::ServiceConfig),
    ) -> anyhow::Result<Application> {
        let pool = open_database(&mut settings)?;
        let address = (settings.host.as_str(), settings.port);
        let listener = TcpListener::bind(address).with_context(|| {
            format!(
                "HOST/PORT: cannot listen on {}:{}",
                settings.host, settings.port
            )
        })?;
        let port = listener.local_addr()?.port();

        // Password hashing keeps cores of its own while it runs; request threads follow.
        let cores = Arc::new(crate::cores::CoreSplit::new(settings.password_hash_cores));
        // SQLite: one group-committing writer per process. PostgreSQL: writes stay concurrent.
        let writer = match settings.database.backend {
            emporium_core::settings::DatabaseBackend::Sqlite => {
                Some(Arc::new(crate::state::Writer::start(
                    settings.database.clone(),
                    pool.clone(),
                    settings.db_queue_max,
                    &cores,
                )?))
            }
            emporium_core::settings::DatabaseBackend::Postgres => None,
        };
        // The workers' database work: through the writer on SQLite (their writes queue with
        // the requests' instead of contending for the lock), on blocking threads otherwise.
        let worker_db = match &writer {
            Some(writer) => {
                let writer = Arc::clone(writer);
                emporium_db::Runner::new(move |job| {
                    let writer = Arc::clone(&writer);
                    Box::pin(async move {
                        let ran = writer
                            .run(move |conn| {
                                job(conn);
                                Ok::<(), crate::error::ApiError>(())
                            })
                            .await;
                        if let Err(error) = ran {
                            tracing::warn!(%error, "a worker's database job did not run");
                        }
                    })
                })
            }
            None => emporium_db::Runner::blocking(pool.clone()),
        };
        let mailer = Mailer::from_settings(&settings.mail).context("mail settings")?;
        if settings.mail.backend == EmailBackend::Log {
            tracing::info!(
                "EMAIL_BACKEND=log: emails are written to this log until SMTP is configured"
            );
        }
        let mail_worker = emporium_mail::worker::spawn_with(
            worker_db.clone(),
            Arc::new(mailer),
            WorkerConfig::from_settings(&settings.mail),
        );

        if settings.webhooks.allow_private_urls {
            tracing::warn!(
                "WEBHOOK_ALLOW_PRIVATE_URLS=true: webhooks may call http:// and private \
                 addresses; use this only in tests and local development"
            );
        }
        let webhook_worker = emporium_webhooks::worker::spawn_with(
            worker_db,
            emporium_webhooks::WorkerConfig::from_settings(
                &settings.webhooks,
                &settings.mail.from_name,
            ),
        );

        let auth = AuthConfig::from_settings(&settings).context("account settings")?;
        bootstrap_admin(&settings, &auth, &pool)?;

        let hash_concurrency = settings.password_hash_concurrency;
        let db_threads = crate::state::DbThreads::new(
            settings.database.pool_size as usize,
            settings.db_queue_max,
            &cores,
        )?;
        let catalog_cache_control = actix_web::http::header::HeaderValue::from_str(&format!(
            "public, max-age={}",
            settings.catalog_cache_max_age_secs
        ))
        .context("CATALOG_CACHE_MAX_AGE_SECS")?;
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            settings: Arc::new(settings),
            mail: mail_worker.waker(),
            webhooks: webhook_worker.waker(),
            auth: Arc::new(auth),
            metrics: Metrics::new()?,
            hashing: Arc::new(crate::state::HashPool::new(hash_concurrency, &cores)?),
            cores,
            catalog_cache: Arc::new(emporium_catalog::ListingCache::default()),
            db_threads: Arc::new(db_threads),
            writer,
            pages: Arc::new(crate::pages::Pages::default()),
            catalog_cache_control,
        });
        let settings = Arc::clone(&state.settings);
        let mut server = HttpServer::new(move || {
            app(state.clone(), move |cfg| {
                routes::configure(cfg);
                extra_routes(cfg);
            })
        })
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .listen(listener)?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            pool,
            mail_worker,
            webhook_worker,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool the server uses.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped. SIGINT and SIGTERM stop it gracefully: it stops accepting, lets
    /// in-flight requests finish (up to `SHUTDOWN_TIMEOUT_SECS`), stops the mail and webhook
    /// workers after what they are sending (the rest stays queued for the next start), then
    /// returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.mail_worker.stop().await;
        self.webhook_worker.stop().await;
        served
    }
}

/// Connections for the work that runs beside requests and takes turns on them: the mail and
/// webhook workers, the write-ahead log's checkpoints and readiness checks, each briefly.
pub const BACKGROUND_CONNECTIONS: u32 = 1;

/// Opens the database `settings` names (applying pending migrations, logging each) and, on
/// PostgreSQL without `JWT_SECRET`, puts the signing key kept in the database into
/// `settings` (generating it if this is the first server to start). Every entry point (the
/// server and each CLI command) opens the database through here.
///
/// The pool holds `DB_POOL_SIZE` connections for the database threads, plus
/// [`BACKGROUND_CONNECTIONS`], so request work never waits for a connection that other work
/// holds, plus one per password-hashing thread. The hashing threads no longer use theirs
/// (they only hash, between a request's reads and its writes), but the pool kept its size:
/// without those connections product detail at 1M products served a fifth fewer requests in
/// three alternated runs (BENCHMARKS.md, step 9), for a reason not yet found. A connection is
/// only opened when asked for, so the room costs nothing while unused.
pub fn open_database(settings: &mut Settings) -> anyhow::Result<Pool> {
    let mut database = settings.database.clone();
    database.pool_size = database
        .pool_size
        .saturating_add(u32::try_from(settings.password_hash_concurrency).unwrap_or(u32::MAX))
        .saturating_add(BACKGROUND_CONNECTIONS);
    let (pool, applied) = emporium_db::connect(&database)
        .with_context(|| format!("opening the database {}", settings.database.describe()))?;
    for migration in &applied {
        tracing::info!(%migration, "applied migration");
    }
    if settings.jwt.source == emporium_core::settings::SecretSource::Database {
        let mut conn = pool
            .get()
            .context("reading the signing key from the database")?;
        let (secret, generated) = emporium_db::secrets::get_or_create(
            &mut conn,
            emporium_db::secrets::JWT,
            emporium_core::time::now().naive_utc(),
            emporium_core::settings::generate_secret,
        )
        .context("reading the signing key from the database")?;
        settings.jwt.set_database_secret(secret)?;
        if generated {
            tracing::info!(
                "JWT_SECRET is not set: generated a new 256-bit signing key and stored it in \
                 the database (table shared_secrets), where every server reads it"
            );
        } else {
            tracing::info!("JWT_SECRET is not set: using the signing key stored in the database");
        }
    }
    Ok(pool)
}

/// The application: state, extractor limits, routes, and the middleware stack (outermost
/// first: request context → metrics → tracing → CORS → trailing-slash normalisation →
/// routes).
///
/// `configure` registers the routes; the server passes [`routes::configure`].
pub fn app(
    state: web::Data<AppState>,
    configure: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.settings.cors_allowed_origins);
    let metrics = state.metrics.middleware();
    let cores = Arc::clone(&state.cores);
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(web::FormConfig::default().limit(MAX_BODY_BYTES))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .configure(configure)
        .default_service(web::to(handlers::not_found))
        .wrap(NormalizePath::new(TrailingSlash::Trim))
        // Nothing is stored by caches unless a route says otherwise (the public catalog
        // does): carts, orders, accounts and tokens are private.
        .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
        .wrap(cors)
        .wrap(TracingLogger::<RequestSpan>::new())
        .wrap(metrics)
        .wrap(from_fn(request_context))
        // Each request starts on the cores password hashing leaves free while it runs.
        .wrap_fn(move |req, srv| {
            cores.follow();
            srv.call(req)
        })
}

/// CORS for the configured origins; when none are configured the middleware is off and
/// browsers apply their same-origin rules.
fn cors(origins: &[String]) -> Condition<Cors> {
    let exposed = [
        X_REQUEST_ID,
        header::RETRY_AFTER,
        header::HeaderName::from_static("idempotent-replayed"),
    ];
    let mut cors = Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_headers(exposed)
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    Condition::new(!origins.is_empty(), cors)
}

/// Creates the verified admin `ADMIN_EMAIL` with `ADMIN_PASSWORD` if no account has that
/// email. An existing account is left as it is (its password is not changed).
fn bootstrap_admin(settings: &Settings, auth: &AuthConfig, pool: &Pool) -> anyhow::Result<()> {
    let Some(email) = &settings.admin_email else {
        return Ok(());
    };
    let password = settings
        .admin_password
        .as_ref()
        .context("ADMIN_PASSWORD: is required when ADMIN_EMAIL is set")?;
    let password = emporium_auth::Password::parse(password.expose())
        .map_err(|message| anyhow::anyhow!("ADMIN_PASSWORD: {message}"))?;
    let mut conn = pool.get()?;
    match emporium_auth::accounts::ensure_admin(
        &mut conn,
        auth,
        email,
        &password,
        emporium_core::time::now(),
    )? {
        Some(user) => {
            tracing::info!(email = %user.email, "created the admin account from ADMIN_EMAIL")
        }
        None => tracing::debug!(%email, "ADMIN_EMAIL already has an account"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_has_a_connection_per_database_thread_hashing_thread_and_background_worker() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("shop.db").display());
        let mut settings = Settings::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "DB_POOL_SIZE" => Some("3".into()),
            "PASSWORD_HASH_CONCURRENCY" => Some("2".into()),
            _ => None,
        })
        .unwrap();
        let pool = open_database(&mut settings).unwrap();
        assert_eq!(pool.max_size(), 3 + 2 + BACKGROUND_CONNECTIONS);
        assert_eq!(
            settings.database.pool_size, 3,
            "the database threads' count"
        );
    }
}
