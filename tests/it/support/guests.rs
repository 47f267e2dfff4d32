//! Building guest crates for wasm32-wasip2 with `--profile guest`, in
//! `target/guests`: a separate target dir, since the outer `cargo test` or
//! `cargo bench` may still hold the main one's lock. Shared with the benches
//! (`benches/common` includes this file).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `crates` and returns the directory holding their `.wasm` files.
pub fn build_guests(crates: &[&str]) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let target_dir = Path::new(root).join("target").join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--profile", "guest", "--target", "wasm32-wasip2"]);
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
    target_dir.join("wasm32-wasip2").join("guest")
}
