//! The scenarios of issue 6. Each starts its own node and baselines, drives
//! them in alternating order (node first on odd runs, bare first on even
//! ones) so both see the same machine noise, and appends its measurements.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bare::Bare;
use crate::driver::{self, Load, Outcome};
use crate::fake_discord::{FakeConfig, FakeDiscord};
use crate::node::Node;
use crate::payload::Payloads;
use crate::report::{self, Measured, BARE};
use crate::{procstat, Opts};

const NODE: &str = "appliance";
const PING_APP: &str = "1000001";

/// The driver's runtime: one thread, so the driver never takes more than
/// one of the machine's cores from the servers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ping_options() -> serde_json::Value {
    serde_json::json!([{ "name": "private", "type": 5, "value": false }])
}

fn load(opts: &Opts, concurrency: usize) -> Load {
    Load {
        concurrency,
        duration: opts.window,
        warmup: opts.warmup,
        rate: None,
    }
}

/// `targets` in the given order on odd runs and reversed on even ones, so
/// each target goes first as often as last and all share the machine's noise.
fn alternate<T>(run: usize, mut targets: Vec<T>) -> Vec<T> {
    if run.is_multiple_of(2) {
        targets.reverse();
    }
    targets
}

/// A server to drive: name, address, process.
type Target = (String, SocketAddr, u32);

/// Measures every target once per run at each concurrency, alternating order.
async fn compare(
    scenario: &'static str,
    opts: &Opts,
    targets: &[Target],
    payloads: &Arc<Payloads>,
    loads: &[Load],
    expect: &'static str,
    results: &mut Vec<Measured>,
) {
    for run in 1..=opts.runs {
        for load in loads {
            let order = alternate(run, targets.iter().collect());
            for (name, addr, pid) in order {
                let outcome = driver::run(*addr, *pid, payloads, *load, expect).await;
                record(scenario, name, load.concurrency, run, outcome, results);
            }
        }
    }
}

fn record(
    scenario: &'static str,
    target: &str,
    concurrency: usize,
    run: usize,
    outcome: Outcome,
    results: &mut Vec<Measured>,
) {
    let measured = Measured {
        scenario,
        target: target.into(),
        concurrency,
        run,
        outcome,
    };
    report::row(&measured);
    results.push(measured);
}

/// One warm bot: the node, the bare baseline, the bare server doing the
/// bot's JSON work natively, and the Node.js alternative at c = 1, 16, 64.
pub fn warm(opts: &Opts, ping: &[u8], results: &mut Vec<Measured>) {
    runtime().block_on(async {
        let node = Node::start(&[]);
        node.deploy(&node.admin(), "ping", PING_APP, ping, None)
            .await;
        let bare = Bare::start(&[(PING_APP.into(), String::new())], None);
        let native = Bare::start_native_bot(&[(PING_APP.into(), String::new())]);
        let alt = opts.alt.then(Bare::start_node_js).flatten();
        let mut targets = vec![
            (NODE.to_owned(), node.public, node.pid()),
            (BARE.to_owned(), bare.addr, bare.pid()),
            ("bare+native bot".to_owned(), native.addr, native.pid()),
        ];
        if let Some(alt) = &alt {
            targets.push(("node.js".to_owned(), alt.addr, alt.pid()));
        }
        let payloads = Arc::new(Payloads::new("ping", ping_options(), vec![PING_APP.into()]));
        println!(
            "\nwarm: one ping bot; body {} bytes",
            payloads.sign_next().body.len()
        );
        report::header();
        let loads: Vec<Load> = [1, 16, 64].map(|c| load(opts, c)).to_vec();
        compare("warm", opts, &targets, &payloads, &loads, "pong", results).await;
        println!("node RSS after the runs: {:.1} MiB", mib(node.pid()));
    });
}

fn mib(pid: u32) -> f64 {
    procstat::rss_kib(pid) as f64 / 1024.0
}

fn app_ids(base: u64, n: usize) -> Vec<String> {
    (0..n as u64).map(|i| (base + i).to_string()).collect()
}

