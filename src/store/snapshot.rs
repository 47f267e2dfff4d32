//! Consistent copies of the database taken while the node writes to it
//! (`appliance backup`), and the check a restore runs on one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::store::migrations::MIGRATIONS;
use crate::store::{Db, Error};

/// How long a snapshot retries a source it cannot read yet (a checkpoint
/// holding the WAL index for a moment).
const BUSY_RETRIES: u32 = 500;
const BUSY_PAUSE: Duration = Duration::from_millis(10);

impl Db {
    /// Copies the database into the new file `dest` as it was at one moment,
    /// while reads and writes go on. Runs on the blocking pool.
    pub async fn snapshot(&self, dest: PathBuf) -> Result<(), Error> {
        let source = self.inner.path.clone();
        tokio::task::spawn_blocking(move || snapshot_file(&source, &dest))
            .await
            .map_err(|e| Error::Worker(e.to_string()))?
    }
}

/// SQLite's online backup in a single step, on a connection of its own (the
/// readers stay free for bots). In WAL mode one step is one read
/// transaction: it copies one consistent state and never blocks the writer.
/// A backup in many small steps would start over whenever the writer
/// commits, and under steady KV traffic might never finish.
fn snapshot_file(source: &Path, dest: &Path) -> Result<(), Error> {
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.pragma_update(None, "query_only", true)?;
    let mut to = Connection::open(dest)?;
    {
        let backup = Backup::new(&from, &mut to)?;
        let mut retries = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::Busy | StepResult::Locked if retries < BUSY_RETRIES => {
                    retries += 1;
                    std::thread::sleep(BUSY_PAUSE);
                }
                StepResult::Busy | StepResult::Locked => {
                    return Err(Error::Worker(
                        "the database stayed locked; try the backup again".into(),
                    ))
                }
                _ => {}
            }
        }
    }
    // One self-contained file, with no WAL beside it to lose on the way.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    drop(to);
    std::fs::File::open(dest)
        .and_then(|file| file.sync_all())
        .map_err(|e| Error::Worker(format!("failed to sync {}: {e}", dest.display())))
}

/// Checks a database file before a node is started on it: SQLite's
/// `quick_check` passes and its schema is one this binary can run.
/// Blocking.
pub fn check_database(path: &Path) -> Result<(), Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| Error::Damaged(format!("{}: {e}", path.display())))?;
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| Error::Damaged(format!("{}: {e}", path.display())))?;
    if verdict != "ok" {
        return Err(Error::Damaged(format!("{}: {verdict}", path.display())));
    }
    let schema: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if schema > MIGRATIONS.len() {
        return Err(Error::TooNew {
            found: schema,
            known: MIGRATIONS.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KvQuota;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_taken_during_writes_holds_every_write_acknowledged_before_it() {
        let (db, bot) = Db::in_memory_with_bot().await;
        for i in 0..50 {
            db.kv_set(bot, format!("before{i}"), vec![1; 100], KvQuota::default())
                .await
                .unwrap();
        }
        let writer = {
            let db = db.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    db.kv_set(bot, format!("during{i}"), vec![2; 100], KvQuota::default())
                        .await
                        .unwrap();
                }
            })
        };
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.db");
        db.snapshot(copy.clone()).await.unwrap();
        writer.await.unwrap();
        check_database(&copy).unwrap();
        assert!(!dir.path().join("copy.db-wal").exists());
        let restored = Db::open(&copy).unwrap();
        let keys = restored.kv_list_keys(bot, "before".into()).await.unwrap();
        assert_eq!(keys.len(), 50);
    }

    #[test]
    fn a_damaged_file_fails_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        std::fs::write(&path, b"not a database at all, just some bytes".repeat(200)).unwrap();
        assert!(matches!(check_database(&path), Err(Error::Damaged(_))));
    }
}
