//! The cost of a `/metrics` scrape with many bots: `cargo bench --bench metrics`
//! (`-- --bots N --scrapes N`; default 1,000 bots, 200 scrapes).
//!
//! In-process with the library: `ping` deployed N times through
//! `Fleet::deploy`, each bot answering one interaction through the
//! dispatcher (so its outcome, fuel and latency series exist), then
//! `admin::metrics::render` timed, which is the whole of the route's work
//! but the HTTP write. Reports time per scrape, bytes and samples.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::admin::metrics::{render, Sources};
use appliance::dispatch::{Deferral, Dispatcher};
use appliance::fleet::{ComponentSource, DeploySpec, Fleet};
use appliance::metrics::Metrics;
use appliance::protocol::interaction::Head;
use appliance::sandbox::{Engine, PoolConfig};

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bots = flag(&args, "--bots", 1000);
    let scrapes = flag(&args, "--scrapes", 200);
    let guests = common::build_guests(&["ping-bot"]);
    let ping = std::fs::read(guests.join("ping_bot.wasm")).unwrap();

    let (temp, db) = common::scratch_db();
    let engine = Arc::new(
        Engine::new(PoolConfig {
            max_instances: 64,
            ..PoolConfig::default()
        })
        .unwrap(),
    );
    let discord = Arc::new(appliance::discord::Client::new("http://127.0.0.1:9/api/v10").unwrap());
    let fleet = Arc::new(Fleet::new(
        engine,
        db.clone(),
        temp.path().to_path_buf(),
        discord.clone(),
    ));
    let dispatcher = Dispatcher::new(db.clone(), discord, Duration::from_secs(2));
    let started = Instant::now();
    for i in 0..bots {
        let app_id = (2_000_000 + i).to_string();
        fleet
            .deploy(DeploySpec {
                name: format!("bot-{i:05}"),
                app_id: app_id.clone(),
                public_key: common::KEY.into(),
                token: None,
                limits: Default::default(),
                wasm: ComponentSource::Bytes(ping.clone()),
                gateway: Default::default(),
                commands_scope: appliance::registry::Scope::Global,
                register_commands: true,
            })
            .await
            .unwrap();
        let body = common::interaction::command_bytes("ping", "42");
        let head = Head::parse(&body).unwrap();
        let deployed = fleet.by_app_id(&app_id).unwrap();
        dispatcher
            .dispatch(deployed, head, body.into(), Deferral::Never)
            .await;
    }
    println!(
        "{bots} bots deployed and each invoked once in {:.1?}",
        started.elapsed()
    );

    let metrics = Arc::new(Metrics::default());
    let scrape = || {
        render(Sources {
            fleet: fleet.clone(),
            db: db.clone(),
            metrics: metrics.clone(),
            gateway: None,
        })
    };
    for _ in 0..5 {
        scrape();
    }
    let mut times = Vec::with_capacity(scrapes);
    let mut text = String::new();
    for _ in 0..scrapes {
        let t = Instant::now();
        text = scrape();
        times.push(t.elapsed());
    }
    times.sort();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    println!(
        "/metrics with {bots} bots: {} bytes, {samples} samples; per scrape p50 {:.2?}, p90 {:.2?}, p99 {:.2?} (n={scrapes})",
        text.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
    );
}
