//! Restarts and upgrades that drop nothing (`serve --takeover`), and
//! readiness (`/readyz`). Signed interactions go through the real node on
//! loopback at a steady rate while one process hands its listeners, lock and
//! replay memory to the next: a binary replacement (a copy of the binary
//! hands over to the original) and a restart (the original to itself).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::support::{child_command, command_bytes, eventually, unix_now, Node, Signer, BIN};

const APP: &str = "1180000000000000000";
/// The load: signed interactions at this rate, each on its own connection.
/// For the benchmark (BENCHMARKS.md), `APPLIANCE_HANDOVER_RATE` sets it and
/// `APPLIANCE_HANDOVER_BOTS` deploys that many more bots, so the new process
/// has a fleet to load while the old one serves.
const RATE_PER_SEC: u64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_binary_replacement_under_load_drop_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    // The "old release": a copy of the binary at another path.
    let old_binary = temp.path().join("appliance-old");
    std::fs::copy(BIN, &old_binary).unwrap();

    let mut old = Serving::start(&old_binary, &data_dir, false).await;
    // The old process refuses anything signed before it started (it serves
    // by now): a request "signed before the upgrade" must be signed after.
    let old_serving = unix_now();
    let signer = Signer::new(7);
    deploy_ping(&data_dir, &signer, "ping", APP).await;
    deploy_more(&data_dir, &signer, setting("APPLIANCE_HANDOVER_BOTS", 0)).await;
    let rate = setting("APPLIANCE_HANDOVER_RATE", RATE_PER_SEC);
    let load = Load::start(old.public, signer.clone(), rate);
    // Answers to wait for after each handover: at least a second's worth.
    let phase = rate.max(50) as usize;
    load.wait_answers(25).await;

    // (b) Upgrade: the original binary takes over from the copy.
    while unix_now() - 3 < old_serving {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before_upgrade = signed_ping(&signer, unix_now() - 3);
    let accepted_by_old = signed_ping(&signer, unix_now());
    assert_eq!(send(old.public, accepted_by_old.clone()).await.0, 200);
    let started = Instant::now();
    let upgraded = Serving::start(Path::new(BIN), &data_dir, true).await;
    let upgrade_took = started.elapsed();
    assert_eq!(upgraded.public, old.public, "the listener changed hands");
    assert_eq!(old.wait_exit().await, Some(0), "{}", log(&data_dir));
    let upgrade = load.mark();
    load.wait_answers(upgrade + phase).await;

    // Signed before the new process started, answered by it: not stale...
    let (status, answer) = send(upgraded.public, before_upgrade).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["content"], "pong", "{answer}");
    // ...and what the old process accepted is still a replay.
    let (status, _) = send(upgraded.public, accepted_by_old).await;
    assert_eq!(
        status, 401,
        "a request the old process answered was accepted again"
    );

    // (a) Restart: the same binary takes over from itself.
    let mut upgraded = upgraded;
    let started = Instant::now();
    let restarted = Serving::start(Path::new(BIN), &data_dir, true).await;
    let restart_took = started.elapsed();
    assert_eq!(upgraded.wait_exit().await, Some(0), "{}", log(&data_dir));
    let restart = load.mark();
    load.wait_answers(restart + phase).await;
    let outcomes = load.stop().await;

    let failed: Vec<_> = outcomes.iter().filter(|o| !o.ok).collect();
    assert!(
        failed.is_empty(),
        "{} of {} interactions failed through an upgrade and a restart: {:?}\n{}",
        failed.len(),
        outcomes.len(),
        failed.iter().take(5).map(|o| &o.detail).collect::<Vec<_>>(),
        log(&data_dir)
    );
    let mut latencies: Vec<_> = outcomes.iter().map(|o| o.latency).collect();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let worst = latencies[latencies.len() - 1];
    eprintln!(
        "handover under load ({rate}/s): {} interactions, 0 failed, p99 {p99:?}, worst {worst:?}; \
         takeover to serving: upgrade {upgrade_took:?}, restart {restart_took:?}",
        outcomes.len()
    );
    // The node taken over serves the admin API too, and says it is ready.
    assert_eq!(get(restarted.public, "/readyz").await.0, 200);
    let status = admin(&data_dir, &["status"]).await;
    assert!(status.status.success(), "{status:?}");
    let log = log(&data_dir);
    assert!(log.contains("handed the listeners over"), "{log}");
    drop(restarted);
}