/// 1,000 deployed bots: idle RSS, restart time, first interaction to each
/// cold bot, and traffic spread round-robin over all of them, both from a
/// fresh restart (every bot's first interaction is a cold start inside the
/// window) and warm.
pub fn fleet(opts: &Opts, ping: &[u8], results: &mut Vec<Measured>) {
    runtime().block_on(async {
        let n = opts.bots;
        let apps = app_ids(2_000_000, n);
        let mut node = Node::start(&[]);
        let admin = node.admin();
        let wasm = ping;
        let before = mib(node.pid());
        let t = Instant::now();
        for (i, app) in apps.iter().enumerate() {
            node.deploy(&admin, &format!("bot-{i}"), app, wasm, None)
                .await;
        }
        println!(
            "\nfleet: {n} ping bots deployed in {:.1?} ({:.1?} each); RSS {before:.1} → {:.1} MiB",
            t.elapsed(),
            t.elapsed() / n as u32,
            mib(node.pid())
        );
        let bare_apps: Vec<(String, String)> =
            apps.iter().map(|a| (a.clone(), String::new())).collect();
        let bare = Bare::start(&bare_apps, None);
        let payloads = Arc::new(Payloads::new("ping", ping_options(), apps.clone()));
        report::header();
        for run in 1..=opts.runs {
            // Restart, then first interactions to each bot in turn (c = 1).
            let startup = node.restart();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let idle = mib(node.pid());
            let t = Instant::now();
            let batch = payloads.presign(n);
            let signing = t.elapsed();
            let mut sender = driver::connect(node.public).await;
            let mut cold = Vec::new();
            let t = Instant::now();
            for signed in batch {
                let sent = Instant::now();
                let answer = driver::send(&mut sender, signed).await;
                cold.push(sent.elapsed());
                assert!(
                    matches!(&answer, Some((200, body)) if driver::contains(body, "pong")),
                    "cold bot answered {answer:?}"
                );
            }
            let pass = t.elapsed().saturating_sub(Duration::ZERO);
            cold.sort();
            let pick = |q: f64| cold[((cold.len() - 1) as f64 * q).round() as usize];
            println!(
                "fleet run {run}: restart → serving (node.json) {startup:.1?}; idle RSS {idle:.1} MiB; \
                 first interaction to each of {n} cold bots (c=1): p50 {:.2?} p90 {:.2?} p99 {:.2?} max {:.2?}; \
                 all {n} answered {pass:.1?} after serving (restart → all answered {:.1?}, signing excluded: {signing:.1?}); \
                 RSS with one live instance each {:.1} MiB",
                pick(0.5),
                pick(0.9),
                pick(0.99),
                pick(1.0),
                startup + pass,
                mib(node.pid())
            );
            // Spread traffic, warm (every bot has an instance now).
            for c in [16, 64] {
                let order = alternate(
                    run,
                    vec![(NODE, node.public, node.pid()), (BARE, bare.addr, bare.pid())],
                );
                for (name, addr, pid) in order {
                    let outcome = driver::run(addr, pid, &payloads, load(opts, c), "pong").await;
                    record("fleet warm", name, c, run, outcome, results);
                }
            }
            // From a fresh restart, no warm-up: the window starts with every
            // bot's cold start, 64 at a time.
            node.restart();
            let mut cold_load = load(opts, 64);
            cold_load.warmup = Duration::ZERO;
            let order = alternate(
                run,
                vec![(NODE, node.public, node.pid()), (BARE, bare.addr, bare.pid())],
            );
            for (name, addr, pid) in order {
                let outcome = driver::run(addr, pid, &payloads, cold_load, "pong").await;
                record("fleet from restart", name, 64, run, outcome, results);
            }
            println!(
                "  node RSS after the from-restart window: {:.1} MiB",
                mib(node.pid())
            );
        }
    });
}

