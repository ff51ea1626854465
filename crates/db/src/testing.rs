//! A fresh migrated database per test.

use std::path::PathBuf;

use emporium_core::settings::{DatabaseSettings, Synchronous};
use tempfile::TempDir;

use crate::{Pool, PooledConn};

/// A migrated SQLite file in its own temporary folder, removed when dropped.
///
/// Each test makes its own, so tests run in parallel without sharing state. The file is real
/// (never `:memory:`, which would give every pooled connection its own empty database).
pub struct TestDb {
    // Kept for its Drop: the folder (and the database in it) goes when the TestDb does.
    _dir: TempDir,
    settings: DatabaseSettings,
    pool: Pool,
}

impl TestDb {
    /// Creates and migrates a new database.
    ///
    /// # Panics
    /// When the temporary folder or the database cannot be created: a test cannot go on then.
    #[expect(
        clippy::expect_used,
        reason = "a test helper that cannot set up must fail the test"
    )]
    pub fn new() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("emporium-test-")
            .tempdir()
            .expect("temp dir");
        let settings = DatabaseSettings {
            url: String::new(),
            path: dir.path().join("emporium.db"),
            // Tests do not survive power loss anyway; NORMAL keeps them quick.
            synchronous: Synchronous::Normal,
            busy_timeout_ms: 10_000,
            pool_size: 8,
        };
        let settings = DatabaseSettings {
            url: format!("sqlite://{}", settings.path.display()),
            ..settings
        };
        let (pool, _) = crate::connect(&settings).expect("test database");
        TestDb {
            _dir: dir,
            settings,
            pool,
        }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
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
        self.pool.get().expect("test database connection")
    }

    /// Settings that name this database, for building a whole app on it.
    pub fn settings(&self) -> &DatabaseSettings {
        &self.settings
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.settings.path.clone()
    }
}

impl Default for TestDb {
    fn default() -> Self {
        TestDb::new()
    }
}
