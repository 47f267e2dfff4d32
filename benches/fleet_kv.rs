//! Bot KV in the fleet against local SQLite, in one run:
//! `cargo bench --bench fleet_kv [-- --ops N]`.
//!
//! Three pinned nats-servers (the tests' harness,
//! `tests/it/support/fleet_harness.rs`: `sync_interval: always`, routes
//! through loopback proxies in this process) and a `Cluster` connected
//! through the library beside server 0, its heartbeat running as in
//! `app.rs`; the bot's space is learnt directly (no deploy). Beside it, a
//! SQLite store on the real disk with one bot.
//!
//! 1. **Latency**: `--ops N` (default 500) `set`s of a 100-byte value to
//!    distinct keys, then N `get`s, then `list_keys` of a prefix matching
//!    100 keys (50 times), each call timed, the two backends interleaved
//!    call by call so they share the machine's noise. Medians, p90, p99 and
//!    the ratio fleet/SQLite of the medians.
//! 2. **Write pause on leader loss**: sequential fleet `set`s (20 s
//!    deadline each); after ~2 s the server leading the bot's partition
//!    stream is SIGKILLed and writing goes on ~15 s. The longest gap
//!    between two acknowledged writes, the calls that failed, then (the
//!    server restarted) how many acknowledged keys do not read back.

#[allow(unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use appliance::cluster::botkv::{partition_name, partition_of};
use appliance::cluster::{Cluster, Member};
use appliance::limits::Limits;
use appliance::sandbox::{KvBackend, KvCall, LocalKv};
use appliance::store::{Db, Deploy, KvQuota};
use support::fleet_harness::Engine;

const BOT: &str = "bench";
const SPACE: &str = "benchspace";
const VALUE_BYTES: usize = 100;
const LISTS: usize = 50;
const WARM_UP: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn call(bot_id: i64, within: Duration) -> KvCall<'static> {
    KvCall {
        bot_id,
        bot: BOT,
        quota: KvQuota::default(),
        deadline: Instant::now() + within,
    }
}

/// The value written under `key`: 100 bytes, distinct per key.
fn value_of(key: &str) -> Vec<u8> {
    let mut value = key.as_bytes().to_vec();
    value.resize(VALUE_BYTES, b'.');
    value
}

async fn timed<T>(future: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = future.await;
    (out, started.elapsed())
}

/// Per backend (fleet, SQLite): one operation's timings.
#[derive(Default)]
struct Samples {
    fleet: Vec<Duration>,
    local: Vec<Duration>,
}