/// A trapping bot beside a healthy one: the healthy bot's throughput and
/// tail with a neighbour that panics on every other event (never two in a
/// row, so it keeps being restarted rather than backing off), against the
/// same node with the neighbour quiet and the bare baseline.
pub fn trap(opts: &Opts, ping: &[u8], hostile: &[u8], results: &mut Vec<Measured>) {
    const HOSTILE_APP: &str = "1000002";
    runtime().block_on(async {
        let node = Node::start(&[]);
        let admin = node.admin();
        node.deploy(&admin, "ping", PING_APP, ping, None).await;
        node.deploy(&admin, "hostile", HOSTILE_APP, hostile, None)
            .await;
        let bare = Bare::start(&[(PING_APP.into(), String::new())], None);
        let payloads = Arc::new(Payloads::new("ping", ping_options(), vec![PING_APP.into()]));
        let panics = Arc::new(Payloads::new(
            "panic",
            serde_json::json!([]),
            vec![HOSTILE_APP.into()],
        ));
        let oks = Arc::new(Payloads::new(
            "ok",
            serde_json::json!([]),
            vec![HOSTILE_APP.into()],
        ));
        println!("\ntrap: healthy ping bot; neighbour `hostile` panics on every other event");
        report::header();
        for run in 1..=opts.runs {
            for c in [16, 64] {
                let order = alternate(run, vec!["quiet", "trapping", BARE]);
                for which in order {
                    if which == BARE {
                        let outcome =
                            driver::run(bare.addr, bare.pid(), &payloads, load(opts, c), "pong")
                                .await;
                        record("trap neighbour", BARE, c, run, outcome, results);
                        continue;
                    }
                    let stop = Arc::new(AtomicBool::new(false));
                    let traps = Arc::new(AtomicU64::new(0));
                    let neighbour = (which == "trapping").then(|| {
                        tokio::spawn(neighbour(
                            node.public,
                            panics.clone(),
                            oks.clone(),
                            stop.clone(),
                            traps.clone(),
                        ))
                    });
                    let t = Instant::now();
                    let outcome =
                        driver::run(node.public, node.pid(), &payloads, load(opts, c), "pong")
                            .await;
                    stop.store(true, Ordering::Relaxed);
                    if let Some(task) = neighbour {
                        task.await.unwrap();
                        println!(
                            "    neighbour: {} traps answered with a notice ({:.0}/s)",
                            traps.load(Ordering::Relaxed),
                            traps.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
                        );
                    }
                    let name = format!("{NODE} ({which})");
                    record("trap neighbour", &name, c, run, outcome, results);
                }
            }
        }
    });
}

/// The trapping neighbour: panic, ok, panic, ok... on one connection.
async fn neighbour(
    addr: SocketAddr,
    panics: Arc<Payloads>,
    oks: Arc<Payloads>,
    stop: Arc<AtomicBool>,
    traps: Arc<AtomicU64>,
) {
    let mut sender = driver::connect(addr).await;
    while !stop.load(Ordering::Relaxed) {
        let answer = driver::send(&mut sender, panics.sign_next()).await;
        if matches!(&answer, Some((200, body)) if driver::contains(body, "ran into a problem")) {
            traps.fetch_add(1, Ordering::Relaxed);
        }
        let answer = driver::send(&mut sender, oks.sign_next()).await;
        assert!(
            matches!(&answer, Some((200, body)) if driver::contains(body, "\"ok\"")),
            "the neighbour's ok event answered {answer:?}"
        );
    }
}

