//! Test support: a node running the real binary, example guests built for
//! wasm32-wasip2, a signer that signs interactions like Discord does, and a
//! fake Discord REST API (`fake_discord`).

#![allow(dead_code)]

pub mod fake_discord;
pub mod fake_gateway;
pub mod fleet_harness;
pub mod nats;

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub mod guests;
mod interaction;
pub mod js;
pub mod py;

pub use interaction::{command, command_bytes, unix_now, Signer};

pub const BIN: &str = env!("CARGO_BIN_EXE_appliance");

/// Builds the example and test guests once per test run and returns the
/// .wasm path of `crate_name`. Blocks: async tests call [`guest_path`].
pub fn guest(crate_name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        guests::build_guests(&[
            "ping-bot",
            "counter-bot",
            "hostile-bot",
            "slow-bot",
            "remind-bot",
            "events-bot",
            "gateway-bot",
            "modlog-bot",
            "commands-v1-bot",
            "commands-v2-bot",
            "commands-bad-bot",
            "tally-bot",
        ])
    });
    let path = dir.join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// [`guest`] off the async executor (the first call builds every guest).
pub async fn guest_path(crate_name: &str) -> PathBuf {
    let crate_name = crate_name.to_owned();
    blocking(move || guest(&crate_name)).await
}

/// Runs `work` on tokio's blocking pool, so the test's runtime (and the fake
/// Discord it may host) keeps running meanwhile; a panic in `work` is
/// raised again here.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
}

/// A check for [`eventually`]: done (with a value) or not yet, with what it
/// saw instead.
pub trait Check {
    type Done;
    fn done(self) -> Result<Self::Done, String>;
}

impl Check for bool {
    type Done = ();
    fn done(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("false".to_owned())
        }
    }
}

impl<T> Check for Option<T> {
    type Done = T;
    fn done(self) -> Result<T, String> {
        self.ok_or_else(|| "None".to_owned())
    }
}

/// `Err` carries what was seen instead, for the failure message.
impl<T, E: Display> Check for Result<T, E> {
    type Done = T;
    fn done(self) -> Result<T, String> {
        self.map_err(|seen| seen.to_string())
    }
}

/// `Ok(value)` if `value` passes `test`, else `Err(value)`: a [`Check`]
/// whose failure message shows the value.
pub fn holds<T>(value: T, test: impl FnOnce(&T) -> bool) -> Result<T, T> {
    if test(&value) {
        Ok(value)
    } else {
        Err(value)
    }
}

