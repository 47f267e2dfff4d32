//! JavaScript and TypeScript bots for the tests: installs the SDK's pinned
//! tools (`npm ci` in guest-sdk/js, from its package-lock.json) and builds
//! bots with `appliance-js build` into `target/guests-js`, once per test
//! process. Shared with the benches (`benches/common` includes this file).
//!
//! Both steps are skipped when their output is up to date (an install stamp
//! holding the lock file's hash; a component newer than every input), and
//! serialized across processes by a file lock, so parallel test binaries
//! and benches neither race nor repeat them.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// The bots the tests use: (name, directory under the repository, entry module).
pub const BOTS: [(&str, &str, &str); 3] = [
    ("ping-js", "examples/ping-js", "src/bot.js"),
    ("counter-ts", "examples/counter-ts", "src/bot.ts"),
    ("hostile-js", "tests/guests-js/hostile", "src/bot.js"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sdk_dir() -> PathBuf {
    root().join("guest-sdk").join("js")
}

/// Where the components go.
pub fn out_dir() -> PathBuf {
    root().join("target").join("guests-js")
}

/// Holds an exclusive `flock` on `target/guests-js/.lock` while alive.
struct FileLock(File);

impl FileLock {
    fn take() -> FileLock {
        let dir = out_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let file = File::create(dir.join(".lock")).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this struct owns; it is released
        // when the file closes.
        #[allow(unsafe_code)]
        let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(status, 0, "flock: {}", std::io::Error::last_os_error());
        FileLock(file)
    }
}

/// `npm ci` in guest-sdk/js unless node_modules was installed from this
/// very package-lock.json. Call with the lock held.
fn install_tools() {
    let sdk = sdk_dir();
    let lock = std::fs::read(sdk.join("package-lock.json")).unwrap();
    let want = hex::encode(Sha256::digest(&lock));
    let stamp = sdk.join("node_modules").join(".appliance-installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&sdk)
        .status()
        .expect(
            "failed to run npm (Node.js 20 or newer and npm are needed for the JavaScript bots)",
        );
    assert!(status.success(), "npm ci in {} failed", sdk.display());
    std::fs::write(&stamp, want).unwrap();
}

/// The newest modification time of the files under `path` (node_modules left out).
fn newest(path: &Path) -> SystemTime {
    let meta = std::fs::metadata(path).unwrap();
    if !meta.is_dir() {
        return meta.modified().unwrap();
    }
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "node_modules"))
        .map(|p| newest(&p))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Builds `bot` (a name of [`BOTS`]) unless its component is newer than
/// its sources, the SDK, the build tool, the lock file and the WIT.
fn build_one(name: &str, dir: &str, entry: &str) -> PathBuf {
    let out = out_dir().join(format!("{name}.wasm"));
    let bot_dir = root().join(dir);
    let inputs = [
        bot_dir.join("src"),
        sdk_dir().join("src"),
        sdk_dir().join("bin"),
        sdk_dir().join("package-lock.json"),
        root().join("guest-sdk").join("wit"),
    ];
    let fresh = std::fs::metadata(&out)
        .and_then(|m| m.modified())
        .is_ok_and(|built| inputs.iter().all(|input| newest(input) < built));
    if fresh {
        return out;
    }
    let output = Command::new("node")
        .arg(sdk_dir().join("bin").join("appliance-js.js"))
        .args(["build", entry, "-o"])
        .arg(&out)
        .current_dir(&bot_dir)
        .output()
        .expect("failed to run node");
    assert!(
        output.status.success(),
        "appliance-js build of {dir} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Installs the tools and builds every bot of [`BOTS`] (in parallel: the
/// build is mostly one thread), once per process; returns `name`'s component.
pub fn bot(name: &str) -> PathBuf {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let _lock = FileLock::take();
        install_tools();
        std::thread::scope(|scope| {
            let builds: Vec<_> = BOTS
                .iter()
                .map(|&(name, dir, entry)| {
                    scope.spawn(move || (name.to_owned(), build_one(name, dir, entry)))
                })
                .collect();
            builds
                .into_iter()
                .map(|build| build.join().unwrap())
                .collect()
        })
    });
    built
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not one of the JavaScript bots"))
}

/// [`bot`] off the async executor.
pub async fn bot_path(name: &str) -> PathBuf {
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || bot(&name))
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
}
