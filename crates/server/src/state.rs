//! What every handler can reach, and the one way handlers touch the database.

use std::sync::Arc;
use std::sync::mpsc::TryRecvError;

use emporium_auth::AuthConfig;
use emporium_core::Settings;
use emporium_db::{Conn, Pool};
use emporium_mail::worker::Waker;

use crate::cores::CoreSplit;
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
    /// Wakes the webhook worker after a handler's change published events.
    pub webhooks: emporium_webhooks::worker::Waker,
    /// Token keys, password hasher and account rules.
    pub auth: Arc<AuthConfig>,
    /// The app's metrics registry.
    pub metrics: Metrics,
    /// The threads that hash passwords (`PASSWORD_HASH_CONCURRENCY` of them).
    pub hashing: Arc<HashPool>,
    /// The cores hashing keeps while it runs (`PASSWORD_HASH_CORES`); request threads
    /// follow it.
    pub cores: Arc<CoreSplit>,
    /// Listing totals and ranked search results for the current catalog version.
    pub catalog_cache: Arc<emporium_catalog::ListingCache>,
    /// The threads that run database work (`DB_POOL_SIZE` of them, `DB_QUEUE_MAX` waiting).
    pub db_threads: Arc<DbThreads>,
    /// SQLite's single group-committing writer (`None` on PostgreSQL).
    pub writer: Option<Arc<Writer>>,
    /// Public catalog answers ready in memory (see [`crate::pages`]).
    pub pages: Arc<crate::pages::Pages>,
    /// `Cache-Control` of public catalog answers: `public, max-age=` with
    /// `CATALOG_CACHE_MAX_AGE_SECS` (made once, not per answer).
    pub catalog_cache_control: actix_web::http::header::HeaderValue,
}

/// How long a request waits for its turn to hash a password before it gives up with 503.
pub const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Sign-ins that may wait for each hashing thread; past it 503 `busy` at once. A hash takes
/// ~20 ms at the default cost, so that is about 5 s of work per thread, within [`HASH_WAIT`]:
/// a request further back would mostly wait out the wait anyway.
pub const HASH_QUEUE_PER_THREAD: usize = 256;

type Job = Box<dyn FnOnce() + Send>;

/// What a set of threads does, for where it runs (see [`CoreSplit`]).
#[derive(Clone, Copy)]
enum Role {
    /// Work for requests: it follows the split before each job.
    Serving,
    /// Password hashing: it keeps to the hashing cores from the first job after an idle
    /// spell to the next, and gives Argon2's memory back when it idles.
    Hashing,
}

/// Starts `threads` threads that take jobs from `queue` one at a time, in order, until every
/// sender is gone. A panicking job does not take its thread with it.
fn spawn_threads(
    name: &str,
    threads: usize,
    queue: std::sync::mpsc::Receiver<Job>,
    cores: &Arc<CoreSplit>,
    role: Role,
) -> std::io::Result<()> {
    let queue = Arc::new(std::sync::Mutex::new(queue));
    for n in 0..threads {
        let queue = Arc::clone(&queue);
        let cores = Arc::clone(cores);
        std::thread::Builder::new()
            .name(format!("{name}-{n}"))
            .spawn(move || {
                let next = |wait: bool| {
                    let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                    if wait {
                        queue.recv().map_err(|_| TryRecvError::Disconnected)
                    } else {
                        queue.try_recv()
                    }
                };
                let mut idle = true;
                loop {
                    let job = match next(false) {
                        Err(TryRecvError::Empty) => {
                            if let (Role::Hashing, false) = (role, idle) {
                                // Between bursts of signins the hashing threads keep no
                                // Argon2 memory, and requests have every core.
                                emporium_auth::password::release_memory();
                                cores.hashing_stopped();
                            }
                            idle = true;
                            next(true)
                        }
                        job => job,
                    };
                    let Ok(job) = job else {
                        // The app is gone.
                        if let (Role::Hashing, false) = (role, idle) {
                            cores.hashing_stopped();
                        }
                        return;
                    };
                    match role {
                        Role::Serving => cores.follow(),
                        Role::Hashing if idle => cores.hashing_started(),
                        Role::Hashing => {}
                    }
                    idle = false;
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
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
    /// Starts `threads` threads with room for `queue` waiting jobs, placed by `cores`.
    pub fn new(threads: usize, queue: usize, cores: &Arc<CoreSplit>) -> std::io::Result<DbThreads> {
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        spawn_threads("emporium-db", threads, receiver, cores, Role::Serving)?;
        Ok(DbThreads { jobs })
    }

    /// Runs `f` on a database thread in its turn; 503 `busy` when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (job, result) = answered(f);
        enqueue(&self.jobs, job)?;
        result
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("a database task panicked")))
    }
}

/// `f` as a job for the threads, and where its result will arrive.
fn answered<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (Job, tokio::sync::oneshot::Receiver<T>) {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(f());
    });
    (job, result)
}

