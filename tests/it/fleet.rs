//! A fleet of three real nodes on three nats-servers (loopback, pinned
//! nats-server): a deploy at one node reaches all, and a node cut off from
//! the engine's majority fails closed (503 on /readyz, no deploy taken)
//! and comes back when healed.

use std::time::Duration;

use crate::support::fleet_harness::{http_get, Engine};
use crate::support::{eventually, guest_path, holds, Signer};

const APP: &str = "1500000000000000001";

/// `/store` at `node`: the stored total when the write was acknowledged
/// (the tally guest answered `"<n> <total>"`), else what it answered.
async fn store(node: &crate::support::Node, app: &str, signer: &Signer) -> Result<u64, String> {
    let (status, answer) = node
        .interact(app, signer, &crate::support::command_bytes("store", "7"))
        .await;
    let content = answer["data"]["content"].as_str().unwrap_or_default();
    let mut words = content.split(' ');
    match (status, words.next(), words.next(), words.next()) {
        (200, Some(n), Some(total), None) if n.parse::<u64>().is_ok() => {
            total.parse().map_err(|_| format!("{status} {answer}"))
        }
        _ => Err(format!("{status} {answer}")),
    }
}

/// `/store` at `node` until it succeeds. A failed attempt may have been
/// deferred and go on running, perhaps on another node, so the next one
/// waits for its deadline (10 s): two events at once, on two nodes (the fleet
/// serves a bot wherever its owner does not answer), can both read the same
/// total and lose one's update, and the guest's `kv` has no compare-and-set.
async fn store_alone(node: &crate::support::Node, app: &str, signer: &Signer, what: &str) -> u64 {
    eventually(Duration::from_secs(60), what, async || {
        let stored = store(node, app, signer).await;
        if stored.is_err() {
            tokio::time::sleep(Duration::from_secs(11)).await;
        }
        stored
    })
    .await
}

/// Waits (at most `within`) until `node`'s `/readyz` answers `status`.
async fn readyz_becomes(node: &crate::support::Node, status: u16, within: Duration, what: &str) {
    eventually(within, what, async || {
        holds(http_get(node.public, "/readyz").await, |got| {
            got.0 == status
        })
        .map_err(|got| format!("{got:?}"))
    })
    .await;
}

/// `/audit` at `node`: (keys, total, missing) of the tally guest's data.
/// Asked again while the answer is not one (an audit deferred while the
/// engine elects a leader, or `unavailable`): it only reads.
async fn audit(node: &crate::support::Node, app: &str, signer: &Signer) -> (u64, u64, String) {
    eventually(
        Duration::from_secs(60),
        "the tally guest audits",
        async || {
            let content = node.ask(app, signer, "audit").await;
            let words: Vec<&str> = content.split(' ').collect();
            match words[..] {
                [keys, total, missing] => match (keys.parse(), total.parse()) {
                    (Ok(keys), Ok(total)) => Ok((keys, total, missing.to_owned())),
                    _ => Err(format!("audit answered {content:?}")),
                },
                _ => Err(format!("audit answered {content:?}")),
            }
        },
    )
    .await
}

