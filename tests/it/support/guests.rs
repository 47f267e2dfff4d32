//! Building guest crates for wasm32-wasip2, in `target/guests`: a separate
//! target dir, since the outer `cargo test` or `cargo bench` may still hold
//! the main one's lock. Shared with the benches (`benches/common` includes
//! this file) and with the bot crates `appliance new` writes in the tests
//! (`new_bot`, `dev_loop`): all build with cargo's `release` profile and
//! the settings of [`GUEST_PROFILE`], so the SDK's dependencies compile for
//! wasm once, not once per kind of crate.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The release profile the guests build with, as cargo's environment
/// overrides (they beat the workspace's `[profile.release]`, which keeps line
/// tables for the node). No DWARF: it makes components 7x larger and slower
/// to compile at deploy; the name section stays (only debuginfo is stripped),
/// so crash backtraces still name functions. Full optimization, as the
/// benchmarks measure the guests' speed.
pub const GUEST_PROFILE: [(&str, &str); 3] = [
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_STRIP", "debuginfo"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3"),
];

/// The target dir every guest and test bot crate builds in.
pub fn guests_target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("guests")
}

/// Builds `crates` and returns the directory holding their `.wasm` files.
pub fn build_guests(crates: &[&str]) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let target_dir = guests_target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .envs(GUEST_PROFILE);
    for name in crates {
        command.args(["-p", name]);
    }
    let status = command
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .expect("failed to run cargo to build the guests");
    assert!(
        status.success(),
        "building the guests {crates:?} failed (is the wasm32-wasip2 target installed?)"
    );
    target_dir.join("wasm32-wasip2").join("release")
}
