//! Edge benchmarks against the real binary on loopback: `cargo bench --bench edge`
//! (`-- --quick` for a short run).
//!
//! 1. Rejections per CPU-second: forged signatures (each verified and
//!    refused with 401), and the same flood once its address is blocked
//!    (429 before any verification); valid pings on the same node as the
//!    baseline. CPU is the node process's user+system time (/proc).
//! 2. Slowloris: a normal client's latency (keep-alive, and a new
//!    connection per request) before and during 10,000 connections that
//!    drip their headers, spread over 40 addresses.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::build_guests;
use common::interaction::Signer;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_appliance");
const APP: &str = "7000000000000000001";

struct Node {
    child: Child,
    public: SocketAddr,
    data_dir: std::path::PathBuf,
    _temp: tempfile::TempDir,
}

impl Node {
    fn start(config: &str) -> Node {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        let config_path = temp.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(BIN)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&config_path)
            .args([
                "--plain-http",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "appliance=warn")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let node_file = data_dir.join("node.json");
        let started = Instant::now();
        let public = loop {
            if let Ok(text) = std::fs::read_to_string(&node_file) {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                    break value["public_addr"].as_str().unwrap().parse().unwrap();
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "node did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Node {
            child,
            public,
            data_dir,
            _temp: temp,
        }
    }

    fn deploy(&self, wasm: &Path, key: &Signer) {
        let status = Command::new(BIN)
            .arg("deploy")
            .arg(wasm)
            .args(["--name", "ping", "--app-id", APP, "--public-key"])
            .arg(key.public_hex())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// User + system CPU time of the node process so far.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        kib / 1024.0
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn ping_body() -> Vec<u8> {
    let id = 1_300_000_000_000_000_000 + NEXT_ID.fetch_add(1, Ordering::Relaxed);
    serde_json::to_vec(&serde_json::json!({
        "type": 2, "id": id.to_string(), "application_id": APP, "token": "bench",
        "version": 1, "data": { "id": "1", "name": "ping", "type": 1 },
        "channel_id": "2", "guild_id": "3", "locale": "en-US",
        "member": { "user": { "id": "42", "username": "bench", "discriminator": "0",
                              "avatar": null, "global_name": null },
                    "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00",
                    "deaf": false, "mute": false, "flags": 0, "permissions": "0" }
    }))
    .unwrap()
}

async fn connect_from(source: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket.connect(to).await
}

async fn h1(stream: TcpStream) -> SendRequest<Full<Bytes>> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// One signed (by `key`) interaction; returns the status.
async fn send(sender: &mut SendRequest<Full<Bytes>>, key: &Signer) -> u16 {
    let request = key.request(APP, &ping_body());
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

/// Drives `connections` keep-alive connections (each from its own address)
/// for `run`; returns (requests, node CPU used, statuses seen).
async fn flood(
    node: &Node,
    key: &Signer,
    connections: usize,
    first_address: usize,
    run: Duration,
) -> (u64, Duration, Vec<u16>) {
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let cpu_before = node.cpu();
    let mut tasks = Vec::new();
    for i in 0..connections {
        let (done, count, key, public) = (done.clone(), count.clone(), key.clone(), node.public);
        let source = format!("127.0.2.{}", first_address + i);
        tasks.push(tokio::spawn(async move {
            let mut sender = h1(connect_from(&source, public).await.unwrap()).await;
            let mut statuses = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let status = send(&mut sender, &key).await;
                if !statuses.contains(&status) {
                    statuses.push(status);
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
            statuses
        }));
    }
    tokio::time::sleep(run).await;
    done.store(true, Ordering::Relaxed);
    let mut statuses = Vec::new();
    for task in tasks {
        for status in task.await.unwrap() {
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
    }
    (
        count.load(Ordering::Relaxed),
        node.cpu() - cpu_before,
        statuses,
    )
}

fn per_cpu_second(requests: u64, cpu: Duration) -> f64 {
    requests as f64 / cpu.as_secs_f64().max(0.001)
}

async fn rejections(guest: &Path, run: Duration) {
    println!("\n## Rejections per CPU-second of the node (plain HTTP, 8 keep-alive connections)\n");
    println!("| traffic | status | requests/s | node CPU | per CPU-second |");
    println!("|---|---|---|---|---|");
    let key = Signer::new(1);
    let forger = Signer::new(2);
    // Budget off: every forged request is verified and refused.
    let node = Node::start("[limits]\nmax_rejections_per_ip = 4000000000\n");
    node.deploy(guest, &key);
    let rows: [(&str, &Signer); 2] = [
        ("valid pings (baseline)", &key),
        ("forged signatures", &forger),
    ];
    for (name, signer) in rows {
        let (requests, cpu, statuses) = flood(&node, signer, 8, 1, run).await;
        println!(
            "| {name} | {statuses:?} | {:.0} | {:.0} % | **{:.0}** |",
            requests as f64 / run.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / run.as_secs_f64(),
            per_cpu_second(requests, cpu)
        );
    }
    drop(node);
    // Default budget: the addresses are blocked after 1,000 rejections.
    let node = Node::start("");
    node.deploy(guest, &key);
    let (_, _, _) = flood(&node, &forger, 8, 20, Duration::from_secs(2)).await;
    let (requests, cpu, statuses) = flood(&node, &forger, 8, 20, run).await;
    println!(
        "| forged, addresses blocked (default budget) | {statuses:?} | {:.0} | {:.0} % | **{:.0}** |",
        requests as f64 / run.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / run.as_secs_f64(),
        per_cpu_second(requests, cpu)
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A normal client for `run`: a valid ping every 10 ms, on one keep-alive
/// connection or a new connection each time. Returns sorted latencies.
async fn normal_client(node: &Node, key: &Signer, reuse: bool, run: Duration) -> Vec<Duration> {
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut kept = if reuse {
        Some(h1(connect_from("127.0.0.1", node.public).await.unwrap()).await)
    } else {
        None
    };
    while started.elapsed() < run {
        let t = Instant::now();
        let status = match kept.as_mut() {
            Some(sender) => send(sender, key).await,
            None => {
                let mut sender = h1(connect_from("127.0.0.1", node.public).await.unwrap()).await;
                send(&mut sender, key).await
            }
        };
        assert_eq!(status, 200);
        samples.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples.sort();
    samples
}

/// Measures the normal client on a keep-alive connection, then with a new
/// connection per request, printing a row for each; returns their p99s.
/// `baseline` (the quiet phase's p99s) turns the last column into ratios.
async fn client_phase(
    node: &Node,
    key: &Signer,
    run: Duration,
    phase: &str,
    baseline: Option<[Duration; 2]>,
) -> [Duration; 2] {
    let mut p99s = [Duration::ZERO; 2];
    for (i, reuse) in [true, false].into_iter().enumerate() {
        let name = if reuse {
            "keep-alive"
        } else {
            "new connection each"
        };
        let samples = normal_client(node, key, reuse, run).await;
        let p99 = percentile(&samples, 0.99);
        let ratio = match baseline {
            None => "1.00 (baseline)".to_owned(),
            Some(base) => format!("{:.2}", p99.as_secs_f64() / base[i].as_secs_f64()),
        };
        println!(
            "| {name} | {phase} | {} | {:.2} ms | {:.2} ms | {ratio} | {:.0} MiB |",
            samples.len(),
            percentile(&samples, 0.5).as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            node.rss_mib()
        );
        p99s[i] = p99;
    }
    p99s
}

async fn slowloris(guest: &Path, run: Duration, attackers: usize) {
    let key = Signer::new(3);
    let node = Node::start("");
    node.deploy(guest, &key);
    println!(
        "\n## Slowloris: a normal client beside {attackers} dripping connections (40 addresses)\n"
    );
    println!("| client | phase | requests | p50 | p99 | p99 ratio | node RSS |");
    println!("|---|---|---|---|---|---|---|");
    let baseline = client_phase(&node, &key, run, "quiet", None).await;

    // The attack: connections that send a request line and then one header
    // line every 2 s, reconnecting whenever the node cuts them off.
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..attackers {
        let (stop, open, cut, public) = (stop.clone(), open.clone(), cut.clone(), node.public);
        let source = format!("127.0.3.{}", 1 + i % 40);
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut stream) = connect_from(&source, public).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                open.fetch_add(1, Ordering::Relaxed);
                let mut alive = stream
                    .write_all(
                        format!("POST /interactions/{APP} HTTP/1.1\r\nHost: x\r\n").as_bytes(),
                    )
                    .await
                    .is_ok();
                let mut line = 0;
                while alive && !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    line += 1;
                    alive = stream
                        .write_all(format!("X-Drip-{line}: 1\r\n").as_bytes())
                        .await
                        .is_ok();
                }
                open.fetch_sub(1, Ordering::Relaxed);
                if !alive {
                    cut.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = open.load(Ordering::Relaxed);
    client_phase(&node, &key, run, "under attack", Some(baseline)).await;
    stop.store(true, Ordering::Relaxed);
    println!(
        "\nAttack connections open when measuring began: {held}; cut off by the node during the run: {}.",
        cut.load(Ordering::Relaxed)
    );
    for task in tasks {
        task.abort();
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let guests = build_guests(&["ping-bot"]);
    let guest = guests.join("ping_bot.wasm");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = if quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    };
    runtime.block_on(rejections(&guest, run));
    runtime.block_on(slowloris(&guest, run, if quick { 2_000 } else { 10_000 }));
}