/// Puts a job on a bounded queue of the database threads or the writer: 503 `busy` when it
/// is full.
fn enqueue<J>(queue: &std::sync::mpsc::SyncSender<J>, job: J) -> Result<(), ApiError> {
    enqueue_or(queue, job, db_busy, "the database threads are gone")
}

/// Puts a job on a bounded queue: `full()` when it is full, a 500 naming `gone` when its
/// threads are gone.
fn enqueue_or<J>(
    queue: &std::sync::mpsc::SyncSender<J>,
    job: J,
    full: impl FnOnce() -> ApiError,
    gone: &'static str,
) -> Result<(), ApiError> {
    match queue.try_send(job) {
        Ok(()) => Ok(()),
        Err(std::sync::mpsc::TrySendError::Full(_)) => Err(full()),
        Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
            Err(ApiError::internal(anyhow::anyhow!(gone)))
        }
    }
}

/// A write job handed to the [`Writer`]: run with the batch's connection (or `None` when the
/// batch could not start), it returns how to answer once the batch's commit is known.
type WriteJob = Box<dyn FnOnce(Option<&mut Conn>) -> Delivery + Send>;
/// Answers one write once its batch has committed (`Ok`) or failed (`Err`).
type Delivery = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Most writes committed together in one transaction.
const MAX_BATCH: usize = 64;

/// SQLite's one writer: every write of this process, in arrival order, on one thread with
/// one connection of its own, several at a time in one transaction (group commit).
///
/// SQLite lets one transaction write at a time; writers that meet wait in its busy handler,
/// which sleeps and is unfair, so under load a few requests starved for most of a second.
/// Here writes queue in order instead, and whatever has queued while a transaction ran is
/// committed together in the next one: one fsync for many requests. Each request's work runs
/// in its own savepoint (the domain functions' `write_transaction` nests as one), so its error
/// undoes only its own work; every answer waits until the commit that holds it is durable.
/// The writer's connection ([`emporium_db::open_writer`]) keeps those savepoints in memory
/// and leaves checkpoints to a second thread, which copies the WAL into the database file
/// while the writer goes on writing. On PostgreSQL writes are not funnelled (see
/// [`AppState::db_write`]).
pub struct Writer {
    jobs: std::sync::mpsc::SyncSender<WriteJob>,
}

/// How often the checkpointing thread looks for new commits to copy into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// What the writer tells the checkpointing thread.
#[derive(Default)]
struct Commits {
    /// Batches committed so far.
    count: std::sync::atomic::AtomicU64,
    /// The writer has stopped (the app is gone).
    stopped: std::sync::atomic::AtomicBool,
}

