//! Hostile guests on a shared node: each attack is contained, recorded with
//! its reason, and never disturbs a well-behaved neighbour.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::{
    assert_crash_notice, assert_notice, command, command_bytes, eventually, holds, Node, Signer,
};

const GOOD_APP: &str = "2000000000000000001";
const HOSTILE_APP: &str = "2000000000000000002";
const SLOW_APP: &str = "2000000000000000003";

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
    let late = eventually(
        Duration::from_secs(60),
        "the late answer of a deferred event arrived",
        async || {
            fake.requests().into_iter().skip(before).find(|r| {
                r.method == "PATCH" || (r.method == "POST" && r.path.starts_with("/webhooks/"))
            })
        },
    )
    .await;
    let data: Value = serde_json::from_slice(&late.body).unwrap();
    (status, serde_json::json!({ "type": 4, "data": data }))
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

/// A hostile bot beside a well-behaved neighbour that is pinged all along.
/// The runtime is multi-threaded so the neighbour's requests keep going
/// while the test waits; a busy 2-core machine can push an attack past the
/// deferral point, and the fake Discord receives the late answer then.
struct Arena {
    fake: FakeDiscord,
    node: Arc<Node>,
    signer: Arc<Signer>,
    stop: Arc<AtomicBool>,
    neighbour: tokio::task::JoinHandle<(usize, usize)>,
}

/// Small budgets make each attack end quickly.
const SMALL: &[&str] = &[
    "--fuel",
    "200000000",
    "--memory-mib",
    "32",
    "--timeout-ms",
    "60000",
];

impl Arena {
    /// A node with the ping bot `good` and the hostile bot `hostile`
    /// (deployed with `limits`), and the neighbour's pings under way.
    async fn start(limits: &[&str]) -> Arena {
        let fake = FakeDiscord::start(FakeConfig::default()).await;
        let node = Arc::new(Node::with_fake_discord(&fake).await);
        let signer = Arc::new(Signer::new(11));
        node.deploy("ping-bot", "good", GOOD_APP, &signer).await;
        node.deploy_with("hostile-bot", "hostile", HOSTILE_APP, &signer, limits)
            .await;
        let stop = Arc::new(AtomicBool::new(false));
        let neighbour = hammer(node.clone(), signer.clone(), stop.clone());
        Arena {
            fake,
            node,
            signer,
            stop,
            neighbour,
        }
    }

    /// What the user sees for `/name` sent to the hostile bot.
    async fn send(&self, name: &str) -> (u16, Value) {
        seen(
            &self.node,
            &self.fake,
            HOSTILE_APP,
            &self.signer,
            &body(name),
        )
        .await
    }

    /// The hostile bot's stored logs, once `holds` is true of them.
    async fn logs_when(&self, what: &str, holds: impl Fn(&str) -> bool) -> String {
        self.node.logs_when("hostile", what, holds).await
    }