#[tokio::test]
async fn readyz_answers_200_when_serving_and_503_while_the_store_cannot_write() {
    let node = Node::start().await;
    assert_eq!(get(node.public, "/healthz").await.0, 200);
    assert_eq!(get(node.public, "/readyz").await.0, 200);

    // Another process holds the database's write lock.
    let db = rusqlite::Connection::open(node.data_dir.join("appliance.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The last probe's result is reused for a second.
    let (_, body) = eventually(Duration::from_secs(5), "/readyz said 503", async || {
        let seen = get(node.public, "/readyz").await;
        if seen.0 == 503 {
            Ok(seen)
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    assert!(body["error"].as_str().unwrap().contains("store"), "{body}");
    // Liveness is not readiness.
    assert_eq!(get(node.public, "/healthz").await.0, 200);

    db.execute_batch("ROLLBACK").unwrap();
    eventually(
        Duration::from_secs(10),
        "/readyz said 200 again",
        async || get(node.public, "/readyz").await.0 == 200,
    )
    .await;
}

/// One `appliance serve` process of the test, killed by pid on drop.
struct Serving {
    child: std::process::Child,
    public: SocketAddr,
}

impl Serving {
    /// Starts `binary` on `data_dir` (taking over from the node serving it
    /// when `takeover`), and waits until `node.json` names this process.
    async fn start(binary: &Path, data_dir: &Path, takeover: bool) -> Serving {
        std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.with_file_name("node.log"))
            .unwrap();
        let mut command = child_command(binary);
        command
            .args(["serve", "--plain-http", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .env("RUST_LOG", "appliance=info")
            .stdout(Stdio::null())
            .stderr(stderr);
        if takeover {
            command.arg("--takeover");
        }
        let mut child = command.spawn().unwrap();
        let pid = child.id();
        let node_file = data_dir.join("node.json");
        let public = eventually(Duration::from_secs(60), "the node served", async || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("serve exited early with {status}:\n{}", log(data_dir));
            }
            let file: Value = serde_json::from_slice(&std::fs::read(&node_file).ok()?).ok()?;
            (file["pid"] == pid).then(|| file["public_addr"].as_str()?.parse().ok())?
        })
        .await;
        Serving { child, public }
    }

    async fn wait_exit(&mut self) -> Option<i32> {
        let child = &mut self.child;
        eventually(
            Duration::from_secs(40),
            "the old process exited",
            async || child.try_wait().unwrap().map(|status| status.code()),
        )
        .await
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the node's processes logged, in order.
fn log(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.with_file_name("node.log")).unwrap_or_default()
}

/// Runs a client command against the node serving `data_dir`.
async fn admin(data_dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command = crate::support::appliance();
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("APPLIANCE_NODE")
        .env_remove("APPLIANCE_ADMIN_TOKEN");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// A number from the environment (the benchmark's knobs), else `default`.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

async fn deploy_ping(data_dir: &Path, signer: &Signer, name: &str, app_id: &str) {
    let wasm: PathBuf = crate::support::guest_path("ping-bot").await;
    let key = signer.public_hex();
    let output = admin(
        data_dir,
        &[
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            name,
            "--app-id",
            app_id,
            "--public-key",
            &key,
        ],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
}

/// `count` more bots on the same component (deployed by hash: no compiling),
/// a few at once.
async fn deploy_more(data_dir: &Path, signer: &Signer, count: u64) {
    let mut deploys = tokio::task::JoinSet::new();
    for i in 0..count {
        if deploys.len() >= 8 {
            deploys.join_next().await.unwrap().unwrap();
        }
        let (data_dir, signer) = (data_dir.to_owned(), signer.clone());
        deploys.spawn(async move {
            let app_id = (1_190_000_000_000_000_000 + i).to_string();
            deploy_ping(&data_dir, &signer, &format!("more{i}"), &app_id).await
        });
    }
    while let Some(deployed) = deploys.join_next().await {
        deployed.unwrap();
    }
}

fn signed_ping(signer: &Signer, timestamp: i64) -> Request<Full<Bytes>> {
    signer.request_at(APP, &command_bytes("ping", "42"), timestamp)
}

/// Status and JSON body of `request`, sent on a new connection.
async fn send(to: SocketAddr, request: Request<Full<Bytes>>) -> (u16, Value) {
    match try_send(to, request).await {
        Ok(answer) => answer,
        Err(err) => panic!("request failed: {err}"),
    }
}

async fn try_send(to: SocketAddr, request: Request<Full<Bytes>>) -> Result<(u16, Value), String> {
    let stream = tokio::net::TcpStream::connect(to)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok((status, value))
}

async fn get(to: SocketAddr, path: &str) -> (u16, Value) {
    let request = Request::get(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(to, request).await
}

/// What became of one interaction of the load.
#[derive(Debug)]
struct Outcome {
    ok: bool,
    latency: Duration,
    detail: String,
}

/// Signed interactions at a steady rate, each checked for the bot's answer.
struct Load {
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    stop: tokio::sync::watch::Sender<bool>,
    driver: tokio::task::JoinHandle<Vec<tokio::task::JoinHandle<()>>>,
}

impl Load {
    fn start(to: SocketAddr, signer: Signer, per_sec: u64) -> Load {
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let recorded = outcomes.clone();
        let driver = tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_sec));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let request = signed_ping(&signer, unix_now());
                let recorded = recorded.clone();
                sent.push(tokio::spawn(async move {
                    let started = Instant::now();
                    let outcome = match try_send(to, request).await {
                        Ok((200, answer)) if answer["data"]["content"] == "pong" => Outcome {
                            ok: true,
                            latency: started.elapsed(),
                            detail: String::new(),
                        },
                        Ok((status, answer)) => Outcome {
                            ok: false,
                            latency: started.elapsed(),
                            detail: format!("{status} {answer}"),
                        },
                        Err(err) => Outcome {
                            ok: false,
                            latency: started.elapsed(),
                            detail: err,
                        },
                    };
                    recorded.lock().unwrap().push(outcome);
                }));
            }
            sent
        });
        Load {
            outcomes,
            stop,
            driver,
        }
    }

    /// Answers so far.
    fn mark(&self) -> usize {
        self.outcomes.lock().unwrap().len()
    }

    async fn wait_answers(&self, count: usize) {
        eventually(
            Duration::from_secs(20),
            "the load got answers",
            async || self.mark() >= count,
        )
        .await;
    }

    /// Stops sending, waits for every answer, and returns them all.
    async fn stop(self) -> Vec<Outcome> {
        let _ = self.stop.send(true);
        for request in self.driver.await.unwrap() {
            request.await.unwrap();
        }
        std::mem::take(&mut *self.outcomes.lock().unwrap())
    }
}
