//! Fleet figures on loopback: `cargo bench --bench fleet`.
//!
//! Three pinned nats-servers and three real nodes (the tests' harness,
//! `tests/it/support/fleet_harness.rs`), the `tally` guest deployed once.
//!
//! 1. **Added latency through a non-owner**: signed interactions posted to
//!    the bot's owner and to a node that forwards them to it over NATS,
//!    interleaved, `--requests N` each (default 400) after a warm-up;
//!    medians and p90 of both and the difference of the medians (goal:
//!    ≤ 1 ms). Each request opens its own connection, as in the tests.
//! 2. **Failover on node loss**: the owner is killed (SIGKILL) while the
//!    two others are asked round-robin without pause; the time until the
//!    answers count from one instance again (a new owner), and how many
//!    requests failed meanwhile (goal: none: a node with no owner to
//!    forward to serves the bot itself).

#[allow(unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::fleet_harness::Engine;
use support::{command_bytes, guest_path, Node, Signer};

const APP: &str = "1500000000000000009";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

async fn owner(node: &Node, except: Option<&str>) -> String {
    let started = Instant::now();
    loop {
        let output = node.cli(&["fleet", "status", "--json"]).await;
        if let Ok(status) = serde_json::from_slice::<serde_json::Value>(&output.stdout) {
            if let Some(owner) = status["owners"]
                .as_array()
                .and_then(|o| o.iter().find(|o| o["bot"] == "tally"))
                .and_then(|o| o["node"].as_str())
            {
                if Some(owner) != except {
                    return owner.to_owned();
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no owner");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let requests: usize = std::env::args()
        .skip_while(|a| a != "--requests")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let engine = Engine::start().await;
    let (a, b, c) = tokio::join!(
        engine.node(0, "a"),
        engine.node(1, "b"),
        engine.node(2, "c")
    );
    let mut nodes = [Some(a), Some(b), Some(c)];
    let names = ["a", "b", "c"];
    let signer = Signer::new(17);
    let wasm = guest_path("tally-bot").await;
    let key = signer.public_hex();
    let first = nodes[0].as_ref().unwrap();
    first
        .cli_ok(&[
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "tally",
            "--app-id",
            APP,
            "--public-key",
            &key,
            "--instances",
            "1",
            "--wait",
            "60",
        ])
        .await;
    let owner_name = owner(first, None).await;
    let owner_at = names.iter().position(|n| *n == owner_name).unwrap();
    let other_at = (owner_at + 1) % 3;
    let (owner_node, other) = (
        nodes[owner_at].as_ref().unwrap(),
        nodes[other_at].as_ref().unwrap(),
    );
    let ask = async |node: &Node| {
        let started = Instant::now();
        let (status, _) = node
            .interact(APP, &signer, &command_bytes("tally", "7"))
            .await;
        assert_eq!(status, 200);
        started.elapsed()
    };
    for _ in 0..50 {
        ask(owner_node).await;
        ask(other).await;
    }
    let (mut direct, mut forwarded) = (Vec::new(), Vec::new());
    for _ in 0..requests {
        direct.push(ask(owner_node).await);
        forwarded.push(ask(other).await);
    }
    direct.sort();
    forwarded.sort();
    let (d50, f50) = (percentile(&direct, 0.5), percentile(&forwarded, 0.5));
    println!(
        "1. {requests} interactions each, owner {owner_name}, forwarded through {}",
        names[other_at]
    );
    println!(
        "   at the owner:     p50 {}  p90 {}",
        micros(d50),
        micros(percentile(&direct, 0.9))
    );
    println!(
        "   through a non-owner: p50 {}  p90 {}",
        micros(f50),
        micros(percentile(&forwarded, 0.9))
    );
    println!(
        "   added by forwarding (p50 difference): {}",
        micros(f50.saturating_sub(d50))
    );

    // 2. Kill the owner; keep asking the survivors.
    drop(nodes[owner_at].take());
    let killed = Instant::now();
    let alive: Vec<&Node> = nodes.iter().flatten().collect();
    let (mut sent, mut failed, mut last, mut run, mut round) = (0, 0, 0u64, 0, 0);
    let recovered = loop {
        let node = alive[round % 2];
        round += 1;
        sent += 1;
        let (status, answer) = node
            .interact(APP, &signer, &command_bytes("tally", "7"))
            .await;
        if status != 200 {
            failed += 1;
            continue;
        }
        let n: u64 = answer["data"]["content"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // Ten answers in a row counting up by one: one instance serves them all.
        run = if n == last + 1 { run + 1 } else { 0 };
        last = n;
        if run >= 10 && owner(alive[0], Some(&owner_name)).await != owner_name {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(90), "no new owner");
    };
    println!("2. owner killed: one owner again after {:.1} s; {sent} interactions sent meanwhile, {failed} failed", recovered.as_secs_f64());
}
