//! Backups the node takes while it serves (`appliance backup`).
//!
//! The node takes the snapshot, not the CLI reading the data dir: the node
//! owns the database, so the copy is SQLite's own online backup inside the
//! process that writes (one read transaction: consistent, and the writer is
//! never paused); the secrets are read in the same moment; and the CLI needs
//! no access to the data dir (0700, the service's user) and may run on
//! another machine (`--node`). A copy of the files taken from outside could
//! catch the database and its WAL at different moments.
//!
//! A backup is prepared in `DATA_DIR/backups/ID/`, where only the database
//! snapshot is written (the archive is laid out over it, `backup::Archive`),
//! and the CLI pulls it in ranges of at most [`CHUNK_BYTES`]: the admin API
//! answers with whole bodies, and a range can be asked for again. One backup
//! at a time: a new one replaces the last, `DELETE` ends one, and one nobody
//! read for [`IDLE_EXPIRY`] is deleted. A node that stopped meanwhile clears
//! `DATA_DIR/backups/` when it starts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;

use crate::admin::api::{BackupInfo, ADMIN_TOKEN_FILE};
use crate::backup::{Archive, Content, Entry};
use crate::clock;
use crate::store::Db;

/// The largest range one `GET /v1/backups/{id}` answers with.
pub const CHUNK_BYTES: usize = 8 << 20;
/// A prepared backup nobody reads for this long is deleted.
const IDLE_EXPIRY: Duration = Duration::from_secs(600);
const EXPIRY_CHECK_EVERY: Duration = Duration::from_secs(30);
const DIR: &str = "backups";
const DB_ENTRY: &str = "appliance.db";
/// The data dir's directories a restore needs besides the database: the
/// self-signed certificate and the ACME account and certificates.
/// `artifacts/` is left out: compiled code the node rebuilds from the
/// components in the database, and only valid for the same engine build.
const SECRET_DIRS: [&str; 2] = ["tls", "acme"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no backup {0} on the node: it was finished, replaced by a newer one, or not read for 10 minutes; run `appliance backup` again")]
    Unknown(String),
    #[error("offset {offset} is past the end of the backup ({len} bytes)")]
    Offset { offset: u64, len: u64 },
    /// The node's own failure; details for its log.
    #[error("{0}")]
    Internal(String),
}

#[derive(Debug)]
pub struct Backups {
    data_dir: PathBuf,
    current: Arc<Mutex<Option<Prepared>>>,
}

#[derive(Debug)]
struct Prepared {
    id: String,
    dir: PathBuf,
    archive: Arc<Archive>,
    last_read_ms: Arc<AtomicI64>,
}

impl Backups {
    /// Backups of the node in `data_dir`; clears what a stopped node left
    /// in `DATA_DIR/backups/`.
    pub fn new(data_dir: &Path) -> Backups {
        let _ = std::fs::remove_dir_all(data_dir.join(DIR));
        Backups {
            data_dir: data_dir.to_owned(),
            current: Arc::new(Mutex::new(None)),
        }
    }

