//! A fleet of three real nodes on three nats-servers (loopback, pinned
//! nats-server): a deploy at one node reaches all, and a node cut off from
//! the engine's majority fails closed (503 on /readyz, no deploy taken)
//! and comes back when healed.

use std::time::Duration;

use crate::support::fleet_harness::{http_get, Engine};
use crate::support::{eventually, guest_path, holds, Signer};

const APP: &str = "1500000000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_at_one_node_reaches_all_and_a_cut_off_node_fails_closed() {
    let mut engine = Engine::start().await;
    let (a, b, c) = tokio::join!(
        engine.node(0, "a"),
        engine.node(1, "b"),
        engine.node(2, "c")
    );
    let signer = Signer::new(15);
    let wasm = guest_path("ping-bot").await;
    let key = signer.public_hex();
    let deploy = [
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        "ping",
        "--app-id",
        APP,
        "--public-key",
        &key,
        "--wait",
        "60",
    ];
    let out = b.cli_ok(&deploy).await;
    assert!(out.contains("3/3 nodes serve ping"), "{out}");
    for node in [&a, &b, &c] {
        assert_eq!(node.ask(APP, &signer, "ping").await, "pong");
    }
    let status: serde_json::Value =
        serde_json::from_str(&a.cli_ok(&["fleet", "status", "--json"]).await).unwrap();
    let members: Vec<&str> = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["node"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["a", "b", "c"], "{status}");
    assert_eq!(status["engine"]["healthy"], true, "{status}");
    let nodes = &status["bots"][0]["nodes"];
    assert_eq!(nodes.as_array().unwrap().len(), 3, "{status}");
    let shas: Vec<&serde_json::Value> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["sha256"])
        .collect();
    assert!(
        shas.iter().all(|s| *s == &status["bots"][0]["sha256"]),
        "{status}"
    );

    // c's server loses its routes: c cannot reach the majority.
    engine.isolate(2);
    eventually(
        Duration::from_secs(30),
        "the cut-off node says not ready",
        async || {
            holds(http_get(c.public, "/readyz").await, |got| got.0 == 503)
                .map_err(|got| format!("{got:?}"))
        },
    )
    .await;
    let refused = c.cli(&deploy).await;
    assert!(!refused.status.success(), "a cut-off node took a deploy");
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("fleet engine"), "{why}");
    for node in [&a, &b] {
        eventually(
            Duration::from_secs(30),
            "the majority side is ready",
            async || {
                holds(http_get(node.public, "/readyz").await, |got| got.0 == 200)
                    .map_err(|got| format!("{got:?}"))
            },
        )
        .await;
    }

    engine.heal();
    eventually(
        Duration::from_secs(40),
        "the healed node is ready again",
        async || {
            holds(http_get(c.public, "/readyz").await, |got| got.0 == 200)
                .map_err(|got| format!("{got:?}"))
        },
    )
    .await;

    // Full fleet restart: every server SIGKILLed and started again on its
    // store, every node restarted; the fleet's record and every node are back.
    for i in 0..3 {
        engine.kill(i);
    }
    engine.restart(&[0, 1, 2]).await;
    let (mut a, mut b, mut c) = (a, b, c);
    tokio::join!(a.restart(), b.restart(), c.restart());
    for node in [&a, &b, &c] {
        assert_eq!(node.ask(APP, &signer, "ping").await, "pong");
    }
    let status = eventually(
        Duration::from_secs(30),
        "every node reports ping again",
        async || {
            let output = a.cli(&["fleet", "status", "--json"]).await;
            let status: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            let back = status["members"].as_array()?.len() == 3
                && status["bots"][0]["nodes"].as_array()?.len() == 3;
            back.then_some(status)
        },
    )
    .await;
    assert_eq!(status["bots"][0]["sha256"], shas[0].clone(), "{status}");

    // A removal at one node removes the bot everywhere.
    c.cli_ok(&["remove", "ping"]).await;
    for node in [&a, &b, &c] {
        eventually(
            Duration::from_secs(20),
            "the bot is gone from every node",
            async || {
                node.interact(APP, &signer, &crate::support::command_bytes("ping", "7"))
                    .await
                    .0
                    == 404
            },
        )
        .await;
    }
}

