//! The backup archive: what `appliance backup` writes and `appliance
//! restore` reads back.
//!
//! An archive is a POSIX tar file, so `tar -tvf` lists it, followed by a
//! trailer that makes it self-checking:
//!
//! ```text
//! tar:     DATA_DIR files (appliance.db, admin.token, tls/…, acme/…),
//!          then MANIFEST.json (format, version, each entry's size and sha256),
//!          then tar's end-of-archive blocks
//! trailer: "appliance-backup" (16 bytes) ++ the tar's length (u64 LE)
//!          ++ the tar's sha256 (32 bytes)
//! ```
//!
//! The trailer covers every byte before it, padding included, so a truncated
//! archive (no trailer), a flipped byte anywhere, or bytes appended are all
//! refused before anything is extracted; the manifest then checks each file as
//! it is written. The manifest comes last so the node can lay an archive out
//! in one pass over its files, and serve it in ranges without writing a second
//! copy of the database (see [`Archive`]).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The archive format this binary writes and the newest it reads.
pub const FORMAT: u32 = 1;
/// The manifest's name inside the tar.
pub const MANIFEST: &str = "MANIFEST.json";
const MAGIC: &[u8; 16] = b"appliance-backup";
const TRAILER_LEN: u64 = 16 + 8 + 32;
const BLOCK: u64 = 512;
/// A manifest larger than this is not one we wrote.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} is not an appliance backup, or it is truncated (its trailer is missing)")]
    NoTrailer(PathBuf),
    #[error("{path} is truncated or has bytes appended: its trailer describes {expected} bytes of archive, the file holds {found}")]
    Length {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{0} is corrupt: its checksum does not match its contents")]
    Checksum(PathBuf),
    #[error("{path} is corrupt: {why}")]
    Malformed { path: PathBuf, why: String },
    #[error("{path} was written in backup format {found}; this binary reads up to format {FORMAT}: restore it with a newer appliance")]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot back up {0:?}: the name is too long or not a plain relative path")]
    BadName(String),
    #[error("failed to access {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// What an archive holds, written last into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The appliance version that made it.
    pub appliance_version: String,
    pub created_at_ms: i64,
    pub entries: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative to the data dir, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// One file to put in an archive.
#[derive(Debug)]
pub struct Entry {
    /// Relative to the data dir, `/`-separated (`tls/self-signed.key`).
    pub path: String,
    pub content: Content,
}

#[derive(Debug)]
pub enum Content {
    /// Small files (tokens, keys), read when the backup was taken.
    Bytes(Vec<u8>),
    /// A file nobody changes while the archive exists (the database snapshot).
    File(PathBuf),
}

/// An archive laid out over its pieces, without being written anywhere:
/// the node serves it in ranges straight from the database snapshot.
#[derive(Debug)]
pub struct Archive {
    pieces: Vec<Piece>,
    len: u64,
    manifest: Manifest,
}

#[derive(Debug)]
enum Piece {
    Bytes(Vec<u8>),
    File { path: PathBuf, len: u64 },
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(bytes) => bytes.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }
}

