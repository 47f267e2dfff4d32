//! Hostile guests on a shared node: each attack is contained, recorded with
//! its reason, and never disturbs a well-behaved neighbour.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{command, Node, Signer};

const GOOD_APP: &str = "2000000000000000001";
const HOSTILE_APP: &str = "2000000000000000002";
const SLOW_APP: &str = "2000000000000000003";
const BIG_APP: &str = "2000000000000000004";

fn body(name: &str) -> Vec<u8> {
    serde_json::to_vec(&command(name, "42")).unwrap()
}

/// Asserts the documented answer for a bot that could not answer.
#[track_caller]
fn assert_notice(status: u16, answer: &Value) {
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(
        answer["data"]["flags"], 64,
        "notice must be ephemeral: {answer}"
    );
}

/// Keeps sending `ping` to the good bot until `stop`; counts right and wrong answers.
fn hammer(
    node: Arc<Node>,
    signer: Arc<Signer>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, usize)> {
    tokio::spawn(async move {
        let (good, bad) = (AtomicUsize::new(0), AtomicUsize::new(0));
        while !stop.load(Ordering::Relaxed) {
            let (status, answer) = node.interact(GOOD_APP, &signer, &body("ping")).await;
            if status == 200 && answer["data"]["content"] == "pong" {
                good.fetch_add(1, Ordering::Relaxed);
            } else {
                eprintln!("neighbour got a wrong answer: {status} {answer}");
                bad.fetch_add(1, Ordering::Relaxed);
            }
        }
        (good.into_inner(), bad.into_inner())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_guests_are_contained_while_a_neighbour_keeps_answering() {
    let node = Arc::new(Node::start());
    let signer = Arc::new(Signer::new(11));
    node.deploy("ping-bot", "good", GOOD_APP, &signer);
    // Small budgets make each attack end quickly.
    node.deploy_with(
        "hostile-bot",
        "hostile",
        HOSTILE_APP,
        &signer,
        &[
            "--fuel",
            "200000000",
            "--memory-mib",
            "32",
            "--timeout-ms",
            "60000",
        ],
    );
    // Fuel enough for ages: only the wall clock can stop this one.
    node.deploy_with(
        "hostile-bot",
        "slow",
        SLOW_APP,
        &signer,
        &["--fuel", "1000000000000000", "--timeout-ms", "300"],
    );
    // Memory enough to build a 100 MiB answer: only the response limit stops it.
    node.deploy_with(
        "hostile-bot",
        "big",
        BIG_APP,
        &signer,
        &["--memory-mib", "1024", "--fuel", "50000000000"],
    );

    let stop = Arc::new(AtomicBool::new(false));
    let neighbour = hammer(node.clone(), signer.clone(), stop.clone());

    // Memory persists between events in one live instance.
    let (_, first) = node.interact(HOSTILE_APP, &signer, &body("remember")).await;
    let (_, second) = node.interact(HOSTILE_APP, &signer, &body("recall")).await;
    assert_eq!(first["data"]["content"], "events seen: 1");
    assert_eq!(second["data"]["content"], "events seen: 2");

    let attacks = [
        (HOSTILE_APP, "loop", "out_of_fuel"),
        (HOSTILE_APP, "alloc", "memory"),
        (HOSTILE_APP, "recurse", "stack_overflow"),
        (HOSTILE_APP, "panic", "trap"),
        (SLOW_APP, "loop", "timeout"),
    ];
    for (app, attack, _) in attacks {
        let started = Instant::now();
        let (status, answer) = node.interact(app, &signer, &body(attack)).await;
        assert_notice(status, &answer);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{attack} took {:?}",
            started.elapsed()
        );
        // A fresh instance serves the next event; a success also resets the crash count.
        let (status, answer) = node.interact(app, &signer, &body("recall")).await;
        assert_eq!(status, 200);
        assert_eq!(
            answer["data"]["content"], "events seen: 1",
            "after {attack}, a new instance: {answer}"
        );
    }

    // A 100 MiB answer is refused, not forwarded.
    let (status, answer) = node.interact(BIG_APP, &signer, &body("huge")).await;
    assert_notice(status, &answer);

    // Log floods are cut to the per-event budget; the bot still answers.
    let (status, answer) = node.interact(HOSTILE_APP, &signer, &body("logflood")).await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "flooded".into()),
        "{answer}"
    );

    // KV floods end in a quota error the bot can handle: no trap.
    let (status, answer) = node.interact(HOSTILE_APP, &signer, &body("kvflood")).await;
    assert_eq!(status, 200);
    let content = answer["data"]["content"].as_str().unwrap();
    assert!(content.starts_with("kv refused after"), "{content}");
    assert!(content.contains("limit"), "{content}");

    stop.store(true, Ordering::Relaxed);
    let (good, bad) = neighbour.await.unwrap();
    assert_eq!(bad, 0, "the neighbour got wrong answers");
    assert!(good > 0, "the neighbour was never served");

    // Every crash is on record with its reason.
    let logs = node.cli_ok(&["logs", "hostile", "--lines", "10000"]);
    for reason in ["out_of_fuel", "memory", "stack_overflow", "trap"] {
        assert!(
            logs.contains(&format!("CRASH version 1: {reason}")),
            "no {reason} crash in:\n{logs}"
        );
    }
    assert!(
        logs.contains("hostile bot panicked on purpose"),
        "panic message not logged"
    );
    assert!(logs.contains("log bytes dropped"), "log flood not reported");
    let log_bytes: usize = logs.lines().map(str::len).sum();
    assert!(
        log_bytes < 2 * 1024 * 1024,
        "log flood stored {log_bytes} bytes"
    );
    assert!(node
        .cli_ok(&["logs", "slow"])
        .contains("CRASH version 1: timeout"));
    assert!(node.cli_ok(&["logs", "big"]).contains("response_too_large"));
    // Crash records name the guest's functions (wasm backtrace), not the host's.
    assert!(
        logs.contains("hostile_bot.wasm!"),
        "no wasm backtrace in:\n{logs}"
    );
    assert!(
        !logs.contains("wasmtime"),
        "host internals leaked into crash records"
    );
    assert_eq!(node.bot("hostile")["state"], "running");
}