/// Deploys the tally guest as `name` with one instance, on every node.
async fn deploy_tally(node: &crate::support::Node, name: &str, app: &str, signer: &Signer) {
    let wasm = guest_path("tally-bot").await;
    let key = signer.public_hex();
    node.cli_ok(&[
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        name,
        "--app-id",
        app,
        "--public-key",
        &key,
        "--instances",
        "1",
        "--wait",
        "120",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_at_one_node_reaches_all_and_a_cut_off_node_fails_closed() {
    let mut engine = Engine::start().await;
    let (a, b, c) = tokio::join!(
        engine.node(0, "a"),
        engine.node(1, "b"),
        engine.node_alone(2, "c")
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
        "120",
    ];
    let out = b.cli_ok(&deploy).await;
    assert!(out.contains("3/3 nodes serve ping"), "{out}");
    for node in [&a, &b, &c] {
        assert_eq!(node.ask(APP, &signer, "ping").await, "pong");
    }
    const TALLY: &str = "1500000000000000003";
    deploy_tally(&a, "tally", TALLY, &signer).await;
    assert_eq!(store(&a, TALLY, &signer).await, Ok(1));
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
    let ping_status = status["bots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|bot| bot["name"] == "ping")
        .unwrap();
    let nodes = &ping_status["nodes"];
    assert_eq!(nodes.as_array().unwrap().len(), 3, "{status}");
    let shas: Vec<&serde_json::Value> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["sha256"])
        .collect();
    assert!(
        shas.iter().all(|s| *s == &ping_status["sha256"]),
        "{status}"
    );

    // c's server loses its routes: c cannot reach the majority.
    engine.isolate(2).await;
    readyz_becomes(
        &c,
        503,
        Duration::from_secs(30),
        "the cut-off node says not ready",
    )
    .await;
    let refused = c.cli(&deploy).await;
    assert!(!refused.status.success(), "a cut-off node took a deploy");
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("fleet engine"), "{why}");
    // Nor does it acknowledge a bot's write. (Deferred, that event goes on
    // until its deadline, 10 s: its write may still land once c is back.)
    let cut_off_deadline = tokio::time::Instant::now() + Duration::from_secs(11);
    let cut_off = store(&c, TALLY, &signer).await;
    assert!(cut_off.is_err(), "a cut-off node acknowledged {cut_off:?}");
    for node in [&a, &b] {
        readyz_becomes(
            node,
            200,
            Duration::from_secs(30),
            "the majority side is ready",
        )
        .await;
    }
    // The majority side serves the bot, whoever owned it, and writes.
    let mut last = 0;
    for node in [&a, &b] {
        last = store_alone(
            node,
            TALLY,
            &signer,
            "the majority side serves the bot and keeps its writes",
        )
        .await;
    }

    engine.heal();
    readyz_becomes(
        &c,
        200,
        Duration::from_secs(40),
        "the healed node is ready again",
    )
    .await;
    // That deferred event may still be running, and may now read and write:
    // let it end first (see `store_alone`).
    tokio::time::sleep_until(cut_off_deadline).await;
    // Back in, it sees every acknowledged write and writes after them.
    let healed = store_alone(&c, TALLY, &signer, "the healed node writes again").await;
    assert!(healed > last, "{healed} after {last}");
    let before_restart = audit(&c, TALLY, &signer).await;
    assert_eq!(before_restart.2, "-", "{before_restart:?}");
    assert!(before_restart.1 >= healed, "{before_restart:?}");

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
    let ping_sha = eventually(
        Duration::from_secs(30),
        "every node reports ping again",
        async || {
            let output = a.cli(&["fleet", "status", "--json"]).await;
            let status: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            let ping = status["bots"]
                .as_array()?
                .iter()
                .find(|b| b["name"] == "ping")?;
            let back =
                status["members"].as_array()?.len() == 3 && ping["nodes"].as_array()?.len() == 3;
            back.then(|| ping["sha256"].clone())
        },
    )
    .await;
    assert_eq!(&ping_sha, shas[0]);
    // The bot's data came through the restart whole.
    for node in [&a, &b, &c] {
        assert_eq!(audit(node, TALLY, &signer).await, before_restart);
    }

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
    // `fleet status` lists the fleet's records: tally stays, ping is gone.
    let text = a.cli_ok(&["fleet", "status"]).await;
    assert!(text.contains("tally") && !text.contains("ping"), "{text}");
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
    let first = nodes[0].as_ref().unwrap();
    deploy_tally(first, "tally", TALLY, &signer).await;
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
    // Three writes to the bot's data, through three nodes, on the owner.
    for (round, node) in nodes.iter().flatten().enumerate() {
        assert_eq!(store(node, TALLY, &signer).await, Ok(round as u64 + 1));
    }
    // The owner logged them; any node's `logs` gathers them from there.
    let elsewhere = nodes
        .iter()
        .flatten()
        .zip(names)
        .find(|(_, name)| *name != owner)
        .unwrap()
        .0;
    let logs = elsewhere.cli_ok(&["logs", "tally"]).await;
    for n in 1..=3 {
        let line = logs
            .lines()
            .find(|line| line.ends_with(&format!("stored {n}")))
            .unwrap_or_else(|| panic!("no 'stored {n}' in {logs}"));
        assert!(line.contains(&format!("@{owner}")), "{line}");
    }

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
    // The data the dead owner wrote is all there on the new one.
    assert_eq!(store(alive[0], TALLY, &signer).await, Ok(4));
    assert_eq!(
        audit(alive[1], TALLY, &signer).await,
        (4, 4, "-".to_owned())
    );
    // A deleted key is gone from listings at once, on every node.
    assert_eq!(alive[0].ask(TALLY, &signer, "forget").await, "forgot 4");
    assert_eq!(
        audit(alive[1], TALLY, &signer).await,
        (3, 4, "4".to_owned())
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_when_the_engine_leader_is_killed_or_the_fleet_restarts() {
    const TALLY: &str = "1500000000000000004";
    const WRITES: usize = 500;
    let mut engine = Engine::start().await;
    let (a, b, c) = tokio::join!(
        engine.node(0, "a"),
        engine.node(1, "b"),
        engine.node(2, "c")
    );
    let signer = Signer::new(17);
    deploy_tally(&a, "tally", TALLY, &signer).await;
    let status: serde_json::Value =
        serde_json::from_str(&a.cli_ok(&["fleet", "status", "--json"]).await).unwrap();
    let bucket = status["bots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|bot| bot["name"] == "tally")
        .and_then(|bot| bot["kv_bucket"].as_str())
        .unwrap_or_else(|| panic!("no kv_bucket in {status}"))
        .to_owned();
    let stream = format!("KV_{bucket}");

    // Writes one after another through every node; a third of the way in,
    // the server leading the bot's data is SIGKILLed.
    let nodes = [&a, &b, &c];
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    let mut killed = None;
    let mut longest_gap = Duration::ZERO;
    let mut last_ack = std::time::Instant::now();
    for i in 0..WRITES {
        if i == WRITES * 2 / 5 {
            let leader = eventually(
                Duration::from_secs(10),
                "the servers name the leader of the bot's data",
                async || engine.stream_leader(&stream).await,
            )
            .await;
            engine.kill(leader);
            killed = Some(leader);
        }
        match store(nodes[i % 3], TALLY, &signer).await {
            Ok(total) => {
                acknowledged.push(total);
                longest_gap = longest_gap.max(last_ack.elapsed());
                last_ack = std::time::Instant::now();
            }
            Err(_) => refused += 1,
        }
    }
    eprintln!(
        "{} of {WRITES} writes acknowledged, {refused} not; longest pause between two \
         acknowledged writes {longest_gap:?} (leader {killed:?} killed)",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() >= WRITES / 2,
        "only {} of {WRITES} writes were acknowledged",
        acknowledged.len()
    );
    let check = |(keys, total, missing): (u64, u64, String)| {
        let max = *acknowledged.iter().max().unwrap();
        assert!(total >= max, "total {total} below an acknowledged {max}");
        let missing: Vec<u64> = missing
            .split(',')
            .filter(|m| *m != "-")
            .map(|m| m.parse().unwrap())
            .collect();
        let lost: Vec<&u64> = acknowledged
            .iter()
            .filter(|t| missing.contains(t))
            .collect();
        assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
        assert_eq!(keys + missing.len() as u64, total);
    };
    engine.restart(&[killed.unwrap()]).await;
    let after_kill = audit(&b, TALLY, &signer).await;
    check(after_kill.clone());

    // Every server and every node restarted: the same data.
    for i in 0..3 {
        engine.kill(i);
    }
    engine.restart(&[0, 1, 2]).await;
    let (mut a, mut b, mut c) = (a, b, c);
    tokio::join!(a.restart(), b.restart(), c.restart());
    let after_restart = eventually(
        Duration::from_secs(30),
        "the restarted fleet answers the audit",
        async || {
            let (status, answer) = c
                .interact(TALLY, &signer, &crate::support::command_bytes("audit", "7"))
                .await;
            let content = answer["data"]["content"].as_str()?.to_owned();
            (status == 200 && !content.starts_with("error")).then_some(content)
        },
    )
    .await;
    let expected = format!("{} {} {}", after_kill.0, after_kill.1, after_kill.2);
    assert_eq!(after_restart, expected);
}

/// `kill -<signal> <pid>`.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_once_one_node_holds_a_shard_and_a_paused_holder_wakes_silent() {
    use crate::support::fake_discord::{FakeConfig, FakeDiscord};
    use crate::support::fake_gateway::{
        FakeGateway, GatewayConfig, IdentifyOutcome, ResumeOutcome,
    };
    const GW: &str = "1500000000000000005";
    const TOKEN: &str = "token-a";
    let gateway = FakeGateway::start(GatewayConfig {
        heartbeat_interval: Duration::from_millis(500),
        rate_limit_heartbeats: false,
        ..GatewayConfig::default()
    })
    .await;
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    discord.set_gateway_bot(gateway.gateway_bot(1));
    let engine = Engine::start().await;
    let start = |i: usize, name: &'static str| {
        let mut flags = engine.node_flags(i, name);
        flags.extend(["--discord-api".to_owned(), discord.base_url()]);
        async move {
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            crate::support::Node::start_with(&flags).await
        }
    };
    let (a, b, c) = tokio::join!(start(0, "a"), start(1, "b"), start(2, "c"));
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), TOKEN).unwrap();
    let signer = Signer::new(18);
    let wasm = guest_path("gateway-bot").await;
    let key = signer.public_hex();
    a.cli_ok(&[
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        "gw",
        "--app-id",
        GW,
        "--public-key",
        &key,
        "--token-file",
        token_file.path().to_str().unwrap(),
        "--intents",
        "GUILDS",
        "--wait",
        "120",
    ])
    .await;
    // A bot declaring commands: the node it was deployed at registers them
    // once for the fleet; the others only load it.
    const COUNTER: &str = "1500000000000000006";
    let counter = guest_path("counter-bot").await;
    b.cli_ok(&[
        "deploy",
        counter.to_str().unwrap(),
        "--name",
        "counter",
        "--app-id",
        COUNTER,
        "--public-key",
        &key,
        "--token-file",
        token_file.path().to_str().unwrap(),
        "--wait",
        "120",
    ])
    .await;
    let overwrites = discord
        .requests()
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path
                    .starts_with(&format!("/applications/{COUNTER}/commands"))
        })
        .count();
    assert_eq!(overwrites, 1, "{:?}", discord.requests());
    assert_eq!(discord.commands(COUNTER, None).len(), 2);
    let ready = |identifies: &[crate::support::fake_gateway::Identify]| {
        identifies
            .iter()
            .filter(|i| matches!(i.outcome, IdentifyOutcome::Ready { .. }))
            .count()
    };
    eventually(Duration::from_secs(30), "one node identified", async || {
        ready(&gateway.identifies()) == 1
    })
    .await;
    // Three nodes run the bot; only its owner holds the session.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ready(&gateway.identifies()),
        1,
        "{:?}",
        gateway.identifies()
    );
    assert_eq!(gateway.live_connections(), 1);
    let owner = owner_of(&a, "gw", None).await;
    let nodes = [("a", &a), ("b", &b), ("c", &c)];
    let holder = nodes.iter().find(|(name, _)| *name == owner).unwrap().1;
    let old_conn = gateway.connects().last().unwrap().conn;

    // The holder freezes past its lease; another node resumes the session.
    let paused_at = tokio::time::Instant::now();
    signal(holder.pid(), "STOP");
    let resume = eventually(
        Duration::from_secs(30),
        "another node resumes the session",
        async || {
            gateway
                .resumes()
                .into_iter()
                .find(|r| r.conn != old_conn && r.at > paused_at)
        },
    )
    .await;
    assert!(
        matches!(resume.outcome, ResumeOutcome::Resumed { .. }),
        "{resume:?}"
    );
    let took_over = resume.at.duration_since(paused_at);
    // Frozen a while longer, then woken: it must not send a single frame.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let woken_at = tokio::time::Instant::now();
    signal(holder.pid(), "CONT");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let late: Vec<String> = gateway
        .heartbeats()
        .iter()
        .filter(|h| h.conn == old_conn && h.at > woken_at)
        .map(|h| format!("heartbeat {h:?}"))
        .chain(
            gateway
                .client_closes()
                .iter()
                .filter(|c| c.conn == old_conn && c.at > woken_at)
                .map(|c| format!("close {c:?}")),
        )
        .chain(
            gateway
                .commands()
                .iter()
                .filter(|c| c.conn == old_conn && c.at > woken_at)
                .map(|c| format!("command {c:?}")),
        )
        .collect();
    assert!(late.is_empty(), "the woken holder sent: {late:?}");
    // Still one session, and it was never identified again.
    assert_eq!(
        ready(&gateway.identifies()),
        1,
        "{:?}",
        gateway.identifies()
    );
    let new_conn = resume.conn;
    let beating = gateway
        .heartbeats()
        .iter()
        .any(|h| h.conn == new_conn && h.at > woken_at);
    assert!(beating, "the new holder stopped heartbeating");
    eprintln!("the session moved {took_over:?} after its holder froze");
}

