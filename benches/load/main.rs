//! Interaction throughput, side by side: `cargo bench --bench load`.
//!
//! Drives the real node (`appliance serve --plain-http`, the release binary)
//! and a bare hand-written server (hyper + ed25519-dalek, no sandbox; this
//! binary re-executed with `--bare-server`) with the same signed ~1.5 KiB
//! APPLICATION_COMMAND interactions at fixed concurrency, alternating the
//! targets so both see the same machine noise, and reports throughput,
//! latency percentiles, server CPU per request and RSS, plus each target's
//! ratio to the bare baseline. The Node.js alternative (`alt/`) runs too
//! when `node` is installed.
//!
//! Flags (after `--`): `--quick` (short runs, 200 bots), `--runs N`
//! (default 2), `--secs S` (window per measurement, default 5),
//! `--scenario warm,fleet,trap,rest,host,startup` (default: all), `--no-alt`,
//! `--startup-bots 1000,10000`; `--scenario backup` (not in the default
//! list) with `--fill-mib N` (default 64).
//! See BENCHMARKS.md for what each scenario measures.

#[path = "../common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "../../tests/it/support/fake_discord.rs"]
mod fake_discord;

mod backup;
mod bare;
mod driver;
mod hostpath;
mod node;
mod payload;
mod procstat;
mod report;
mod scenarios;

use std::time::Duration;

/// What this invocation runs, from the command line.
#[derive(Debug, Clone)]
pub struct Opts {
    pub runs: usize,
    pub window: Duration,
    pub warmup: Duration,
    pub bots: usize,
    /// Fleet sizes the `startup` scenario deploys and restarts.
    pub startup_bots: Vec<usize>,
    pub alt: bool,
    pub scenarios: Vec<String>,
    /// KV data (MiB) the `backup` scenario writes before it measures.
    pub fill_mib: u64,
}

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let quick = args.iter().any(|a| a == "--quick");
        let secs: f64 = value("--secs")
            .map(|s| s.parse().expect("--secs takes seconds"))
            .unwrap_or(if quick { 1.5 } else { 5.0 });
        Opts {
            runs: value("--runs")
                .map(|s| s.parse().expect("--runs takes a number"))
                .unwrap_or(2),
            window: Duration::from_secs_f64(secs),
            warmup: Duration::from_secs_f64(if quick { 0.3 } else { 1.0 }),
            bots: if quick { 200 } else { 1000 },
            startup_bots: value("--startup-bots")
                .unwrap_or_else(|| {
                    if quick {
                        "1000".into()
                    } else {
                        "1000,10000".into()
                    }
                })
                .split(',')
                .map(|n| {
                    n.parse()
                        .expect("--startup-bots takes numbers, e.g. 1000,10000")
                })
                .collect(),
            alt: !args.iter().any(|a| a == "--no-alt"),
            fill_mib: value("--fill-mib")
                .map(|s| s.parse().expect("--fill-mib takes MiB"))
                .unwrap_or(64),
            scenarios: value("--scenario")
                .unwrap_or_else(|| "host,warm,fleet,trap,rest,startup".into())
                .split(',')
                .map(str::to_owned)
                .collect(),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--bare-server") {
        bare::serve(&args);
        return;
    }
    let opts = Opts::parse(&args);
    let guests = common::build_guests(&["ping-bot", "hostile-bot", "counter-bot"]);
    let ping = std::fs::read(guests.join("ping_bot.wasm")).unwrap();
    let hostile = std::fs::read(guests.join("hostile_bot.wasm")).unwrap();
    println!(
        "load bench: {} run(s), {:?} windows after {:?} warm-up; {} CPUs; RUST_BACKTRACE={}",
        opts.runs,
        opts.window,
        opts.warmup,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::var("RUST_BACKTRACE").unwrap_or_default()
    );
    let mut results = Vec::new();
    for scenario in &opts.scenarios {
        match scenario.as_str() {
            "host" => hostpath::run(&opts, &ping),
            "warm" => scenarios::warm(&opts, &ping, &mut results),
            "fleet" => scenarios::fleet(&opts, &ping, &mut results),
            "trap" => scenarios::trap(&opts, &ping, &hostile, &mut results),
            "rest" => scenarios::rest(&opts, &hostile, &mut results),
            "startup" => scenarios::startup(&opts, &ping),
            "backup" => {
                let counter = std::fs::read(guests.join("counter_bot.wasm")).unwrap();
                backup::run(&opts, &counter, opts.fill_mib)
            }
            other => panic!("unknown scenario {other:?}"),
        }
    }
    report::summary(&results);
}
