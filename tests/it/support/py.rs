//! Python bots for the tests: the pinned componentize-py installed into a
//! venv under `target/tools/py` (once per machine: skipped while the venv
//! matches `guest-sdk/python/requirements.txt`), and the Python examples and
//! test bots built from their sources with the SDK's own build command, once
//! per test process (and reused across runs while no input changed).
//!
//! Both steps hold a file lock, so parallel test processes (or the benches)
//! never install or build over each other.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The Python bots the tests use, by name: (name, the bot's main module).
pub const BOTS: [(&str, &str); 3] = [
    ("ping-py", "examples/ping-py/app.py"),
    ("counter-py", "examples/counter-py/app.py"),
    ("hostile-py", "tests/guests-py/hostile/app.py"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sdk_dir() -> PathBuf {
    root().join("guest-sdk").join("python")
}

/// Holds an exclusive lock on `path` while it lives.
fn lock(path: &Path) -> File {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = File::create(path).unwrap();
    file.lock().unwrap();
    file
}

fn run(command: &mut Command, what: &str) {
    let status = command
        .status()
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    assert!(status.success(), "{what} failed ({status})");
}

/// The venv's python, with the pinned componentize-py installed.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(install).clone()
}

fn install() -> PathBuf {
    let tools = root().join("target").join("tools");
    let venv = tools.join("py");
    let python = venv.join("bin").join("python");
    let requirements = sdk_dir().join("requirements.txt");
    let want = hex::encode(Sha256::digest(std::fs::read(&requirements).unwrap()));
    let stamp = venv.join("requirements.sha256");
    let _lock = lock(&tools.join("py.lock"));
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let host_python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&host_python).args(["-m", "venv"]).arg(&venv),
        "creating the venv for componentize-py (python3 -m venv)",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--require-hashes", "-r"])
            .arg(&requirements),
        "pip install -r guest-sdk/python/requirements.txt",
    );
    std::fs::write(&stamp, want).unwrap();
    python
}

/// The component of the Python bot `name` (one of [`BOTS`]). The first call
/// builds them all, two at a time; later runs reuse a build whose inputs
/// (the bot's directory, the SDK, the WIT, the pinned tools) are unchanged.
pub fn bot(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<(&'static str, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(build_all);
    built
        .iter()
        .find(|(bot, _)| *bot == name)
        .unwrap_or_else(|| panic!("no Python test bot {name}"))
        .1
        .clone()
}

/// [`bot`] off the async executor.
pub async fn bot_path(name: &str) -> PathBuf {
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || bot(&name))
        .await
        .unwrap()
}

fn build_all() -> Vec<(&'static str, PathBuf)> {
    let python = python();
    let out_dir = root().join("target").join("guests-py");
    let _lock = lock(&out_dir.join("build.lock"));
    let mut pending = Vec::new();
    let mut built = Vec::new();
    for (name, app) in BOTS {
        let app = root().join(app);
        let wasm = out_dir.join(format!("{name}-{}.wasm", &inputs_hash(&app)[..16]));
        if !wasm.exists() {
            pending.push((name, app, wasm.clone()));
        }
        built.push((name, wasm));
    }
    // componentize-py is mostly single-threaded: two builds at a time use
    // both cores of a CI machine.
    for pair in pending.chunks(2) {
        let children: Vec<_> = pair
            .iter()
            .map(|(name, app, wasm)| {
                let partial = wasm.with_extension("partial");
                let child = Command::new(&python)
                    .args(["-m", "appliance_bot.build"])
                    .arg(app)
                    .arg("-o")
                    .arg(&partial)
                    .env("PYTHONPATH", sdk_dir())
                    .spawn()
                    .unwrap_or_else(|err| panic!("building {name}: {err}"));
                (name, child, partial, wasm)
            })
            .collect();
        for (name, mut child, partial, wasm) in children {
            let status = child.wait().unwrap();
            assert!(status.success(), "building the Python bot {name} failed");
            std::fs::rename(&partial, wasm).unwrap();
        }
    }
    built
}

/// A hash of everything a Python bot's component is made from.
fn inputs_hash(app: &Path) -> String {
    let mut files = Vec::new();
    collect(app.parent().unwrap(), &mut files);
    collect(&sdk_dir().join("appliance_bot"), &mut files);
    files.push(sdk_dir().join("requirements.txt"));
    files.push(root().join("guest-sdk").join("wit").join("world.wit"));
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap());
    }
    hex::encode(hasher.finalize())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                collect(&path, files);
            }
        } else if path.extension().is_some_and(|e| e == "py" || e == "wit") {
            files.push(path);
        }
    }
}