impl Writer {
    /// Starts the writer thread, with its own connection to the database `settings` name and
    /// room for `queue` waiting writes, and the thread that checkpoints what it commits (with
    /// a connection from `pool`).
    ///
    /// Both threads serve requests, so they follow `cores` (before each batch, and each
    /// look for new commits).
    pub fn start(
        settings: emporium_core::settings::DatabaseSettings,
        pool: Pool,
        queue: usize,
        cores: &Arc<CoreSplit>,
    ) -> std::io::Result<Writer> {
        use std::sync::atomic::Ordering;
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<WriteJob>(queue);
        let commits = Arc::new(Commits::default());
        let committed = Arc::clone(&commits);
        let (writer_cores, checkpoint_cores) = (Arc::clone(cores), Arc::clone(cores));
        std::thread::Builder::new()
            .name("emporium-writer".into())
            .spawn(move || {
                let mut conn: Option<Conn> = None;
                while let Ok(first) = receiver.recv() {
                    writer_cores.follow();
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match receiver.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    if conn.is_none() {
                        match emporium_db::open_writer(&settings) {
                            Ok(opened) => conn = Some(opened),
                            Err(error) => {
                                tracing::warn!(%error, "no database connection for the writer");
                                for job in batch {
                                    job(None)(Err(error.to_string()));
                                }
                                continue;
                            }
                        }
                    }
                    if let Some(open) = conn.as_mut()
                        && !Writer::commit(open, batch)
                    {
                        // Whatever the connection still holds is rolled back as it closes.
                        conn = None;
                    }
                    committed.count.fetch_add(1, Ordering::Relaxed);
                }
                committed.stopped.store(true, Ordering::Relaxed);
            })?;
        std::thread::Builder::new()
            .name("emporium-checkpoint".into())
            .spawn(move || {
                let mut seen = 0;
                while !commits.stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    checkpoint_cores.follow();
                    let count = commits.count.load(Ordering::Relaxed);
                    if count == seen {
                        continue;
                    }
                    seen = count;
                    let done = pool
                        .get()
                        .map_err(emporium_db::DbError::from)
                        .and_then(|mut conn| emporium_db::checkpoint(&mut conn));
                    if let Err(error) = done {
                        tracing::warn!(%error, "checkpoint of the write-ahead log failed");
                    }
                }
            })?;
        Ok(Writer { jobs })
    }

    /// Runs a batch in one write transaction and answers every job after the commit. Returns
    /// whether the connection may be used again (not after a job panicked in it).
    fn commit(conn: &mut Conn, mut batch: Vec<WriteJob>) -> bool {
        let mut deliveries: Vec<Delivery> = Vec::with_capacity(batch.len());
        let mut panicked = false;
        let outcome = emporium_db::write_transaction(conn, |conn| {
            for job in batch.drain(..) {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Some(conn)))) {
                    Ok(delivery) => deliveries.push(delivery),
                    Err(_) => panicked = true,
                }
            }
            if panicked {
                // A job died half-way: nothing of this batch is trusted.
                return Err(diesel::result::Error::RollbackTransaction);
            }
            Ok(())
        });
        let status = outcome.map_err(|e| e.to_string());
        if let Err(error) = &status {
            tracing::warn!(%error, writes = deliveries.len(), "a batch of writes did not commit");
        }
        for delivery in deliveries {
            delivery(status.clone());
        }
        // The panicking job may have left a savepoint open, which the rollback above does not
        // know of; and a failed rollback leaves the connection in no known state. Either way it
        // is closed rather than used again (the pool's broken-connection check, for the
        // writer's own connection).
        use diesel::connection::{Connection, TransactionManager};
        let settled =
            <Conn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
                .transaction_depth()
                .is_ok_and(|depth| depth.is_none());
        !panicked && settled
    }

    /// Queues `f` and answers with its result once the transaction holding it has committed;
    /// 503 `busy` when the queue is full.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let (done, answer) = tokio::sync::oneshot::channel::<Result<T, ApiError>>();
        let job: WriteJob = Box::new(move |conn| {
            // The domain function opens its own write transaction, which inside the batch is a
            // savepoint: its error undoes only its own work, and what it chose to keep (a
            // revoked session when a refresh token is reused, say) is kept, as when it ran
            // alone.
            let result: Result<T, ApiError> = match conn {
                None => Err(ApiError::unavailable(
                    "The database is busy; try again shortly.",
                )),
                Some(conn) => f(conn).map_err(Into::into),
            };
            Box::new(move |committed: Result<(), String>| {
                let answer = match committed {
                    Ok(()) => result,
                    Err(error) => Err(ApiError::unavailable(
                        "The shop is very busy right now; nothing was changed. Retry shortly.",
                    )
                    .with_header(
                        actix_web::http::header::RETRY_AFTER,
                        actix_web::http::header::HeaderValue::from(1u32),
                    )
                    .with_cause(anyhow::anyhow!("the batch did not commit: {error}"))),
                };
                let _ = done.send(answer);
            })
        });
        enqueue(&self.jobs, job)?;
        answer
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("a write was lost by the writer")))?
    }
}

