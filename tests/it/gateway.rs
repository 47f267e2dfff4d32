//! Gateway sessions the node holds for a bot deployed with `--intents`,
//! against the fake gateway (and the fake REST API's `GET /gateway/bot`):
//! identify, delivery in order, RECONNECT / dropped sockets / INVALID_SESSION
//! / zombies, fatal closes, the identify queue and budget, restarts that
//! resume, guest gateway commands, malformed frames and floods.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::fake_gateway::{
    BotAccount, FakeGateway, GatewayConfig, IdentifyOutcome, ResumeOutcome,
};
use crate::support::{eventually, guest_path, holds, Node, Signer};

const APP: &str = "5200";
const TOKEN: &str = "token-a";

struct Setup {
    discord: FakeDiscord,
    gateway: FakeGateway,
    node: Node,
    signer: Signer,
    token_file: tempfile::NamedTempFile,
}

/// A fake gateway with `config` (heartbeats every 300 ms unless set), a fake
/// REST API recommending `shards`, and a node using both.
async fn setup(mut config: GatewayConfig, shards: u32) -> Setup {
    if config.heartbeat_interval == GatewayConfig::default().heartbeat_interval {
        config.heartbeat_interval = Duration::from_millis(300);
        config.rate_limit_heartbeats = false;
    }
    let gateway = FakeGateway::start(config).await;
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    discord.set_gateway_bot(gateway.gateway_bot(shards));
    let node = Node::with_fake_discord(&discord).await;
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), TOKEN).unwrap();
    Setup {
        discord,
        gateway,
        node,
        signer: Signer::new(52),
        token_file,
    }
}

impl Setup {
    async fn deploy(&self, crate_name: &str, extra: &[&str]) -> std::process::Output {
        let wasm = guest_path(crate_name).await;
        let key = self.signer.public_hex();
        let token = self.token_file.path().to_str().unwrap().to_owned();
        let mut args = vec![
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "gw",
            "--app-id",
            APP,
            "--public-key",
            &key,
            "--token-file",
            &token,
        ];
        args.extend_from_slice(extra);
        self.node.cli(&args).await
    }

