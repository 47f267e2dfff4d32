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

/// Guests built with more of cargo's profile overrides than
/// [`GUEST_PROFILE`], in a target dir of their own (in the shared one, the
/// `.wasm` a test expects would be overwritten).
pub struct ExtraProfile {
    /// The target dir's name, beside `target/guests`.
    pub target_dir: &'static str,
    pub overrides: &'static [(&'static str, &'static str)],
}

/// For a bench that measures a guest's own speed: the whole program
/// optimized at link time, in one codegen unit, as a bot built for
/// production would be (the gateway bench's figures: BENCHMARKS.md). The
/// tests do without, since each guest's link would take much longer.
pub const SPEED_PROFILE: ExtraProfile = ExtraProfile {
    target_dir: "guests-speed",
    overrides: &[
        ("CARGO_PROFILE_RELEASE_LTO", "true"),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ],
};

/// Builds `crates` and returns the directory holding their `.wasm` files.
pub fn build_guests(crates: &[&str]) -> PathBuf {
    build(crates, guests_target_dir(), &[])
}

/// [`build_guests`] with `profile`'s overrides, in its own target dir.
pub fn build_guests_with(crates: &[&str], profile: &ExtraProfile) -> PathBuf {
    let target_dir = guests_target_dir().with_file_name(profile.target_dir);
    build(crates, target_dir, profile.overrides)
}

fn build(crates: &[&str], target_dir: PathBuf, overrides: &[(&str, &str)]) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .envs(GUEST_PROFILE)
        .envs(overrides.iter().copied());
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
