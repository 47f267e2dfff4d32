//! Noticing that a crate's sources changed, by polling their mtimes.
//!
//! Polling rather than OS notifications (inotify through the `notify`
//! crate): a bot crate is a handful of files, so a stat of each every few
//! hundred milliseconds costs nothing; it sees every editor's way of saving
//! (in place, or a new file renamed over the old one, which drops an inotify
//! watch on the file), works on network and container-mounted directories
//! where notifications do not arrive, and needs no new dependency.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a build reads: the manifest, the build script, and all of `src/`.
const WATCHED: [&str; 3] = ["Cargo.toml", "build.rs", "src"];

/// Each watched file's modification time and length.
type Snapshot = BTreeMap<PathBuf, (Option<SystemTime>, u64)>;

/// The watched files of one crate as last seen.
pub(super) struct Watch {
    root: PathBuf,
    seen: Snapshot,
}

impl Watch {
    /// Starts from the files as they are now.
    pub(super) fn new(root: &Path) -> Watch {
        Watch {
            root: root.to_owned(),
            seen: snapshot(root),
        }
    }

    /// The watched items, for the user (`src/, Cargo.toml, build.rs`).
    pub(super) fn describe() -> String {
        WATCHED
            .iter()
            .map(|item| match *item {
                "src" => "src/".to_owned(),
                file => file.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A file (relative to the crate) that was changed, added or removed
    /// since the last call, if any; what is seen now becomes the baseline.
    pub(super) fn changed(&mut self) -> Option<PathBuf> {
        let now = snapshot(&self.root);
        let changed = now
            .iter()
            .find(|(path, stamp)| self.seen.get(*path) != Some(stamp))
            .map(|(path, _)| path.clone())
            .or_else(|| {
                self.seen
                    .keys()
                    .find(|path| !now.contains_key(*path))
                    .cloned()
            });
        self.seen = now;
        changed.map(|path| {
            path.strip_prefix(&self.root)
                .map(Path::to_owned)
                .unwrap_or(path)
        })
    }
}

fn snapshot(root: &Path) -> Snapshot {
    let mut files = Snapshot::new();
    for item in WATCHED {
        visit(&root.join(item), &mut files);
    }
    files
}

/// Adds `path` (a file, or a directory's files, recursively) to `files`.
/// Editors' swap and backup files (`.x.swp`, `x~`) are not sources.
fn visit(path: &Path, files: &mut Snapshot) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || name.ends_with('~') {
        return;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            visit(&entry.path(), files);
        }
    } else {
        files.insert(path.to_owned(), (meta.modified().ok(), meta.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::Watch;
    use std::path::Path;

    #[test]
    fn sees_edits_new_files_and_removals_but_not_swap_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/nested")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]").unwrap();
        std::fs::write(root.join("src/lib.rs"), "fn a() {}").unwrap();
        let mut watch = Watch::new(root);
        assert_eq!(watch.changed(), None);

        std::fs::write(root.join("src/lib.rs"), "fn ab() {}").unwrap();
        assert_eq!(watch.changed().as_deref(), Some(Path::new("src/lib.rs")));
        assert_eq!(watch.changed(), None, "a change is reported once");

        std::fs::write(root.join("src/nested/x.rs"), "").unwrap();
        assert_eq!(
            watch.changed().as_deref(),
            Some(Path::new("src/nested/x.rs"))
        );
        std::fs::remove_file(root.join("src/nested/x.rs")).unwrap();
        assert_eq!(
            watch.changed().as_deref(),
            Some(Path::new("src/nested/x.rs"))
        );

        std::fs::write(root.join("src/.lib.rs.swp"), "x").unwrap();
        std::fs::write(root.join("src/lib.rs~"), "x").unwrap();
        std::fs::write(root.join("README.md"), "x").unwrap();
        assert_eq!(watch.changed(), None);

        std::fs::write(root.join("build.rs"), "fn main() {}").unwrap();
        assert_eq!(watch.changed().as_deref(), Some(Path::new("build.rs")));
    }
}
