//! Bots in other languages against the Rust baseline, in one run:
//! `cargo bench --bench languages` (`-- --quick` for fewer samples,
//! `-- --idle N` for the idle-bot count, 1,000 by default).
//!
//! One row per language in [`LANGS`] (its ping example, built from source
//! as the tests build it), measured on the real engine with the node's pool
//! settings: component size, compile time (what a deploy pays once per
//! component) and artifact size, artifact load (what a restart pays per
//! component), cold first interaction (load + pre-link + instantiate +
//! first call), warm interaction p50/p99, CPU and fuel per warm
//! interaction, RSS per live instance, per instance left idle after use
//! (evicted) and per deployed bot that has not run yet. BENCHMARKS.md,
//! "Bots in JavaScript and Python (issue 14)", records them.

mod common;
#[path = "../tests/it/support/js.rs"]
#[allow(dead_code)]
mod js;
#[path = "../tests/it/support/py.rs"]
#[allow(dead_code)]
mod py;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::limits::{Language, Limits};
use appliance::sandbox::{BotEnv, Engine, PoolConfig};
use appliance::store::{Db, KvQuota};
use common::{build_guests, scratch_db};

/// Builds a language's ping example and returns its component.
type Build = fn() -> PathBuf;

/// The languages compared, each by its ping example; the first is the baseline.
const LANGS: &[(&str, Build)] = &[
    ("Rust", || build_guests(&["ping-bot"]).join("ping_bot.wasm")),
    ("JavaScript", || js::bot("ping-js")),
    ("Python", || py::bot("ping-py")),
];