/// 503 `busy` with `Retry-After`: a queue is full (`why`, logged) and nothing was done.
fn busy(why: &str, detail: &str) -> ApiError {
    tracing::warn!("{why}; answered 503 busy");
    ApiError::unavailable(detail).with_code("busy").with_header(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(1u32),
    )
}

/// The database queue is full.
fn db_busy() -> ApiError {
    busy(
        "database queue full",
        "The shop is very busy right now; nothing was done. Retry shortly.",
    )
}

/// A few dedicated threads for work that hashes passwords.
///
/// Argon2id takes a core and `ARGON2_MEMORY_KIB` for each hash. On actix's general blocking
/// pool a signin flood would hash on every thread at once, starving other requests of CPU
/// and connections, and leave an Argon2-sized block in every thread's malloc arena (a
/// gigabyte of RSS in the benchmark). Here at most `PASSWORD_HASH_CONCURRENCY` hashes run,
/// always on the same threads; other requests queue for a turn, in order. The jobs only hash
/// (see [`AppState::hash`]): a hashing thread holds no connection and no write turn, so a
/// hash that waits for a CPU keeps nothing else waiting. While they hash they keep
/// `PASSWORD_HASH_CORES` cores to themselves, and request threads run on the others (see
/// [`CoreSplit`]).
///
/// The queue is bounded ([`HASH_QUEUE_PER_THREAD`] per thread) and so is the wait for a turn
/// ([`HASH_WAIT`]); either way the answer is 503 `busy` with `Retry-After`, and it means
/// nothing was done: the request's writes come after its hash, and a job whose requester
/// stopped waiting (that answer, or a client that hung up) is dropped unrun when its turn
/// comes, so a flood that outlasts the wait does not leave the threads hashing for requests
/// nobody awaits. A job that has started runs to the end and its answer stands.
pub struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
    wait: std::time::Duration,
}

/// Where a hashing job is: waiting, taken by a thread, or given up by its requester.
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// Gives a job up if it is still waiting when its requester stops waiting (its future is
/// dropped: the answer was sent, or the client hung up).
struct GiveUp(Arc<std::sync::atomic::AtomicU8>);

impl GiveUp {
    /// True if the job had not started: it never will.
    fn now(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.0
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

impl Drop for GiveUp {
    fn drop(&mut self) {
        self.now();
    }
}

impl HashPool {
    /// Starts `threads` hashing threads, each with room for [`HASH_QUEUE_PER_THREAD`]
    /// waiting jobs, which wait at most [`HASH_WAIT`]; they hash on the cores `cores` keeps.
    pub fn new(threads: usize, cores: &Arc<CoreSplit>) -> std::io::Result<HashPool> {
        HashPool::with_limits(
            threads,
            threads.saturating_mul(HASH_QUEUE_PER_THREAD),
            HASH_WAIT,
            cores,
        )
    }

    /// Starts `threads` hashing threads with room for `queue` waiting jobs, which wait at
    /// most `wait` for a turn.
    pub fn with_limits(
        threads: usize,
        queue: usize,
        wait: std::time::Duration,
        cores: &Arc<CoreSplit>,
    ) -> std::io::Result<HashPool> {
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        spawn_threads("emporium-hash", threads, receiver, cores, Role::Hashing)?;
        Ok(HashPool { jobs, wait })
    }

    /// Runs `f` on a hashing thread in its turn. 503 `busy` when the queue is full or the
    /// turn does not come within the wait; then `f` never runs.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        use std::sync::atomic::{AtomicU8, Ordering};
        let state = Arc::new(AtomicU8::new(QUEUED));
        let claim = Arc::clone(&state);
        let (done, mut result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if claim
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let _ = done.send(f());
            }
        });
        let give_up = GiveUp(state);
        enqueue_or(
            &self.jobs,
            job,
            || hashing_busy("the password-hashing queue is full"),
            "the hashing threads are gone",
        )?;
        let answer = match tokio::time::timeout(self.wait, &mut result).await {
            Ok(answer) => answer,
            Err(_) if give_up.now() => {
                return Err(hashing_busy("no turn to hash a password within the wait"));
            }
            // It has started: it ends shortly, and its answer is the one to give.
            Err(_) => result.await,
        };
        answer.map_err(|_| ApiError::internal(anyhow::anyhow!("a password-hashing task panicked")))
    }
}

