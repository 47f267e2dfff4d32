//! Bots written in JavaScript and TypeScript (guest-sdk/js), built from
//! their sources with the SDK's pinned tools and deployed to a real node:
//! they answer exactly like the Rust examples, keep their KV across a
//! restart, and a crash shows the bot's own stack; runaway loops and memory
//! hogs are stopped by the limits, which default to the engine's.
//!
//! A JavaScript component carries SpiderMonkey (about 12 MiB), and compiling
//! one at deploy takes tens of seconds on a 2-core machine: each test starts
//! one node and deploys each component once.

use serde_json::{json, Value};

use crate::support::{eventually, holds, js, Node, Signer};

const RUST_PING: (&str, &str) = ("ping", "101");
const JS_PING: (&str, &str) = ("ping-js", "102");
const RUST_COUNTER: (&str, &str) = ("counter", "103");
const TS_COUNTER: (&str, &str) = ("counter-ts", "104");

/// A new interaction id (the node refuses a replayed one).
fn fresh_id() -> Value {
    crate::support::command("x", "1")["id"].clone()
}

/// A slash command from `user` (id, name), with `options`.
fn command(name: &str, user: (&str, &str), options: Value) -> Vec<u8> {
    let mut body = crate::support::command(name, user.0);
    body["member"]["user"]["username"] = json!(user.1);
    if !options.is_null() {
        body["data"]["options"] = options;
    }
    serde_json::to_vec(&body).unwrap()
}

/// The answer of the bot of `app` to `body` (a 200, as JSON).
async fn answer(node: &Node, signer: &Signer, app: (&str, &str), body: &[u8]) -> Value {
    let (status, answer) = node.interact(app.1, signer, body).await;
    assert_eq!(status, 200, "{}: {answer}", app.0);
    answer
}

