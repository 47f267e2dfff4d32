//! Gateway events through the real node: `cargo bench --bench gateway`.
//!
//! Drives `appliance serve --plain-http` (the release binary) against the
//! tests' fake Discord gateway and REST API (loopback, in this process):
//!
//! 1. **Throughput, one bot**: N ~1 KiB `MESSAGE_CREATE` dispatches, which
//!    the `messages-bot` guest reads with the SDK's typed events
//!    (`Event::message_create`, twilight-model's `MessageCreate`) and counts,
//!    over 16 channels so the node's lanes run in parallel, kept at most
//!    `WINDOW` ahead of what the node has delivered (its per-bot queue holds
//!    1,000). Each pass also sends the same events under a name the bot
//!    ignores unread (the host's own cost per event), and has a bare
//!    twilight-gateway `Shard` read the same events from the same fake and
//!    parse each into a `serde_json::Value` (the baseline).
//! 2. **Memory per idle session**: node RSS with `--bots` bots deployed
//!    without a gateway, then with all of them redeployed with `--intents`
//!    and their sessions held and idle.
//! 3. **Restart with held sessions**: SIGTERM, start again on the same data
//!    dir; time until the fake has seen every bot resume, and how many
//!    identifies the restart cost (goal: none).
//! 4. **Throughput, every bot**: after that restart, `MESSAGE_CREATE`s
//!    spread over all `--bots` bots, a few per bot at a time.
//!
//! Flags (after `--`): `--events N` (default 20000), `--bots N` (default
//! 100), `--runs N` (throughput passes, alternating node and bare; default 3),
//! `--scenario throughput,sessions` (default: both), `--wasm PATH` (the
//! bot's component built another way; default: built here).

#[path = "common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "load/node.rs"]
mod node;
#[allow(dead_code)]
#[path = "load/procstat.rs"]
mod procstat;

// Siblings at the root: `fake_gateway` uses `super::fake_discord`.
#[allow(dead_code)]
#[path = "../tests/it/support/fake_discord.rs"]
mod fake_discord;
#[allow(dead_code)]
#[path = "../tests/it/support/fake_gateway.rs"]
mod fake_gateway;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::admin::api::{DeployRequest, GatewayFlags};
use appliance::admin::client::Client;
use fake_discord::{FakeConfig, FakeDiscord};
use fake_gateway::{BotAccount, FakeGateway, GatewayConfig, ResumeOutcome};
use futures_util::StreamExt;
use serde_json::{json, Value};
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{ConfigBuilder, Intents, Message, Shard, ShardId};

/// Dispatched but not yet delivered, at most (the node's queue holds 1,000).
const WINDOW: u64 = 800;
/// Channels the events are spread over (the node has 8 lanes per bot).
const CHANNELS: u64 = 16;
/// Events per `dispatch_many` call (one channel each), one bot.
const CHUNK: usize = 50;
/// The event the bench's bot reads, and one it ignores unread.
const MESSAGE: &str = "MESSAGE_CREATE";
const IGNORED: &str = "BENCH_IGNORED";
/// HELLO's heartbeat interval in the one-bot throughput scenario: short, so
/// a pass sees many heartbeats under full guest load.
const HEARTBEAT: Duration = Duration::from_millis(250);
const INTENTS: &str = "GUILDS,GUILD_MESSAGES";
const BARE_TOKEN: &str = "token-bare";

struct Opts {
    events: u64,
    bots: usize,
    runs: usize,
    scenarios: Vec<String>,
}

impl Opts {
    fn parse() -> Opts {
        let args: Vec<String> = std::env::args().collect();
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        Opts {
            events: value("--events").map_or(20_000, |v| v.parse().expect("--events N")),
            bots: value("--bots").map_or(100, |v| v.parse().expect("--bots N")),
            runs: value("--runs").map_or(3, |v| v.parse().expect("--runs N")),
            scenarios: value("--scenario")
                .unwrap_or_else(|| "throughput,sessions".into())
                .split(',')
                .map(str::to_owned)
                .collect(),
        }
    }
}

