//! Sandbox benchmarks: `cargo bench --bench sandbox`.
//!
//! Measures, on the real engine with the real example components:
//! cold start from a cached artifact, instantiation from the pool, a warm
//! call, trap → serving replacement, and the idle memory of 1,000 deployed
//! bots. Prints medians and p99 over many runs; BENCHMARKS.md records them.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::fleet::{ComponentSource, DeploySpec, Fleet};
use appliance::limits::Limits;
use appliance::sandbox::{self, BotEnv, Engine, PoolConfig};
use appliance::store::{Db, KvQuota};
use common::{build_guests, scratch_db, KEY};

fn interaction(command: &str) -> Vec<u8> {
    // ~1 KiB, shaped like a real guild slash command.
    serde_json::to_vec(&serde_json::json!({
        "type": 2, "id": "1180000000000000001", "application_id": "1180000000000000000",
        "token": "aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDAwMTpleGFtcGxldG9rZW5leGFtcGxldG9rZW4",
        "version": 1, "data": { "id": "1180000000000000002", "name": command, "type": 1 },
        "guild_id": "1180000000000000003", "channel_id": "1180000000000000004",
        "member": { "user": { "id": "42", "username": "alice", "discriminator": "0", "avatar": null,
                    "global_name": "Alice" }, "roles": ["1180000000000000005"], "joined_at": "2024-01-01T00:00:00.000000+00:00",
                    "deaf": false, "mute": false, "flags": 0, "permissions": "2248473465835073" },
        "locale": "en-US", "guild_locale": "en-US", "app_permissions": "2248473465835073",
        "entitlements": [], "authorizing_integration_owners": { "0": "1180000000000000003" }, "context": 0
    }))
    .unwrap()
}

