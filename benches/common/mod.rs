//! What both bench harnesses need: guests built like the tests build them,
//! and a demo application key.

// Each bench harness uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// RFC 8032's first test key: valid, and nobody's real application.
pub const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// Builds `crates` for wasm32-wasip2 (`--profile guest`) and returns the
/// directory holding their `.wasm` files.
pub fn build_guests(crates: &[&str]) -> PathBuf {
    let target_dir = Path::new(ROOT).join("target").join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(ROOT)
        .args(["build", "--profile", "guest", "--target", "wasm32-wasip2"]);
    for name in crates {
        command.args(["-p", name]);
    }
    let status = command
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .expect("failed to run cargo");
    assert!(status.success(), "building the guests failed");
    target_dir.join("wasm32-wasip2").join("guest")
}

/// A database in a scratch directory (tmpfs when there is one: these
/// benches measure the sandbox, not the disk). Keep the directory alive.
pub fn scratch_db() -> (tempfile::TempDir, appliance::store::Db) {
    let temp = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let db = appliance::store::Db::open(&temp.path().join("bench.db")).unwrap();
    (temp, db)
}
