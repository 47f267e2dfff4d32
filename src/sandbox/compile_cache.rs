//! Cranelift's incremental compilation cache, on disk: each compiled function
//! stored under the hash of its input. Bots in JavaScript or Python embed the
//! same engine (SpiderMonkey, CPython), so most of a new JS or Python bot's
//! functions were compiled before, for another bot or an earlier version, and
//! its deploy skips their code generation. Cranelift checks its own version
//! in every entry and recompiles on any mismatch.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::CacheStore;

/// Files of this cache: `DIR/ab/abcdef…` (two hex digits of the key's hash
/// as a subdirectory, so no directory holds tens of thousands of entries).
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Each entry starts with the SHA-256 of the rest: a file cut short by a
/// power loss is a miss, never code built from half an entry.
const CHECKSUM: usize = 32;

impl DiskCache {
    /// A cache in `dir`, created (owner-only) if missing.
    pub fn open(dir: &Path) -> std::io::Result<DiskCache> {
        create_private_dir_all(dir)?;
        Ok(DiskCache {
            dir: dir.to_owned(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// Functions found in the cache, and compiled afresh, since it opened.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn path(&self, key: &[u8]) -> PathBuf {
        let hex = hex::encode(Sha256::digest(key));
        self.dir.join(&hex[..2]).join(&hex[2..])
    }
}

impl CacheStore for DiskCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = std::fs::read(self.path(key)).ok().and_then(|mut entry| {
            let intact = entry.len() >= CHECKSUM
                && Sha256::digest(&entry[CHECKSUM..]).as_slice() == &entry[..CHECKSUM];
            intact.then(|| {
                entry.drain(..CHECKSUM);
                entry
            })
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let path = self.path(key);
        if path.exists() {
            return true;
        }
        let mut entry = Vec::with_capacity(CHECKSUM + value.len());
        entry.extend_from_slice(&Sha256::digest(&value));
        entry.extend_from_slice(&value);
        // Written aside and renamed: parallel compiles (of one deploy, or of
        // nodes sharing the directory) never see a partial entry. No fsync:
        // a lost entry is only a function compiled again.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tmp = path.with_extension(format!(
            "tmp{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = path.parent().is_some_and(|parent| {
            create_private_dir_all(parent).is_ok()
                && std::fs::write(&tmp, &entry).is_ok()
                && std::fs::rename(&tmp, &path).is_ok()
        });
        if !written {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_damaged_one_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path()).unwrap();
        assert!(cache.get(b"key").is_none());
        assert!(cache.insert(b"key", b"compiled".to_vec()));
        assert_eq!(cache.get(b"key").as_deref(), Some(&b"compiled"[..]));
        assert_eq!(cache.counts(), (1, 1));

        // Cut short, as after a power loss: a miss, not half an entry.
        let path = cache.path(b"key");
        let entry = std::fs::read(&path).unwrap();
        std::fs::write(&path, &entry[..entry.len() - 1]).unwrap();
        assert!(cache.get(b"key").is_none());
        assert_eq!(cache.counts(), (1, 2));
    }
}