struct Stats {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Stats {
    fn new(name: &'static str) -> Stats {
        Stats {
            name,
            samples: Vec::new(),
        }
    }
    fn report(mut self) {
        self.samples.sort();
        let pick = |q: f64| self.samples[((self.samples.len() - 1) as f64 * q).round() as usize];
        println!(
            "{:<44} n={:<6} p50={:>10.1?} p90={:>10.1?} p99={:>10.1?} max={:>10.1?}",
            self.name,
            self.samples.len(),
            pick(0.5),
            pick(0.9),
            pick(0.99),
            self.samples[self.samples.len() - 1]
        );
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn env(db: &Db, name: &str, limits: Limits) -> BotEnv {
    BotEnv {
        bot_id: 1,
        name: name.into(),
        app_id: "1".into(),
        version: 1,
        limits,
        kv_quota: KvQuota::default(),
        kv: std::sync::Arc::new(appliance::sandbox::LocalKv(db.clone())),
        db: db.clone(),
        discord: Arc::new(appliance::discord::Client::new("http://127.0.0.1:9/api/v10").unwrap()),
        token: None,
        retired: Default::default(),
        counters: Default::default(),
        gateway: std::sync::Arc::new(appliance::sandbox::NoGateway),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let guests = build_guests(&["ping-bot", "hostile-bot", "noop-bot"]);
    let ping = std::fs::read(guests.join("ping_bot.wasm")).unwrap();
    let hostile = std::fs::read(guests.join("hostile_bot.wasm")).unwrap();
    let noop = std::fs::read(guests.join("noop_bot.wasm")).unwrap();
    let (temp, db) = scratch_db();
    // Room for the 1,000-bot fleet below plus the few bots measured before it.
    let engine = Arc::new(
        Engine::new(PoolConfig {
            max_instances: 1100,
            ..PoolConfig::default()
        })
        .unwrap(),
    );
    let ping_body = interaction("ping");
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 200 } else { 2000 };

    // Compile once (what a deploy pays), then write the artifact the node keeps.
    let mut compile = Stats::new("compile component (deploy, once per hash)");
    let mut compiled = None;
    for _ in 0..5 {
        let t = Instant::now();
        compiled = Some(engine.compile(&ping).unwrap());
        compile.samples.push(t.elapsed());
    }
    compile.report();
    let artifact = temp.path().join("ping.cwasm");
    std::fs::write(&artifact, &compiled.unwrap().artifact).unwrap();

    // Cold start: load the artifact (mmap), pre-link, instantiate, first call.
    let mut cold = Stats::new("cold start: artifact → first answer");
    let mut load = Stats::new("  of which: load artifact + pre-link");
    for _ in 0..n / 10 {
        let t = Instant::now();
        let component = engine.load_artifact(&artifact).unwrap();
        let bot = engine.prepare(&component, env(&db, "ping", Limits::default()));
        load.samples.push(t.elapsed());
        let result = bot.invoke(&ping_body, None, None).await.result.unwrap();
        cold.samples.push(t.elapsed());
        assert!(String::from_utf8_lossy(&result.json).contains("pong"));
    }
    cold.report();
    load.report();

    // Instantiation from the pool, alone.
    let component = engine.load_artifact(&artifact).unwrap();
    let mut instantiate = Stats::new("instantiate from pool (InstancePre)");
    for _ in 0..n {
        let bot = engine.prepare(&component, env(&db, "ping", Limits::default()));
        let t = Instant::now();
        bot.prewarm().await.unwrap();
        instantiate.samples.push(t.elapsed());
    }
    instantiate.report();

    // Warm call: the instance is live; includes the guest's own JSON work.
    let bot = engine.prepare(&component, env(&db, "ping", Limits::default()));
    bot.invoke(&ping_body, None, None).await.result.unwrap();
    let mut warm = Stats::new("warm call (1 KiB interaction, guest included)");
    for _ in 0..n * 5 {
        let t = Instant::now();
        bot.invoke(&ping_body, None, None).await.result.unwrap();
        warm.samples.push(t.elapsed());
    }
    warm.report();

    // The host's share of a warm call: a guest that neither parses the
    // interaction nor builds its answer, given the same 1 KiB body.
    let noop_compiled = engine.compile(&noop).unwrap();
    let noop_bot = engine.prepare(
        &noop_compiled.component,
        env(&db, "noop", Limits::default()),
    );
    noop_bot
        .invoke(&ping_body, None, None)
        .await
        .result
        .unwrap();
    let mut host_share = Stats::new("warm call, no-op guest (the host's own cost per event)");
    for _ in 0..n * 5 {
        let t = Instant::now();
        noop_bot
            .invoke(&ping_body, None, None)
            .await
            .result
            .unwrap();
        host_share.samples.push(t.elapsed());
    }
    host_share.report();

    // Trap → replacement: a panic discards the instance; the next event
    // instantiates a fresh one and answers.
    let hostile_compiled = engine.compile(&hostile).unwrap();
    let hostile_bot = engine.prepare(
        &hostile_compiled.component,
        env(&db, "hostile", Limits::default()),
    );
    let panic_body = interaction("panic");
    let ok_body = interaction("ok");
    hostile_bot
        .invoke(&ok_body, None, None)
        .await
        .result
        .unwrap();
    let mut trap = Stats::new("trap (panic event, instance discarded)");
    let mut replacement = Stats::new("trap → replacement serving (next event)");
    let mut hostile_warm = Stats::new("  baseline: warm call, same bot");
    for _ in 0..n / 4 {
        let t = Instant::now();
        assert!(hostile_bot
            .invoke(&panic_body, None, None)
            .await
            .result
            .is_err());
        trap.samples.push(t.elapsed());
        let t = Instant::now();
        hostile_bot
            .invoke(&ok_body, None, None)
            .await
            .result
            .unwrap();
        replacement.samples.push(t.elapsed());
        let t = Instant::now();
        hostile_bot
            .invoke(&ok_body, None, None)
            .await
            .result
            .unwrap();
        hostile_warm.samples.push(t.elapsed());
    }
    trap.report();
    replacement.report();
    hostile_warm.report();

    // Idle memory: 1,000 deployed bots, no live instances.
    let data = temp.path().join("fleet");
    std::fs::create_dir_all(&data).unwrap();
    let fleet_db = Db::open(&data.join("fleet.db")).unwrap();
    let discord = Arc::new(appliance::discord::Client::new("http://127.0.0.1:9/api/v10").unwrap());
    let fleet = Fleet::new(engine.clone(), fleet_db, data.clone(), discord);
    let bots = if quick { 200 } else { 1000 };
    // The first deploy compiles; the rest reuse the cached component.
    fleet.deploy(request("bot-0", 0, &ping)).await.unwrap();
    let before = rss_kib();
    let t = Instant::now();
    for i in 1..bots {
        fleet
            .deploy(request(&format!("bot-{i}"), i, &ping))
            .await
            .unwrap();
    }
    let deploy_time = t.elapsed();
    let after = rss_kib();
    println!(
        "idle memory: {} bots deployed, RSS +{} KiB = {:.1} KiB per bot (deploys took {:.1?}, {:.2?} each)",
        bots - 1,
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / (bots - 1) as f64,
        deploy_time,
        deploy_time / (bots - 1) as u32
    );
    // Each bot then answers once (a live instance each), then idles out.
    for deployed in fleet.all() {
        deployed
            .bot
            .invoke(&ping_body, None, None)
            .await
            .result
            .unwrap();
    }
    let live = rss_kib();
    let evicted = fleet.evict_idle(Duration::ZERO);
    let idle = rss_kib();
    println!(
        "with one live instance each: RSS {} KiB ({:.1} KiB per bot); after evicting {} idle instances: {} KiB",
        live,
        (live.saturating_sub(after)) as f64 / bots as f64,
        evicted,
        idle
    );
    let _ = sandbox::MAX_RESPONSE_BYTES;
}

fn request(name: &str, i: usize, wasm: &[u8]) -> DeploySpec {
    DeploySpec {
        name: name.into(),
        app_id: format!("{}", 1_000_000 + i),
        public_key: KEY.into(),
        token: None,
        limits: Default::default(),
        wasm: ComponentSource::Bytes(wasm.to_vec()),
        gateway: Default::default(),
        commands_scope: appliance::registry::Scope::Global,
        register_commands: true,
    }
}
