//! Bots in Python (guest-sdk/python, componentize-py): the Python examples
//! built from their sources answer the same signed interactions exactly as
//! the Rust examples do, declare the same commands, and keep their KV data
//! across a restart; a Python bot's failures are contained like a Rust
//! bot's: an exception is the user's error notice and a crash record that
//! starts with the Python traceback, a deliberate `BotError` is only a
//! notice, an endless loop runs out of fuel, a memory hog hits the limit.

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::{command, eventually, guest_path, py, Node, Signer};

const TOKEN: &str = "token-a";

/// A slash command by `user` (id, global name) with `options`.
fn slash(name: &str, user: (&str, &str), options: Value) -> Vec<u8> {
    let mut body = command(name, user.0);
    body["member"]["user"]["global_name"] = json!(user.1);
    if options != Value::Null {
        body["data"]["options"] = options;
    }
    serde_json::to_vec(&body).unwrap()
}

/// A click on a button nobody routes.
fn button(custom_id: &str) -> Vec<u8> {
    let mut body = command("unused", "42");
    body["type"] = json!(3);
    body["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    body["message"] = json!({ "id": "1180000000000000009", "channel_id": "1180000000000000004" });
    serde_json::to_vec(&body).unwrap()
}

/// The answer of the bot of `app` to `body`, which must be a 200.
async fn answer(node: &Node, signer: &Signer, app: &str, body: &[u8]) -> Value {
    let (status, answer) = node.interact(app, signer, body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Sends each interaction to the Rust bot and to the Python bot and
/// requires the same answer, byte for byte as JSON.
async fn same_answers(
    node: &Node,
    signer: &Signer,
    rust_app: &str,
    py_app: &str,
    cases: &[Vec<u8>],
) -> Vec<Value> {
    let mut answers = Vec::new();
    for body in cases {
        // Each request needs an id of its own (the node refuses a replay).
        let mut fresh: Value = serde_json::from_slice(body).unwrap();
        let rust = answer(node, signer, rust_app, body).await;
        fresh["id"] = json!(crate::support::command("x", "1")["id"]);
        let python = answer(node, signer, py_app, &serde_json::to_vec(&fresh).unwrap()).await;
        assert_eq!(
            python, rust,
            "the Python bot answered differently to {fresh}"
        );
        answers.push(rust);
    }
    answers
}

/// The commands registered for `app`, without what Discord assigns.
fn declared(discord: &FakeDiscord, app: &str) -> Vec<Value> {
    let mut commands = discord.commands(app, None);
    for command in &mut commands {
        let object = command.as_object_mut().unwrap();
        object.retain(|key, _| ["type", "name", "description", "options"].contains(&key.as_str()));
        // `required: false` and `autocomplete: false` are Discord's defaults:
        // with or without them, an option is the same.
        for option in object
            .get_mut("options")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            option
                .as_object_mut()
                .unwrap()
                .retain(|_, value| *value != json!(false));
        }
    }
    commands
}

#[tokio::test(flavor = "multi_thread")]
async fn python_examples_answer_like_the_rust_ones_and_keep_their_counts() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let mut node = Node::with_fake_discord(&discord).await;
    let signer = Signer::new(61);
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), TOKEN).unwrap();
    let with_token = ["--token-file", token.path().to_str().unwrap()];
    let (ping_rs, counter_rs) = (
        guest_path("ping-bot").await,
        guest_path("counter-bot").await,
    );
    let (ping_py, counter_py) = (
        py::bot_path("ping-py").await,
        py::bot_path("counter-py").await,
    );
    node.deploy_wasm(&ping_rs, "ping-rs", "6101", &signer, &with_token)
        .await;
    node.deploy_wasm(&counter_rs, "counter-rs", "6102", &signer, &with_token)
        .await;
    node.deploy_wasm(&ping_py, "ping-py", "6103", &signer, &with_token)
        .await;
    node.deploy_wasm(&counter_py, "counter-py", "6104", &signer, &with_token)
        .await;

    // The same command declarations, registered by the node at deploy.
    assert!(!declared(&discord, "6101").is_empty());
    assert_eq!(declared(&discord, "6103"), declared(&discord, "6101"));
    assert_eq!(declared(&discord, "6104"), declared(&discord, "6102"));

    let alice = ("42", "alice");
    let private = |on: bool| json!([{ "name": "private", "type": 5, "value": on }]);
    let pings = same_answers(
        &node,
        &signer,
        "6101",
        "6103",
        &[
            slash("ping", alice, Value::Null),
            slash("ping", alice, private(true)),
            slash("ping", alice, private(false)),
            slash("count", alice, Value::Null),
            button("again"),
        ],
    )
    .await;
    assert_eq!(
        pings[0],
        json!({ "type": 4, "data": { "content": "pong" } })
    );
    assert_eq!(pings[1]["data"]["flags"], 64);

    let bob = ("43", "bob");
    let counts = same_answers(
        &node,
        &signer,
        "6102",
        "6104",
        &[
            slash("count", alice, Value::Null),
            slash("count", alice, Value::Null),
            slash("count", bob, Value::Null),
            slash("reset", alice, Value::Null),
            slash("count", alice, Value::Null),
            slash("count", alice, Value::Null),
            slash("ping", alice, Value::Null),
        ],
    )
    .await;
    assert_eq!(
        counts[1]["data"]["content"],
        "alice, you have counted 2 times"
    );
    assert_eq!(
        counts[3],
        json!({ "type": 4, "data": { "content": "Your count is back to 0.", "flags": 64 } })
    );
    node.logs_when("counter-py", "the Python counter's log line", |logs| {
        logs.contains("user 43 counted to 1 (3 commands served by this instance)")
    })
    .await;

    // The counts are in the node's store, not in the instance.
    node.restart().await;
    let after = same_answers(
        &node,
        &signer,
        "6102",
        "6104",
        &[
            slash("count", alice, Value::Null),
            slash("count", bob, Value::Null),
        ],
    )
    .await;
    assert_eq!(
        after[0]["data"]["content"],
        "alice, you have counted 3 times"
    );
    assert_eq!(after[1]["data"]["content"], "bob, you have counted 2 times");
}