    async fn deploy_ok(&self, extra: &[&str]) {
        let output = self.deploy("gateway-bot", extra).await;
        assert!(
            output.status.success(),
            "deploy failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The bot's answer to `/{command}`.
    async fn ask(&self, command: &str) -> String {
        self.node.ask(APP, &self.signer, command).await
    }

    /// Waits until the bot's `/seen` holds `what`.
    async fn seen_when(&self, what: &str, holds_: impl Fn(&str) -> bool) -> String {
        eventually(Duration::from_secs(20), what, async || {
            holds(self.ask("seen").await, |seen| holds_(seen))
        })
        .await
    }

    async fn identified(&self, count: usize) {
        eventually(Duration::from_secs(20), "the node identified", async || {
            holds(self.gateway.identifies(), |ids| {
                ids.iter()
                    .filter(|i| matches!(i.outcome, IdentifyOutcome::Ready { .. }))
                    .count()
                    >= count
            })
            .map(|_| ())
            .map_err(|ids| format!("{ids:?}"))
        })
        .await;
    }

    async fn gateway_state(&self) -> Value {
        self.node.bot("gw").await["gateway"].clone()
    }

    async fn state_when(&self, what: &str, holds_: impl Fn(&str) -> bool) -> Value {
        eventually(Duration::from_secs(20), what, async || {
            let gateway = self.gateway_state().await;
            holds(gateway, |g| holds_(g["state"].as_str().unwrap_or_default()))
        })
        .await
    }

    fn message(&self, channel: &str, content: &str) -> u64 {
        self.gateway.dispatch(
            TOKEN,
            0,
            "MESSAGE_CREATE",
            json!({"id": "1", "channel_id": channel, "guild_id": "9", "content": content}),
        )
    }

    /// The watermark the node saved for shard 0, read from its database.
    fn saved_seq(&self) -> Option<u64> {
        let db = self.node.data_dir.join("appliance.db");
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        conn.query_row(
            "SELECT seq FROM gateway_sessions WHERE shard_id = 0",
            [],
            |row| row.get::<_, i64>(0),
        )
        .ok()
        .map(|seq| seq as u64)
    }
}

fn seq_list(seen: &str, name: &str) -> Vec<u64> {
    seen.split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(':');
            (parts.next() == Some(name)).then(|| parts.nth(1).unwrap().parse().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_order_and_a_restart_resumes_without_identifying() {
    let s = setup(GatewayConfig::default(), 1).await;
    s.deploy_ok(&["--intents", "GUILDS,GUILD_MESSAGES"]).await;
    s.identified(1).await;
    let identify = &s.gateway.identifies()[0];
    assert_eq!(identify.token, TOKEN);
    assert_eq!(identify.intents, 1 | 1 << 9);
    assert_eq!(identify.shard, [0, 1]);
    assert_eq!(identify.properties["browser"], "appliance");

    let seqs: Vec<u64> = (0..5).map(|i| s.message("10", &format!("m{i}"))).collect();
    let seen = s
        .seen_when("every message arrived", |seen| {
            seq_list(seen, "MESSAGE_CREATE").len() == 5
        })
        .await;
    assert_eq!(seq_list(&seen, "MESSAGE_CREATE"), seqs, "in order: {seen}");
    // READY reaches the bot without what would let it resume the session.
    let ready = s.ask("ready").await;
    assert!(
        ready.contains("\"user\"") && !ready.contains("session_id"),
        "{ready}"
    );
    let standing = s.state_when("ready", |state| state == "ready").await;
    assert_eq!(standing["shards"], 1);
    assert_eq!(standing["intents"], "GUILDS,GUILD_MESSAGES");
    assert!(
        standing["events_received"].as_u64().unwrap() >= 6,
        "{standing}"
    );

    // SIGTERM, then start: the socket closes with 4000 and the next start
    // RESUMEs from the last event, with no IDENTIFY.
    s.node
        .logs_when("gw", "the session is logged", |logs| {
            logs.contains("new session")
        })
        .await;
    let last = *seqs.last().unwrap();
    let mut s = s;
    s.node.restart().await;
    assert!(
        s.gateway.client_closes().iter().any(|c| c.code == 4000),
        "{:?}",
        s.gateway.client_closes()
    );
    let resume = eventually(Duration::from_secs(20), "the node resumed", async || {
        holds(s.gateway.resumes(), |r| !r.is_empty())
            .map(|r| r[0].clone())
            .map_err(|r| format!("{r:?}"))
    })
    .await;
    assert_eq!(resume.seq, Some(last));
    assert_eq!(resume.outcome, ResumeOutcome::Resumed { replayed: 0 });
    assert_eq!(
        s.gateway.identifies().len(),
        1,
        "a restart identified again"
    );
    let after = s.message("11", "after restart");
    s.seen_when("the event after the restart arrived", |seen| {
        seq_list(seen, "MESSAGE_CREATE").contains(&after)
    })
    .await;
    s.state_when("ready again", |state| state == "ready").await;
    s.node
        .logs_when("gw", "the resume is logged", |logs| {
            logs.contains("session resumed")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_delivery_restarts_from_the_saved_watermark() {
    let mut s = setup(GatewayConfig::default(), 1).await;
    s.deploy_ok(&["--intents", "GUILD_MESSAGES"]).await;
    s.identified(1).await;
    let first: Vec<u64> = (0..3).map(|i| s.message("10", &format!("a{i}"))).collect();
    s.seen_when("the first messages arrived", |seen| {
        seq_list(seen, "MESSAGE_CREATE").len() == 3
    })
    .await;
    let watermark = *first.last().unwrap();
    eventually(
        Duration::from_secs(10),
        "the watermark was saved",
        async || {
            holds(s.saved_seq(), |seq| *seq == Some(watermark)).map_err(|seq| format!("{seq:?}"))
        },
    )
    .await;
    s.node.crash_and_restart().await;
    let resume = eventually(Duration::from_secs(20), "the node resumed", async || {
        holds(s.gateway.resumes(), |r| !r.is_empty())
            .map(|r| r[0].clone())
            .map_err(|r| format!("{r:?}"))
    })
    .await;
    assert_eq!(resume.seq, Some(watermark));
    assert_eq!(
        s.gateway.identifies().len(),
        1,
        "kill -9 then start identified again"
    );
    // Events sent while the node was down are replayed and delivered.
    let later = s.message("10", "later");
    s.seen_when("the later message arrived", |seen| {
        seq_list(seen, "MESSAGE_CREATE").contains(&later)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_drops_invalid_sessions_and_zombies_resume_or_identify_as_discord_says() {
    let s = setup(GatewayConfig::default(), 1).await;
    s.deploy_ok(&["--intents", "GUILD_MESSAGES"]).await;
    s.identified(1).await;
    s.state_when("ready", |state| state == "ready").await;
    let resumes = |n: usize| {
        let gateway = &s.gateway;
        async move {
            eventually(
                Duration::from_secs(20),
                &format!("{n} resumes"),
                async || {
                    holds(gateway.resumes(), |r| {
                        r.iter()
                            .filter(|r| matches!(r.outcome, ResumeOutcome::Resumed { .. }))
                            .count()
                            >= n
                    })
                    .map(|_| ())
                    .map_err(|r| format!("{r:?}"))
                },
            )
            .await
        }
    };

    assert_eq!(s.gateway.reconnect((TOKEN, 0)), 1);
    resumes(1).await;
    let seq = s.message("10", "after op 7");
    s.seen_when("delivered after op 7", |seen| {
        seq_list(seen, "MESSAGE_CREATE").contains(&seq)
    })
    .await;

    assert_eq!(s.gateway.drop_connection((TOKEN, 0)), 1);
    resumes(2).await;
    assert_eq!(s.gateway.invalid_session((TOKEN, 0), true), 1);
    resumes(3).await;
    assert_eq!(
        s.gateway.identifies().len(),
        1,
        "a resumable disconnect identified"
    );

    // Zombie: no ACKs, so the node drops the connection (never closing
    // with 1000/1001, which would end the session) and resumes.
    s.state_when("ready", |state| state == "ready").await;
    let connections = s.gateway.connections_total();
    s.gateway.withhold_acks(true);
    eventually(Duration::from_secs(10), "the zombie was left", async || {
        holds(s.gateway.connections_total(), |n| *n > connections)
    })
    .await;
    s.gateway.withhold_acks(false);
    resumes(4).await;
    assert!(
        s.gateway
            .client_closes()
            .iter()
            .all(|c| ![1000, 1001].contains(&c.code)),
        "{:?}",
        s.gateway.client_closes()
    );
    assert_eq!(s.gateway.identifies().len(), 1);

    // INVALID_SESSION false: a new session, so one IDENTIFY (5 s after the first).
    s.state_when("ready", |state| state == "ready").await;
    assert_eq!(s.gateway.invalid_session((TOKEN, 0), false), 1);
    s.identified(2).await;
    let ids = s.gateway.identifies();
    assert!(ids[1].at - ids[0].at >= Duration::from_secs(5), "{ids:?}");
    let seq = s.message("10", "new session");
    s.seen_when("delivered in the new session", |seen| {
        seen.split(',')
            .any(|e| e == format!("MESSAGE_CREATE:0:{seq}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_close_stops_the_gateway_with_a_reason_and_4004_stops_rest_too() {
    let s = setup(GatewayConfig::default(), 1).await;
    // MESSAGE_CONTENT is privileged and not enabled for the fake's bot: 4014.
    let output = s
        .deploy("gateway-bot", &["--intents", "GUILDS,MESSAGE_CONTENT"])
        .await;
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("MESSAGE_CONTENT is a privileged intent"),
        "{stderr}"
    );
    let standing = s
        .state_when("fatal", |state| state.starts_with("fatal:"))
        .await;
    assert!(
        standing["state"]
            .as_str()
            .unwrap()
            .contains("Developer Portal"),
        "{standing}"
    );
    let connections = s.gateway.connections_total();
    s.node
        .logs_when("gw", "the reason is logged", |logs| {
            logs.contains("gateway stopped") && logs.contains("4014")
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        s.gateway.connections_total(),
        connections,
        "it reconnected after a fatal close"
    );
    assert_eq!(s.gateway.identifies().len(), 1);

    // A redeploy without the privileged intent tries again.
    s.deploy_ok(&["--intents", "GUILDS"]).await;
    s.state_when("ready", |state| state == "ready").await;

    // 4004: the token is bad, so REST calls stop too.
    assert_eq!(s.gateway.close((TOKEN, 0), 4004), 1);
    s.state_when("fatal 4004", |state| state.contains("4004"))
        .await;
    let bot = s.node.bot("gw").await;
    assert_eq!(bot["discord"]["state"], "revoked", "{bot}");
    let _ = &s.discord;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_identify_five_seconds_apart_in_order_with_max_concurrency_one() {
    let s = setup(GatewayConfig::default(), 3).await;
    s.deploy_ok(&["--intents", "GUILDS"]).await;
    s.identified(3).await;
    let ids = s.gateway.identifies();
    assert_eq!(ids.len(), 3, "{ids:?}");
    let shards: Vec<[u32; 2]> = ids.iter().map(|i| i.shard).collect();
    assert_eq!(shards, [[0, 3], [1, 3], [2, 3]]);
    for pair in ids.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(4990),
            "{ids:?}"
        );
    }
    let standing = s
        .state_when("all shards ready", |state| state == "ready")
        .await;
    assert_eq!(standing["shards"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_identify_budget_pauses_the_gateway_and_nothing_more_is_sent() {
    let gateway_config = GatewayConfig::default();
    let s = setup(gateway_config, 1).await;
    // Three session starts left: the host keeps one in reserve.
    s.discord
        .set_gateway_bot(crate::support::fake_discord::GatewayBot {
            total: 3,
            remaining: 3,
            ..s.gateway.gateway_bot(1)
        });
    s.deploy_ok(&["--intents", "GUILDS"]).await;
    s.identified(1).await;
    s.state_when("ready", |state| state == "ready").await;
    s.gateway.invalid_session((TOKEN, 0), false);
    s.identified(2).await;
    s.state_when("ready", |state| state == "ready").await;
    s.gateway.invalid_session((TOKEN, 0), false);
    let standing = s
        .state_when("paused", |state| {
            state.starts_with("paused: identify budget")
        })
        .await;
    assert_eq!(standing["identifies"], 2, "{standing}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        s.gateway.identifies().len(),
        2,
        "identified past the budget"
    );
    s.node
        .logs_when("gw", "the pause is logged", |logs| {
            logs.contains("identify budget")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_commands_past_their_share_are_refused_never_sent_and_bad_frames_are_survived() {
    // Heartbeats every 5 s, so twilight's own command limiter (which keeps
    // room for a minute of heartbeats out of Discord's 120) leaves the
    // guest's 60 alone; Discord's real interval is 41.25 s.
    let config = GatewayConfig {
        heartbeat_interval: Duration::from_secs(5),
        ..GatewayConfig::default()
    };
    let s = setup(config, 1).await;
    s.deploy_ok(&["--intents", "GUILDS"]).await;
    s.identified(1).await;
    s.state_when("ready", |state| state == "ready").await;
    s.gateway
        .dispatch(TOKEN, 0, "PRESENCE", json!({"times": 100}));
    let presence = eventually(
        Duration::from_secs(20),
        "the presence updates ran",
        async || holds(s.ask("presence").await, |p| p.starts_with("ok=")),
    )
    .await;
    assert_eq!(presence, "ok=60 limited=40 other=0");
    let count_sent = || s.gateway.commands().iter().filter(|c| c.op == 3).count();
    eventually(
        Duration::from_secs(10),
        "60 presence updates reached Discord",
        async || holds(count_sent(), |n| *n == 60),
    )
    .await;
    assert!(
        s.gateway.server_closes().iter().all(|c| c.code != 4008),
        "{:?}",
        s.gateway.server_closes()
    );

    // Malformed frames and an event too large for the guest: logged and survived.
    s.gateway.send_raw((TOKEN, 0), "this is not json");
    s.gateway.send_raw((TOKEN, 0), r#"{"op":99,"d":null}"#);
    s.gateway.dispatch(
        TOKEN,
        0,
        "MESSAGE_CREATE",
        json!({"channel_id": "10", "content": "x".repeat(2 * 1024 * 1024)}),
    );
    let seq = s.message("10", "still here");
    s.seen_when("delivered after bad frames", |seen| {
        seq_list(seen, "MESSAGE_CREATE").contains(&seq)
    })
    .await;
    let standing = s.gateway_state().await;
    assert!(
        standing["events_dropped"].as_u64().unwrap() >= 1,
        "{standing}"
    );
    assert_eq!(s.gateway.identifies().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_for_a_slow_bot_keeps_heartbeats_and_interactions_on_time() {
    let s = setup(GatewayConfig::default(), 1).await;
    s.deploy_ok(&["--intents", "GUILDS"]).await;
    s.identified(1).await;
    s.state_when("ready", |state| state == "ready").await;
    let heartbeats_before = s.gateway.heartbeats().len();
    let flood = s
        .gateway
        .dispatch_many(TOKEN, 0, "FLOOD", json!({"sleep_ms": 5}), 10_000);
    // An interaction to the same bot meanwhile answers in time.
    let started = std::time::Instant::now();
    let count = s.ask("flood").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(count.parse::<u64>().is_ok(), "{count}");
    let standing = eventually(
        Duration::from_secs(60),
        "the flood was handled",
        async || {
            let standing = s.gateway_state().await;
            holds(standing, |g| {
                g["queued"] == 0 && g["events_received"].as_u64().unwrap() > 10_000
            })
        },
    )
    .await;
    let dropped = standing["events_dropped"].as_u64().unwrap();
    assert!(dropped > 0, "{standing}");
    // The bot is told how many it missed.
    let told = eventually(Duration::from_secs(20), "the bot was told", async || {
        holds(s.ask("dropped").await, |d| d.parse::<u64>().is_ok())
    })
    .await;
    assert!(told.parse::<u64>().unwrap() > 0);
    // `appliance status` sums every bot's gateway: here, the one bot's.
    let standing = s.gateway_state().await;
    let status = s.node.cli_ok(&["status"]).await;
    let expected = format!(
        "events: 1 bots on the gateway (1 shards): {} received, {} delivered, {} dropped",
        standing["events_received"], standing["events_delivered"], standing["events_dropped"]
    );
    assert!(status.contains(&expected), "{expected:?} not in:\n{status}");
    // Heartbeats went on (the reader never waited on the guest): no zombie,
    // no reconnect, no identify.
    assert!(s.gateway.heartbeats().len() > heartbeats_before);
    assert_eq!(s.gateway.connections_total(), 1);
    assert!(s.gateway.resumes().is_empty());
    assert_eq!(s.gateway.identifies().len(), 1);
    assert!(flood.end > flood.start);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_that_cannot_hold_a_gateway_are_refused_changing_nothing() {
    let s = setup(GatewayConfig::default(), 1).await;
    // An unknown intent: exit 1, nothing deployed.
    let output = s.deploy("gateway-bot", &["--intents", "GUILDS,NOPE"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown intent \"NOPE\""));
    assert!(s.node.list().await.as_array().unwrap().is_empty());
    // A component without handle-event.
    let output = s.deploy("ping-bot", &["--intents", "GUILDS"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not export handle-event"));
    assert!(s.node.list().await.as_array().unwrap().is_empty());
    // No token.
    let wasm = guest_path("gateway-bot").await;
    let key = s.signer.public_hex();
    let output = s
        .node
        .cli(&[
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "gw",
            "--app-id",
            APP,
            "--public-key",
            &key,
            "--intents",
            "GUILDS",
        ])
        .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs the bot's token"));
    assert!(s.node.list().await.as_array().unwrap().is_empty());

    // On, then a redeploy without --intents keeps it, then --no-gateway ends
    // the session (closed 1000: Discord shows the bot offline).
    s.deploy_ok(&["--intents", "GUILDS"]).await;
    s.identified(1).await;
    s.deploy_ok(&[]).await;
    assert_eq!(s.gateway_state().await["intents"], "GUILDS");
    let output = s.deploy("ping-bot", &[]).await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "a component without events replaced an event bot"
    );
    s.deploy_ok(&["--no-gateway"]).await;
    assert_eq!(s.gateway_state().await, Value::Null);
    eventually(
        Duration::from_secs(10),
        "the session was ended",
        async || {
            holds(s.gateway.client_closes(), |c| {
                c.iter().any(|c| c.code == 1000)
            })
            .map(|_| ())
            .map_err(|c| format!("{c:?}"))
        },
    )
    .await;
    assert_eq!(s.gateway.identifies().len(), 1);
    let _ = BotAccount::new("unused", 1);
}