/// The owner of `bot` in `fleet status`, once there is one (not `except`).
async fn owner_of(node: &crate::support::Node, bot: &str, except: Option<&str>) -> String {
    eventually(
        Duration::from_secs(45),
        "the bot has an owner",
        async || {
            let output = node.cli(&["fleet", "status", "--json"]).await;
            let status: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            let owner = status["owners"]
                .as_array()?
                .iter()
                .find(|o| o["bot"] == bot)?["node"]
                .as_str()?
                .to_owned();
            (Some(owner.as_str()) != except).then_some(owner)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_answers_whichever_node_is_asked_and_another_takes_over_when_it_dies() {
    const TALLY: &str = "1500000000000000002";
    let engine = Engine::start().await;
    let (a, b, c) = tokio::join!(
        engine.node(0, "a"),
        engine.node(1, "b"),
        engine.node(2, "c")
    );
    let mut nodes = [Some(a), Some(b), Some(c)];
    let names = ["a", "b", "c"];
    let signer = Signer::new(16);
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
            TALLY,
            "--public-key",
            &key,
            "--instances",
            "1",
            "--wait",
            "60",
        ])
        .await;
    let owner = owner_of(first, "tally", None).await;
    // Round-robin over every node: one instance, the owner's, counts them all.
    let mut answers = Vec::new();
    for round in 0..9 {
        let node = nodes[round % 3].as_ref().unwrap();
        answers.push(node.ask(TALLY, &signer, "tally").await);
    }
    let expected: Vec<String> = (1..=9).map(|n| n.to_string()).collect();
    assert_eq!(
        answers, expected,
        "served by more than one instance (owner {owner})"
    );

    // The owner dies (SIGKILL): another node takes the bot over.
    let dead = names.iter().position(|n| *n == owner).unwrap();
    drop(nodes[dead].take());
    let alive: Vec<&crate::support::Node> = nodes.iter().flatten().collect();
    let successor = owner_of(alive[0], "tally", Some(&owner)).await;
    assert_ne!(successor, owner);
    let mut answers = Vec::new();
    for round in 0..6 {
        answers.push(alive[round % 2].ask(TALLY, &signer, "tally").await);
    }
    let expected: Vec<String> = (1..=6).map(|n| n.to_string()).collect();
    assert_eq!(answers, expected, "after the takeover by {successor}");
}

#[tokio::test]
async fn fleet_init_writes_configs_the_pinned_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fleet");
    let output = crate::support::appliance()
        .args(["fleet", "init", "--out"])
        .arg(&out)
        .args([
            "--server",
            "n1,10.0.0.1,dc-a",
            "--server",
            "n2,10.0.0.2,dc-b",
        ])
        .args(["--server", "n3,10.0.0.3,tie"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = tokio::task::spawn_blocking(crate::support::nats::server_binary)
        .await
        .unwrap();
    for name in ["n1", "n2", "n3"] {
        let conf = out.join(format!("{name}.conf"));
        let text = std::fs::read_to_string(&conf).unwrap();
        assert!(text.contains("sync_interval: always"), "{text}");
        // `-t`: parse the configuration and exit.
        let check = std::process::Command::new(&binary)
            .arg("-t")
            .arg("-c")
            .arg(&conf)
            .output()
            .unwrap();
        assert!(check.status.success(), "{name}: {check:?}");
    }
    let key = std::fs::read_to_string(out.join("fleet.key")).unwrap();
    assert_eq!(key.trim().len(), 64);
    // A second run does not overwrite the key.
    let again = crate::support::appliance()
        .args(["fleet", "init", "--out"])
        .arg(&out)
        .args([
            "--server", "n1,a,s1", "--server", "n2,b,s2", "--server", "n3,c,s3",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not overwriting"));
}