/// The line of `needle` in the hostile Python bot's source (1-based).
fn line_of(needle: &str) -> usize {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/guests-py/hostile/app.py"
    ))
    .unwrap();
    source
        .lines()
        .position(|line| line.contains(needle))
        .unwrap()
        + 1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_bots_failures_are_contained_and_explained() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::with_fake_discord(&discord).await;
    let signer = Signer::new(62);
    let hostile = py::bot_path("hostile-py").await;
    // One component, three bots: the first deploy compiles it, the others
    // take the node's artifact. Each bot crashes once (no crash-loop back-off).
    node.deploy_wasm(&hostile, "py-crash", "6201", &signer, &[])
        .await;
    node.deploy_wasm(&hostile, "py-spin", "6202", &signer, &[])
        .await;
    node.deploy_wasm(&hostile, "py-hog", "6203", &signer, &["--memory-mib", "48"])
        .await;
    let user = ("42", "alice");
    let ask = async |app: &str, name: &str| {
        answer(&node, &signer, app, &slash(name, user, Value::Null)).await
    };

    assert_eq!(ask("6201", "served").await["data"]["content"], "served 1");
    assert_eq!(ask("6201", "served").await["data"]["content"], "served 2");

    // A deliberate BotError: the user's notice, a log line, no crash.
    let refused = ask("6201", "refuse").await;
    assert_eq!(
        refused["data"]["content"],
        "This bot could not answer: this bot refuses, politely"
    );
    assert_eq!(refused["data"]["flags"], 64);
    node.logs_when("py-crash", "the refusal logged", |logs| {
        logs.contains("bot returned an error: this bot refuses, politely")
    })
    .await;
    assert_eq!(
        node.cli_ok(&["logs", "py-crash", "--crashes"]).await.trim(),
        ""
    );

    // An exception: the notice, and a crash record led by the traceback
    // with the bot's own file, lines and functions.
    let crashed = ask("6201", "boom").await;
    assert_eq!(crashed["data"]["flags"], 64);
    assert!(
        crashed["data"]["content"]
            .as_str()
            .unwrap()
            .contains("ran into a problem"),
        "{crashed}"
    );
    let traceback = [
        "Traceback (most recent call last):".to_owned(),
        format!("app.py\", line {}, in boom", line_of("str(total(")),
        format!("app.py\", line {}, in total", line_of("explode(parts) + 1")),
        format!(
            "app.py\", line {}, in explode",
            line_of("parts[\"missing\"]")
        ),
        "KeyError: 'missing'".to_owned(),
    ];
    let crashes = eventually(
        std::time::Duration::from_secs(10),
        "the crash record",
        async || {
            let crashes = node.cli_ok(&["logs", "py-crash", "--crashes"]).await;
            let record = crashes.split("CRASH").nth(1).unwrap_or_default().to_owned();
            let mut rest = record.as_str();
            for line in &traceback {
                match rest.find(line.as_str()) {
                    Some(at) => rest = &rest[at + line.len()..],
                    None => return Err(format!("no {line:?} in order in:\n{crashes}")),
                }
            }
            // The traceback comes before the wasm backtrace.
            match (record.find("Traceback"), record.find("wasm backtrace")) {
                (Some(tb), Some(wasm)) if tb < wasm => Ok(crashes),
                (Some(_), None) => Ok(crashes),
                _ => Err(format!(
                    "the traceback does not lead the record:\n{crashes}"
                )),
            }
        },
    )
    .await;
    assert!(!crashes.contains("SDK"), "{crashes}");
    // The crashed instance was dropped: instance state starts over.
    assert_eq!(ask("6201", "served").await["data"]["content"], "served 1");

    // Deferred, then answered: the deferral is the HTTP answer and the
    // reply edits it through Discord.
    assert_eq!(
        ask("6201", "defer").await,
        json!({ "type": 5, "data": { "flags": 64 } })
    );
    eventually(
        std::time::Duration::from_secs(10),
        "the deferred answer delivered",
        async || {
            let edits: Vec<Value> = discord
                .requests()
                .into_iter()
                .filter(|r| r.method == "PATCH" && r.path.ends_with("/messages/@original"))
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect();
            match edits
                .iter()
                .any(|body| body["content"] == "done after deferring")
            {
                true => Ok(()),
                false => Err(format!("edits: {edits:?}")),
            }
        },
    )
    .await;

    // An endless loop and a memory hog, under the default fuel and a 48 MiB limit.
    assert!(ask("6202", "spin").await["data"]["content"]
        .as_str()
        .unwrap()
        .contains("ran into a problem"));
    assert!(ask("6203", "hog").await["data"]["content"]
        .as_str()
        .unwrap()
        .contains("ran into a problem"));
    node.logs_when("py-spin", "out of fuel", |logs| {
        logs.contains("CRASH version 1: out_of_fuel")
    })
    .await;
    node.logs_when("py-hog", "the memory limit", |logs| {
        logs.contains("CRASH version 1: memory") && logs.contains("the limit is 50331648 bytes")
    })
    .await;
    // Each bot still answers after its crash.
    assert_eq!(ask("6202", "served").await["data"]["content"], "served 1");
    assert_eq!(ask("6203", "served").await["data"]["content"], "served 1");
}