fn token(i: usize) -> String {
    format!("token-{i}")
}

/// Fakes that know `bots` bot tokens plus the bare reader's, with HELLO's
/// `heartbeat_interval` (Discord's 41.25 s unless the bench watches them).
async fn fakes(bots: usize, heartbeat_interval: Option<Duration>) -> (FakeGateway, FakeDiscord) {
    let mut accounts: Vec<BotAccount> = (0..bots)
        .map(|i| BotAccount::new(&token(i), 1_100_000_000_000_000_000 + i as u64))
        .collect();
    accounts.push(BotAccount::new(BARE_TOKEN, 1_200_000_000_000_000_000));
    let gateway = FakeGateway::start(GatewayConfig {
        bots: accounts,
        identify_interval: Duration::ZERO,
        heartbeat_interval: heartbeat_interval.unwrap_or(Duration::from_millis(41_250)),
        // A short interval passes Discord's 120 messages per 60 s by itself.
        rate_limit_heartbeats: heartbeat_interval.is_none(),
        // Many bots' heartbeats over a long run stay under Discord's limit
        // at the default interval; the node's own pacing is what is measured.
        ..GatewayConfig::default()
    })
    .await;
    let discord = FakeDiscord::start(FakeConfig {
        tokens: (0..bots).map(token).collect(),
        ..FakeConfig::default()
    })
    .await;
    discord.set_gateway_bot(gateway.gateway_bot(1));
    (gateway, discord)
}

async fn deploy(client: &Client, wasm: &[u8], i: usize, gateway: bool) {
    let request = DeployRequest {
        name: format!("gw{i}"),
        app_id: (5200 + i).to_string(),
        public_key: common::KEY.into(),
        token: Some(token(i)),
        limits: Default::default(),
        wasm_base64: None,
        wasm_sha256: None,
        gateway: GatewayFlags {
            intents: gateway.then(|| INTENTS.to_owned()),
            ..Default::default()
        },
        guild: None,
    };
    client
        .deploy_wasm(request, wasm)
        .await
        .unwrap_or_else(|err| panic!("deploying gw{i} failed: {err}"));
}

/// A MESSAGE_CREATE as Discord sends it (~1 KiB).
fn message(channel: u64) -> Value {
    json!({
        "id": "1234567890123456789",
        "type": 0,
        "channel_id": (900_000_000_000_000_000u64 + channel).to_string(),
        "guild_id": "800000000000000001",
        "content": "x".repeat(300),
        "timestamp": "2026-11-30T03:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "flags": 0,
        "nonce": "1234567890123456789",
        "author": {
            "id": "700000000000000001",
            "username": "someone",
            "global_name": "Someone Somewhere",
            "discriminator": "0",
            "avatar": "a_0123456789abcdef0123456789abcdef",
            "public_flags": 0,
        },
        "member": {
            "roles": ["600000000000000001", "600000000000000002"],
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "deaf": false,
            "mute": false,
            "flags": 0,
            "nick": null,
            "avatar": null,
            "premium_since": null,
            "pending": false,
        },
        "components": [],
        "referenced_message": null,
    })
}

/// Where and how events are pumped: `chunk` events at a time, each chunk
/// to the next bot (round robin over `tokens`) and the next channel.
struct Pump<'a> {
    gateway: &'a FakeGateway,
    tokens: &'a [String],
    name: &'a str,
    chunk: usize,
    window: u64,
    /// How often `done()` is asked: listing 1,000 bots through the admin
    /// API every 2 ms would cost the node more than their events.
    poll: Duration,
}