#[tokio::test]
async fn a_crash_loop_backs_off_then_quarantines_until_a_fixed_redeploy() {
    let mut node = Node::start();
    let signer = Signer::new(12);
    node.deploy("hostile-bot", "looper", HOSTILE_APP, &signer);

    // Crash until quarantined; during back-off the answer comes at once.
    let started = Instant::now();
    let mut saw_backoff = false;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never quarantined"
        );
        let sent = Instant::now();
        let (status, answer) = node.interact(HOSTILE_APP, &signer, &body("panic")).await;
        assert_notice(status, &answer);
        let text = answer["data"]["content"].as_str().unwrap().to_owned();
        if text.contains("restarting") {
            saw_backoff = true;
            assert!(
                sent.elapsed() < Duration::from_secs(1),
                "a backing-off bot must answer at once"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if text.contains("disabled") {
            break;
        }
    }
    assert!(saw_backoff, "no back-off before quarantine");
    // The quarantine is stored before the answer; the crash records of the
    // earlier events are written in the background and may still be landing.
    let mut bot = node.bot("looper");
    assert_eq!(bot["state"], "quarantined");
    let waiting = Instant::now();
    while bot["crashes"].as_u64().unwrap() < 5 && waiting.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        bot = node.bot("looper");
    }
    assert!(bot["crashes"].as_u64().unwrap() >= 5, "{bot}");
    assert_eq!(bot["last_crash"], "trap");

    // Even a harmless command is refused now, and quarantine survives a restart.
    let (status, answer) = node.interact(HOSTILE_APP, &signer, &body("ok")).await;
    assert_notice(status, &answer);
    node.crash_and_restart();
    assert_eq!(node.bot("looper")["state"], "quarantined");
    assert!(node
        .cli_ok(&["logs", "looper"])
        .contains("quarantined after"));

    // A redeploy lifts it, even of the same component (an operator retrying after fixing a dependency).
    node.deploy("hostile-bot", "looper", HOSTILE_APP, &signer);
    assert_eq!(node.bot("looper")["state"], "running");

    // A fixed version takes over; rollback brings back the earlier one.
    node.deploy("ping-bot", "looper", HOSTILE_APP, &signer);
    let (status, answer) = node.interact(HOSTILE_APP, &signer, &body("ping")).await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "pong".into())
    );
    assert_eq!(node.bot("looper")["version"], 3);

    assert!(node.cli_ok(&["rollback", "looper"]).contains("version 2"));
    let (_, answer) = node.interact(HOSTILE_APP, &signer, &body("ok")).await;
    assert_eq!(answer["data"]["content"], "ok");
    node.cli_ok(&["rollback", "looper", "--version", "3"]);
    let (_, answer) = node.interact(HOSTILE_APP, &signer, &body("ping")).await;
    assert_eq!(answer["data"]["content"], "pong");

    let output = node.cli(&["rollback", "looper", "--version", "9"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no version 9"));
}