impl Archive {
    /// Lays `entries` out as an archive, reading each file once to hash it.
    /// Blocking: call it off the async executor.
    pub fn build(entries: Vec<Entry>, created_at_ms: i64) -> Result<Archive, Error> {
        let mut pieces = Vec::new();
        let mut whole = Sha256::new();
        let mut listed = Vec::new();
        let mtime = (created_at_ms / 1000).max(0) as u64;
        for entry in entries {
            let (size, sha256, piece) = match entry.content {
                Content::Bytes(bytes) => {
                    let header = header(&entry.path, bytes.len() as u64, mtime)?;
                    whole.update(header);
                    whole.update(&bytes);
                    pieces.push(Piece::Bytes(header.to_vec()));
                    (
                        bytes.len() as u64,
                        hex::encode(Sha256::digest(&bytes)),
                        Piece::Bytes(bytes),
                    )
                }
                Content::File(path) => {
                    let mut file = std::fs::File::open(&path).map_err(io_error(&path))?;
                    let len = file.metadata().map_err(io_error(&path))?.len();
                    let header = header(&entry.path, len, mtime)?;
                    whole.update(header);
                    pieces.push(Piece::Bytes(header.to_vec()));
                    let mut own = Sha256::new();
                    let read = copy_into(&mut file, |chunk| {
                        own.update(chunk);
                        whole.update(chunk);
                    })
                    .map_err(io_error(&path))?;
                    if read != len {
                        return Err(Error::Io {
                            path,
                            source: io::Error::other("the file changed while it was archived"),
                        });
                    }
                    (len, hex::encode(own.finalize()), Piece::File { path, len })
                }
            };
            pieces.push(piece);
            let padding = vec![0; padding(size) as usize];
            whole.update(&padding);
            pieces.push(Piece::Bytes(padding));
            listed.push(ManifestEntry {
                path: entry.path,
                size,
                sha256,
            });
        }
        let manifest = Manifest {
            format: FORMAT,
            appliance_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at_ms,
            entries: listed,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Malformed {
            path: PathBuf::from(MANIFEST),
            why: e.to_string(),
        })?;
        let mut tail = header(MANIFEST, json.len() as u64, mtime)?.to_vec();
        tail.extend_from_slice(&json);
        tail.resize(tail.len() + padding(json.len() as u64) as usize, 0);
        // Two zero blocks end a tar archive.
        tail.resize(tail.len() + 2 * BLOCK as usize, 0);
        whole.update(&tail);
        pieces.push(Piece::Bytes(tail));
        let tar_len: u64 = pieces.iter().map(Piece::len).sum();
        let mut trailer = MAGIC.to_vec();
        trailer.extend_from_slice(&tar_len.to_le_bytes());
        trailer.extend_from_slice(&whole.finalize());
        pieces.push(Piece::Bytes(trailer));
        Ok(Archive {
            pieces,
            len: tar_len + TRAILER_LEN,
            manifest,
        })
    }

    /// The archive's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Up to `max` bytes from `offset` (fewer only at the end). Blocking.
    pub fn read_at(&self, offset: u64, max: usize) -> Result<Vec<u8>, Error> {
        let end = offset.saturating_add(max as u64).min(self.len);
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        let mut start = 0u64;
        for piece in &self.pieces {
            let piece_end = start + piece.len();
            if piece_end > offset && start < end {
                let from = offset.max(start) - start;
                let to = end.min(piece_end) - start;
                match piece {
                    Piece::Bytes(bytes) => {
                        out.extend_from_slice(&bytes[from as usize..to as usize])
                    }
                    Piece::File { path, .. } => {
                        let mut file = std::fs::File::open(path).map_err(io_error(path))?;
                        file.seek(SeekFrom::Start(from)).map_err(io_error(path))?;
                        let at = out.len();
                        out.resize(at + (to - from) as usize, 0);
                        file.read_exact(&mut out[at..]).map_err(io_error(path))?;
                    }
                }
            }
            start = piece_end;
        }
        Ok(out)
    }
}

/// A tar header for a regular file readable by its owner only.
fn header(path: &str, size: u64, mtime: u64) -> Result<[u8; 512], Error> {
    check_name(path)?;
    let mut header = tar::Header::new_ustar();
    header
        .set_path(path)
        .map_err(|_| Error::BadName(path.to_owned()))?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(*header.as_bytes())
}

/// Zero bytes that round `size` up to tar's 512-byte blocks.
fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// A name is a plain relative path: nothing in an archive can point a
/// restore outside the directory it restores into.
fn check_name(path: &str) -> Result<(), Error> {
    let plain = !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(Error::BadName(path.to_owned()))
    }
}