/// 503 `busy` from the [`HashPool`]: nothing was done.
fn hashing_busy(why: &str) -> ApiError {
    busy(
        why,
        "Too many sign-ins at once; nothing was done. Retry shortly.",
    )
}

impl AppState {
    /// Runs `f`, which hashes or checks passwords and does nothing else (no database), on
    /// the [`HashPool`] in its turn: hashing is bounded, never competes with the catalog for
    /// the database threads, and holds no connection or write turn while it works. The
    /// database work before and after it (signin's lookup, its session) goes through
    /// [`AppState::db`] and [`AppState::db_write`] like any other.
    pub async fn hash<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        self.hashing.run(f).await?.map_err(Into::into)
    }

    /// Runs `f`, which writes, and answers once its transaction is committed: on SQLite
    /// through the [`Writer`] (in order, committed together with the writes queued beside it,
    /// in its own savepoint); on PostgreSQL like [`AppState::db`], concurrently with other
    /// writes. `f` may read too; a handler whose work can write uses this.
    pub async fn db_write<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.run(f).await,
            None => self.db(f).await,
        }
    }

    /// [`AppState::db_write`] for a write that may change what public catalog reads show
    /// (products, stock): once it is settled, committed or not, the catalog pages kept in
    /// memory are dropped, before the caller answers.
    pub async fn catalog_write<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let result = self.db_write(f).await;
        self.pages.invalidate();
        result
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    use emporium_db::TestDb;

    use super::Writer;
    use crate::cores::CoreSplit;
    use crate::error::ApiError;

    /// Tests of queues and writes leave threads where they are.
    fn off() -> Arc<CoreSplit> {
        Arc::new(CoreSplit::off())
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn rows(db: &TestDb) -> Vec<i64> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        diesel::sql_query("SELECT id FROM t ORDER BY id")
            .load::<Row>(&mut *db.conn())
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    /// A write that inserts `id` in its own transaction, then fails or succeeds.
    fn insert(
        id: i64,
        fail: bool,
    ) -> impl FnOnce(&mut emporium_db::Conn) -> Result<i64, ApiError> + Send + 'static {
        move |conn| {
            emporium_db::write_transaction(conn, |conn| {
                conn.batch_execute(&format!("INSERT INTO t (id) VALUES ({id})"))?;
                if fail {
                    return Err(diesel::result::Error::RollbackTransaction);
                }
                Ok(id)
            })
            .map_err(|_| ApiError::conflict("refused", "this one fails"))
        }
    }

    #[actix_web::test]
    async fn one_failing_write_in_a_batch_leaves_its_neighbours_committed() {
        let db = TestDb::sqlite();
        db.conn()
            .batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
            .unwrap();
        let writer =
            Arc::new(Writer::start(db.settings().clone(), db.pool().clone(), 100, &off()).unwrap());
        // The first write holds the writer, so the next four queue and commit as one batch.
        let blocker = writer.run(|conn| {
            std::thread::sleep(Duration::from_millis(300));
            conn.batch_execute("INSERT INTO t (id) VALUES (0)")
                .map_err(ApiError::from)
        });
        let queued = async {
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            futures_util::future::join4(
                writer.run(insert(1, false)),
                writer.run(insert(2, true)),
                writer.run(insert(3, false)),
                writer.run(insert(4, false)),
            )
            .await
        };
        let (first, (one, two, three, four)) = futures_util::future::join(blocker, queued).await;
        first.unwrap();
        assert_eq!(one.unwrap(), 1);
        assert_eq!(two.unwrap_err().code(), "refused");
        assert_eq!(three.unwrap(), 3);
        assert_eq!(four.unwrap(), 4);
        assert_eq!(rows(&db), [0, 1, 3, 4], "only the failing write was undone");
    }

    #[actix_web::test]
    async fn the_writers_commits_reach_the_database_file_through_the_checkpoint_thread() {
        let db = TestDb::sqlite();
        db.conn()
            .batch_execute("CREATE TABLE blobs (b BLOB)")
            .unwrap();
        let file = db.settings().path.clone();
        let before = std::fs::metadata(&file).unwrap().len();
        let writer = Writer::start(db.settings().clone(), db.pool().clone(), 100, &off()).unwrap();
        // Far below the 10,000 pages after which the writer's connection checkpoints itself.
        for _ in 0..2 {
            writer
                .run(|conn| {
                    conn.batch_execute("INSERT INTO blobs VALUES (zeroblob(1000000))")
                        .map_err(ApiError::from)
                })
                .await
                .unwrap();
        }
        // The thread beside the writer copies it into the database file within about a tenth
        // of a second.
        let mut waited = Duration::ZERO;
        while std::fs::metadata(&file).unwrap().len() < before + 2_000_000 {
            assert!(
                waited < Duration::from_secs(10),
                "the log was never copied into the database file"
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
    }

    #[actix_web::test]
    async fn a_write_that_panics_rolls_back_its_batch_and_its_neighbours_are_told() {
        let db = TestDb::sqlite();
        db.conn()
            .batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
            .unwrap();
        let writer = Writer::start(db.settings().clone(), db.pool().clone(), 100, &off()).unwrap();
        let blocker = writer.run(|_conn| {
            std::thread::sleep(Duration::from_millis(300));
            Ok::<_, ApiError>(())
        });
        let queued = async {
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            futures_util::future::join(
                writer.run(insert(1, false)),
                writer.run(|_conn| -> Result<(), ApiError> { panic!("a bug in a handler") }),
            )
            .await
        };
        let (_, (neighbour, panicked)) = futures_util::future::join(blocker, queued).await;
        assert_eq!(
            neighbour.unwrap_err().code(),
            "unavailable",
            "told to retry"
        );
        assert_eq!(panicked.unwrap_err().code(), "internal_error");
        assert!(rows(&db).is_empty(), "nothing of the batch was committed");
        // The writer carries on.
        assert_eq!(writer.run(insert(5, false)).await.unwrap(), 5);
        let count: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM t")
            .get_result(&mut *db.conn())
            .unwrap();
        assert_eq!(count.n, 1);
    }

    /// The cores the calling thread may run on, as the kernel lists them ("0-1").
    fn cores_now() -> String {
        std::fs::read_to_string("/proc/thread-self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    #[actix_web::test]
    async fn database_threads_leave_the_hashing_core_while_a_hash_runs_and_come_back_after() {
        let every = cores_now();
        if every.is_empty() || std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            eprintln!("one core, or not Linux: nothing to keep for hashing");
            return;
        }
        let split = Arc::new(CoreSplit::new(1));
        let db = super::DbThreads::new(1, 10, &split).unwrap();
        let hashing =
            Arc::new(super::HashPool::with_limits(1, 4, Duration::from_secs(10), &split).unwrap());
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (report, reported) = std::sync::mpsc::channel::<String>();
        let holder = {
            let hashing = Arc::clone(&hashing);
            actix_web::rt::spawn(async move {
                hashing
                    .run(move || {
                        report.send(cores_now()).unwrap();
                        let _ = released.recv();
                    })
                    .await
            })
        };
        let hash_cores = loop {
            match reported.try_recv() {
                Ok(cores) => break cores,
                Err(_) => actix_web::rt::time::sleep(Duration::from_millis(5)).await,
            }
        };
        let during = db.run(cores_now).await.unwrap();
        assert_ne!(hash_cores, every, "the hash keeps a core of its own");
        assert_ne!(during, every, "database work leaves it meanwhile");
        assert_ne!(during, hash_cores);
        drop(release);
        holder.await.unwrap().unwrap();
        // The hashing thread gives the core back once it finds its queue empty.
        let mut after = String::new();
        for _ in 0..200 {
            after = db.run(cores_now).await.unwrap();
            if after == every {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(after, every, "database work has every core again");
    }

    /// A one-thread [`HashPool`](super::HashPool) whose thread is busy until the returned
    /// sender is dropped, and the task holding it.
    async fn held_pool(
        queue: usize,
        wait: Duration,
    ) -> (
        Arc<super::HashPool>,
        std::sync::mpsc::Sender<()>,
        actix_web::rt::task::JoinHandle<Result<(), ApiError>>,
    ) {
        let pool = Arc::new(super::HashPool::with_limits(1, queue, wait, &off()).unwrap());
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        let holder = {
            let pool = Arc::clone(&pool);
            actix_web::rt::spawn(async move {
                pool.run(move || {
                    started.send(()).unwrap();
                    // Until the sender is dropped.
                    let _ = released.recv();
                })
                .await
            })
        };
        while has_started.try_recv().is_err() {
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        (pool, release, holder)
    }

    fn assert_busy(error: &ApiError) {
        use actix_web::ResponseError;
        let response = error.error_response();
        assert_eq!(response.status(), 503);
        assert_eq!(error.code(), "busy");
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .unwrap()
                .to_str()
                .unwrap(),
            "1"
        );
    }

    #[actix_web::test]
    async fn a_sign_in_that_waits_out_its_turn_is_a_503_busy_and_its_hash_never_runs() {
        let (pool, release, holder) = held_pool(4, Duration::from_millis(200)).await;
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let error = pool
            .run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
            .await
            .unwrap_err();
        assert_busy(&error);

        drop(release);
        holder.await.unwrap().unwrap();
        // Jobs run in order: once this one has, the given-up one has had its turn.
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "a job answered 503 never runs (a signup answered 503 creates no account later)"
        );
    }

    #[actix_web::test]
    async fn a_full_hashing_queue_is_a_503_busy_at_once_and_the_waiting_one_runs() {
        // A wait of an hour: a 503 here can only come from the full queue.
        let (pool, release, holder) = held_pool(1, Duration::from_secs(3600)).await;
        let waiting = {
            let pool = Arc::clone(&pool);
            actix_web::rt::spawn(async move { pool.run(|| "waited").await })
        };
        // The test runtime has one thread: the spawned task is polled, and its job queued,
        // as soon as this one waits.
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        let refused = actix_web::rt::time::timeout(Duration::from_secs(60), pool.run(|| "queued"))
            .await
            .expect("refused at once, not queued behind the held thread")
            .unwrap_err();
        assert_busy(&refused);
        assert!(!waiting.is_finished());

        drop(release);
        holder.await.unwrap().unwrap();
        assert_eq!(waiting.await.unwrap().unwrap(), "waited");
    }

    #[actix_web::test]
    async fn a_sign_in_whose_client_hung_up_leaves_its_hash_unrun() {
        let (pool, release, holder) = held_pool(4, Duration::from_secs(30)).await;
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        // The request's future is dropped while its job waits, as when a client disconnects.
        let gone = actix_web::rt::time::timeout(
            Duration::from_millis(50),
            pool.run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst)),
        )
        .await;
        assert!(gone.is_err());

        drop(release);
        holder.await.unwrap().unwrap();
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[actix_web::test]
    async fn a_hash_that_started_within_the_wait_gives_its_answer_however_long_it_takes() {
        let pool = super::HashPool::with_limits(1, 4, Duration::from_millis(50), &off()).unwrap();
        let answer = pool
            .run(|| {
                std::thread::sleep(Duration::from_millis(300));
                "done"
            })
            .await;
        assert_eq!(answer.unwrap(), "done");
    }
}