fn interaction(command: &str) -> Vec<u8> {
    // ~1 KiB, shaped like a real guild slash command (as benches/sandbox.rs).
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

/// p50 and p99 of `samples`.
fn quantiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (pick(0.5), pick(0.99))
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

/// User + system CPU time of this process, to the nanosecond (/proc's
/// utime and stime count 10 ms ticks: too coarse for a Rust bot's 6 µs).
fn cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    #[allow(unsafe_code)]
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// A bot's environment with the limits a deploy gives its language.
fn env(db: &Db, id: i64, limits: Limits) -> BotEnv {
    BotEnv {
        bot_id: id,
        name: format!("bot{id}"),
        app_id: id.to_string(),
        version: 1,
        limits,
        kv_quota: KvQuota::default(),
        kv: std::sync::Arc::new(appliance::sandbox::LocalKv(db.clone())),
        db: db.clone(),
        discord: Arc::new(appliance::discord::Client::new("http://127.0.0.1:9/api/v10").unwrap()),
        token: None,
        retired: Default::default(),
        counters: Default::default(),
        gateway: Arc::new(appliance::sandbox::NoGateway),
    }
}

/// What each row measures and its unit.
const LABELS: [(&str, &str); 13] = [
    ("component size", "MB"),
    ("compile at deploy (once per component)", "s"),
    ("artifact on disk", "MB"),
    ("artifact load + pre-link (restart), p50", "ms"),
    ("cold first interaction, p50", "ms"),
    ("cold first interaction, p99", "ms"),
    ("warm interaction, p50", "µs"),
    ("warm interaction, p99", "µs"),
    ("CPU per warm interaction", "µs"),
    ("fuel per warm interaction", "k"),
    ("RSS per live instance", "KiB"),
    ("RSS per bot idle after use (instance evicted)", "KiB"),
    ("RSS per deployed bot not run yet", "KiB"),
];

fn fmt(value: f64, unit: &str) -> String {
    match unit {
        "MB" | "s" | "ms" => format!("{value:.2} {unit}"),
        _ => format!("{value:.0} {unit}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let idle_bots = args
        .iter()
        .position(|a| a == "--idle")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1000);
    let (temp, db) = scratch_db();
    // The node's default pool: 1,000 live instances, 1 GiB slots.
    let engine = Arc::new(Engine::new(PoolConfig::default()).unwrap());
    let body = interaction("ping");

    let mut figures = Vec::new();
    for (lang, build) in LANGS {
        let path = tokio::task::spawn_blocking(build).await.unwrap();
        let measured = measure(
            &engine,
            &db,
            temp.path(),
            lang,
            &path,
            &body,
            quick,
            idle_bots,
        )
        .await;
        figures.push(measured);
    }
    let names: Vec<&str> = LANGS.iter().map(|(lang, _)| *lang).collect();
    println!();
    println!(
        "| ping | {} | {} |",
        names.join(" | "),
        names[1..]
            .iter()
            .map(|n| format!("{n} / {}", names[0]))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---|".repeat(names.len() * 2 - 1));
    for (i, (label, unit)) in LABELS.iter().enumerate() {
        let values: Vec<String> = figures.iter().map(|f| fmt(f[i], unit)).collect();
        let ratios: Vec<String> = figures[1..]
            .iter()
            .map(|f| {
                let base = figures[0][i];
                if base > 0.0 {
                    format!("{:.1}x", f[i] / base)
                } else {
                    "-".to_owned()
                }
            })
            .collect();
        println!(
            "| {label} | {} | {} |",
            values.join(" | "),
            ratios.join(" | ")
        );
    }
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    engine: &Arc<Engine>,
    db: &Db,
    dir: &std::path::Path,
    lang: &str,
    path: &std::path::Path,
    body: &[u8],
    quick: bool,
    idle_bots: usize,
) -> [f64; 13] {
    let wasm = std::fs::read(path).unwrap();
    let limits = Limits::for_language(Language::detect(&wasm));
    let cold_runs = if quick { 10 } else { 50 };
    let warm_runs = if quick { 500 } else { 3000 };

    let t = Instant::now();
    let compiled = engine.compile(&wasm).unwrap();
    let compile = t.elapsed();
    let artifact = dir.join(format!("{lang}.cwasm"));
    std::fs::write(&artifact, &compiled.artifact).unwrap();
    drop(compiled);

    let mut load = Vec::new();
    let mut cold = Vec::new();
    for i in 0..cold_runs {
        let t = Instant::now();
        let component = engine.load_artifact(&artifact).unwrap();
        let bot = engine.prepare(&component, env(db, i, limits));
        load.push(t.elapsed());
        let answer = bot.invoke(body, None, None).await.result.unwrap();
        cold.push(t.elapsed());
        assert!(String::from_utf8_lossy(&answer.json).contains("pong"));
    }
    let (load_p50, _) = quantiles(&mut load);
    let (cold_p50, cold_p99) = quantiles(&mut cold);

    let component = engine.load_artifact(&artifact).unwrap();
    let bot = engine.prepare(&component, env(db, 1, limits));
    bot.invoke(body, None, None).await.result.unwrap();
    let mut warm = Vec::with_capacity(warm_runs);
    let mut fuel = 0;
    let cpu = cpu_time();
    for _ in 0..warm_runs {
        let t = Instant::now();
        let invocation = bot.invoke(body, None, None).await;
        warm.push(t.elapsed());
        invocation.result.unwrap();
        fuel += invocation.fuel_used;
    }
    let cpu = (cpu_time() - cpu) / warm_runs as u32;
    let (warm_p50, warm_p99) = quantiles(&mut warm);
    drop(bot);

    // Live instances: bots each holding one instance after one answer;
    // then the same bots with their instances evicted (idle).
    let live_bots = if quick { 20 } else { 100 };
    let before = rss_kib();
    let mut bots = Vec::new();
    for i in 0..live_bots {
        let bot = engine.prepare(&component, env(db, i, limits));
        bot.invoke(body, None, None).await.result.unwrap();
        bots.push(bot);
    }
    let live = rss_kib().saturating_sub(before) as f64 / live_bots as f64;
    for bot in &bots {
        bot.evict_idle(Duration::ZERO);
    }
    let evicted = rss_kib().saturating_sub(before) as f64 / live_bots as f64;
    drop(bots);

    // Deployed bots that have not run: an instance is made on first use.
    let before = rss_kib();
    let idle: Vec<_> = (0..idle_bots)
        .map(|i| engine.prepare(&component, env(db, i as i64, limits)))
        .collect();
    let never_run = rss_kib().saturating_sub(before) as f64 / idle_bots as f64;
    println!(
        "{lang}: {live_bots} bots with a live instance: +{live:.0} KiB each; evicted: +{evicted:.0} KiB each (the pool keeps warm slots mapped); {idle_bots} deployed bots not run yet: +{never_run:.1} KiB each"
    );
    drop(idle);

    [
        wasm.len() as f64 / 1e6,
        compile.as_secs_f64(),
        std::fs::metadata(&artifact).unwrap().len() as f64 / 1e6,
        load_p50.as_secs_f64() * 1e3,
        cold_p50.as_secs_f64() * 1e3,
        cold_p99.as_secs_f64() * 1e3,
        warm_p50.as_secs_f64() * 1e6,
        warm_p99.as_secs_f64() * 1e6,
        cpu.as_secs_f64() * 1e6,
        fuel as f64 / warm_runs as f64 / 1e3,
        live,
        evicted,
        never_run,
    ]
}