/// Reads `reader` to its end in chunks, handing each to `sink`; the byte count.
fn copy_into(reader: &mut impl Read, mut sink: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut buffer = vec![0; 1 << 20];
    let mut total = 0;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                sink(&buffer[..n]);
                total += n as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// Checks `archive` end to end (trailer, checksum, manifest, every entry)
/// and returns its manifest. Reads the file twice; writes nothing.
pub fn verify(archive: &Path) -> Result<Manifest, Error> {
    read(archive, None)
}

/// [`verify`], writing the entries under `into` (an empty directory) as it
/// goes: files mode 0600, directories 0700. On an error, `into` may hold
/// part of the archive: extract into a directory you throw away on failure.
pub fn extract(archive: &Path, into: &Path) -> Result<Manifest, Error> {
    read(archive, Some(into))
}

fn read(path: &Path, into: Option<&Path>) -> Result<Manifest, Error> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let tar_len = check_checksum(path, &mut file)?;
    // The bytes are what the node wrote; now check they are what the
    // manifest says, entry by entry, as they are written out.
    file.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let malformed = |why: String| Error::Malformed {
        path: path.to_owned(),
        why,
    };
    let mut tar = tar::Archive::new(file.take(tar_len));
    let mut seen = Vec::new();
    let mut manifest: Option<Manifest> = None;
    for entry in tar.entries().map_err(|e| malformed(e.to_string()))? {
        let mut entry = entry.map_err(|e| malformed(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| malformed(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(malformed(format!("{name} is not a regular file")));
        }
        check_name(&name).map_err(|_| malformed(format!("unsafe entry name {name:?}")))?;
        if manifest.is_some() {
            return Err(malformed(format!("{name} follows the manifest")));
        }
        if name == MANIFEST {
            if entry.size() > MAX_MANIFEST_BYTES {
                return Err(malformed("the manifest is too large".into()));
            }
            let mut json = Vec::new();
            entry
                .read_to_end(&mut json)
                .map_err(|e| malformed(e.to_string()))?;
            let parsed: Manifest = serde_json::from_slice(&json)
                .map_err(|e| malformed(format!("unreadable manifest: {e}")))?;
            if parsed.format > FORMAT {
                return Err(Error::TooNew {
                    path: path.to_owned(),
                    found: parsed.format,
                });
            }
            manifest = Some(parsed);
            continue;
        }
        let mut out = match into {
            Some(dir) => Some(create_file(&dir.join(&name))?),
            None => None,
        };
        let mut sha = Sha256::new();
        let mut failed = None;
        let size = copy_into(&mut entry, |chunk| {
            sha.update(chunk);
            if let (Some((file, target)), None) = (out.as_mut(), &failed) {
                if let Err(err) = file.write_all(chunk) {
                    failed = Some(Error::Io {
                        path: target.clone(),
                        source: err,
                    });
                }
            }
        })
        .map_err(|e| malformed(e.to_string()))?;
        if let Some(err) = failed {
            return Err(err);
        }
        if let Some((file, target)) = out {
            file.sync_all().map_err(io_error(&target))?;
        }
        seen.push(ManifestEntry {
            path: name,
            size,
            sha256: hex::encode(sha.finalize()),
        });
    }
    let manifest = manifest.ok_or_else(|| malformed("it has no manifest".into()))?;
    if manifest.entries != seen {
        return Err(malformed(
            "its files do not match its manifest (names, sizes or checksums)".into(),
        ));
    }
    if let Some(dir) = into {
        sync_dirs(dir, &manifest)?;
    }
    Ok(manifest)
}

/// Checks the trailer and the checksum over everything before it; the
/// tar's length.
fn check_checksum(path: &Path, file: &mut std::fs::File) -> Result<u64, Error> {
    let found = file.metadata().map_err(io_error(path))?.len();
    if found < TRAILER_LEN {
        return Err(Error::NoTrailer(path.to_owned()));
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.seek(SeekFrom::Start(found - TRAILER_LEN))
        .map_err(io_error(path))?;
    file.read_exact(&mut trailer).map_err(io_error(path))?;
    if &trailer[..16] != MAGIC {
        return Err(Error::NoTrailer(path.to_owned()));
    }
    let tar_len = u64::from_le_bytes(trailer[16..24].try_into().expect("8 bytes"));
    if tar_len != found - TRAILER_LEN {
        return Err(Error::Length {
            path: path.to_owned(),
            expected: tar_len.saturating_add(TRAILER_LEN),
            found,
        });
    }
    file.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    let mut sha = Sha256::new();
    copy_into(&mut file.take(tar_len), |chunk| sha.update(chunk)).map_err(io_error(path))?;
    if sha.finalize().as_slice() != &trailer[24..] {
        return Err(Error::Checksum(path.to_owned()));
    }
    Ok(tar_len)
}

/// A new file (0600) at `path`, with its directories (0700).
fn create_file(path: &Path) -> Result<(std::fs::File, PathBuf), Error> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io_error(parent))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    Ok((file, path.to_owned()))
}

/// Makes the new directory entries durable, deepest first.
fn sync_dirs(root: &Path, manifest: &Manifest) -> Result<(), Error> {
    let mut dirs: Vec<PathBuf> = manifest
        .entries
        .iter()
        .filter_map(|entry| Path::new(&entry.path).parent().map(|p| root.join(p)))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs.reverse();
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// fsyncs a directory, so the names in it (new files, renames) are durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> PathBuf {
        let db = dir.join("snapshot.db");
        std::fs::write(&db, vec![7u8; 70_000]).unwrap();
        let archive = Archive::build(
            vec![
                Entry {
                    path: "appliance.db".into(),
                    content: Content::File(db),
                },
                Entry {
                    path: "tls/self-signed.key".into(),
                    content: Content::Bytes(b"key".to_vec()),
                },
            ],
            1_700_000_000_000,
        )
        .unwrap();
        // Read in odd-sized ranges, as the CLI pulls it.
        let mut bytes = Vec::new();
        while (bytes.len() as u64) < archive.len() {
            bytes.extend(archive.read_at(bytes.len() as u64, 4099).unwrap());
        }
        assert_eq!(bytes.len() as u64, archive.len());
        let path = dir.join("backup.tar");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn an_archive_round_trips_and_plain_tar_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let manifest = verify(&path).unwrap();
        assert_eq!(manifest.entries.len(), 2);
        let into = dir.path().join("restored");
        std::fs::create_dir(&into).unwrap();
        extract(&path, &into).unwrap();
        assert_eq!(
            std::fs::read(into.join("appliance.db")).unwrap(),
            vec![7u8; 70_000]
        );
        assert_eq!(
            std::fs::read(into.join("tls/self-signed.key")).unwrap(),
            b"key"
        );
        // The tar part is an ordinary tar: the trailer follows its end.
        let names: Vec<String> = tar::Archive::new(std::fs::File::open(&path).unwrap())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["appliance.db", "tls/self-signed.key", MANIFEST]);
    }

    #[test]
    fn truncation_a_flipped_byte_anywhere_and_appended_bytes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let good = std::fs::read(&path).unwrap();
        let bad = dir.path().join("bad.tar");
        let check = |bytes: &[u8]| {
            std::fs::write(&bad, bytes).unwrap();
            verify(&bad).unwrap_err()
        };
        for cut in [0, 10, good.len() / 2, good.len() - 1] {
            assert!(
                matches!(check(&good[..cut]), Error::NoTrailer(_)),
                "cut at {cut}"
            );
        }
        // Data, a header, padding, the end blocks, the trailer's length and checksum.
        for at in [
            600,
            0,
            70_000,
            good.len() - 600,
            good.len() - 40,
            good.len() - 1,
        ] {
            let mut flipped = good.clone();
            flipped[at] ^= 0x20;
            let err = check(&flipped);
            assert!(
                matches!(err, Error::Checksum(_) | Error::Length { .. }),
                "flip at {at}: {err}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(check(&longer), Error::NoTrailer(_)));
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        for name in ["../x", "/etc/passwd", "", "a/../../b"] {
            assert!(check_name(name).is_err(), "{name}");
        }
        assert!(check_name("acme/cached_cert_abc").is_ok());
    }
}
