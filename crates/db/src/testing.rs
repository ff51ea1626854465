//! A fresh migrated database per test, on SQLite or PostgreSQL.

use std::path::PathBuf;
use std::sync::Mutex;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use emporium_core::settings::{DatabaseBackend, DatabaseSettings, Synchronous};
use tempfile::TempDir;

use crate::{Pool, PooledConn};

/// When set (to a PostgreSQL URL whose user may create databases, such as
/// `postgres://postgres@127.0.0.1:5432/postgres`), every [`TestDb`] is a new PostgreSQL
/// database on that server instead of a SQLite file. `scripts/test.sh` sets it for the
/// PostgreSQL half of the suite, on a server it starts itself.
pub const POSTGRES_URL_VAR: &str = "EMPORIUM_TEST_POSTGRES_URL";

/// A migrated database of its own, removed when dropped.
///
/// Each test makes its own, so tests run in parallel without sharing state. On SQLite it is a
/// real file in a temporary folder (never `:memory:`, which would give every pooled connection
/// its own empty database). On PostgreSQL ([`POSTGRES_URL_VAR`]) it is a new database created
/// from a migrated template (tens of milliseconds) and dropped afterwards.
pub struct TestDb {
    // Dropped first, so the database has no connections of ours when it is removed.
    pool: Option<Pool>,
    settings: DatabaseSettings,
    // Kept for its Drop: the folder (and the SQLite file in it) goes when the TestDb does.
    _dir: Option<TempDir>,
    postgres: Option<PostgresDatabase>,
}

struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl TestDb {
    /// Creates and migrates a new database: PostgreSQL when [`POSTGRES_URL_VAR`] is set,
    /// SQLite otherwise.
    ///
    /// # Panics
    /// When the database cannot be created: a test cannot go on then.
    pub fn new() -> TestDb {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => TestDb::postgres(url.trim()),
            _ => TestDb::sqlite(),
        }
    }

    /// Whether this run's test databases are PostgreSQL ([`POSTGRES_URL_VAR`] is set).
    pub fn is_postgres_run() -> bool {
        std::env::var(POSTGRES_URL_VAR).is_ok_and(|url| !url.trim().is_empty())
    }

    /// A new SQLite file, whatever [`POSTGRES_URL_VAR`] says.
    ///
    /// # Panics
    /// When the temporary folder or the database cannot be created.
    #[expect(
        clippy::expect_used,
        reason = "a test helper that cannot set up must fail the test"
    )]
    pub fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("emporium-test-")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().join("emporium.db");
        let settings = DatabaseSettings {
            url: format!("sqlite:///{}", path.display()),
            backend: DatabaseBackend::Sqlite,
            path,
            // Tests do not survive power loss anyway; NORMAL keeps them quick.
            synchronous: Synchronous::Normal,
            busy_timeout_ms: 10_000,
            pool_size: 8,
            sqlite_cache_kib: DatabaseSettings::DEFAULT_SQLITE_CACHE_KIB,
        };
        let (pool, _) = crate::connect(&settings).expect("test database");
        TestDb {
            pool: Some(pool),
            settings,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A new PostgreSQL database on the server `admin_url` names.
    ///
    /// # Panics
    /// When the server cannot be reached or the database cannot be created.
    #[expect(
        clippy::expect_used,
        reason = "a test helper that cannot set up must fail the test"
    )]
    pub fn postgres(admin_url: &str) -> TestDb {
        let template = template(admin_url).expect("PostgreSQL test template");
        let name = format!("emporium_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(admin_url).expect("PostgreSQL test server");
        create_database(&mut admin, &name, &template).expect("CREATE DATABASE for a test");
        let settings = postgres_settings(admin_url, &name);
        let (pool, _) = crate::connect(&settings).expect("test database");
        TestDb {
            pool: Some(pool),
            settings,
            _dir: None,
            postgres: Some(PostgresDatabase {
                admin_url: admin_url.to_string(),
                name,
            }),
        }
    }

    /// A new PostgreSQL database with nothing in it (not even the migrations), on the
    /// [`POSTGRES_URL_VAR`] server, for testing what a first start or `emporium migrate` does.
    /// Its URL is in [`TestDb::settings`]; [`TestDb::pool`] must not be used.
    ///
    /// # Panics
    /// When [`POSTGRES_URL_VAR`] is unset or the database cannot be created.
    #[expect(
        clippy::expect_used,
        reason = "a test helper that cannot set up must fail the test"
    )]
    pub fn empty_postgres() -> TestDb {
        let admin_url = std::env::var(POSTGRES_URL_VAR).expect("EMPORIUM_TEST_POSTGRES_URL");
        let admin_url = admin_url.trim();
        let name = format!("emporium_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(admin_url).expect("PostgreSQL test server");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("CREATE DATABASE for a test");
        TestDb {
            pool: None,
            settings: postgres_settings(admin_url, &name),
            _dir: None,
            postgres: Some(PostgresDatabase {
                admin_url: admin_url.to_string(),
                name,
            }),
        }
    }

    /// The pool.
    ///
    /// # Panics
    /// Never: the pool lives as long as the `TestDb`.
    #[expect(clippy::expect_used, reason = "the pool is only taken in Drop")]
    pub fn pool(&self) -> &Pool {
        self.pool.as_ref().expect("pool")
    }

    /// A connection from the pool.
    ///
    /// # Panics
    /// When no connection can be had within the pool's timeout.
    #[expect(
        clippy::expect_used,
        reason = "a test helper that cannot connect must fail the test"
    )]
    pub fn conn(&self) -> PooledConn {
        self.pool().get().expect("test database connection")
    }

    /// Settings that name this database, for building a whole app on it.
    pub fn settings(&self) -> &DatabaseSettings {
        &self.settings
    }

    /// The database file (SQLite; empty on PostgreSQL).
    pub fn path(&self) -> PathBuf {
        self.settings.path.clone()
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> DatabaseBackend {
        self.settings.backend
    }
}

