//! Checks of the machine under the node: open-files limit, disk space, and
//! the data dir's and admin token's permissions.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::admin::api::{NodeFile, ADMIN_TOKEN_FILE, NODE_FILE};
use crate::cli::doctor::Check;
use crate::config::Config;

/// Descriptors the node holds besides public connections (database, WAL,
/// artifacts, admin connections, outbound REST), as `app` reckons when it
/// raises its limit.
const FILES_BESIDES_CONNECTIONS: u64 = 256;
/// Below this much free space the store soon refuses writes.
const FAIL_FREE_BYTES: u64 = 256 * 1024 * 1024;
const WARN_FREE_BYTES: u64 = 1024 * 1024 * 1024;

pub(crate) fn checks(config: &Config) -> Vec<Check> {
    vec![
        open_files(config),
        disk_space(&config.data_dir),
        data_dir(&config.data_dir),
        admin_token(&config.data_dir),
    ]
}

/// Every connection is a descriptor: a limit below `max_connections`
/// turns connections away with "too many open files" under load.
fn open_files(config: &Config) -> Check {
    const NAME: &str = "open files";
    let needed = config.limits.max_connections as u64 + FILES_BESIDES_CONNECTIONS;
    let fix = "raise LimitNOFILE in the unit (or ulimit -n), or lower [limits] max_connections";
    // A running node's own limit is what counts; otherwise this process's
    // hard limit, which the node lifts its soft limit to at start.
    let (limit, whose) = match running_node_limit(&config.data_dir) {
        Some(limit) => (limit, "the running node's limit"),
        None => match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((_, hard)) => (hard, "the hard limit here"),
            Err(err) => return Check::warn(NAME, format!("cannot read the limit: {err}")),
        },
    };
    let found = format!(
        "{whose} is {limit}; max_connections {} needs {needed}",
        config.limits.max_connections
    );
    if limit < needed {
        Check::fail(NAME, format!("{found}: {fix}"))
    } else {
        Check::ok(NAME, found)
    }
}

/// The soft open-files limit of the node serving `data_dir`, from
/// `/proc/PID/limits`, if one is running and readable.
fn running_node_limit(data_dir: &Path) -> Option<u64> {
    let node: NodeFile =
        serde_json::from_slice(&std::fs::read(data_dir.join(NODE_FILE)).ok()?).ok()?;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", node.pid)).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    // "unlimited" never runs short.
    Some(soft.parse().unwrap_or(u64::MAX))
}

fn disk_space(data_dir: &Path) -> Check {
    const NAME: &str = "disk space";
    // Before the first start the data dir does not exist: its filesystem
    // is its nearest existing ancestor's.
    let Some(existing) = data_dir.ancestors().find(|p| p.exists()) else {
        return Check::warn(NAME, format!("no part of {} exists", data_dir.display()));
    };
    let space = match crate::fsutil::disk_space(existing) {
        Ok(space) => space,
        Err(err) => return Check::warn(NAME, format!("cannot read {}: {err}", existing.display())),
    };
    let mib = |bytes: u64| bytes / (1024 * 1024);
    let found = format!(
        "{} MiB free of {} MiB under {}",
        mib(space.available),
        mib(space.total),
        existing.display()
    );
    let fix = "free space or move the data dir (KV writes, logs and deploys need it)";
    if space.available < FAIL_FREE_BYTES {
        Check::fail(NAME, format!("{found}: {fix}"))
    } else if space.available < WARN_FREE_BYTES {
        Check::warn(NAME, format!("{found}: {fix}"))
    } else {
        Check::ok(NAME, found)
    }
}

/// The data dir holds the admin token and every bot's token: the node
/// makes it 0700 and must be able to write it.
fn data_dir(data_dir: &Path) -> Check {
    const NAME: &str = "data dir";
    let shown = data_dir.display();
    let metadata = match std::fs::metadata(data_dir) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Check::ok(
                NAME,
                format!("{shown} does not exist yet: the node creates it on first start"),
            );
        }
        Err(err) => return Check::fail(NAME, format!("cannot read {shown}: {err}")),
    };
    if !metadata.is_dir() {
        return Check::fail(NAME, format!("{shown} is not a directory"));
    }
    if rustix::fs::access(data_dir, rustix::fs::Access::WRITE_OK).is_err() {
        return Check::fail(
            NAME,
            format!("{shown} is not writable by this user: run doctor as the node's user, or chown it to that user"),
        );
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Check::warn(
            NAME,
            format!("{shown} has mode {mode:o}, open to other users (it holds bot tokens): chmod 700 {shown}"),
        );
    }
    Check::ok(NAME, format!("{shown} writable, mode {mode:o}"))
}

/// Whoever reads the admin token controls every bot on the node.
fn admin_token(data_dir: &Path) -> Check {
    const NAME: &str = "admin token";
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let shown = path.display();
    match std::fs::metadata(&path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Check::ok(
            NAME,
            format!("{shown} does not exist yet: the node creates it (mode 600) on first start"),
        ),
        Err(err) => Check::fail(NAME, format!("cannot read {shown}: {err}")),
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                Check::fail(
                    NAME,
                    format!("{shown} has mode {mode:o}: other users can take over the node; chmod 600 {shown}"),
                )
            } else {
                Check::ok(NAME, format!("{shown} mode {mode:o}"))
            }
        }
    }
}