/// The SDK's and the examples' own unit tests (plain CPython, in-memory host).
#[test]
fn the_python_sdk_and_examples_pass_their_unit_tests() {
    let python = py::python();
    let root = env!("CARGO_MANIFEST_DIR");
    for dir in [
        "guest-sdk/python/tests",
        "examples/ping-py",
        "examples/counter-py",
    ] {
        let output = std::process::Command::new(&python)
            .current_dir(root)
            .args(["-m", "unittest", "discover", "-s", dir])
            .env("PYTHONPATH", format!("{root}/guest-sdk/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "python -m unittest in {dir}:\n{report}"
        );
        // unittest exits 0 on no test found (before 3.12): require some.
        assert!(report.contains("\nOK"), "{dir}: {report}");
        assert!(!report.contains("Ran 0 tests"), "{dir}: {report}");
    }
}

/// `appliance new --lang py`: each template's project passes its own tests;
/// one builds into a component with the SDK and WIT it carries.
#[test]
fn appliance_new_lang_py_writes_projects_that_test_and_build() {
    let python = py::python();
    let temp = tempfile::tempdir().unwrap();
    for template in ["command", "counter", "events"] {
        let dir = temp.path().join(template);
        let status = crate::support::appliance()
            .args([
                "new",
                "greeter",
                "--lang",
                "py",
                "--template",
                template,
                "--path",
            ])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "appliance new --lang py --template {template}"
        );
        let sdk = dir.join("appliance-sdk");
        let output = std::process::Command::new(&python)
            .current_dir(&dir)
            .args(["-m", "unittest"])
            .env("PYTHONPATH", &sdk)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && report.contains("\nOK"),
            "{template}: {report}"
        );
        assert!(!report.contains("Ran 0 tests"), "{template}: {report}");
    }
    let dir = temp.path().join("counter");
    let status = std::process::Command::new(&python)
        .current_dir(&dir)
        .args(["-m", "appliance_bot.build", "app.py", "-o", "greeter.wasm"])
        .env("PYTHONPATH", dir.join("appliance-sdk"))
        .status()
        .unwrap();
    assert!(status.success(), "building the new project");
    let wasm = std::fs::read(dir.join("greeter.wasm")).unwrap();
    // A component (layer 1), not a core module.
    assert_eq!(&wasm[..4], b"\0asm");
    assert_ne!(&wasm[4..8], &[1, 0, 0, 0]);
}