    /// Stops the neighbour: it was served throughout, and never wrongly.
    async fn neighbour_was_undisturbed(self) {
        self.stop.store(true, Ordering::Relaxed);
        let (good, bad) = self.neighbour.await.unwrap();
        assert_eq!(bad, 0, "the neighbour got wrong answers");
        assert!(good > 0, "the neighbour was never served");
    }
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

/// `attack` on the hostile bot (deployed with `limits`) crashes it with
/// `reason`: the user gets a notice in good time, the instance (and the
/// memory it kept between events) is discarded and a fresh one serves the
/// next event, the crash is on record with its reason and no host
/// internals, the bot keeps running, and the neighbour is never disturbed.
/// Returns the bot's logs.
async fn check_contained_crash(limits: &[&str], attack: &str, reason: &str) -> String {
    let arena = Arena::start(limits).await;
    // Memory persists between events in one live instance.
    let (_, first) = arena.send("remember").await;
    let (_, second) = arena.send("recall").await;
    assert_eq!(first["data"]["content"], "events seen: 1", "{first}");
    assert_eq!(second["data"]["content"], "events seen: 2", "{second}");

    let started = Instant::now();
    let (status, answer) = arena.send(attack).await;
    assert_notice(status, &answer);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{attack} took {:?}",
        started.elapsed()
    );
    // A fresh instance serves the next event; a success also resets the crash count.
    let (status, answer) = arena.send("recall").await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["data"]["content"], "events seen: 1",
        "after {attack}, a new instance: {answer}"
    );

    let heading = format!("CRASH version 1: {reason}");
    let logs = arena
        .logs_when(&format!("the {reason} crash is on record"), |logs| {
            logs.contains(&heading)
        })
        .await;
    assert!(
        !logs.contains("wasmtime"),
        "host internals leaked into crash records:\n{logs}"
    );
    assert_eq!(arena.node.bot("hostile").await["state"], "running");
    arena.neighbour_was_undisturbed().await;
    logs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_runs_out_of_fuel() {
    check_contained_crash(SMALL, "loop", "out_of_fuel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_memory_limit() {
    check_contained_crash(SMALL, "alloc", "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_recursion_overflows_the_stack_and_the_record_names_the_guests_function() {
    let logs = check_contained_crash(SMALL, "recurse", "stack_overflow").await;
    let record = crash_record(&logs, "stack_overflow");
    // Crash records name the guest's functions (wasm backtrace from the name
    // section), not the host's: the stack overflow's record names `recurse`.
    assert!(
        record
            .lines()
            .any(|line| line.contains("hostile_bot.wasm!") && line.contains("recurse")),
        "no frame of `recurse` in the stack overflow's record:\n{record}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_traps_and_its_message_is_on_record() {
    let logs = check_contained_crash(SMALL, "panic", "trap").await;
    assert!(
        logs.contains("hostile bot panicked on purpose"),
        "panic message not logged:\n{logs}"
    );
    // The crash record itself starts with what the guest wrote to stderr
    // before it trapped (Rust's panic message here; a JS or Python
    // runtime's own stack for those bots), each line marked as the guest's,
    // then the host's lines with the wasm backtrace.
    let record = crash_record(&logs, "trap");
    let detail: Vec<&str> = record.lines().skip(1).map(str::trim_start).collect();
    assert!(
        detail
            .first()
            .is_some_and(|line| line.starts_with("stderr: ")),
        "the record does not start with the guest's stderr:\n{record}"
    );
    assert!(
        detail
            .iter()
            .any(|line| line.starts_with("stderr: ")
                && line.contains("hostile bot panicked on purpose")),
        "the panic message is not in the record's stderr lines:\n{record}"
    );
    assert!(
        detail.iter().any(|line| line.contains("hostile_bot.wasm!")),
        "the wasm backtrace is gone from the record:\n{record}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_with_fuel_to_spare_is_stopped_by_the_wall_clock() {
    // Fuel enough for ages: only the wall clock can stop this one.
    let limits = ["--fuel", "1000000000000000", "--timeout-ms", "300"];
    check_contained_crash(&limits, "loop", "timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_answer_is_refused_not_forwarded() {
    // Memory enough to build a 100 MiB answer: only the response limit stops it.
    let arena = Arena::start(&["--memory-mib", "1024", "--fuel", "50000000000"]).await;
    let (status, answer) = arena.send("huge").await;
    assert_notice(status, &answer);
    arena
        .logs_when("the refused answer is on record", |logs| {
            logs.contains("response_too_large")
        })
        .await;
    arena.neighbour_was_undisturbed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_cut_to_the_per_event_budget_and_the_bot_still_answers() {
    let arena = Arena::start(SMALL).await;
    let (status, answer) = arena.send("logflood").await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "flooded".into()),
        "{answer}"
    );
    // The event's lines and the cut's notice are stored in one write.
    let logs = arena
        .logs_when("the log flood is on record", |logs| {
            logs.contains("log bytes dropped")
        })
        .await;
    let log_bytes: usize = logs.lines().map(str::len).sum();
    assert!(
        log_bytes < 2 * 1024 * 1024,
        "log flood stored {log_bytes} bytes"
    );
    arena.neighbour_was_undisturbed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kv_flood_ends_in_a_quota_error_the_bot_can_handle() {
    let arena = Arena::start(SMALL).await;
    let (status, answer) = arena.send("kvflood").await;
    assert_eq!(status, 200);
    let content = answer["data"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("kvflood: {answer}"));
    assert!(content.starts_with("kv refused after"), "{content}");
    assert!(content.contains("limit"), "{content}");
    arena.neighbour_was_undisturbed().await;
}

#[tokio::test]
async fn a_crash_loop_backs_off_then_quarantines_until_a_fixed_redeploy() {
    let mut node = Node::start().await;
    let signer = Signer::new(12);
    node.deploy("hostile-bot", "looper", HOSTILE_APP, &signer)
        .await;

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
            // Spacing the retries, not a wait on the node.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if text.contains("disabled") {
            break;
        }
    }
    assert!(saw_backoff, "no back-off before quarantine");
    // The quarantine is stored before the answer; the crash records of the
    // earlier events are written in the background and may still be landing.
    assert_eq!(node.bot("looper").await["state"], "quarantined");
    let bot = eventually(
        Duration::from_secs(10),
        "every crash is on record",
        async || {
            holds(node.bot("looper").await, |bot| {
                bot["crashes"].as_u64().unwrap() >= 5
            })
        },
    )
    .await;
    assert_eq!(bot["last_crash"], "trap");

    // Even a harmless command is refused now, and quarantine survives a restart.
    let (status, answer) = node.interact(HOSTILE_APP, &signer, &body("ok")).await;
    assert_notice(status, &answer);
    node.crash_and_restart().await;
    assert_eq!(node.bot("looper").await["state"], "quarantined");
    assert!(node
        .cli_ok(&["logs", "looper"])
        .await
        .contains("quarantined after"));

    // A redeploy lifts it, even of the same component (an operator retrying after fixing a dependency).
    node.deploy("hostile-bot", "looper", HOSTILE_APP, &signer)
        .await;
    assert_eq!(node.bot("looper").await["state"], "running");

    // A fixed version takes over; rollback brings back the earlier one.
    node.deploy("ping-bot", "looper", HOSTILE_APP, &signer)
        .await;
    let (status, answer) = node.interact(HOSTILE_APP, &signer, &body("ping")).await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "pong".into())
    );
    assert_eq!(node.bot("looper").await["version"], 3);

    assert!(node
        .cli_ok(&["rollback", "looper"])
        .await
        .contains("version 2"));
    let (_, answer) = node.interact(HOSTILE_APP, &signer, &body("ok")).await;
    assert_eq!(answer["data"]["content"], "ok");
    node.cli_ok(&["rollback", "looper", "--version", "3"]).await;
    let (_, answer) = node.interact(HOSTILE_APP, &signer, &body("ping")).await;
    assert_eq!(answer["data"]["content"], "pong");

    let output = node.cli(&["rollback", "looper", "--version", "9"]).await;
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
    let node = Arc::new(Node::start_with(&["--plain-http", "--defer-after-ms", "2999"]).await);
    let signer = Arc::new(Signer::new(13));
    node.deploy("ping-bot", "good", GOOD_APP, &signer).await;
    node.deploy_with(
        "slow-bot",
        "slow",
        SLOW_APP,
        &signer,
        &["--instances", "1", "--timeout-ms", "800"],
    )
    .await;

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
    // The delays order the three events: nothing the node reports shows an
    // event queued for an instance, so these stay sleeps. Too short on a
    // loaded machine, and the assertions below fail rather than pass.
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
    eventually(
        Duration::from_secs(10),
        "the back-off is over",
        async || holds(node.bot("slow").await, |bot| bot["state"] == "running"),
    )
    .await;
    let (status, answer) = node.interact(SLOW_APP, &signer, &slow_body(0)).await;
    assert_eq!(status, 200, "{answer}");
    let content = answer["data"]["content"].as_str().unwrap();
    assert!(content.starts_with("done after"), "{content}");
    let bot = node.bot("slow").await;
    assert_eq!(bot["state"], "running", "{bot}");
    // Two timeouts (crash records are written just after the answers); being
    // busy is not a crash.
    eventually(
        Duration::from_secs(10),
        "both timeouts are on record",
        async || holds(node.bot("slow").await, |bot| bot["crashes"] == 2),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_in_flight_during_a_redeploy_finishes_on_the_old_version() {
    use crate::support::fake_discord::{FakeConfig, FakeDiscord};

    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let node = Arc::new(Node::with_fake_discord(&fake).await);
    let signer = Arc::new(Signer::new(14));
    node.deploy("slow-bot", "swap", SLOW_APP, &signer).await;
    // The ping component is compiled once here, so the redeploy below only
    // switches versions and surely lands while the slow event runs.
    node.deploy("ping-bot", "warm", GOOD_APP, &signer).await;

    // A quick event parks an instance of version 1...
    let (_, answer) = node.interact(SLOW_APP, &signer, &slow_body(0)).await;
    assert_eq!(answer["type"], 4, "{answer}");
    let parked = async || holds(node.bot("swap").await, |bot| bot["idle_instances"] == 1);
    eventually(
        Duration::from_secs(10),
        "version 1 has a parked instance",
        parked,
    )
    .await;
    // ...which the slow event takes: 8 s, deferred at 2 s, answered late by PATCH.
    let in_flight = {
        let (node, signer) = (node.clone(), signer.clone());
        tokio::spawn(async move { node.interact(SLOW_APP, &signer, &slow_body(8000)).await })
    };
    let running = async || holds(node.bot("swap").await, |bot| bot["idle_instances"] == 0);
    eventually(
        Duration::from_secs(10),
        "the slow event runs on version 1",
        running,
    )
    .await;

    // Version 2, a different component under the same name and application id.
    node.deploy("ping-bot", "swap", SLOW_APP, &signer).await;
    assert_eq!(node.bot("swap").await["version"], 2);
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
    let edit = eventually(
        Duration::from_secs(20),
        "the late answer arrived",
        async || fake.requests().into_iter().find(|r| r.method == "PATCH"),
    )
    .await;
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