/// Sends the same interaction to the Rust bot and to its JavaScript twin
/// and returns the answer, which must be the same.
async fn same_answer(
    node: &Node,
    signer: &Signer,
    rust: (&str, &str),
    js: (&str, &str),
    body: &[u8],
) -> Value {
    let expected = answer(node, signer, rust, body).await;
    // A new interaction id: the node refuses a replayed one.
    let mut again: Value = serde_json::from_slice(body).unwrap();
    again["id"] = fresh_id();
    let got = answer(node, signer, js, &serde_json::to_vec(&again).unwrap()).await;
    assert_eq!(got, expected, "{} answered otherwise than {}", js.0, rust.0);
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_and_ts_examples_answer_like_the_rust_ones_and_keep_their_counts_across_a_restart() {
    let (ping_js, counter_ts) = (
        js::bot_path("ping-js").await,
        js::bot_path("counter-ts").await,
    );
    let mut node = Node::start().await;
    let signer = Signer::new(41);
    node.deploy("ping-bot", RUST_PING.0, RUST_PING.1, &signer)
        .await;
    node.deploy("counter-bot", RUST_COUNTER.0, RUST_COUNTER.1, &signer)
        .await;
    node.deploy_wasm(&ping_js, JS_PING.0, JS_PING.1, &signer, &[])
        .await;
    node.deploy_wasm(&counter_ts, TS_COUNTER.0, TS_COUNTER.1, &signer, &[])
        .await;

    // Deployed without limits, an engine's bots get the engine's defaults.
    let limits = &node.bot(JS_PING.0).await["limits"];
    assert_eq!(limits["fuel"], 4_000_000_000u64, "{limits}");
    assert_eq!(limits["memory_mib"], 128, "{limits}");
    assert_eq!(node.bot(RUST_PING.0).await["limits"]["memory_mib"], 64);

    let alice = ("42", "alice");
    let pong = same_answer(
        &node,
        &signer,
        RUST_PING,
        JS_PING,
        &command("ping", alice, Value::Null),
    )
    .await;
    assert_eq!(pong, json!({"type": 4, "data": {"content": "pong"}}));
    let private = json!([{"name": "private", "type": 5, "value": true}]);
    let secret = same_answer(
        &node,
        &signer,
        RUST_PING,
        JS_PING,
        &command("ping", alice, private),
    )
    .await;
    assert_eq!(secret["data"]["flags"], 64, "{secret}");
    let unknown = same_answer(
        &node,
        &signer,
        RUST_PING,
        JS_PING,
        &command("count", alice, Value::Null),
    )
    .await;
    assert_eq!(unknown["data"]["content"], "unknown command");
    let mut button = json!({
        "type": 3, "id": "1", "application_id": "1180000000000000000", "token": "t", "version": 1,
        "data": {"custom_id": "again", "component_type": 2},
        "channel_id": "1180000000000000004", "user": {"id": "42", "username": "alice"}
    });
    button["id"] = fresh_id();
    let stale = same_answer(
        &node,
        &signer,
        RUST_PING,
        JS_PING,
        &serde_json::to_vec(&button).unwrap(),
    )
    .await;
    assert_eq!(stale["data"]["content"], "this button is no longer handled");

    // The counters, side by side, on their own keyspaces.
    let count = |user| command("count", user, Value::Null);
    for expected in [
        "alice, you have counted 1 time",
        "alice, you have counted 2 times",
    ] {
        let counted = same_answer(&node, &signer, RUST_COUNTER, TS_COUNTER, &count(alice)).await;
        assert_eq!(counted["data"]["content"], expected);
    }
    let bob = same_answer(
        &node,
        &signer,
        RUST_COUNTER,
        TS_COUNTER,
        &count(("43", "bob")),
    )
    .await;
    assert_eq!(bob["data"]["content"], "bob, you have counted 1 time");
    let reset = same_answer(
        &node,
        &signer,
        RUST_COUNTER,
        TS_COUNTER,
        &command("reset", ("43", "bob"), Value::Null),
    )
    .await;
    assert_eq!(
        reset,
        json!({"type": 4, "data": {"content": "Your count is back to 0.", "flags": 64}})
    );
    node.logs_when(TS_COUNTER.0, "the count is logged", |logs| {
        logs.contains("user 42 counted to 2 (2 commands served by this instance)")
    })
    .await;

    // The KV outlives the node's process (and the instance's own state does not).
    node.restart().await;
    let counted = same_answer(&node, &signer, RUST_COUNTER, TS_COUNTER, &count(alice)).await;
    assert_eq!(
        counted["data"]["content"],
        "alice, you have counted 3 times"
    );
    node.logs_when(
        TS_COUNTER.0,
        "the count after the restart is logged",
        |logs| logs.contains("user 42 counted to 3 (1 commands served by this instance)"),
    )
    .await;
}

/// The crash record of the `nth` crash (1 = the oldest) in `appliance logs --crashes`.
async fn crash_records(node: &Node, name: &str, at_least: usize) -> Vec<String> {
    eventually(
        std::time::Duration::from_secs(10),
        "the crash is on record",
        async || {
            let logs = node
                .cli_ok(&["logs", name, "--crashes", "--lines", "100"])
                .await;
            let mut records: Vec<String> = Vec::new();
            for line in logs.lines() {
                if line.contains(" CRASH ") {
                    records.push(line.to_owned());
                } else if let Some(last) = records.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
            }
            holds(records, |records| records.len() >= at_least).map_err(|seen| format!("{seen:?}"))
        },
    )
    .await
}

/// The ephemeral notice a user gets when the bot crashed.
fn assert_crash_notice(answer: &Value) {
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    let content = answer["data"]["content"].as_str().unwrap_or_default();
    assert!(content.contains("ran into a problem"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_exception_is_a_crash_with_its_stack_and_the_limits_stop_loops_and_hogs() {
    let hostile = js::bot_path("hostile-js").await;
    let node = Node::start().await;
    let signer = Signer::new(42);
    let app = ("hostile-js", "201");
    // The engine's default limits: 4e9 fuel (about a second of a JavaScript loop), 128 MiB.
    node.deploy_wasm(&hostile, app.0, app.1, &signer, &[]).await;
    let user = ("42", "alice");
    let ask =
        async |name: &str| answer(&node, &signer, app, &command(name, user, Value::Null)).await;
    let still_here = async || {
        // A fresh instance answers after each crash (and resets the crash-loop count).
        let answer = ask("ok").await;
        assert_eq!(answer["data"]["content"], "still here", "{answer}");
    };

    // An uncaught exception: the user's notice, and a crash record that
    // starts with the exception and its stack in the bot's source file.
    assert_crash_notice(&ask("throw").await);
    still_here().await;
    let record = &crash_records(&node, app.0, 1).await[0];
    assert!(record.contains("CRASH version 1: trap"), "{record}");
    assert!(
        record.contains("stderr: Uncaught TypeError:")
            && record.contains("order.items is undefined"),
        "{record}"
    );
    let (parse, handle) = (
        "at parseOrder (src/bot.js:11:",
        "at handleOrder (src/bot.js:15:",
    );
    let (at_parse, at_handle) = (record.find(parse), record.find(handle));
    assert!(
        at_parse.is_some() && at_handle.is_some() && at_parse < at_handle,
        "the stack names the bot's functions and lines, innermost first:\n{record}"
    );
    // What the bot logged before it threw is there too.
    node.logs_when(app.0, "the bot's own log line", |logs| {
        logs.contains("about to fail")
    })
    .await;

    // A BotError is an answer for the user, not a crash.
    let refused = ask("refuse").await;
    assert_eq!(
        refused,
        json!({"type": 4, "data": {"content": "This bot could not answer: the order book is closed", "flags": 64}})
    );

    // A runaway loop runs out of fuel; a memory hog hits the memory limit.
    assert_crash_notice(&ask("spin").await);
    still_here().await;
    assert_crash_notice(&ask("hog").await);
    still_here().await;
    let records = crash_records(&node, app.0, 3).await;
    assert_eq!(records.len(), 3, "{records:#?}");
    let reasons: Vec<&str> = records
        .iter()
        .map(|r| {
            r.split("CRASH version 1: ")
                .nth(1)
                .unwrap()
                .lines()
                .next()
                .unwrap()
        })
        .collect();
    // Newest first or oldest first, the three reasons are these.
    let mut sorted = reasons.clone();
    sorted.sort();
    assert_eq!(sorted, ["memory", "out_of_fuel", "trap"], "{records:#?}");
    assert_eq!(node.bot(app.0).await["state"], "running");
}

/// `appliance new --lang js|ts` writes a project whose bot builds into a
/// component with the SDK and tools it names (here the repository's
/// installed ones, as `npm install` would put them in the project), and a
/// TypeScript one type-checks.
#[test]
fn appliance_new_writes_js_and_ts_projects_that_build() {
    // Installs the SDK's tools (and builds the examples, which other tests share).
    js::bot("ping-js");
    let sdk_modules =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-sdk/js/node_modules");
    let temp = tempfile::tempdir().unwrap();
    // One JavaScript and one TypeScript template (each build costs 15+ s of CPU).
    let projects = [("hello-js", "js", "command"), ("tally-ts", "ts", "counter")];
    std::thread::scope(|scope| {
        for (name, lang, template) in projects {
            let dir = temp.path().join(name);
            let sdk_modules = &sdk_modules;
            scope.spawn(move || {
                let output = crate::support::appliance()
                    .args([
                        "new",
                        name,
                        "--lang",
                        lang,
                        "--template",
                        template,
                        "--path",
                    ])
                    .arg(&dir)
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                std::os::unix::fs::symlink(sdk_modules, dir.join("node_modules")).unwrap();
                let package: Value =
                    serde_json::from_slice(&std::fs::read(dir.join("package.json")).unwrap())
                        .unwrap();
                // `npm run build`, without npm.
                let script = package["scripts"]["build"].as_str().unwrap();
                let status = std::process::Command::new("sh")
                    .args(["-c", script])
                    .current_dir(&dir)
                    .status()
                    .unwrap();
                assert!(status.success(), "{name}: {script} failed");
                let wasm = std::fs::read(dir.join(format!("{name}.wasm"))).unwrap();
                assert_eq!(&wasm[..8], b"\0asm\x0d\0\x01\0", "{name}: not a component");
                assert_eq!(
                    appliance::limits::Language::detect(&wasm),
                    appliance::limits::Language::JavaScript
                );
                if lang == "ts" {
                    let tsc = dir.join("node_modules/.bin/tsc");
                    let output = std::process::Command::new(tsc)
                        .args(["-p", "."])
                        .current_dir(&dir)
                        .output()
                        .unwrap();
                    assert!(
                        output.status.success(),
                        "{name} does not type-check:\n{}",
                        String::from_utf8_lossy(&output.stdout)
                    );
                }
            });
        }
    });
}
