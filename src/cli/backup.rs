//! `appliance backup` and `appliance restore`.
//!
//! `backup` asks the node for a snapshot (the node takes it, see
//! `admin::backups`), pulls it into `FILE.partial`, checks it end to end
//! and only then names it `FILE`: a file called `FILE` is always a whole,
//! checked backup. `restore` checks and unpacks an archive into a new
//! directory beside the data dir and moves it into place in one rename, so a
//! failed restore leaves the data dir as it was.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::admin::client::Client;
use crate::backup;
use crate::cli::NodeArgs;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Where to write the backup (created mode 0600; an existing file is replaced only once the new backup is complete)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// A file written by `appliance backup`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The data directory to bring back (created; must be empty unless --force)
    #[arg(long, env = "APPLIANCE_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Replace a data dir that is not empty; its old contents are moved aside to DIR.replaced-TIME, not deleted
    #[arg(long)]
    pub force: bool,
}

/// What a backup holds, as both commands say it.
const CONTENTS: &str = "the database (bots, their versions and components, KV data, logs, crash records), the admin token and the node's TLS material";
const SECRETS: &str =
    "it holds secrets (bot tokens, the admin token, TLS private keys): store it like a password";
const LEFT_OUT: &str = "not included: the config file, and certificate files named by --tls-cert/--tls-key outside the data dir";

pub async fn backup(client: Client, args: BackupArgs) -> anyhow::Result<()> {
    let partial = partial_path(&args.file);
    let info = client.start_backup().await?;
    let pulled = pull(&client, &info.id, info.size, &partial).await;
    // The node deletes its copy either way (or on its own after 10 minutes).
    let _ = client.finish_backup(&info.id).await;
    let checked = pulled
        .and_then(|()| backup::verify(&partial).context("the backup did not survive the transfer"));
    if let Err(err) = checked {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    std::fs::rename(&partial, &args.file).with_context(|| {
        format!(
            "failed to rename {} to {}",
            partial.display(),
            args.file.display()
        )
    })?;
    println!(
        "wrote {} ({}, checked): {CONTENTS}",
        args.file.display(),
        mib(info.size)
    );
    println!("{SECRETS}");
    println!("{LEFT_OUT}");
    Ok(())
}

/// `FILE.partial` beside `FILE`, so the final rename stays on one filesystem.
fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    file.with_file_name(name)
}

/// Reads backup `id` range by range into `into` and syncs it.
async fn pull(client: &Client, id: &str, size: u64, into: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(into)
        .with_context(|| format!("failed to create {}", into.display()))?;
    let mut offset = 0;
    while offset < size {
        let chunk = client.read_backup(id, offset).await?;
        if chunk.is_empty() {
            bail!("the node's backup ended at {offset} of {size} bytes");
        }
        file.write_all(&chunk)
            .with_context(|| format!("failed to write {}", into.display()))?;
        offset += chunk.len() as u64;
    }
    file.sync_all()
        .with_context(|| format!("failed to write {}", into.display()))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let target = &args.data_dir;
    // Refuse before the work, and again before the swap (below).
    check_target(target, args.force)?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .with_context(|| format!("--data-dir {} names no directory", target.display()))?
        .to_string_lossy()
        .into_owned();
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("failed to create {}", parent.display()))?;
    let staging = parent.join(format!(".{name}.restoring-{}", std::process::id()));
    let restored = unpack(&args.file, &staging).and_then(|manifest| {
        check_target(target, args.force)?;
        install(&staging, target, &parent, &name).map(|aside| (manifest, aside))
    });
    let (manifest, aside) = match restored {
        Ok(done) => done,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(err);
        }
    };
    println!(
        "restored {} into {} (backup of {}, appliance {}): {CONTENTS}",
        args.file.display(),
        target.display(),
        crate::cli::client::format_time(manifest.created_at_ms),
        manifest.appliance_version
    );
    if let Some(aside) = aside {
        println!(
            "the data dir's previous contents are in {}; delete them once the restored node serves",
            aside.display()
        );
    }
    println!("{LEFT_OUT}");
    println!(
        "start the node with `appliance serve --data-dir {}` (compiled bots are rebuilt on its first start)",
        target.display()
    );
    Ok(())
}

/// Checks and unpacks `archive` into the new directory `staging`.
fn unpack(archive: &Path, staging: &Path) -> anyhow::Result<backup::Manifest> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(staging)
        .with_context(|| format!("failed to create {}", staging.display()))?;
    // The whole archive is checked before a file is written.
    let manifest = backup::extract(archive, staging)?;
    let db = staging.join("appliance.db");
    anyhow::ensure!(
        db.is_file(),
        "{} holds no database (appliance.db); it is not a node's backup",
        archive.display()
    );
    crate::store::check_database(&db)
        .with_context(|| format!("the database in {} fails SQLite's check", archive.display()))?;
    Ok(manifest)
}

/// Refuses a data dir that holds anything, unless `force`; never one a
/// node is serving.
fn check_target(target: &Path, force: bool) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(target) {
        Ok(entries) => entries.count(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", target.display())),
    };
    if entries == 0 {
        return Ok(());
    }
    if !force {
        bail!(
            "{} is not empty; restore into a new directory, or pass --force to replace it (its contents are moved aside, not deleted)",
            target.display()
        );
    }
    if node_is_serving(target)? {
        bail!(
            "a node is serving {}; stop it before restoring over its data dir",
            target.display()
        );
    }
    Ok(())
}

/// A node holds `DATA_DIR/node.lock` for as long as it runs.
fn node_is_serving(data_dir: &Path) -> anyhow::Result<bool> {
    let path = data_dir.join("node.lock");
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err).with_context(|| format!("cannot open {}", path.display())),
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Moves `staging` to `target` in one rename. An existing empty directory
/// is replaced by the rename itself; a non-empty one (`--force`) is swapped
/// with `staging` atomically (`renameat2(RENAME_EXCHANGE)`) and then moved
/// aside: at every moment `target` is either the old data dir or the whole
/// restored one. Returns where the old contents went.
fn install(
    staging: &Path,
    target: &Path,
    parent: &Path,
    name: &str,
) -> anyhow::Result<Option<PathBuf>> {
    let occupied = std::fs::read_dir(target).is_ok_and(|mut entries| entries.next().is_some());
    if !occupied {
        std::fs::rename(staging, target).with_context(|| {
            format!(
                "failed to move the restored data dir into {} (is it a mount point? restore into a directory inside it)",
                target.display()
            )
        })?;
        backup::sync_dir(parent)?;
        return Ok(None);
    }
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        staging,
        rustix::fs::CWD,
        target,
        rustix::fs::RenameFlags::EXCHANGE,
    )
    .with_context(|| {
        format!(
            "failed to swap the restored data dir with {} (a mount point, or a filesystem without atomic exchange: restore into an empty directory instead)",
            target.display()
        )
    })?;
    // From here on `staging` holds the old data dir: never an error that
    // would have the caller clean it up.
    let aside = parent.join(format!("{name}.replaced-{}", crate::clock::unix_secs()));
    let aside = match std::fs::rename(staging, &aside) {
        Ok(()) => aside,
        Err(_) => staging.to_owned(),
    };
    let _ = backup::sync_dir(parent);
    Ok(Some(aside))
}
