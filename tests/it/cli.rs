//! Client commands against a real node: deploy validation, list, invoke,
//! remove, logs, and state surviving a `kill -9`.

use serde_json::Value;

use crate::support::{command, guest, Node, Signer};

const APP: &str = "1180000000000000000";

fn list_json(node: &Node) -> Value {
    serde_json::from_str(&node.cli_ok(&["list", "--json"])).unwrap()
}

#[tokio::test]
async fn counter_keeps_its_count_across_a_kill_9_restart() {
    let mut node = Node::start();
    let signer = Signer::new(3);
    node.deploy("counter-bot", "counter", APP, &signer);
    // A new interaction each time: the node refuses a repeated id as a replay.
    let body = || serde_json::to_vec(&command("count", "42")).unwrap();
    for expected in 1..=2 {
        let (status, answer) = node.interact(APP, &signer, &body()).await;
        assert_eq!(status, 200, "{answer}");
        let content = answer["data"]["content"].as_str().unwrap();
        assert!(content.contains(&expected.to_string()), "{content}");
    }
    // Another user has their own count.
    let other = serde_json::to_vec(&command("count", "43")).unwrap();
    let (_, answer) = node.interact(APP, &signer, &other).await;
    assert!(
        answer["data"]["content"].as_str().unwrap().contains('1'),
        "{answer}"
    );

    node.crash_and_restart();
    let (status, answer) = node.interact(APP, &signer, &body()).await;
    assert_eq!(status, 200, "{answer}");
    let content = answer["data"]["content"].as_str().unwrap();
    assert!(
        content.contains('3'),
        "count did not survive the restart: {content}"
    );
}

#[test]
fn deploys_of_wrong_files_fail_with_exit_1_and_change_nothing() {
    let node = Node::start();
    let signer = Signer::new(4);
    node.deploy("ping-bot", "ping", APP, &signer);
    let before = list_json(&node);
    let dir = tempfile::tempdir().unwrap();
    let key = signer.public_hex();

    let cases: [(&str, Vec<u8>, &str); 3] = [
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
    ];
    for (file, bytes, reason) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        // Once as a new bot, once as a new version of the serving one.
        for name in ["fresh", "ping"] {
            let output = node.cli(&[
                "deploy",
                path.to_str().unwrap(),
                "--name",
                name,
                "--app-id",
                APP,
                "--public-key",
                &key,
            ]);
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
    assert_eq!(list_json(&node), before, "a failed deploy changed the node");

    // A missing file and a bad key are refused before anything is sent.
    let output = node.cli(&[
        "deploy",
        "/nonexistent.wasm",
        "--app-id",
        APP,
        "--public-key",
        &key,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let wasm = guest("ping-bot");
    let output = node.cli(&[
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        "x",
        "--app-id",
        "2",
        "--public-key",
        "abc",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("public key"));
    // Usage errors are exit 2.
    assert_eq!(node.cli(&["deploy"]).status.code(), Some(2));
    assert_eq!(node.cli(&["list", "--bogus"]).status.code(), Some(2));
    assert_eq!(list_json(&node), before);
}

#[test]
fn list_invoke_logs_and_remove() {
    let node = Node::start();
    let signer = Signer::new(5);
    node.deploy("ping-bot", "ping", APP, &signer);
    node.deploy("ping-bot", "ping", APP, &signer);

    let bots = list_json(&node);
    assert_eq!(bots[0]["name"], "ping");
    assert_eq!(bots[0]["version"], 2);
    assert_eq!(bots[0]["state"], "running");
    assert!(node.cli_ok(&["list"]).contains("ping"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ping.json");
    std::fs::write(&file, serde_json::to_vec(&command("ping", "42")).unwrap()).unwrap();
    let answer: Value =
        serde_json::from_str(&node.cli_ok(&["invoke", "ping", "--json", file.to_str().unwrap()]))
            .unwrap();
    assert_eq!(answer["data"]["content"], "pong");

    let output = node.cli(&["invoke", "nope", "--json", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no bot named"));

    let status = node.cli_ok(&["status"]);
    assert!(status.contains("bots:   1"), "{status}");

    node.cli_ok(&["logs", "ping"]);
    node.cli_ok(&["remove", "ping"]);
    assert_eq!(list_json(&node), Value::Array(vec![]));
    assert_eq!(node.cli(&["remove", "ping"]).status.code(), Some(1));
}

#[test]
fn client_commands_explain_an_unreachable_node_or_a_wrong_token() {
    let node = Node::start();
    let output = node.cli(&["list", "--node", "http://127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unreachable"));

    let output = node.cli(&["list", "--admin-token", "wrong"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("admin token"));
}
