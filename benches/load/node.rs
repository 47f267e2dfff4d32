//! The real node: `appliance serve --plain-http` on free loopback ports with
//! a scratch data dir, started and restarted as an operator would, and
//! deployed to through the admin API (what the CLI uses).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use appliance::admin::api::DeployRequest;
use appliance::admin::client::Client;
use base64::Engine as _;

const BIN: &str = env!("CARGO_BIN_EXE_appliance");

pub struct Node {
    pub public: SocketAddr,
    admin: SocketAddr,
    data_dir: PathBuf,
    extra: Vec<String>,
    child: Child,
    _temp: tempfile::TempDir,
}

#[derive(serde::Deserialize)]
struct NodeFile {
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
}

impl Node {
    /// Starts a node with the shipped defaults plus `extra` serve flags.
    /// Its data dir is on tmpfs when there is one: these runs measure
    /// the node, not this VM's disk.
    pub fn start(extra: &[&str]) -> Node {
        let temp = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let data_dir = temp.path().join("data");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (child, public, admin, _) = spawn(&data_dir, &extra);
        Node {
            public,
            admin,
            data_dir,
            extra,
            child,
            _temp: temp,
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the node (SIGTERM, graceful) and starts it again on the same
    /// data dir; returns the time from spawn until it serves (listeners
    /// bound, every bot loaded, `node.json` written).
    pub fn restart(&mut self) -> Duration {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.data_dir.join("node.json"));
        let (child, public, admin, took) = spawn(&self.data_dir, &self.extra);
        self.child = child;
        self.public = public;
        self.admin = admin;
        took
    }

    pub fn admin(&self) -> Client {
        let token = std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap();
        Client::new(&format!("http://{}", self.admin), token.trim().to_owned()).unwrap()
    }

    /// Deploys `wasm` as bot `name` for application `app_id`, signed with
    /// `common::KEY`, as `appliance deploy` does: by hash first, the bytes
    /// only if the node lacks them.
    pub async fn deploy(
        &self,
        client: &Client,
        name: &str,
        app_id: &str,
        wasm: &[u8],
        token: Option<String>,
    ) {
        client
            .deploy_wasm(request(name, app_id, token), wasm)
            .await
            .unwrap_or_else(|err| panic!("deploying {name} failed: {err}"));
    }

    /// [`deploy`](Self::deploy) with the bytes uploaded every time (the
    /// only way before hash-first deploys; for comparison).
    pub async fn upload(
        &self,
        client: &Client,
        name: &str,
        app_id: &str,
        wasm: &[u8],
        token: Option<String>,
    ) {
        let mut request = request(name, app_id, token);
        request.wasm_base64 = Some(base64::engine::general_purpose::STANDARD.encode(wasm));
        client
            .deploy(&request)
            .await
            .unwrap_or_else(|err| panic!("deploying {name} failed: {err}"));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(name: &str, app_id: &str, token: Option<String>) -> DeployRequest {
    DeployRequest {
        name: name.into(),
        app_id: app_id.into(),
        public_key: crate::common::KEY.into(),
        token,
        limits: Default::default(),
        wasm_base64: None,
        wasm_sha256: None,
        gateway: Default::default(),
        guild: None,
    }
}

fn spawn(data_dir: &PathBuf, extra: &[String]) -> (Child, SocketAddr, SocketAddr, Duration) {
    std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.with_file_name("node.log"))
        .unwrap();
    let started = Instant::now();
    // `APPLIANCE_BENCH_BIN` runs another build (a baseline) through the same scenarios.
    let bin = std::env::var("APPLIANCE_BENCH_BIN").unwrap_or_else(|_| BIN.to_owned());
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .arg("--plain-http")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let node_file = data_dir.join("node.json");
    loop {
        if let Ok(bytes) = std::fs::read(&node_file) {
            if let Ok(file) = serde_json::from_slice::<NodeFile>(&bytes) {
                return (child, file.public_addr, file.admin_addr, started.elapsed());
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("appliance serve exited early with {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "node did not start"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}
