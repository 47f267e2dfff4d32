//! The node's durable state in one SQLite file: bots, their versions and
//! secrets, per-bot key-value data, logs and crash records.
//!
//! This is the only module that names rusqlite. The database runs in WAL
//! mode with `synchronous=FULL`: a write that returned `Ok` survives
//! `kill -9` and power loss.
//!
//! Writes go to one writer thread through a bounded queue. It takes every
//! write waiting in the queue, runs each in its own savepoint inside one
//! transaction, and commits them together: one fsync for many events (group
//! commit), and a write is acknowledged only once the commit holding it is
//! durable. Reads run on a few read-only WAL connections on tokio's blocking
//! pool, so a bot's `kv.get` never waits behind other bots' log appends.

mod bots;
mod gateway;
mod kv;
mod logs;
pub(crate) mod migrations;
mod reserve;
mod snapshot;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::histogram::Histogram;
use crate::sync::lock;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Semaphore};

pub use bots::{
    BotRecord, Deploy, DeployOutcome, GatewayChange, GatewaySettings, StoredBot, VersionRecord,
};
pub use gateway::{SavedSession, SessionSave};
pub use kv::{check_key, check_value, KvError, KvQuota, LIST_LIMIT};
pub use logs::{CrashRecord, Level, LogBudget, LogFilter, LogLine, LOG_BYTES_PER_MINUTE};
pub use reserve::{DiskReserve, ReserveStanding};
pub use snapshot::check_database;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database was written by a newer appliance (schema {found}, this binary knows {known}); upgrade the binary")]
    TooNew { found: usize, known: usize },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database worker failed: {0}")]
    Worker(String),
    #[error("no stored component has sha256 {0}; send its bytes")]
    UnknownComponent(String),
    #[error("the database file is damaged: {0}")]
    Damaged(String),
}

/// Writes waiting for the writer at most; a caller past this waits its turn.
const WRITE_QUEUE: usize = 1024;
/// Writes one commit holds at most.
const MAX_BATCH: usize = 256;
/// Read-only connections; reads beyond this many at once wait for one.
const READERS: usize = 4;

