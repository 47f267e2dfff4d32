//! The node's durable state in one SQLite file: bots, their versions and
//! secrets, per-bot key-value data, logs and crash records.
//!
//! This is the only module that names rusqlite. All access goes through one
//! connection behind a mutex, on tokio's blocking pool, so SQLite never blocks
//! the async executor. The database runs in WAL mode with `synchronous=FULL`:
//! a write that returned `Ok` survives `kill -9` and power loss.

mod bots;
mod kv;
mod logs;
pub(crate) mod migrations;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use bots::{BotRecord, Deploy, DeployOutcome, VersionRecord};
pub use kv::{KvError, KvQuota};
pub use logs::{CrashRecord, LogLine};

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
}

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Db, Error> {
        let mut conn = Connection::open(path)?;
        Self::configure(&mut conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// An in-memory database, for unit tests.
    #[cfg(test)]
    pub fn open_in_memory() -> Db {
        let mut conn = Connection::open_in_memory().unwrap();
        Self::configure(&mut conn).unwrap();
        Db {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// An in-memory database holding one deployed bot, and the bot's id.
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
                wasm: vec![],
                sha256: String::new(),
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

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself
            // is still consistent (SQLite rolls back open transactions), so go on.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
    }
}

/// Milliseconds since the Unix epoch, the time unit of every stored timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
