//! `--scenario backup`: interaction latency while `appliance backup` runs.
//!
//! One counter bot (a KV write per interaction) with `--fill-mib` of extra KV
//! rows written into its database first, so there is something to copy. The
//! same load (16 connections, back to back) is measured quietly, then with
//! the real CLI (`appliance backup FILE`, a separate process as an operator
//! runs it, at `nice 10` like packaging/backup's unit) taking one backup
//! after another for the whole window.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driver::{self, Load};
use crate::node::Node;
use crate::payload::Payloads;
use crate::Opts;

const APP: &str = "1000001";
const BIN: &str = env!("CARGO_BIN_EXE_appliance");

pub fn run(opts: &Opts, counter: &[u8], fill_mib: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let node = Node::start(&[]);
        node.deploy(&node.admin(), "counter", APP, counter, None)
            .await;
        fill(&node.data_dir().join("appliance.db"), fill_mib);
        let db_mib = std::fs::metadata(node.data_dir().join("appliance.db"))
            .map(|m| m.len() as f64 / (1 << 20) as f64)
            .unwrap_or(0.0);
        let payloads = Arc::new(Payloads::new(
            "count",
            serde_json::json!([]),
            vec![APP.into()],
        ));
        let load = Load {
            concurrency: 16,
            duration: opts.window,
            warmup: opts.warmup,
            rate: None,
        };
        println!("\nbackup: counter bot, database {db_mib:.0} MiB (+WAL), 16 connections");
        println!(
            "{:>4} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>7} {:>10}",
            "run",
            "quiet/s",
            "q p50 ms",
            "q p99 ms",
            "busy/s",
            "b p99",
            "p99 x",
            "backups",
            "backup ms"
        );
        for run in 1..=opts.runs {
            let quiet = driver::run(node.public, node.pid(), &payloads, load, "counted").await;
            let stop = Arc::new(AtomicBool::new(false));
            let took = Arc::new(Mutex::new(Vec::new()));
            let backups = {
                let (stop, took) = (stop.clone(), took.clone());
                let data_dir = node.data_dir().to_owned();
                std::thread::spawn(move || backup_loop(&data_dir, &stop, &took))
            };
            let busy = driver::run(node.public, node.pid(), &payloads, load, "counted").await;
            stop.store(true, Ordering::Relaxed);
            backups.join().unwrap();
            let mut took = took.lock().unwrap().clone();
            took.sort();
            let median = took.get(took.len() / 2).copied().unwrap_or_default();
            let ms = |us: u32| us as f64 / 1000.0;
            println!(
                "{run:>4} {:>9.0} {:>9.2} {:>9.2} {:>9.0} {:>7.2} {:>8.2} {:>7} {:>10.0}",
                quiet.throughput(),
                ms(quiet.percentile_us(0.5)),
                ms(quiet.percentile_us(0.99)),
                busy.throughput(),
                ms(busy.percentile_us(0.99)),
                busy.percentile_us(0.99) as f64 / quiet.percentile_us(0.99).max(1) as f64,
                took.len(),
                median.as_secs_f64() * 1000.0,
            );
            let failed: u64 = busy.failures.values().sum::<u64>() + busy.wrong_answers;
            assert_eq!(
                failed, 0,
                "interactions failed during backups: {:?}",
                busy.failures
            );
        }
    });
}

/// `appliance backup` after `appliance backup` until `stop`; each one's time.
fn backup_loop(data_dir: &Path, stop: &AtomicBool, took: &Mutex<Vec<Duration>>) {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("node.backup");
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        // As the systemd recipe runs it (`Nice=10`): the CLI's checksum
        // passes yield to the node.
        let output = Command::new("nice")
            .args(["-n", "10", BIN, "backup"])
            .arg(&file)
            .arg("--data-dir")
            .arg(data_dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        took.lock().unwrap().push(started.elapsed());
    }
}

/// Writes about `mib` MiB of 1 KiB KV rows for the bot, from outside the
/// node (SQLite lets a second process write a WAL database).
fn fill(db: &Path, mib: u64) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let bot: i64 = conn
        .query_row("SELECT id FROM bots WHERE name = 'counter'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO kv (bot_id, key, value) VALUES (?1, ?2, randomblob(1024))")
            .unwrap();
        for i in 0..mib * 1024 {
            insert
                .execute(rusqlite::params![bot, format!("fill:{i}")])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}