impl Pump<'_> {
    /// Dispatches `n` events, never more than `window` ahead of `done()`,
    /// and returns the time until `done()` reaches `base + n`.
    async fn run<F, Fut>(&self, n: u64, base: u64, done: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = u64>,
    {
        let bodies: Vec<Value> = (0..CHANNELS).map(message).collect();
        let started = Instant::now();
        let mut sent = 0u64;
        let mut chunk = 0usize;
        loop {
            let delivered = done().await - base;
            if delivered >= n {
                return started.elapsed();
            }
            while sent < n && sent - delivered + self.chunk as u64 <= self.window {
                let count = (n - sent).min(self.chunk as u64) as usize;
                let body = bodies[chunk % bodies.len()].clone();
                let token = &self.tokens[chunk % self.tokens.len()];
                self.gateway.dispatch_many(token, 0, self.name, body, count);
                sent += count as u64;
                chunk += 1;
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// One measured pass through the node.
struct Pass {
    rate: f64,
    cpu_us: f64,
    dropped: u64,
}

async fn node_pass(node: &node::Node, client: &Client, pump: &Pump<'_>, n: u64) -> Pass {
    let (base, dropped_before) = delivered(client).await;
    let cpu_before = procstat::cpu(node.pid());
    let took = pump
        .run(n, base, || async { delivered(client).await.0 })
        .await;
    let cpu = procstat::cpu(node.pid()) - cpu_before;
    Pass {
        rate: n as f64 / took.as_secs_f64(),
        cpu_us: cpu.as_secs_f64() * 1e6 / n as f64,
        dropped: delivered(client).await.1 - dropped_before,
    }
}

/// Events delivered and dropped over every bot, from `GET /v1/status`: a
/// sum of counters, where the list of all bots (which the bench used to
/// read) formats each bot's standing and costs the node CPU per poll.
async fn delivered(client: &Client) -> (u64, u64) {
    let gateway = client.status().await.unwrap().gateway.unwrap_or_default();
    (gateway.events_delivered, gateway.events_dropped)
}

/// A twilight shard for the bare token that parses and counts each dispatch.
fn bare_reader(gateway: &FakeGateway) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let config = ConfigBuilder::new(
        BARE_TOKEN.to_owned(),
        Intents::GUILDS | Intents::GUILD_MESSAGES,
    )
    .proxy_url(gateway.url())
    .queue(InMemoryQueue::new(
        0,
        1000,
        Duration::from_secs(86_400),
        1000,
    ))
    .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);
    let count = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn({
        let count = count.clone();
        async move {
            while let Some(item) = shard.next().await {
                if let Ok(Message::Text(text)) = item {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["op"] == 0 && value["t"] == MESSAGE {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    });
    (count, task)
}

async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

async fn throughput(opts: &Opts, wasm: &[u8]) {
    let (gateway, discord) = fakes(1, Some(HEARTBEAT)).await;
    let node = node::Node::start(&["--discord-api", &discord.base_url()]);
    let client = node.admin();
    deploy(&client, wasm, 0, true).await;
    wait_for("the bot's session", Duration::from_secs(30), async || {
        gateway.is_held(&token(0), 0)
    })
    .await;
    let (count, reader) = bare_reader(&gateway);
    wait_for("the bare session", Duration::from_secs(30), async || {
        gateway.is_held(BARE_TOKEN, 0)
    })
    .await;

    let tokens = [token(0)];
    let bare_tokens = [BARE_TOKEN.to_owned()];
    let pump = |tokens, name| Pump {
        gateway: &gateway,
        tokens,
        name,
        chunk: CHUNK,
        window: WINDOW,
        poll: Duration::from_millis(2),
    };
    let (parsed, ignored, bare) = (
        pump(&tokens, MESSAGE),
        pump(&tokens, IGNORED),
        pump(&bare_tokens, MESSAGE),
    );
    // Warm-up: instances, lanes, caches.
    node_pass(&node, &client, &parsed, 2_000).await;

    let n = opts.events;
    let (mut node_rates, mut bare_rates, mut cpu_us, mut host_us) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (heartbeats_before, resumes_before, identifies_before) = (
        gateway.heartbeats().len(),
        gateway.resumes().len(),
        gateway.identifies().len(),
    );
    println!(
        "throughput: {n} events per pass, window {WINDOW}, {CHANNELS} channels, {} passes",
        opts.runs
    );
    for run in 0..opts.runs {
        let read = node_pass(&node, &client, &parsed, n).await;
        let host = node_pass(&node, &client, &ignored, n).await;
        let base = count.load(Ordering::Relaxed);
        let bare_took = bare
            .run(n, base, || async { count.load(Ordering::Relaxed) })
            .await;
        let bare_rate = n as f64 / bare_took.as_secs_f64();
        println!(
            "  pass {}: node {:.0}/s ({:.1} µs node CPU per event, {} dropped); \
             ignored unread {:.0}/s ({:.1} µs); bare {bare_rate:.0}/s; ratio {:.2}",
            run + 1,
            read.rate,
            read.cpu_us,
            read.dropped + host.dropped,
            host.rate,
            host.cpu_us,
            read.rate / bare_rate
        );
        node_rates.push(read.rate);
        bare_rates.push(bare_rate);
        cpu_us.push(read.cpu_us);
        host_us.push(host.cpu_us);
    }
    // The session's heartbeats during the passes: how late each came after
    // the one before (twilight sends the next one a full interval after the
    // previous; a session task starved by guests would send them late, and
    // an ACK read late would turn into a zombie reconnect).
    let beats: Vec<tokio::time::Instant> = gateway.heartbeats()[heartbeats_before..]
        .iter()
        .filter(|h| h.token.as_deref() == Some(token(0).as_str()))
        .map(|h| h.at)
        .collect();
    let mut late_ms: Vec<f64> = beats
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3 - HEARTBEAT.as_secs_f64() * 1e3)
        .collect();
    late_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| late_ms[((late_ms.len() - 1) as f64 * q).round() as usize];
    let reconnects =
        gateway.resumes().len() - resumes_before + gateway.identifies().len() - identifies_before;

    let ratios: Vec<f64> = node_rates
        .iter()
        .zip(&bare_rates)
        .map(|(a, b)| a / b)
        .collect();
    let (node_rate, bare_rate) = (median(&mut node_rates), median(&mut bare_rates));
    println!();
    println!(
        "| throughput, one bot (median of {} passes) | value |",
        opts.runs
    );
    println!("|---|---|");
    println!("| node: gateway → queue → sandbox → SDK's typed MessageCreate, events/s | {node_rate:.0} |");
    println!("| bare twilight Shard + serde_json, events/s | {bare_rate:.0} |");
    println!(
        "| node ÷ bare (median of per-pass ratios) | {:.2} |",
        median(&mut ratios.clone())
    );
    println!(
        "| node CPU per event, bot reads it (user+sys) | {:.1} µs |",
        median(&mut cpu_us)
    );
    println!(
        "| node CPU per event, bot ignores it unread: the host's cost | {:.1} µs |",
        median(&mut host_us)
    );
    if late_ms.len() >= 2 {
        println!(
            "| heartbeats under load (interval {} ms): {} sent, lateness p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
            HEARTBEAT.as_millis(),
            beats.len(),
            at(0.5),
            at(0.99),
            late_ms[late_ms.len() - 1]
        );
    }
    println!("| reconnects during the passes (resumes + identifies) | {reconnects} |");
    println!();
    reader.abort();
}

async fn sessions(opts: &Opts, wasm: &[u8]) {
    let bots = opts.bots;
    let (gateway, discord) = fakes(bots, None).await;
    let mut node = node::Node::start(&["--discord-api", &discord.base_url()]);
    for i in 0..bots {
        deploy(&node.admin(), wasm, i, false).await;
    }
    // Measured in a fresh process, as the figure after the restart below
    // is: a deploy leaves instances and compiled code behind that a
    // restarted node only makes when a bot is used.
    node.restart();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_without = procstat::rss_kib(node.pid());

    let client = node.admin();
    let started = Instant::now();
    for i in 0..bots {
        deploy(&client, wasm, i, true).await;
    }
    wait_for(
        "every bot's session",
        Duration::from_secs(60 + bots as u64 / 5),
        async || (0..bots).all(|i| gateway.is_held(&token(i), 0)),
    )
    .await;
    let identify_all = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_with = procstat::rss_kib(node.pid());

    let identifies_before = gateway.identifies().len();
    let resumes_before = gateway.resumes().len();
    let restart_started = Instant::now();
    let serving = node.restart();
    wait_for(
        "every bot's resume",
        Duration::from_secs(60 + bots as u64 / 5),
        async || {
            gateway.resumes()[resumes_before..]
                .iter()
                .filter(|r| matches!(r.outcome, ResumeOutcome::Resumed { .. }))
                .count()
                >= bots
        },
    )
    .await;
    let resumed_all = restart_started.elapsed();
    let identifies = gateway.identifies().len() - identifies_before;
    wait_for("every bot held", Duration::from_secs(30), async || {
        (0..bots).all(|i| gateway.is_held(&token(i), 0))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = procstat::rss_kib(node.pid());

    // Every bot at once: a few events per bot at a time, round robin.
    let client = node.admin();
    let tokens: Vec<String> = (0..bots).map(token).collect();
    let pump = Pump {
        gateway: &gateway,
        tokens: &tokens,
        name: MESSAGE,
        chunk: 4,
        window: 4_000,
        poll: Duration::from_millis(25),
    };
    // Warm-up: one instance per bot.
    node_pass(&node, &client, &pump, 4 * bots as u64).await;
    let mut passes = Vec::new();
    for _ in 0..opts.runs {
        passes.push(node_pass(&node, &client, &pump, opts.events).await);
    }

    let per = |with: u64| (with as f64 - rss_without as f64) / bots as f64;
    println!("| {bots} bots | value |");
    println!("|---|---|");
    println!(
        "| all sessions identified after redeploy with --intents | {:.1} s |",
        identify_all.as_secs_f64()
    );
    println!(
        "| RSS after a restart, no gateway | {:.1} MiB |",
        rss_without as f64 / 1024.0
    );
    println!(
        "| RSS after a restart, sessions resumed and idle | {:.1} MiB (**{:+.0} KiB per session**) |",
        rss_after as f64 / 1024.0,
        per(rss_after)
    );
    println!(
        "| RSS before that restart (deploys' instances still live) | {:.1} MiB |",
        rss_with as f64 / 1024.0
    );
    println!(
        "| restart: SIGTERM → serving | {:.2} s |",
        serving.as_secs_f64()
    );
    println!(
        "| restart: SIGTERM → all {bots} resumed | {:.2} s |",
        resumed_all.as_secs_f64()
    );
    println!("| identifies during restart | {identifies} |");
    let dropped: u64 = passes.iter().map(|p| p.dropped).sum();
    println!(
        "| throughput, {} events over all {bots} bots (median of {} passes) | **{:.0} events/s**, {:.1} µs node CPU per event, {dropped} dropped |",
        opts.events,
        opts.runs,
        median(&mut passes.iter().map(|p| p.rate).collect::<Vec<_>>()),
        median(&mut passes.iter().map(|p| p.cpu_us).collect::<Vec<_>>()),
    );
    println!();
}

fn main() {
    let opts = Opts::parse();
    // `--wasm PATH`: the same bot built another way (a profile to compare).
    let wasm = match std::env::args().skip_while(|a| a != "--wasm").nth(1) {
        Some(path) => std::fs::read(&path).unwrap_or_else(|err| panic!("--wasm {path}: {err}")),
        None => {
            let guests = common::build_guests_with(&["messages-bot"], &common::SPEED_PROFILE);
            std::fs::read(guests.join("messages_bot.wasm")).unwrap()
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if opts.scenarios.iter().any(|s| s == "throughput") {
            throughput(&opts, &wasm).await;
        }
        if opts.scenarios.iter().any(|s| s == "sessions") {
            sessions(&opts, &wasm).await;
        }
    });
}