/// One dead nats-server must not make the fleet fail closed: the nodes'
/// heartbeats go to two streams kept on different leaders, so losing the
/// server that leads one of them leaves every node beside a live server
/// ready (no 503, no lease dropped) while that stream elects a new leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_engine_server_leaves_the_other_nodes_ready() {
    let mut engine = Engine::start().await;
    let (a, b, c) = tokio::join!(
        engine.node(0, "a"),
        engine.node(1, "b"),
        engine.node(2, "c")
    );
    let nodes = [&a, &b, &c];
    for node in nodes {
        readyz_becomes(node, 200, Duration::from_secs(30), "every node is ready").await;
    }
    // The heartbeats' two streams settle on different leaders.
    let leaders = eventually(
        Duration::from_secs(60),
        "the heartbeat streams have different leaders",
        async || {
            let nodes = engine.stream_leader("KV_nodes").await?;
            let beacons = engine.stream_leader("KV_beacons").await?;
            (nodes != beacons).then_some((nodes, beacons))
        },
    )
    .await;
    let dead = leaders.0;
    engine.kill(dead);
    // The stream elects a new leader in 4-9 s; watch for 15 s.
    let watch = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < watch {
        for (i, node) in nodes.iter().enumerate() {
            if i == dead {
                continue;
            }
            let got = http_get(node.public, "/readyz").await;
            assert_eq!(
                got.0, 200,
                "node {i} unready after server {dead} died: {got:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
