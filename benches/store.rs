//! The store under tenants that do not wait for each other (issue 11): one
//! quiet bot reads and writes its KV while two noisy bots flood log appends
//! and KV writes from many concurrent events. Reports the quiet bot's
//! `kv_get`/`kv_set` latency, the noisy bots' throughput, and commits (each
//! one WAL fsync) per logged event. On the real disk, not tmpfs: the fsync
//! is the point. `cargo bench --bench store [-- --secs N]`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::limits::Limits;
use appliance::store::{Db, Deploy, KvQuota, Level, LogLine};

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn bot(db: &Db, name: &str, app_id: &str) -> i64 {
    db.deploy(Deploy {
        name: name.into(),
        app_id: app_id.into(),
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
    .id
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1))
        .map_or(10, |s| s.parse().expect("--secs takes seconds"));
    let temp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let db = Db::open(&temp.path().join("store-bench.db")).unwrap();
    let quiet = bot(&db, "quiet", "1").await;
    let noisy = [
        bot(&db, "noisy-a", "2").await,
        bot(&db, "noisy-b", "3").await,
    ];
    let quota = KvQuota::default();
    for i in 0..100 {
        db.kv_set(quiet, format!("key-{i}"), vec![7; 200], quota)
            .await
            .unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let commits_before = commits(&db);
    let mut floods = Vec::new();
    // Each noisy bot: 16 events at a time, each logging two lines and then
    // writing a key, as fast as the store lets them.
    for &bot in &noisy {
        for worker in 0..16 {
            let (db, stop, events) = (db.clone(), stop.clone(), events.clone());
            floods.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let lines = vec![
                        LogLine::new(
                            Level::Info,
                            None,
                            format!("event {worker}/{i} started {}", "x".repeat(80)),
                        ),
                        LogLine::new(Level::Info, None, format!("event {worker}/{i} done")),
                    ];
                    db.append_logs(bot, lines).await.unwrap();
                    db.kv_set(bot, format!("k{worker}-{}", i % 50), vec![1; 100], quota)
                        .await
                        .unwrap();
                    events.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            }));
        }
    }

    let (mut gets, mut sets) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        db.kv_get(quiet, format!("key-{}", i % 100)).await.unwrap();
        gets.push(t.elapsed());
        if i.is_multiple_of(10) {
            let t = Instant::now();
            db.kv_set(quiet, format!("key-{}", i % 100), vec![8; 200], quota)
                .await
                .unwrap();
            sets.push(t.elapsed());
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for flood in floods {
        flood.await.unwrap();
    }
    let elapsed = started.elapsed();
    gets.sort();
    sets.sort();
    let logged = events.load(Ordering::Relaxed);
    println!(
        "store bench, {secs} s, disk {}:\n  quiet bot kv_get: p50 {:.3?} p99 {:.3?} max {:.3?} ({} calls)\n  \
         quiet bot kv_set: p50 {:.3?} p99 {:.3?} max {:.3?} ({} calls)\n  noisy bots: {logged} logged events \
         ({:.0}/s), each two lines and a KV write",
        temp.path().display(),
        percentile(&gets, 0.5),
        percentile(&gets, 0.99),
        gets.last().unwrap(),
        gets.len(),
        percentile(&sets, 0.5),
        percentile(&sets, 0.99),
        sets.last().unwrap(),
        sets.len(),
        logged as f64 / elapsed.as_secs_f64(),
    );
    if let Some(before) = commits_before {
        let commits = commits(&db).unwrap() - before;
        println!(
            "  commits (one WAL fsync each): {commits}, {:.3} per logged event",
            commits as f64 / logged.max(1) as f64
        );
    }
}

/// Commits the store has made, where it counts them.
fn commits(db: &Db) -> Option<u64> {
    Some(db.commits())
}