impl Samples {
    fn row(&mut self, op: &str) {
        self.fleet.sort();
        self.local.sort();
        let (f, l) = (&self.fleet, &self.local);
        let ratio = percentile(f, 0.5).as_secs_f64() / percentile(l, 0.5).as_secs_f64();
        println!(
            "| {op} (n={}) | {} / {} / {} | {} / {} / {} | {ratio:.1}× |",
            f.len(),
            ms(percentile(f, 0.5)),
            ms(percentile(f, 0.9)),
            ms(percentile(f, 0.99)),
            ms(percentile(l, 0.5)),
            ms(percentile(l, 0.9)),
            ms(percentile(l, 0.99)),
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ops: usize = args
        .iter()
        .position(|a| a == "--ops")
        .and_then(|i| args.get(i + 1))
        .map_or(500, |n| n.parse().expect("--ops takes a number"));
    assert!(
        ops >= 200,
        "--ops must be at least 200 (the listed prefix matches keys 100-199)"
    );
    println!("command: {}", args.join(" "));

    let mut engine = Engine::start().await;
    let settings = engine.client_settings(0, BOT);
    let cluster = Cluster::connect(settings, Duration::from_secs(30))
        .await
        .expect("the cluster connects");
    cluster.botkv.learn(BOT, SPACE);
    let started_ms = appliance::clock::unix_ms();
    cluster.start_heartbeat(move || Member {
        node: BOT.into(),
        site: "s1".into(),
        public_addr: "127.0.0.1:0".into(),
        admin_addr: "127.0.0.1:0".into(),
        at_ms: appliance::clock::unix_ms(),
        started_ms,
        bots: 1,
    });
    let healthy = Instant::now();
    while cluster.health.check().is_err() {
        assert!(
            healthy.elapsed() < Duration::from_secs(30),
            "no heartbeat acknowledged: {:?}",
            cluster.health.check()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let fleet = cluster.botkv.clone();

    let temp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = temp.path().join("fleet-kv-bench.db");
    let db = tokio::task::spawn_blocking(move || Db::open(&path))
        .await
        .unwrap()
        .unwrap();
    let bot_id = db
        .deploy(Deploy {
            name: BOT.into(),
            app_id: "1".into(),
            public_key: String::new(),
            limits: Limits::default(),
            token: None,
            wasm: Some(vec![0]),
            sha256: "bench".into(),
            gateway: Default::default(),
            commands: None,
        })
        .await
        .unwrap()
        .bot
        .id;
    let local = LocalKv(db);

    let stream = format!("KV_{}", partition_name(partition_of(SPACE)));
    let leader = engine.stream_leader(&stream).await;
    println!(
        "client connected to {}; {stream} led by {}",
        cluster.client.server_info().server_name,
        leader.map_or("?".into(), |i| engine.servers[i].name.clone())
    );

    // Warm-up: the fleet's first write counts the bot's data (a scan).
    for i in 0..WARM_UP {
        let key = format!("w{i}");
        for backend in [&*fleet as &dyn KvBackend, &local] {
            let c = call(bot_id, Duration::from_secs(10));
            backend.set(c, key.clone(), value_of(&key)).await.unwrap();
            backend.get(c, key.clone()).await.unwrap().unwrap();
        }
    }

    // 1. Latency, the two backends interleaved call by call.
    let key = |i: usize| format!("k{i:05}");
    let (mut sets, mut gets, mut lists) =
        (Samples::default(), Samples::default(), Samples::default());
    for i in 0..ops {
        let k = key(i);
        let c = call(bot_id, Duration::from_secs(10));
        let (done, took) = timed(fleet.set(c, k.clone(), value_of(&k))).await;
        done.unwrap();
        sets.fleet.push(took);
        let (done, took) = timed(local.set(c, k.clone(), value_of(&k))).await;
        done.unwrap();
        sets.local.push(took);
    }
    for i in 0..ops {
        let k = key(i);
        let c = call(bot_id, Duration::from_secs(10));
        let (got, took) = timed(fleet.get(c, k.clone())).await;
        assert_eq!(got.unwrap(), Some(value_of(&k)));
        gets.fleet.push(took);
        let (got, took) = timed(local.get(c, k.clone())).await;
        assert_eq!(got.unwrap(), Some(value_of(&k)));
        gets.local.push(took);
    }
    for _ in 0..LISTS {
        let c = call(bot_id, Duration::from_secs(10));
        let (got, took) = timed(fleet.list_keys(c, "k001".into())).await;
        assert_eq!(got.unwrap().len(), 100);
        lists.fleet.push(took);
        let (got, took) = timed(local.list_keys(c, "k001".into())).await;
        assert_eq!(got.unwrap().len(), 100);
        lists.local.push(took);
    }
    println!();
    println!("| ms | fleet p50 / p90 / p99 | SQLite p50 / p90 / p99 | fleet/SQLite p50 |");
    println!("|---|---|---|---|");
    sets.row("set 100 B");
    gets.row("get");
    lists.row("list_keys, 100 keys");

    // 2. Write pause: kill the server leading the bot's partition.
    let began = Instant::now();
    let (mut acknowledged, mut failed) = (Vec::new(), 0usize);
    let (mut killed, mut killed_at) = (None, None);
    let mut last_ack = Instant::now();
    let mut longest_gap = Duration::ZERO;
    let mut first_after_kill = None;
    let mut i = 0usize;
    loop {
        if killed.is_none() && began.elapsed() >= Duration::from_secs(2) {
            let leader = support::eventually(
                Duration::from_secs(10),
                "the servers name the leader of the bot's partition",
                async || engine.stream_leader(&stream).await,
            )
            .await;
            engine.kill(leader);
            killed = Some(leader);
            killed_at = Some(Instant::now());
        }
        if killed_at.is_some_and(|at| at.elapsed() >= Duration::from_secs(15)) {
            break;
        }
        let k = format!("p{i:06}");
        i += 1;
        match fleet
            .set(
                call(bot_id, Duration::from_secs(20)),
                k.clone(),
                value_of(&k),
            )
            .await
        {
            Ok(()) => {
                let now = Instant::now();
                longest_gap = longest_gap.max(now - last_ack);
                last_ack = now;
                if let Some(at) = killed_at {
                    first_after_kill.get_or_insert(now - at);
                }
                acknowledged.push(k);
            }
            Err(err) => {
                failed += 1;
                eprintln!("write {k} failed: {err}");
            }
        }
    }
    let killed = killed.expect("a server was killed");
    engine.restart(&[killed]).await;
    let (mut lost, mut unreadable) = (0usize, 0usize);
    for k in &acknowledged {
        match fleet
            .get(call(bot_id, Duration::from_secs(20)), k.clone())
            .await
        {
            Ok(Some(v)) if v == value_of(k) => {}
            Ok(_) => lost += 1,
            Err(err) => {
                unreadable += 1;
                eprintln!("read-back of {k} failed: {err}");
            }
        }
    }
    println!();
    println!(
        "leader loss ({stream}, {} SIGKILLed ~2 s in, writing ~15 s after):",
        engine.servers[killed].name
    );
    println!(
        "  {} writes, {} acknowledged, {failed} failed; longest gap between acks {} s; first ack after the kill {} s",
        i,
        acknowledged.len(),
        format_args!("{:.2}", longest_gap.as_secs_f64()),
        first_after_kill.map_or("none".into(), |d| format!("{:.2}", d.as_secs_f64())),
    );
    println!(
        "  server restarted: {} acknowledged keys read back, {lost} lost, {unreadable} unreadable",
        acknowledged.len() - lost - unreadable
    );
}
