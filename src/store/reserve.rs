//! The node-wide disk reserve: free space that tenants' KV writes may not
//! take, so that when the data dir's disk runs low, deploys, crash records,
//! logs and SQLite's own work (WAL, checkpoints, migrations) still fit.
//!
//! Every tenant can be inside its KV quota while together they fill the
//! disk; the quota cannot see that, the reserve can. Below the reserve a KV
//! write is refused with the quota error and the node logs it once, when the
//! disk crosses the line (and once more when it recovers), not per write.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::store::{Db, KvError};
use crate::{clock, fsutil};

/// The reserve when the operator names none, and the share of a small disk
/// it takes at most (a 48 MiB disk keeps 2.4 MiB, not all of it).
pub const DEFAULT_RESERVE_MIB: u64 = 256;
const DEFAULT_MAX_SHARE_PERCENT: u64 = 5;
/// Free space is looked up at most this often: a `statvfs` per write would
/// cost more than the check is worth, and a burst of writes in this window
/// is small against the reserve.
const RECHECK_EVERY_MS: i64 = 250;

#[derive(Debug)]
pub struct DiskReserve {
    dir: PathBuf,
    bytes: u64,
    /// When free space was last looked up (Unix ms); 0 forces a look-up.
    checked_at_ms: AtomicI64,
    available: AtomicU64,
    low: AtomicBool,
}

/// The reserve and the disk, as `status`, `doctor` and `/metrics` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveStanding {
    pub available_bytes: u64,
    pub total_bytes: u64,
    pub reserve_bytes: u64,
    /// KV writes are refused (free space is below the reserve).
    pub low: bool,
}

impl DiskReserve {
    /// A reserve of `mib` MiB on the disk holding `dir`; `None` is
    /// [`DEFAULT_RESERVE_MIB`], capped at 5% of that disk, and `Some(0)`
    /// turns the reserve off.
    pub fn new(dir: &Path, mib: Option<u64>) -> DiskReserve {
        let bytes = match mib {
            Some(mib) => mib.saturating_mul(1 << 20),
            None => {
                let share = fsutil::disk_space(dir)
                    .map(|space| space.total / 100 * DEFAULT_MAX_SHARE_PERCENT)
                    .unwrap_or(u64::MAX);
                (DEFAULT_RESERVE_MIB << 20).min(share)
            }
        };
        DiskReserve {
            dir: dir.to_owned(),
            bytes,
            checked_at_ms: AtomicI64::new(0),
            available: AtomicU64::new(u64::MAX),
            low: AtomicBool::new(false),
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Refuses a KV write while free space is below the reserve.
    pub fn check_kv_write(&self) -> Result<(), KvError> {
        let now = clock::unix_ms();
        let last = self.checked_at_ms.load(Ordering::Relaxed);
        // One caller per window looks the space up; the rest use its answer.
        if now - last >= RECHECK_EVERY_MS
            && self
                .checked_at_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refresh();
        }
        if self.low.load(Ordering::Relaxed) {
            return Err(KvError::QuotaExceeded(format!(
                "the node's disk is nearly full ({} MiB free, {} MiB kept in reserve); KV writes are refused until its operator frees space",
                self.available.load(Ordering::Relaxed) >> 20,
                self.bytes >> 20
            )));
        }
        Ok(())
    }

    /// Looks free space up now, and says so in the log when it crosses the
    /// reserve either way.
    fn refresh(&self) -> Option<fsutil::DiskSpace> {
        if self.bytes == 0 {
            return None;
        }
        let space = match fsutil::disk_space(&self.dir) {
            Ok(space) => space,
            Err(err) => {
                // Not knowing is no reason to refuse tenants' writes.
                tracing::debug!(error = %err, dir = %self.dir.display(), "cannot read free disk space");
                return None;
            }
        };
        self.available.store(space.available, Ordering::Relaxed);
        let low = space.available < self.bytes;
        if self.low.swap(low, Ordering::Relaxed) != low {
            let available_mib = space.available >> 20;
            let reserve_mib = self.bytes >> 20;
            let dir = self.dir.display();
            if low {
                tracing::warn!(%dir, available_mib, reserve_mib, "free disk space is below the reserve: bots' KV writes are refused until space is freed (deploys, logs and crash records continue)");
            } else {
                tracing::info!(%dir, available_mib, reserve_mib, "free disk space is above the reserve again: KV writes are accepted");
            }
        }
        Some(space)
    }

    /// The disk and the reserve now (looks free space up).
    pub fn standing(&self) -> Option<ReserveStanding> {
        let space = match self.refresh() {
            Some(space) => space,
            None => fsutil::disk_space(&self.dir).ok()?,
        };
        Some(ReserveStanding {
            available_bytes: space.available,
            total_bytes: space.total,
            reserve_bytes: self.bytes,
            low: self.low.load(Ordering::Relaxed),
        })
    }
}

impl Db {
    /// Keeps `reserve` free for the node's own work: KV writes are refused
    /// below it. Set once, at start-up; later calls are ignored.
    pub fn set_disk_reserve(&self, reserve: DiskReserve) {
        let _ = self.inner.disk_reserve.set(reserve);
    }

    pub fn disk_reserve(&self) -> Option<&DiskReserve> {
        self.inner.disk_reserve.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KvQuota;

    #[tokio::test]
    async fn below_the_reserve_kv_writes_are_refused_and_deletes_still_work() {
        let (db, bot) = Db::in_memory_with_bot().await;
        db.kv_set(bot, "k".into(), vec![1], KvQuota::default())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // More than any disk has free.
        db.set_disk_reserve(DiskReserve::new(dir.path(), Some(u64::MAX >> 21)));
        let refused = db
            .kv_set(bot, "k2".into(), vec![1], KvQuota::default())
            .await;
        assert!(
            matches!(&refused, Err(KvError::QuotaExceeded(m)) if m.contains("disk is nearly full")),
            "{refused:?}"
        );
        db.kv_delete(bot, "k".into()).await.unwrap();
        let standing = db.disk_reserve().unwrap().standing().unwrap();
        assert!(standing.low && standing.available_bytes < standing.reserve_bytes);
    }

    #[test]
    fn the_default_is_256_mib_at_most_5_percent_of_the_disk_and_zero_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let total = fsutil::disk_space(dir.path()).unwrap().total;
        let default = DiskReserve::new(dir.path(), None).bytes();
        assert_eq!(default, (256 << 20).min(total / 100 * 5));
        let off = DiskReserve::new(dir.path(), Some(0));
        assert!(off.check_kv_write().is_ok());
        assert_eq!(off.standing().unwrap().reserve_bytes, 0);
    }
}
