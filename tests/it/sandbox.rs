//! Hostile guests on a shared node: each attack is contained, recorded with
//! its reason, and never disturbs a well-behaved neighbour.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::{assert_crash_notice, assert_notice, command, command_bytes, Node, Signer};

const GOOD_APP: &str = "2000000000000000001";
const HOSTILE_APP: &str = "2000000000000000002";
const SLOW_APP: &str = "2000000000000000003";
const BIG_APP: &str = "2000000000000000004";

fn body(name: &str) -> Vec<u8> {
    command_bytes(name, "42")
}

/// What the user ends up seeing: the HTTP answer, or, when a loaded machine
/// made the bot miss the deferral point, the answer the host delivers late
/// (an edit or a follow-up at the fake Discord), as an interaction response.
async fn seen(
    node: &Node,
    fake: &FakeDiscord,
    app: &str,
    signer: &Signer,
    body: &[u8],
) -> (u16, Value) {
    let before = fake.requests().len();
    let (status, answer) = node.interact(app, signer, body).await;
    if status != 200 || answer["type"] != 5 {
        return (status, answer);
    }
    let waiting = Instant::now();
    loop {
        let late = fake.requests().into_iter().skip(before).find(|r| {
            r.method == "PATCH" || (r.method == "POST" && r.path.starts_with("/webhooks/"))
        });
        if let Some(late) = late {
            let data: Value = serde_json::from_slice(&late.body).unwrap();
            return (status, serde_json::json!({ "type": 4, "data": data }));
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "deferred, and the late answer never came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first crash record with `reason` in `appliance logs` output: its
/// heading line and the indented detail lines under it.
fn crash_record(logs: &str, reason: &str) -> String {
    let heading = format!("CRASH version 1: {reason}");
    let mut lines = logs.lines().skip_while(|line| !line.contains(&heading));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no {reason} crash in:\n{logs}"));
    std::iter::once(first)
        .chain(lines.take_while(|line| line.starts_with("    ")))
        .collect::<Vec<_>>()
        .join("\n")
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
    // A busy 2-core machine can push an attack past the deferral point; the
    // fake Discord receives the late answer then.
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let node = Arc::new(Node::with_fake_discord(&fake));
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
    let (_, first) = seen(&node, &fake, HOSTILE_APP, &signer, &body("remember")).await;
    let (_, second) = seen(&node, &fake, HOSTILE_APP, &signer, &body("recall")).await;
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
        let (status, answer) = seen(&node, &fake, app, &signer, &body(attack)).await;
        assert_notice(status, &answer);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{attack} took {:?}",
            started.elapsed()
        );
        // A fresh instance serves the next event; a success also resets the crash count.
        let (status, answer) = seen(&node, &fake, app, &signer, &body("recall")).await;
        assert_eq!(status, 200);
        assert_eq!(
            answer["data"]["content"], "events seen: 1",
            "after {attack}, a new instance: {answer}"
        );
    }

    // A 100 MiB answer is refused, not forwarded.
    let (status, answer) = seen(&node, &fake, BIG_APP, &signer, &body("huge")).await;
    assert_notice(status, &answer);

    // Log floods are cut to the per-event budget; the bot still answers.
    let (status, answer) = seen(&node, &fake, HOSTILE_APP, &signer, &body("logflood")).await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "flooded".into()),
        "{answer}"
    );

    // KV floods end in a quota error the bot can handle: no trap.
    let (status, answer) = seen(&node, &fake, HOSTILE_APP, &signer, &body("kvflood")).await;
    assert_eq!(status, 200);
    let content = answer["data"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("kvflood: {answer}"));
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
    // Crash records name the guest's functions (wasm backtrace from the name
    // section), not the host's: the stack overflow's record names `recurse`.
    let overflow = crash_record(&logs, "stack_overflow");
    assert!(
        overflow
            .lines()
            .any(|line| line.contains("hostile_bot.wasm!") && line.contains("recurse")),
        "no frame of `recurse` in the stack overflow's record:\n{overflow}"
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

/// A `/slow` command that makes the slow example bot sleep `ms`.
fn slow_body(ms: u64) -> Vec<u8> {
    let mut body = command("slow", "42");
    body["data"]["options"] = serde_json::json!([{ "name": "ms", "type": 4, "value": ms }]);
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_instance_a_concurrent_event_gets_the_busy_notice() {
    // Deferral as late as allowed, so the slow event's own answer comes back directly.
    let node = Arc::new(Node::start_with(&[
        "--plain-http",
        "--defer-after-ms",
        "2999",
    ]));
    let signer = Arc::new(Signer::new(13));
    node.deploy("ping-bot", "good", GOOD_APP, &signer);
    node.deploy_with(
        "slow-bot",
        "slow",
        SLOW_APP,
        &signer,
        &["--instances", "1", "--timeout-ms", "800"],
    );

    // The only instance is taken by a 1.8 s sleep (cut at 800 ms), then by a
    // second one queued behind it (its own 800 ms count once it has the
    // instance). A third event waits its 800 ms for an instance in vain.
    let slow = |delay_ms: u64| {
        let (node, signer) = (node.clone(), signer.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            node.interact(SLOW_APP, &signer, &slow_body(1800)).await
        })
    };
    let first = slow(0);
    let second = slow(100);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Instant::now();
    let (status, answer) = node.interact(SLOW_APP, &signer, &slow_body(0)).await;
    let waited = sent.elapsed();
    assert_notice(status, &answer);
    assert_eq!(
        answer["data"]["content"], "This bot is busy right now. Please try again in a moment.",
        "{answer}"
    );
    assert!(
        !second.is_finished(),
        "the busy answer must come while the second event holds the instance"
    );
    // It waited for an instance up to its wall-clock limit, not forever.
    assert!(
        waited >= Duration::from_millis(750) && waited < Duration::from_millis(1500),
        "busy answer after {waited:?}"
    );
    // The first event was cut at its limit, though asleep in a host call.
    let (status, answer) = first.await.unwrap();
    assert_crash_notice(status, &answer);

    // The node is fine: a neighbour answers meanwhile...
    let (status, answer) = node.interact(GOOD_APP, &signer, &body("ping")).await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "pong".into())
    );
    // ...the second event ends with its own (timeout) notice...
    let (status, answer) = second.await.unwrap();
    assert_notice(status, &answer);
    assert_ne!(
        answer["data"]["content"],
        "This bot is busy right now. Please try again in a moment."
    );
    // ...and, once the short back-off after two crashes in a row is over, the
    // freed instance serves the next event.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, answer) = node.interact(SLOW_APP, &signer, &slow_body(0)).await;
    assert_eq!(status, 200, "{answer}");
    let content = answer["data"]["content"].as_str().unwrap();
    assert!(content.starts_with("done after"), "{content}");
    let bot = node.bot("slow");
    assert_eq!(bot["state"], "running", "{bot}");
    // Two timeouts (crash records are written just after the answers); being
    // busy is not a crash.
    let waiting = Instant::now();
    while node.bot("slow")["crashes"] != 2 && waiting.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(node.bot("slow")["crashes"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_in_flight_during_a_redeploy_finishes_on_the_old_version() {
    use crate::support::fake_discord::{FakeConfig, FakeDiscord};

    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let node = Arc::new(Node::with_fake_discord(&fake));
    let signer = Arc::new(Signer::new(14));
    node.deploy("slow-bot", "swap", SLOW_APP, &signer);
    // The ping component is compiled once here, so the redeploy below only
    // switches versions and surely lands while the slow event runs.
    node.deploy("ping-bot", "warm", GOOD_APP, &signer);

    // Version 1 (the slow bot) takes 8 s: deferred at 2 s, answered late by PATCH.
    let in_flight = {
        let (node, signer) = (node.clone(), signer.clone());
        tokio::spawn(async move { node.interact(SLOW_APP, &signer, &slow_body(8000)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Version 2, a different component under the same name and application id.
    {
        let (node, signer) = (node.clone(), signer.clone());
        tokio::task::spawn_blocking(move || node.deploy("ping-bot", "swap", SLOW_APP, &signer))
            .await
            .unwrap();
    }
    assert_eq!(node.bot("swap")["version"], 2);
    // New events go to version 2 at once...
    let (status, answer) = node.interact(SLOW_APP, &signer, &body("ping")).await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "pong".into()),
        "{answer}"
    );
    let (_, answer) = node.interact(SLOW_APP, &signer, &slow_body(0)).await;
    assert_eq!(answer["data"]["content"], "unknown command", "{answer}");
    // ...while the event that started on version 1 is still running there.
    assert!(
        fake.requests().iter().all(|r| r.method != "PATCH"),
        "the slow event ended before the redeploy: {:#?}",
        fake.requests()
    );

    let (status, answer) = in_flight.await.unwrap();
    assert_eq!((status, answer), (200, serde_json::json!({ "type": 5 })));
    let waiting = Instant::now();
    let edit = loop {
        if let Some(edit) = fake.requests().into_iter().find(|r| r.method == "PATCH") {
            break edit;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "the late answer never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let message: Value = serde_json::from_slice(&edit.body).unwrap();
    let content = message["content"].as_str().unwrap_or_default();
    // Only the slow bot (version 1) says this.
    assert!(content.starts_with("done after "), "{message}");
    let ms: u64 = content["done after ".len()..]
        .trim_end_matches(" ms")
        .parse()
        .unwrap();
    assert!(ms >= 8000, "{message}");
}
