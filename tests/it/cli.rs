//! Client commands against a real node: deploy validation, list, invoke,
//! remove, logs, and state surviving a `kill -9`.

use serde_json::Value;

use crate::support::{command_bytes, guest, wat_bot, Node, Signer};

const APP: &str = "1180000000000000000";

async fn list_json(node: &Node) -> Value {
    serde_json::from_str(&node.cli_ok(&["list", "--json"]).await).unwrap()
}

/// The counter's answer for `user{user_id}` at `count` (examples/counter/src/lib.rs).
fn counted(user_id: &str, count: u64) -> String {
    let times = if count == 1 { "time" } else { "times" };
    format!("user{user_id}, you have counted {count} {times}")
}

/// The names of the files in `DATA_DIR/artifacts`, sorted.
fn artifacts(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(node.data_dir.join("artifacts"))
        .map(|dir| {
            dir.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

const RECOMPILING: &str = "compiling bot from its stored component";

#[tokio::test]
async fn counter_keeps_its_count_across_a_kill_9_restart() {
    let mut node = Node::start().await;
    let signer = Signer::new(3);
    node.deploy("counter-bot", "counter", APP, &signer).await;
    // A new interaction each time: the node refuses a repeated id as a replay.
    let body = || command_bytes("count", "42");
    for expected in 1..=2 {
        let (status, answer) = node.interact(APP, &signer, &body()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["data"]["content"],
            counted("42", expected),
            "{answer}"
        );
    }
    // Another user has their own count.
    let other = command_bytes("count", "43");
    let (_, answer) = node.interact(APP, &signer, &other).await;
    assert_eq!(answer["data"]["content"], counted("43", 1), "{answer}");

    // The deploy left a precompiled artifact, so the restart loads it instead of compiling.
    let cached = artifacts(&node);
    assert!(
        cached.iter().any(|name| name.ends_with(".cwasm")),
        "no artifact in {cached:?}"
    );
    let logged = node.node_log().len();
    node.crash_and_restart().await;
    let (status, answer) = node.interact(APP, &signer, &body()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"]["content"],
        counted("42", 3),
        "count did not survive the restart: {answer}"
    );
    let after_restart = node.node_log()[logged..].to_owned();
    assert!(
        !after_restart.contains(RECOMPILING),
        "the restart recompiled the bot:\n{after_restart}"
    );
    assert_eq!(artifacts(&node), cached);

    // Without its artifact the same restart does compile (and says so).
    for name in &cached {
        std::fs::remove_file(node.data_dir.join("artifacts").join(name)).unwrap();
    }
    let logged = node.node_log().len();
    node.crash_and_restart().await;
    let (status, answer) = node.interact(APP, &signer, &body()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["content"], counted("42", 4), "{answer}");
    let after_restart = node.node_log()[logged..].to_owned();
    assert!(
        after_restart.contains(RECOMPILING),
        "no recompilation logged without the artifact:\n{after_restart}"
    );
    assert_eq!(
        artifacts(&node),
        cached,
        "the artifact was not written again"
    );
}

/// For [`wat_bot`]: a component with the right export that calls `delete`
/// from a `kv` interface version the node does not provide (say, a newer SDK's).
const FUTURE_KV_IMPORT: &str = r#"
    (import "appliance:bot/kv@9.9.9" (instance $kv
        (export "delete" (func (param "key" string)))))
    (core module $libc
        (memory (export "memory") 1)
        (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 8))
    (core instance $libc (instantiate $libc))
    (alias core export $libc "memory" (core memory $memory))
    (alias core export $libc "realloc" (core func $realloc))
    (alias export $kv "delete" (func $delete))
    (core func $delete_lowered (canon lower (func $delete) (memory $memory)))
    (core instance $kv_core (export "delete" (func $delete_lowered)))
    (core module $m
        (import "kv" "delete" (func $delete (param i32 i32)))
        (func (export "handle") (param i32 i32) (result i32)
            (call $delete (i32.const 0) (i32.const 0))
            i32.const 0))
    (core instance $i (instantiate $m (with "kv" (instance $kv_core))))"#;

#[tokio::test]
async fn deploys_of_wrong_files_fail_with_exit_1_and_change_nothing() {
    let node = Node::start().await;
    let signer = Signer::new(4);
    node.deploy("ping-bot", "ping", APP, &signer).await;
    let before = list_json(&node).await;
    let artifacts_before = artifacts(&node);
    assert_eq!(artifacts_before.len(), 1, "{artifacts_before:?}");
    let dir = tempfile::tempdir().unwrap();
    let key = signer.public_hex();

    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "not-wasm.wasm",
            b"hello, I am a text file".to_vec(),
            "not a WebAssembly file",
        ),
        (
            "core.wasm",
            wat::parse_str("(module (func (export \"f\")))").unwrap(),
            "not a component",
        ),
        (
            "other-world.wasm",
            wat::parse_str(
                r#"(component
                    (core module $m (func (export "f")))
                    (core instance $i (instantiate $m))
                    (func (export "something-else") (canon lift (core func $i "f"))))"#,
            )
            .unwrap(),
            "world",
        ),
        ("future-kv.wasm", wat_bot(FUTURE_KV_IMPORT), "kv@9.9.9"),
    ];
    for (file, bytes, reason) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        // Once as a new bot, once as a new version of the serving one.
        for name in ["fresh", "ping"] {
            let output = node
                .cli(&[
                    "deploy",
                    path.to_str().unwrap(),
                    "--name",
                    name,
                    "--app-id",
                    APP,
                    "--public-key",
                    &key,
                ])
                .await;
            assert_eq!(output.status.code(), Some(1), "{file} as {name}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(reason), "{file}: {stderr}");
            assert_eq!(
                stderr.trim().lines().count(),
                1,
                "one-line reason: {stderr}"
            );
        }
    }
    assert_eq!(
        list_json(&node).await,
        before,
        "a failed deploy changed the node"
    );
    assert_eq!(
        artifacts(&node),
        artifacts_before,
        "a failed deploy left an artifact"
    );
    // No failed deploy became a version: there is nothing to roll back to...
    let output = node.cli(&["rollback", "ping"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no version older"), "{stderr}");

    // A missing file and a bad key are refused before anything is sent.
    let output = node
        .cli(&[
            "deploy",
            "/nonexistent.wasm",
            "--app-id",
            APP,
            "--public-key",
            &key,
        ])
        .await;
    assert_eq!(output.status.code(), Some(1));
    let wasm = guest("ping-bot");
    let output = node
        .cli(&[
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "x",
            "--app-id",
            "2",
            "--public-key",
            "abc",
        ])
        .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("public key"));
    // Usage errors are exit 2.
    assert_eq!(node.cli(&["deploy"]).await.status.code(), Some(2));
    assert_eq!(node.cli(&["list", "--bogus"]).await.status.code(), Some(2));
    assert_eq!(list_json(&node).await, before);

    // And the serving version still answers.
    let (status, answer) = node
        .interact(APP, &signer, &command_bytes("ping", "42"))
        .await;
    assert_eq!(
        (status, answer["data"]["content"].clone()),
        (200, "pong".into()),
        "{answer}"
    );
}

#[tokio::test]
async fn list_invoke_logs_and_remove() {
    let node = Node::start().await;
    let signer = Signer::new(5);
    node.deploy("ping-bot", "ping", APP, &signer).await;
    node.deploy("ping-bot", "ping", APP, &signer).await;

    let bots = list_json(&node).await;
    assert_eq!(bots[0]["name"], "ping");
    assert_eq!(bots[0]["version"], 2);
    assert_eq!(bots[0]["state"], "running");
    assert!(node.cli_ok(&["list"]).await.contains("ping"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ping.json");
    std::fs::write(&file, command_bytes("ping", "42")).unwrap();
    let answer: Value = serde_json::from_str(
        &node
            .cli_ok(&["invoke", "ping", "--json", file.to_str().unwrap()])
            .await,
    )
    .unwrap();
    assert_eq!(answer["data"]["content"], "pong");

    let output = node
        .cli(&["invoke", "nope", "--json", file.to_str().unwrap()])
        .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no bot named"));

    let status = node.cli_ok(&["status"]).await;
    assert!(status.contains("bots:   1"), "{status}");

    node.cli_ok(&["logs", "ping"]).await;
    node.cli_ok(&["remove", "ping"]).await;
    assert_eq!(list_json(&node).await, Value::Array(vec![]));
    assert_eq!(node.cli(&["remove", "ping"]).await.status.code(), Some(1));
}

#[tokio::test]
async fn client_commands_explain_an_unreachable_node_or_a_wrong_token() {
    let node = Node::start().await;
    let output = node.cli(&["list", "--node", "http://127.0.0.1:1"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unreachable"));

    let output = node.cli(&["list", "--admin-token", "wrong"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("admin token"));
}

/// For [`wat_bot`]: a component of the world as it was before the
/// `interaction` import (it imports nothing at all) that answers every interaction with a fixed message.
const OLDER_WORLD_BOT: &str = r#"
    (core module $m
        (memory (export "memory") 1)
        (data (i32.const 64) "{\"type\":4,\"data\":{\"content\":\"from an older world\"}}")
        (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
        (func (export "handle") (param i32 i32) (result i32)
            ;; result<list<u8>, string> at 16: ok, pointer 64, length 51
            (i32.store8 (i32.const 16) (i32.const 0))
            (i32.store (i32.const 20) (i32.const 64))
            (i32.store (i32.const 24) (i32.const 51))
            i32.const 16))
    (core instance $i (instantiate $m))
    (alias core export $i "memory" (core memory $memory))
    (alias core export $i "realloc" (core func $realloc))"#;

#[tokio::test]
async fn a_bot_built_against_an_older_world_still_deploys_and_answers() {
    let node = Node::start().await;
    let signer = Signer::new(5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("older.wasm");
    std::fs::write(&path, wat_bot(OLDER_WORLD_BOT)).unwrap();
    let app = "1180000000000000077";
    node.cli_ok(&[
        "deploy",
        path.to_str().unwrap(),
        "--name",
        "older",
        "--app-id",
        app,
        "--public-key",
        &signer.public_hex(),
    ])
    .await;
    let body = command_bytes("anything", "42");
    let (status, answer) = node.interact(app, &signer, &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["content"], "from an older world", "{answer}");
}