/// Runs `check` every 25 ms until it is done and returns its value. Once
/// `within` has passed, fails the test naming `what` and the last thing
/// `check` saw. For waiting on what the node does in the background (log and
/// crash writes, replacement instances): a bound, never a fixed sleep.
pub async fn eventually<C: Check>(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> C,
) -> C::Done {
    let started = Instant::now();
    loop {
        match check().await.done() {
            Ok(done) => return done,
            Err(seen) => assert!(
                started.elapsed() < within,
                "timed out after {within:?} waiting until {what}; last seen: {seen}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A command for `program` whose process dies with the test process: a
/// panicking test's [`Node`] kills its child on drop, and this covers the
/// harness itself being killed (Linux's parent-death signal; the parent is
/// the spawning thread, which for a test is its own thread or one of its
/// runtime's workers, living as long as the test).
pub fn child_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child before exec; it only
        // makes async-signal-safe system calls and allocates nothing.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before prctl: no signal would come.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    command
}

/// `appliance` as a [`child_command`]. Every node the tests start shares
/// one compile cache (`target/test-compile-cache`): a JavaScript or Python
/// bot deployed to a second node, or a second such bot, then compiles in
/// seconds instead of most of a minute. No test depends on a cold compile.
pub fn appliance() -> Command {
    let mut command = child_command(BIN);
    command.env(
        "APPLIANCE_COMPILE_CACHE",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("test-compile-cache"),
    );
    command
}

/// A running `appliance serve` with its own data dir; killed (by its pid)
/// on drop, so a failing test leaves no node behind. Every method that waits
/// is async and leaves the test's runtime free: the node may be calling a
/// fake Discord served by that same runtime meanwhile.
pub struct Node {
    pub data_dir: PathBuf,
    pub public: SocketAddr,
    pub admin: SocketAddr,
    child: KillOnDrop,
    _temp: Option<tempfile::TempDir>,
    extra: Vec<String>,
}

#[derive(serde::Deserialize)]
struct NodeFile {
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
}

impl Node {
    /// A node serving plain HTTP on free loopback ports.
    pub async fn start() -> Node {
        Node::start_with(&["--plain-http"]).await
    }

    /// A node with `config` as its TOML config file, plus `extra` flags.
    pub async fn start_with_config(config: &str, extra: &[&str]) -> Node {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("config.toml");
        std::fs::write(&file, config).unwrap();
        let mut args = vec!["--config".to_owned(), file.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Node::start_in(temp, args).await
    }

    /// A node on plain HTTP whose Discord REST calls go to `fake`.
    pub async fn with_fake_discord(fake: &fake_discord::FakeDiscord) -> Node {
        Node::start_with(&["--plain-http", "--discord-api", &fake.base_url()]).await
    }

    pub async fn start_with(extra: &[&str]) -> Node {
        let temp = tempfile::tempdir().unwrap();
        Node::start_in(temp, extra.iter().map(|s| s.to_string()).collect()).await
    }

    /// A node on `temp/data`, which may already hold a data dir (a restored one).
    pub async fn start_in(temp: tempfile::TempDir, extra: Vec<String>) -> Node {
        let data_dir = temp.path().join("data");
        let (child, public, admin) = spawn(&data_dir, &extra).await;
        Node {
            data_dir,
            public,
            admin,
            child,
            _temp: Some(temp),
            extra,
        }
    }

    /// The node's process id (for signals a test sends it).
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// `kill -9` and start again on the same data dir.
    pub async fn crash_and_restart(&mut self) {
        self.child.0.kill().unwrap();
        // Prompt after SIGKILL.
        self.child.0.wait().unwrap();
        let _ = std::fs::remove_file(self.data_dir.join("node.json"));
        let (child, public, admin) = spawn(&self.data_dir, &self.extra).await;
        self.child = child;
        self.public = public;
        self.admin = admin;
    }

    /// SIGTERM, wait for the node to exit by itself, and start it again on
    /// the same data dir (a graceful restart).
    pub async fn restart(&mut self) {
        self.terminate().await;
        let code = self.wait_exit(Duration::from_secs(40)).await;
        assert_eq!(
            code,
            Some(0),
            "the node did not stop cleanly:\n{}",
            self.node_log()
        );
        let _ = std::fs::remove_file(self.data_dir.join("node.json"));
        let (child, public, admin) = spawn(&self.data_dir, &self.extra).await;
        self.child = child;
        self.public = public;
        self.admin = admin;
    }

    /// Sends the node SIGTERM, as systemd or `kill` would.
    pub async fn terminate(&self) {
        self.signal("TERM").await;
    }

    /// Sends the node a signal by name (`TERM`, `HUP`, ...), by its pid.
    pub async fn signal(&self, name: &str) {
        let mut kill = Command::new("kill");
        kill.args([&format!("-{name}"), &self.child.0.id().to_string()]);
        let status = blocking(move || kill.status().unwrap()).await;
        assert!(status.success());
    }

    /// Waits (bounded) for the node to exit and returns its exit code.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let child = &mut self.child.0;
        eventually(within, "the node exited", async || {
            child.try_wait().unwrap().map(|status| status.code())
        })
        .await
    }

    /// Everything the node wrote to stderr so far.
    pub fn node_log(&self) -> String {
        std::fs::read_to_string(self.data_dir.with_file_name("node.log")).unwrap_or_default()
    }

    /// Runs a client command (the real binary) against this node.
    pub async fn cli(&self, args: &[&str]) -> Output {
        let mut command = appliance();
        command
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env_remove("APPLIANCE_NODE")
            .env_remove("APPLIANCE_ADMIN_TOKEN");
        blocking(move || command.output().unwrap()).await
    }

    /// Runs a client command and returns its stdout, failing the test on a non-zero exit.
    pub async fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args).await;
        assert!(
            output.status.success(),
            "appliance {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Deploys an example guest under `name` for the app `app_id` signed by `signer`.
    pub async fn deploy(&self, crate_name: &str, name: &str, app_id: &str, signer: &Signer) {
        self.deploy_with(crate_name, name, app_id, signer, &[])
            .await;
    }

    /// Like [`Node::deploy`], with extra flags such as limits.
    pub async fn deploy_with(
        &self,
        crate_name: &str,
        name: &str,
        app_id: &str,
        signer: &Signer,
        extra: &[&str],
    ) {
        let wasm = guest_path(crate_name).await;
        self.deploy_wasm(&wasm, name, app_id, signer, extra).await;
    }

    /// Deploys the component at `wasm` (any language's) under `name` for
    /// the app `app_id` signed by `signer`, with `extra` flags.
    pub async fn deploy_wasm(
        &self,
        wasm: &Path,
        name: &str,
        app_id: &str,
        signer: &Signer,
        extra: &[&str],
    ) {
        let key = signer.public_hex();
        let mut args = vec![
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            name,
            "--app-id",
            app_id,
            "--public-key",
            &key,
        ];
        args.extend_from_slice(extra);
        self.cli_ok(&args).await;
    }

    /// `appliance list --json`, as JSON.
    pub async fn list(&self) -> Value {
        serde_json::from_str(&self.cli_ok(&["list", "--json"]).await).unwrap()
    }

    /// The `list` row of bot `name`.
    pub async fn bot(&self, name: &str) -> Value {
        self.list()
            .await
            .as_array()
            .unwrap()
            .iter()
            .find(|bot| bot["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("bot {name} not listed"))
    }

    /// `appliance logs NAME` (up to 10,000 lines), once `holds` is true of
    /// them: they are written in the background, after the answer.
    pub async fn logs_when(&self, name: &str, what: &str, holds: impl Fn(&str) -> bool) -> String {
        eventually(Duration::from_secs(10), what, async || {
            let logs = self.cli_ok(&["logs", name, "--lines", "10000"]).await;
            if holds(&logs) {
                Ok(logs)
            } else {
                Err(format!("`appliance logs {name}`:\n{logs}"))
            }
        })
        .await
    }

    /// The content of the bot's answer to `/{command}` (which must be a 200).
    pub async fn ask(&self, app_id: &str, signer: &Signer, command: &str) -> String {
        let (status, answer) = self
            .interact(app_id, signer, &command_bytes(command, "7"))
            .await;
        assert_eq!(status, 200, "{answer}");
        answer["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Signs `body` with `signer` and posts it to `/interactions/{app_id}`.
    pub async fn interact(&self, app_id: &str, signer: &Signer, body: &[u8]) -> (u16, Value) {
        self.send(signer.request(app_id, body)).await
    }

    /// A GET on the admin listener, with the admin token; the body as text.
    pub async fn admin_get(&self, path: &str) -> String {
        let token = std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap();
        let stream = tokio::net::TcpStream::connect(self.admin).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::get(path)
            .header("host", "localhost")
            .header("authorization", format!("Bearer {}", token.trim()))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A POST to the public listener with exactly these headers.
    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
        let mut request = Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
    }

    /// Sends `request` to the public listener on a new connection; the
    /// status and the body (as JSON, or as a JSON string if it is not JSON).
    pub async fn send(&self, request: Request<Full<Bytes>>) -> (u16, Value) {
        let stream = tokio::net::TcpStream::connect(self.public).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }
}

/// A child process that gets SIGKILL (to its pid, never a search by name)
/// and is reaped when dropped, also when a test panics.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The node's stderr goes to `node.log` beside its data dir, appended across
/// restarts, so tests can check what it logged.
fn log_file(data_dir: &Path) -> std::fs::File {
    std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.with_file_name("node.log"))
        .unwrap()
}

/// Starts `appliance serve` and waits (bounded) until it has written its
/// addresses to `node.json`.
/// The public listener is a free loopback port unless `extra` names one
/// (a test whose peer must know the port first, like an ACME server's).
async fn spawn(data_dir: &Path, extra: &[String]) -> (KillOnDrop, SocketAddr, SocketAddr) {
    let listen: &[&str] = if extra.iter().any(|arg| arg == "--listen") {
        &[]
    } else {
        &["--listen", "127.0.0.1:0"]
    };
    let mut child = KillOnDrop(
        appliance()
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(listen)
            .args(["--admin-listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "appliance=debug")
            .stdout(Stdio::null())
            .stderr(log_file(data_dir))
            .spawn()
            .unwrap(),
    );
    let node_file = data_dir.join("node.json");
    let file = eventually(Duration::from_secs(60), "the node started", async || {
        if let Some(status) = child.0.try_wait().unwrap() {
            let log =
                std::fs::read_to_string(data_dir.with_file_name("node.log")).unwrap_or_default();
            panic!("appliance serve exited early with {status}:\n{log}");
        }
        let bytes = std::fs::read(&node_file).ok()?;
        serde_json::from_slice::<NodeFile>(&bytes).ok()
    })
    .await;
    (child, file.public_addr, file.admin_addr)
}

/// A component of the `bot` world written in WAT: `body` defines the core
/// instance `$i` exporting `handle`, the core memory `$memory` and the core
/// func `$realloc`; this lifts `handle` as the `handle-interaction` export.
pub fn wat_bot(body: &str) -> Vec<u8> {
    let component = format!(
        r#"(component
    {body}
    (alias core export $i "handle" (core func $handle))
    (func (export "handle-interaction")
        (param "interaction" (list u8))
        (result (result (list u8) (error string)))
        (canon lift (core func $handle) (memory $memory) (realloc $realloc))))"#
    );
    wat::parse_str(component).unwrap()
}

/// Asserts the documented answer for a bot that could not answer: an
/// ephemeral message (DESIGN.md's deadline rules).
#[track_caller]
pub fn assert_notice(status: u16, answer: &Value) {
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(
        answer["data"]["flags"], 64,
        "notice must be ephemeral: {answer}"
    );
}

/// Asserts the notice for a bot that crashed (trap, timeout, limits).
#[track_caller]
pub fn assert_crash_notice(status: u16, answer: &Value) {
    assert_notice(status, answer);
    assert!(
        answer["data"]["content"]
            .as_str()
            .is_some_and(|content| content.contains("ran into a problem")),
        "{answer}"
    );
}