/// A REST-calling bot against the fake Discord: every interaction makes one
/// `GET /users/@me` through the host's Discord client (rate limiter, guard),
/// 20 bots with their own tokens, paced under Discord's 50/s per token. The
/// bare baseline makes the same call with a pooled hyper client.
pub fn rest(opts: &Opts, hostile: &[u8], results: &mut Vec<Measured>) {
    const BOTS: usize = 20;
    const PER_TOKEN_PER_SECOND: f64 = 40.0;
    let tokens: Vec<String> = (0..BOTS).map(|i| format!("bench-token-{i}")).collect();
    // The fake gets its own thread, like a remote service would.
    let fake_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = fake_runtime.block_on(FakeDiscord::start(FakeConfig {
        tokens: tokens.clone(),
        routes: Vec::new(),
        default_limit: 1_000_000,
        default_window: Duration::from_secs(1),
        global_limit: 50,
    }));
    let api = fake.base_url();
    runtime().block_on(async {
        let apps = app_ids(4_000_000, BOTS);
        let node = Node::start(&["--discord-api", &api]);
        let admin = node.admin();
        let wasm = hostile;
        for (i, app) in apps.iter().enumerate() {
            node.deploy(&admin, &format!("rest-{i}"), app, wasm, Some(tokens[i].clone()))
                .await;
        }
        let pairs: Vec<(String, String)> = apps.iter().cloned().zip(tokens.clone()).collect();
        let bare = Bare::start(&pairs, Some(&api));
        let payloads = Arc::new(Payloads::new("rest", serde_json::json!([]), apps));
        let rate = BOTS as f64 * PER_TOKEN_PER_SECOND;
        println!("\nrest: {BOTS} bots, each call GET /users/@me via the fake Discord; paced at {rate:.0} interactions/s");
        report::header();
        let targets = vec![
            (NODE.to_owned(), node.public, node.pid()),
            (BARE.to_owned(), bare.addr, bare.pid()),
        ];
        let mut paced = load(opts, 16);
        paced.rate = Some(rate);
        compare("rest (paced)", opts, &targets, &payloads, &[paced], "status 200", results).await;
    });
    let violations = fake.violations();
    println!(
        "  fake Discord: {} requests, {} answered 429, violations {violations:?}",
        fake.requests().len(),
        fake.rate_limited()
    );
    drop(fake);
}

/// Start-up at scale (issue 11): deploy `n` bots running one component
/// (after the first, every deploy is of known bytes: nothing to compile),
/// then restart the node and time spawn → serving every bot, for 1,000 and
/// 10,000 bots (`--startup-bots` to change).
pub fn startup(opts: &Opts, ping: &[u8]) {
    /// Redeploys timed with an upload each, for the same-run comparison.
    const UPLOAD_SAMPLE: usize = 200;
    runtime().block_on(async {
        for &n in &opts.startup_bots {
            let apps = app_ids(5_000_000, n);
            let mut node = Node::start(&[]);
            let admin = node.admin();
            let wasm = ping;
            let mut deploys = Vec::with_capacity(n);
            let t = Instant::now();
            for (i, app) in apps.iter().enumerate() {
                let started = Instant::now();
                node.deploy(&admin, &format!("bot-{i}"), app, wasm, None)
                    .await;
                deploys.push(started.elapsed());
            }
            let total = t.elapsed();
            // The same redeploys with the bytes uploaded every time, as all
            // deploys were before hash-first deploys: the same-run baseline.
            let mut uploads = Vec::new();
            for (i, app) in apps.iter().enumerate().take(UPLOAD_SAMPLE.min(n)) {
                let started = Instant::now();
                node.upload(&admin, &format!("bot-{i}"), app, wasm, None)
                    .await;
                uploads.push(started.elapsed());
            }
            uploads.sort();
            // The first deploy compiled the component; the rest found it known.
            let mut known = deploys[1..].to_vec();
            known.sort();
            let pick = |q: f64| known[((known.len() - 1) as f64 * q).round() as usize];
            println!(
                "\nstartup: {n} bots deployed in {total:.1?}; deploy of a known component p50 {:.2?} p90 {:.2?} \
                 p99 {:.2?} (first, compiling: {:.1?})",
                pick(0.5),
                pick(0.9),
                pick(0.99),
                deploys[0]
            );
            println!(
                "startup: the same deploy uploading the bytes every time ({} redeploys): p50 {:.2?} p90 {:.2?}",
                uploads.len(),
                uploads[uploads.len() / 2],
                uploads[uploads.len() * 9 / 10],
            );
            let mut restarts = Vec::new();
            for _ in 0..opts.runs.max(2) {
                restarts.push(node.restart());
            }
            restarts.sort();
            let median = restarts[restarts.len() / 2];
            println!(
                "startup: {n} bots, restart → serving every bot: {} (median {median:.1?}, {:.1} µs per bot)",
                restarts
                    .iter()
                    .map(|d| format!("{d:.1?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                median.as_secs_f64() * 1e6 / n as f64
            );
        }
    });
}