/// One write: runs on the writer's connection inside the batch's
/// transaction and returns how to deliver its result once the batch's
/// commit is known.
type Job = Box<dyn FnOnce(&mut Connection) -> Delivery + Send>;
type Delivery = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    writes: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    reader_permits: Semaphore,
    /// The writer's figures, for `/metrics`, benchmarks and tests.
    stats: Arc<WriteStats>,
    /// The database file, for snapshots (`appliance backup`).
    path: std::path::PathBuf,
    /// Free space KV writes must leave on the data dir's disk; none in tests.
    disk_reserve: std::sync::OnceLock<DiskReserve>,
    /// Keeps a test database's directory alive as long as the database.
    #[cfg(test)]
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path`, migrates it and
    /// starts its writer thread. Blocking: call it off the async executor.
    pub fn open(path: &Path) -> Result<Db, Error> {
        let mut writer = Connection::open(path)?;
        Self::configure(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open(path)?;
            reader.busy_timeout(std::time::Duration::from_secs(5))?;
            // Reads only: a bug that writes through a reader fails loudly.
            reader.pragma_update(None, "query_only", true)?;
            readers.push(reader);
        }
        let (writes, queue) = mpsc::channel(WRITE_QUEUE);
        let stats = Arc::new(WriteStats::default());
        let counted = stats.clone();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || write_loop(writer, queue, counted))
            .map_err(|e| Error::Worker(format!("cannot start the database writer: {e}")))?;
        Ok(Db {
            inner: Arc::new(Inner {
                writes,
                readers: Mutex::new(readers),
                reader_permits: Semaphore::new(READERS),
                stats,
                path: path.to_owned(),
                disk_reserve: std::sync::OnceLock::new(),
                #[cfg(test)]
                _temp: None,
            }),
        })
    }

    /// A database in a fresh temporary directory, for unit tests (a real
    /// file: the writer and the readers are separate connections).
    #[cfg(test)]
    pub fn open_in_memory() -> Db {
        let temp = tempfile::tempdir().unwrap();
        let mut db = Db::open(&temp.path().join("test.db")).unwrap();
        Arc::get_mut(&mut db.inner).unwrap()._temp = Some(temp);
        db
    }

    /// A test database holding one deployed bot, and the bot's id.
    #[cfg(test)]
    pub async fn in_memory_with_bot() -> (Db, i64) {
        let db = Db::open_in_memory();
        let outcome = db
            .deploy(Deploy {
                name: "b".into(),
                app_id: "1".into(),
                public_key: String::new(),
                limits: crate::limits::Limits::default(),
                token: None,
                wasm: Some(vec![]),
                sha256: String::new(),
                gateway: GatewayChange::Keep,
                commands: None,
            })
            .await
            .unwrap();
        (db, outcome.bot.id)
    }

    fn configure(conn: &mut Connection) -> Result<(), Error> {
        // WAL lets readers run beside the writer; FULL syncs the WAL on every
        // commit, which is what "no acknowledged write is lost" costs.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(conn)
    }

    /// Whether a write gets through: a no-op that must run inside the
    /// writer's transaction, so it answers `Ok` only once the writer took
    /// the database's write lock and committed (for `/readyz`).
    pub async fn check_writable(&self) -> Result<(), Error> {
        self.write(|conn| {
            if conn.is_autocommit() {
                // The writer could not begin its transaction: another
                // process holds the write lock.
                return Err(Error::Worker(
                    "the database is locked by another writer".into(),
                ));
            }
            Ok(())
        })
        .await
    }

    /// Commits the writer has made so far.
    pub fn commits(&self) -> u64 {
        self.inner.stats.commits.load(Ordering::Relaxed)
    }

    /// The writer's figures: commits (each one fsync of the WAL), how long
    /// a commit took, and how long writes waited for theirs.
    pub fn write_stats(&self) -> &WriteStats {
        &self.inner.stats
    }

    /// Runs `f` on the writer's connection, inside a transaction it may
    /// share with other writes; `f` opens a savepoint for its own
    /// all-or-nothing part. Returns once the transaction is committed.
    async fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let queued = std::time::Instant::now();
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // A panic in one write must not take the writer (and every
            // later write) down; its savepoint rolls back as it unwinds.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(Error::Worker("a database write panicked".into())));
            Box::new(move |commit: Result<(), String>| {
                let _ = done.send(match commit {
                    Ok(()) => outcome,
                    Err(why) => Err(Error::Worker(why)),
                });
            })
        });
        self.inner
            .writes
            .send(job)
            .await
            .map_err(|_| Error::Worker("the database writer stopped".into()))?;
        let outcome = result
            .await
            .map_err(|_| Error::Worker("the database writer stopped".into()))?;
        self.inner.stats.write_latency.observe(queued.elapsed());
        outcome
    }

    /// Runs `f` on a read-only connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let _permit = self
            .inner
            .reader_permits
            .acquire()
            .await
            .map_err(|e| Error::Worker(e.to_string()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let taken = lock(&inner.readers).pop();
            let mut conn = taken.ok_or_else(|| Error::Worker("no free database reader".into()))?;
            let result = f(&mut conn);
            lock(&inner.readers).push(conn);
            result
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
    }
}

/// What the writer counts, with atomics only (every write passes here).
#[derive(Debug, Default)]
pub struct WriteStats {
    commits: AtomicU64,
    /// `COMMIT` alone: the WAL's fsync, under `synchronous=FULL`.
    pub commit_latency: Histogram,
    /// From a write's call to its acknowledgement: queueing behind other
    /// writes, its own statements, and the group commit.
    pub write_latency: Histogram,
}

impl WriteStats {
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

/// The writer thread: takes every write waiting (up to [`MAX_BATCH`]), runs
/// them in one transaction, commits, then tells each its result. Ends when
/// every [`Db`] handle is gone.
fn write_loop(mut conn: Connection, mut queue: mpsc::Receiver<Job>, stats: Arc<WriteStats>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {
                let deliveries: Vec<Delivery> =
                    batch.into_iter().map(|job| job(&mut conn)).collect();
                let committing = std::time::Instant::now();
                let committed = conn.execute_batch("COMMIT").map_err(|e| {
                    // Nothing of the batch was applied; tell every write.
                    let _ = conn.execute_batch("ROLLBACK");
                    format!("database commit failed: {e}")
                });
                stats.commit_latency.observe(committing.elapsed());
                stats.commits.fetch_add(1, Ordering::Relaxed);
                for deliver in deliveries {
                    deliver(committed.clone());
                }
            }
            Err(e) => {
                // Each write's savepoint then commits on its own.
                tracing::warn!(error = %e, "could not begin a group commit; writing one by one");
                for job in batch {
                    job(&mut conn)(Ok(()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_each_is_durable_when_acknowledged() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let before = db.commits();
        let writes: Vec<_> = (0..200)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.append_logs(
                        bot,
                        vec![LogLine::new(Level::Info, None, format!("line {i}"))],
                    )
                    .await
                })
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        let commits = db.commits() - before;
        assert!(
            commits < 200,
            "200 concurrent appends took {commits} commits"
        );
        // Every acknowledged line is visible to a reader.
        let lines = db.tail_logs(bot, 0, 1000).await.unwrap();
        assert_eq!(lines.len(), 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_does_not_undo_its_batch_neighbours() {
        let (db, bot) = Db::in_memory_with_bot().await;
        let quota = KvQuota {
            max_keys: 1,
            ..KvQuota::default()
        };
        let writes: Vec<_> = (0..20)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move { db.kv_set(bot, format!("k{i}"), vec![1], quota).await })
            })
            .collect();
        let mut stored = 0;
        for write in writes {
            match write.await.unwrap() {
                Ok(()) => stored += 1,
                Err(KvError::QuotaExceeded(_)) => {}
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(stored, 1);
        assert_eq!(db.kv_list_keys(bot, String::new()).await.unwrap().len(), 1);
        // A write for a bot that does not exist fails alone.
        let late = db
            .kv_set(bot + 1000, "x".into(), vec![1], KvQuota::default())
            .await;
        assert!(late.is_err());
        db.kv_set(bot, "k0".into(), vec![2], KvQuota::default())
            .await
            .unwrap();
    }
}
