//! File writes the node relies on: atomic replacement and owner-only secrets.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` via a temporary file and a rename, so readers
/// never see a half-written file and a crash leaves the old one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_with_mode(path, bytes, 0o644)
}

/// Like [`write_atomic`], readable by the owner only (mode 0600).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_with_mode(path, bytes, 0o600)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("failed to write {}", path.display()))
}

/// Space on the filesystem holding a path, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// What an unprivileged process may still write (`f_bavail`): the
    /// blocks the filesystem keeps for root are not ours to count on.
    pub available: u64,
    /// The filesystem's size.
    pub total: u64,
}

/// Space on the filesystem that holds `path` (e.g. the data dir); cheap
/// (one `statvfs`), for status, doctor, metrics and the node's disk reserve.
pub fn disk_space(path: &Path) -> std::io::Result<DiskSpace> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(DiskSpace {
        available: stat.f_bavail.saturating_mul(stat.f_frsize),
        total: stat.f_blocks.saturating_mul(stat.f_frsize),
    })
}

/// Bytes an unprivileged process may still write on `path`'s filesystem.
pub fn free_space(path: &Path) -> std::io::Result<u64> {
    disk_space(path).map(|space| space.available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_space_of_a_temp_dir_is_plausible_and_a_missing_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let space = disk_space(dir.path()).unwrap();
        assert!(space.total > 0 && space.available <= space.total);
        assert!(free_space(&dir.path().join("missing")).is_err());
    }
}