impl Default for TestDb {
    fn default() -> Self {
        TestDb::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.pool.take());
        if let Some(db) = &self.postgres {
            // FORCE ends connections that other pools (a test's app) still hold.
            if let Ok(mut admin) = PgConnection::establish(&db.admin_url) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    db.name
                ));
            }
        }
    }
}

/// Settings for the database `name` on the server `admin_url` names.
fn postgres_settings(admin_url: &str, name: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: with_database(admin_url, name),
        backend: DatabaseBackend::Postgres,
        path: PathBuf::new(),
        synchronous: Synchronous::Full,
        busy_timeout_ms: 10_000,
        pool_size: 8,
        sqlite_cache_kib: DatabaseSettings::DEFAULT_SQLITE_CACHE_KIB,
    }
}

/// `url` with its database (the last path segment) replaced by `name`.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Advisory-lock key that serialises template building across test processes.
const TEMPLATE_LOCK: i64 = 0x656d_7074_6d70_6c74;

/// The migrated template every test database is copied from, built once per server and set
/// of migrations (its name carries their fingerprint).
fn template(admin_url: &str) -> Result<String, String> {
    static BUILT: Mutex<Option<String>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(name) = built.as_ref() {
        return Ok(name.clone());
    }
    let name = format!(
        "emporium_template_{}",
        env!("EMPORIUM_POSTGRES_MIGRATIONS_HASH")
    );
    let mut admin = PgConnection::establish(admin_url).map_err(|e| e.to_string())?;
    admin
        .batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .map_err(|e| e.to_string())?;
    let outcome = build_template(&mut admin, admin_url, &name);
    let _ = admin.batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"));
    outcome?;
    *built = Some(name.clone());
    Ok(name)
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn build_template(admin: &mut PgConnection, admin_url: &str, name: &str) -> Result<(), String> {
    let exists: Count = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM pg_database WHERE datname = '{name}'"
    ))
    .get_result(admin)
    .map_err(|e| e.to_string())?;
    if exists.n > 0 {
        return Ok(());
    }
    // Built under another name and renamed when complete, so a half-built template (a test
    // process killed mid-way) is never used.
    let building = format!("{name}_building");
    // (Separate statements: PostgreSQL runs a multi-statement string as one transaction, and
    // neither may run inside one.)
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .map_err(|e| e.to_string())?;
    admin
        .batch_execute(&format!("CREATE DATABASE \"{building}\""))
        .map_err(|e| e.to_string())?;
    {
        let mut conn = crate::Conn::Postgres(
            PgConnection::establish(&with_database(admin_url, &building))
                .map_err(|e| e.to_string())?,
        );
        crate::run_migrations(&mut conn).map_err(|e| e.to_string())?;
    }
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
        ))
        .map_err(|e| e.to_string())
}

fn create_database(admin: &mut PgConnection, name: &str, template: &str) -> Result<(), String> {
    // Two CREATE DATABASEs from one template at the same instant can find it "being
    // accessed by other users"; a short retry settles it.
    let mut last = String::new();
    for attempt in 0..50u64 {
        match admin.batch_execute(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        )) {
            Ok(()) => return Ok(()),
            Err(e) => {
                last = e.to_string();
                std::thread::sleep(std::time::Duration::from_millis(20 + attempt * 10));
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "t1"),
            "postgres://u@h:5/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/x?sslmode=disable", "t2"),
            "postgresql://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    }
}
