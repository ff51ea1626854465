//! Emporium's database layer.
//!
//! It owns the connection pool, the SQLite pragmas every connection runs with, the embedded
//! migrations and the generated [`schema`]. Domain crates take a `&mut` [`Conn`] and never
//! name the backend, so a second backend (PostgreSQL) is a change to this crate alone. For the
//! same reason every query in the workspace stays inside the subset that Diesel's
//! `MultiConnection` supports: no batch inserts, no `on_conflict`, `.returning(table::id)`
//! rather than `.returning(T::as_returning())`.

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection};
use diesel::{Connection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use emporium_core::settings::{DatabaseSettings, Synchronous};

/// The tables, as `diesel print-schema` generates them from `migrations/`. Never edit by hand.
#[rustfmt::skip]
pub mod schema;
#[cfg(feature = "testing")]
mod testing;

#[cfg(feature = "testing")]
pub use testing::TestDb;

/// The connection every domain function takes (`&mut Conn`).
pub type Conn = SqliteConnection;

/// A pool of [`Conn`]s.
pub type Pool = r2d2::Pool<ConnectionManager<Conn>>;

/// A connection checked out of a [`Pool`]; derefs to [`Conn`].
pub type PooledConn = r2d2::PooledConnection<ConnectionManager<Conn>>;

/// The migrations in the repository's `migrations/` folder, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// How long a request waits for a free connection before it fails.
pub const POOL_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be made or checked out of the pool.
    #[error("database connection: {0}")]
    Pool(#[from] r2d2::Error),
    /// The database file could not be opened.
    #[error("database connection: {0}")]
    Connection(#[from] diesel::ConnectionError),
    /// A statement failed.
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed or could not be read.
    #[error("database migration: {0}")]
    Migration(String),
    /// The database answers but its schema is behind the binary.
    #[error("database has {0} pending migration(s)")]
    PendingMigrations(usize),
    /// The folder for the database file could not be created.
    #[error("database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: std::path::PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
}

/// Sets the pragmas of every pooled connection. `busy_timeout` comes first so that the others
/// wait for a lock rather than fail.
#[derive(Debug, Clone, Copy)]
struct Pragmas {
    synchronous: Synchronous,
    busy_timeout_ms: u32,
}

impl Pragmas {
    fn apply(&self, conn: &mut Conn) -> Result<(), diesel::result::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
             PRAGMA foreign_keys = ON;",
            self.busy_timeout_ms,
            self.synchronous.as_sql()
        ))
    }
}

impl CustomizeConnection<Conn, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Opens (creating if needed) the database that `settings` names, brings its schema up to
/// date, and returns a pool whose connections all run with WAL, the configured `synchronous`,
/// `foreign_keys=ON` and `busy_timeout`.
///
/// Returns the names of the migrations that were applied.
pub fn connect(settings: &DatabaseSettings) -> Result<(Pool, Vec<String>), DbError> {
    create_folder(&settings.path)?;
    let url = settings.path.to_string_lossy().into_owned();
    let pragmas = Pragmas {
        synchronous: settings.synchronous,
        busy_timeout_ms: settings.busy_timeout_ms,
    };
    // One connection first: switching to WAL and migrating happen before the pool opens its
    // connections, so they never race each other for the first write lock.
    let mut conn = Conn::establish(&url)?;
    pragmas.apply(&mut conn)?;
    let applied = run_migrations(&mut conn)?;
    drop(conn);

    let pool = r2d2::Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(1))
        .connection_timeout(POOL_CHECKOUT_TIMEOUT)
        .connection_customizer(Box::new(pragmas))
        .build(ConnectionManager::<Conn>::new(url))?;
    Ok((pool, applied))
}

fn create_folder(path: &Path) -> Result<(), DbError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Folder {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Applies every pending migration; returns the names of those applied.
pub fn run_migrations(conn: &mut Conn) -> Result<Vec<String>, DbError> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Succeeds when the database answers a query and every embedded migration is applied.
pub fn check_ready(conn: &mut Conn) -> Result<(), DbError> {
    conn.batch_execute("SELECT 1")?;
    let pending = conn
        .pending_migrations(MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(DbError::PendingMigrations(pending.len()))
    }
}

/// Runs `f` in a write transaction: committed when it returns `Ok`, rolled back on `Err` (or
/// panic).
///
/// On SQLite this is `BEGIN IMMEDIATE`: the write lock is taken up front, so two concurrent
/// writers queue on `busy_timeout` instead of one failing half-way with `SQLITE_BUSY` after it
/// read stale data. Every write path in the domain crates goes through here.
pub fn write_transaction<T, E, F>(conn: &mut Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.immediate_transaction(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Integer, Text};

    #[derive(diesel::QueryableByName)]
    struct TextRow {
        #[diesel(sql_type = Text)]
        value: String,
    }

    #[derive(diesel::QueryableByName)]
    struct IntRow {
        #[diesel(sql_type = Integer)]
        value: i32,
    }

    fn settings(dir: &Path) -> DatabaseSettings {
        DatabaseSettings {
            url: "test".into(),
            path: dir.join("nested/folder/shop.db"),
            synchronous: Synchronous::Full,
            busy_timeout_ms: 1234,
            pool_size: 2,
        }
    }

    #[test]
    fn pooled_connections_carry_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, _) = connect(&settings(dir.path())).unwrap();
        assert!(dir.path().join("nested/folder/shop.db").exists());
        let mut conns: Vec<_> = (0..2).map(|_| pool.get().unwrap()).collect();
        for conn in &mut conns {
            let mode: TextRow =
                diesel::sql_query("SELECT journal_mode AS value FROM pragma_journal_mode")
                    .get_result(&mut **conn)
                    .unwrap();
            assert_eq!(mode.value, "wal");
            let fk: IntRow =
                diesel::sql_query("SELECT foreign_keys AS value FROM pragma_foreign_keys")
                    .get_result(&mut **conn)
                    .unwrap();
            assert_eq!(fk.value, 1);
            let sync: IntRow =
                diesel::sql_query("SELECT synchronous AS value FROM pragma_synchronous")
                    .get_result(&mut **conn)
                    .unwrap();
            assert_eq!(sync.value, 2, "FULL");
            let busy: IntRow =
                diesel::sql_query("SELECT timeout AS value FROM pragma_busy_timeout")
                    .get_result(&mut **conn)
                    .unwrap();
            assert_eq!(busy.value, 1234);
        }
    }

    #[test]
    fn migrated_database_is_ready_and_stays_ready_on_reconnect() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, _) = connect(&settings(dir.path())).unwrap();
        check_ready(&mut pool.get().unwrap()).unwrap();
        drop(pool);
        let (pool, applied) = connect(&settings(dir.path())).unwrap();
        assert!(applied.is_empty(), "a second start applies nothing");
        check_ready(&mut pool.get().unwrap()).unwrap();
    }

    #[test]
    fn write_transaction_rolls_back_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, _) = connect(&settings(dir.path())).unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let result: Result<(), diesel::result::Error> = write_transaction(&mut conn, |c| {
            c.batch_execute("INSERT INTO t VALUES (1)")?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(result.is_err());
        let count: IntRow = diesel::sql_query("SELECT COUNT(*) AS value FROM t")
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(count.value, 0);
        write_transaction(&mut conn, |c| c.batch_execute("INSERT INTO t VALUES (1)")).unwrap();
        let count: IntRow = diesel::sql_query("SELECT COUNT(*) AS value FROM t")
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(count.value, 1);
    }
}
