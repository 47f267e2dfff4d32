//! Test support: a node running the real binary, example guests built for
//! wasm32-wasip2, a signer that signs interactions like Discord does, and a
//! fake Discord REST API (`fake_discord`).

#![allow(dead_code)]

pub mod fake_discord;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_appliance");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Builds the example bots once per test run and returns the .wasm path of `crate_name`.
pub fn guest(crate_name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target_dir = Path::new(ROOT).join("target").join("guests");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // A separate target dir: the outer `cargo test` may still hold the main one's lock.
        let status = Command::new(cargo)
            .current_dir(ROOT)
            .args([
                "build",
                "--profile",
                "guest",
                "--target",
                "wasm32-wasip2",
                "-p",
                "ping-bot",
                "-p",
                "counter-bot",
                "-p",
                "hostile-bot",
                "-p",
                "slow-bot",
                "-p",
                "remind-bot",
                "--target-dir",
            ])
            .arg(&target_dir)
            .status()
            .expect("failed to run cargo to build the example guests");
        assert!(
            status.success(),
            "building the example guests failed (is the wasm32-wasip2 target installed?)"
        );
        target_dir.join("wasm32-wasip2").join("guest")
    });
    let path = dir.join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The Ed25519 key pair of one fake Discord application.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    pub fn new(seed: u8) -> Signer {
        Signer {
            key: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Returns `(signature_hex, timestamp)` for `body`, as Discord sends them.
    pub fn sign(&self, body: &[u8]) -> (String, String) {
        self.sign_at(body, unix_now())
    }

    /// [`Signer::sign`] with the timestamp `timestamp` (unix seconds).
    pub fn sign_at(&self, body: &[u8], timestamp: i64) -> (String, String) {
        let timestamp = timestamp.to_string();
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        (hex::encode(self.key.sign(&message).to_bytes()), timestamp)
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A fresh snowflake-shaped interaction id: the node refuses a repeated id
/// as a replay, as it would a captured request sent again.
pub fn fresh_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let seq = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (((ms - 1_420_070_400_000) << 22) | (seq & 0x3F_FFFF)).to_string()
}

/// [`command`] as the bytes a request carries.
pub fn command_bytes(name: &str, user_id: &str) -> Vec<u8> {
    serde_json::to_vec(&command(name, user_id)).unwrap()
}

/// A realistic APPLICATION_COMMAND interaction in a guild (a new id each call).
pub fn command(name: &str, user_id: &str) -> Value {
    json!({
        "type": 2,
        "id": fresh_id(),
        "application_id": "1180000000000000000",
        "token": "interaction-token",
        "version": 1,
        "data": { "id": "1180000000000000002", "name": name, "type": 1 },
        "guild_id": "1180000000000000003",
        "channel_id": "1180000000000000004",
        "member": {
            "user": { "id": user_id, "username": format!("user{user_id}"), "discriminator": "0", "avatar": null, "global_name": null },
            "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0,
            "permissions": "0"
        },
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "0",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0
    })
}

/// A running `appliance serve` with its own data dir; killed on drop.
pub struct Node {
    pub data_dir: PathBuf,
    pub public: SocketAddr,
    pub admin: SocketAddr,
    child: Child,
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
    pub fn start() -> Node {
        Node::start_with(&["--plain-http"])
    }

    /// A node with `config` as its TOML config file, plus `extra` flags.
    pub fn start_with_config(config: &str, extra: &[&str]) -> Node {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("config.toml");
        std::fs::write(&file, config).unwrap();
        let mut args = vec!["--config".to_owned(), file.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Node::start_in(temp, args)
    }

    /// A node on plain HTTP whose Discord REST calls go to `fake`.
    pub fn with_fake_discord(fake: &fake_discord::FakeDiscord) -> Node {
        Node::start_with(&["--plain-http", "--discord-api", &fake.base_url()])
    }

    pub fn start_with(extra: &[&str]) -> Node {
        let temp = tempfile::tempdir().unwrap();
        Node::start_in(temp, extra.iter().map(|s| s.to_string()).collect())
    }

    fn start_in(temp: tempfile::TempDir, extra: Vec<String>) -> Node {
        let data_dir = temp.path().join("data");
        let (child, public, admin) = spawn(&data_dir, &extra);
        Node {
            data_dir,
            public,
            admin,
            child,
            _temp: Some(temp),
            extra,
        }
    }

    /// `kill -9` and start again on the same data dir.
    pub fn crash_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let _ = std::fs::remove_file(self.data_dir.join("node.json"));
        let (child, public, admin) = spawn(&self.data_dir, &self.extra);
        self.child = child;
        self.public = public;
        self.admin = admin;
    }

    /// Sends the node SIGTERM, as systemd or `kill` would.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the node a signal by name (`TERM`, `HUP`, ...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the node to exit and returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                started.elapsed() < within,
                "node did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the node wrote to stderr so far.
    pub fn node_log(&self) -> String {
        std::fs::read_to_string(self.data_dir.with_file_name("node.log")).unwrap_or_default()
    }

    /// Runs a client command against this node.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env_remove("APPLIANCE_NODE")
            .env_remove("APPLIANCE_ADMIN_TOKEN")
            .output()
            .unwrap()
    }

    /// Runs a client command and returns its stdout, failing the test on a non-zero exit.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "appliance {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Deploys an example guest under `name` for the app `app_id` signed by `signer`.
    pub fn deploy(&self, crate_name: &str, name: &str, app_id: &str, signer: &Signer) {
        self.deploy_with(crate_name, name, app_id, signer, &[]);
    }

    /// Like [`Node::deploy`], with extra flags such as limits.
    pub fn deploy_with(
        &self,
        crate_name: &str,
        name: &str,
        app_id: &str,
        signer: &Signer,
        extra: &[&str],
    ) {
        let wasm = guest(crate_name);
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
        self.cli_ok(&args);
    }

    /// `appliance list --json`, as JSON.
    pub fn list(&self) -> Value {
        serde_json::from_str(&self.cli_ok(&["list", "--json"])).unwrap()
    }

    /// The `list` row of bot `name`.
    pub fn bot(&self, name: &str) -> Value {
        self.list()
            .as_array()
            .unwrap()
            .iter()
            .find(|bot| bot["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("bot {name} not listed"))
    }

    /// Signs `body` with `signer` and posts it to `/interactions/{app_id}`.
    pub async fn interact(&self, app_id: &str, signer: &Signer, body: &[u8]) -> (u16, Value) {
        let (signature, timestamp) = signer.sign(body);
        self.post(
            &format!("/interactions/{app_id}"),
            &[
                ("x-signature-ed25519", &signature),
                ("x-signature-timestamp", &timestamp),
            ],
            body.to_vec(),
        )
        .await
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
        let stream = tokio::net::TcpStream::connect(self.public).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut request = Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

fn spawn(data_dir: &Path, extra: &[String]) -> (Child, SocketAddr, SocketAddr) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "appliance=debug")
        .stdout(Stdio::null())
        .stderr(log_file(data_dir))
        .spawn()
        .unwrap();
    let node_file = data_dir.join("node.json");
    let started = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(&node_file) {
            if let Ok(file) = serde_json::from_slice::<NodeFile>(&bytes) {
                return (child, file.public_addr, file.admin_addr);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let log =
                std::fs::read_to_string(data_dir.with_file_name("node.log")).unwrap_or_default();
            panic!("appliance serve exited early with {status}:\n{log}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "node did not start within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
