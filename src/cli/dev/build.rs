//! Building a bot crate for wasm32-wasip2 with the user's cargo.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncBufReadExt;

const TARGET: &str = "wasm32-wasip2";

#[derive(Debug, thiserror::Error)]
pub(super) enum Error {
    #[error("cannot run {cargo:?} ({reason}); install Rust with rustup (https://rustup.rs), or set CARGO to cargo's path")]
    NoCargo { cargo: String, reason: String },
    #[error("the {TARGET} target is not installed for the toolchain in {dir}: run `rustup target add {TARGET}` there")]
    NoTarget { dir: String },
    #[error("{manifest} built no .wasm file: its [lib] needs crate-type = [\"cdylib\"]")]
    NoWasm { manifest: String },
    #[error("cargo's output could not be read: {0}")]
    Output(#[from] std::io::Error),
}

/// How one build ended.
pub(super) enum Built {
    /// The component, where cargo wrote it.
    Wasm(PathBuf),
    /// The compiler refused the sources; cargo printed why (on stderr).
    Failed,
}

/// The user's cargo: `CARGO` when set (as cargo sets it for its
/// subprocesses), else the one on `PATH`.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Checks, before anything is built, that cargo runs and that the
/// toolchain `dir` builds with has the wasm target: both fail the first
/// build in ways that do not say what to do.
pub(super) fn preflight(dir: &Path) -> Result<(), Error> {
    let cargo = cargo();
    let no_cargo = |reason: String| Error::NoCargo {
        cargo: cargo.to_string_lossy().into_owned(),
        reason,
    };
    let version = std::process::Command::new(&cargo)
        .arg("--version")
        .current_dir(dir)
        .output()
        .map_err(|err| no_cargo(err.to_string()))?;
    if !version.status.success() {
        return Err(no_cargo(
            String::from_utf8_lossy(&version.stderr).trim().to_owned(),
        ));
    }
    // The sysroot of the rustc cargo would run there (rust-toolchain.toml
    // included); without rustc to ask, the build itself will say.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(sysroot) = std::process::Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
    else {
        return Ok(());
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.is_dir() && !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Err(Error::NoTarget {
            dir: dir.display().to_string(),
        });
    }
    Ok(())
}

/// `cargo build --release --target wasm32-wasip2` of the crate whose
/// manifest is `manifest` (an absolute path). Cargo's progress and the
/// compiler's errors go to stderr as in a terminal; the component's path
/// comes from cargo's JSON messages, so any target dir and crate name work.
pub(super) async fn build(manifest: &Path) -> Result<Built, Error> {
    let mut child = tokio::process::Command::new(cargo())
        .args(["build", "--release", "--target", TARGET])
        .arg("--manifest-path")
        .arg(manifest)
        // The compiler's messages rendered by cargo on stderr; the
        // artifacts as JSON lines on stdout.
        .arg("--message-format=json-render-diagnostics")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Stopping the dev loop mid-build stops the build.
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| Error::NoCargo {
            cargo: cargo().to_string_lossy().into_owned(),
            reason: err.to_string(),
        })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut wasm = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(path) = artifact(&line, manifest) {
            wasm = Some(path);
        }
    }
    if !child.wait().await?.success() {
        return Ok(Built::Failed);
    }
    wasm.map(Built::Wasm).ok_or_else(|| Error::NoWasm {
        manifest: manifest.display().to_string(),
    })
}

/// The `.wasm` file in one of cargo's JSON messages, if it is the
/// `compiler-artifact` of the package at `manifest` (not a dependency's).
fn artifact(line: &str, manifest: &Path) -> Option<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Message {
        reason: String,
        #[serde(default)]
        manifest_path: Option<PathBuf>,
        #[serde(default)]
        filenames: Vec<PathBuf>,
    }
    let message: Message = serde_json::from_str(line).ok()?;
    if message.reason != "compiler-artifact" || message.manifest_path.as_deref() != Some(manifest) {
        return None;
    }
    message
        .filenames
        .into_iter()
        .find(|file| file.extension().is_some_and(|ext| ext == "wasm"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn finds_the_packages_own_component_among_cargos_messages() {
        let manifest = Path::new("/bots/hello/Cargo.toml");
        let ours = r#"{"reason":"compiler-artifact","package_id":"path+file:///bots/hello#0.1.0","manifest_path":"/bots/hello/Cargo.toml","target":{"kind":["cdylib","rlib"]},"filenames":["/t/wasm32-wasip2/release/hello.wasm","/t/wasm32-wasip2/release/libhello.rlib"],"fresh":false}"#;
        assert_eq!(
            super::artifact(ours, manifest).as_deref(),
            Some(Path::new("/t/wasm32-wasip2/release/hello.wasm"))
        );
        let dependency = r#"{"reason":"compiler-artifact","manifest_path":"/bots/hello/appliance-sdk/Cargo.toml","filenames":["/t/x.wasm"]}"#;
        assert_eq!(super::artifact(dependency, manifest), None);
        let rlib_only = r#"{"reason":"compiler-artifact","manifest_path":"/bots/hello/Cargo.toml","filenames":["/t/libhello.rlib"]}"#;
        assert_eq!(super::artifact(rlib_only, manifest), None);
        let finished = r#"{"reason":"build-finished","success":true}"#;
        assert_eq!(super::artifact(finished, manifest), None);
        assert_eq!(super::artifact("not json", manifest), None);
    }
}