    /// Takes a snapshot of `db` and the data dir's secrets, replacing any
    /// backup prepared before.
    pub async fn prepare(&self, db: &Db) -> Result<BackupInfo, Error> {
        let mut current = self.current.lock().await;
        if let Some(old) = current.take() {
            remove(old.dir).await;
        }
        let created_at_ms = clock::unix_ms();
        let id = format!("{created_at_ms}-{:08x}", rand::random::<u32>());
        let dir = self.data_dir.join(DIR).join(&id);
        let made = dir.clone();
        tokio::task::spawn_blocking(move || create_private_dirs(&made))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let snapshot = dir.join(DB_ENTRY);
        let built = async {
            db.snapshot(snapshot.clone())
                .await
                .map_err(|e| Error::Internal(format!("database snapshot failed: {e}")))?;
            let data_dir = self.data_dir.clone();
            tokio::task::spawn_blocking(move || {
                let mut entries = vec![Entry {
                    path: DB_ENTRY.into(),
                    content: Content::File(snapshot),
                }];
                entries.extend(secret_files(&data_dir)?);
                Archive::build(entries, created_at_ms).map_err(|e| Error::Internal(e.to_string()))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
        }
        .await;
        let archive = match built {
            Ok(archive) => Arc::new(archive),
            Err(err) => {
                remove(dir).await;
                return Err(err);
            }
        };
        let info = BackupInfo {
            id: id.clone(),
            size: archive.len(),
            created_at_ms,
            entries: archive
                .manifest()
                .entries
                .iter()
                .map(|e| e.path.clone())
                .collect(),
        };
        let last_read_ms = Arc::new(AtomicI64::new(created_at_ms));
        tokio::spawn(expire_when_idle(
            self.current.clone(),
            id.clone(),
            last_read_ms.clone(),
        ));
        *current = Some(Prepared {
            id,
            dir,
            archive,
            last_read_ms,
        });
        Ok(info)
    }

    /// Up to [`CHUNK_BYTES`] of backup `id` from `offset`.
    pub async fn read(&self, id: &str, offset: u64) -> Result<Bytes, Error> {
        let archive = {
            let current = self.current.lock().await;
            let prepared = current
                .as_ref()
                .filter(|p| p.id == id)
                .ok_or_else(|| Error::Unknown(id.to_owned()))?;
            prepared
                .last_read_ms
                .store(clock::unix_ms(), Ordering::Relaxed);
            prepared.archive.clone()
        };
        if offset > archive.len() {
            return Err(Error::Offset {
                offset,
                len: archive.len(),
            });
        }
        tokio::task::spawn_blocking(move || archive.read_at(offset, CHUNK_BYTES))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map(Bytes::from)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// Deletes backup `id` from the node (the CLI has it).
    pub async fn finish(&self, id: &str) -> Result<(), Error> {
        let mut current = self.current.lock().await;
        match current.take() {
            Some(prepared) if prepared.id == id => {
                remove(prepared.dir).await;
                Ok(())
            }
            other => {
                *current = other;
                Err(Error::Unknown(id.to_owned()))
            }
        }
    }
}

/// The admin token and the TLS material, read now, beside the snapshot.
fn secret_files(data_dir: &Path) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    let token = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read(&token) {
        Ok(bytes) => entries.push(Entry {
            path: ADMIN_TOKEN_FILE.into(),
            content: Content::Bytes(bytes),
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::Internal(format!("{}: {err}", token.display()))),
    }
    for dir in SECRET_DIRS {
        collect_files(data_dir, Path::new(dir), &mut entries)?;
    }
    Ok(entries)
}

/// Regular files under `data_dir/relative`, recursively, in name order.
fn collect_files(data_dir: &Path, relative: &Path, out: &mut Vec<Entry>) -> Result<(), Error> {
    let dir = data_dir.join(relative);
    let read = match std::fs::read_dir(&dir) {
        Ok(read) => read,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(Error::Internal(format!("{}: {err}", dir.display()))),
    };
    let mut names: Vec<_> = read
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .collect();
    names.sort();
    for name in names {
        let path = relative.join(&name);
        let full = data_dir.join(&path);
        let kind = std::fs::symlink_metadata(&full)
            .map_err(|e| Error::Internal(format!("{}: {e}", full.display())))?
            .file_type();
        if kind.is_dir() {
            collect_files(data_dir, &path, out)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(&full)
                .map_err(|e| Error::Internal(format!("{}: {e}", full.display())))?;
            out.push(Entry {
                path: path.to_string_lossy().into_owned(),
                content: Content::Bytes(bytes),
            });
        }
    }
    Ok(())
}

fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

async fn remove(dir: PathBuf) {
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
}

/// Deletes backup `id` once nobody has read it for [`IDLE_EXPIRY`]; ends
/// when it is gone for any reason.
async fn expire_when_idle(
    current: Arc<Mutex<Option<Prepared>>>,
    id: String,
    last_read_ms: Arc<AtomicI64>,
) {
    loop {
        tokio::time::sleep(EXPIRY_CHECK_EVERY).await;
        let mut current = current.lock().await;
        if current.as_ref().is_none_or(|p| p.id != id) {
            return;
        }
        let idle_ms = clock::unix_ms() - last_read_ms.load(Ordering::Relaxed);
        if idle_ms >= IDLE_EXPIRY.as_millis() as i64 {
            if let Some(prepared) = current.take() {
                tracing::info!(backup = %id, "deleted a backup nobody finished reading");
                remove(prepared.dir).await;
            }
            return;
        }
    }
}
