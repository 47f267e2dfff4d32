//! `appliance new`: each template writes a crate, outside our workspace,
//! whose own tests pass under `cargo test` and whose component deploys,
//! registers its commands and answers a signed interaction. And the names
//! and directories it refuses.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::guests::{guests_target_dir, GUEST_PROFILE};
use crate::support::{appliance, child_command, command, Node, Signer};

const APP: &str = "1180000000000000000";
const GUILD: &str = "1180000000000000003";

/// `appliance new NAME --template TEMPLATE --path DIR`, which must succeed.
pub async fn new_bot(dir: &Path, name: &str, template: &str) -> String {
    let output = run(appliance()
        .args(["new", name, "--template", template, "--path"])
        .arg(dir))
    .await;
    assert!(
        output.status.success(),
        "appliance new failed: {}",
        text(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `cargo ARGS` in the crate at `dir`, in the test guests' target dir (the SDK's
/// dependencies compile once for wasm, see `support::guests`); the
/// test fails with cargo's output if it does.
pub async fn cargo(dir: &Path, args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = child_command(cargo);
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", guests_target_dir())
        // The template's own `opt-level = "s"` would make a second copy of
        // every dependency beside the test guests'.
        .envs(GUEST_PROFILE);
    let output = run(&mut command).await;
    assert!(
        output.status.success(),
        "cargo {args:?} in {} failed:\n{}",
        dir.display(),
        text(&output)
    );
}

/// The component `cargo build --release --target wasm32-wasip2` made of
/// crate `name`.
pub fn component(name: &str) -> PathBuf {
    guests_target_dir()
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// A token file for the fake Discord's first token (`token-a`).
pub fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, "token-a").unwrap();
    path
}

/// A signed `/{name}` with `options` (Discord's `data.options`), as JSON.
pub fn command_with(name: &str, options: Value) -> Vec<u8> {
    let mut body = command(name, "42");
    body["data"]["options"] = options;
    serde_json::to_vec(&body).unwrap()
}

async fn run(command: &mut std::process::Command) -> Output {
    let mut command = std::mem::replace(command, std::process::Command::new("true"));
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes crate `name` from `template`, runs its tests, builds it, deploys
/// it with a token to a node whose Discord is fake, and returns the node
/// with the commands it registered to [`GUILD`].
async fn new_built_and_deployed(
    name: &str,
    template: &str,
) -> (Node, FakeDiscord, Signer, Vec<Value>) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join(name);
    let said = new_bot(&dir, name, template).await;
    assert!(said.contains("cargo test"), "{said}");
    assert!(dir.join("appliance-sdk/Cargo.toml").is_file());
    assert!(dir.join("README.md").is_file());

    cargo(&dir, &["test"]).await;
    cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2"]).await;

    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::with_fake_discord(&discord).await;
    let signer = Signer::new(7);
    let wasm = component(name);
    let token = token_file(temp.path());
    node.cli_ok(&[
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        name,
        "--app-id",
        APP,
        "--public-key",
        &signer.public_hex(),
        "--token-file",
        token.to_str().unwrap(),
        "--guild",
        GUILD,
    ])
    .await;
    let registered = discord.commands(APP, Some(GUILD));
    (node, discord, signer, registered)
}

fn names(commands: &[Value]) -> Vec<&str> {
    commands.iter().filter_map(|c| c["name"].as_str()).collect()
}

#[tokio::test]
async fn command_template_builds_tests_deploys_and_answers() {
    let name = "new-command-bot";
    let (node, _discord, signer, registered) = new_built_and_deployed(name, "command").await;
    assert_eq!(names(&registered), ["greet"]);

    let body = command_with(
        "greet",
        json!([{ "name": "name", "type": 3, "value": "Ada" }]),
    );
    let (status, answer) = node.interact(APP, &signer, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["content"], "Hello, Ada!", "{answer}");
    assert_eq!(
        answer["data"]["components"][0]["components"][0]["custom_id"],
        "wave"
    );
    node.logs_when(name, "the greeting is logged", |logs| {
        logs.contains("greeting Ada")
    })
    .await;
}

#[tokio::test]
async fn counter_template_builds_tests_deploys_and_answers() {
    let name = "new-counter-bot";
    let (node, _discord, signer, registered) = new_built_and_deployed(name, "counter").await;
    assert_eq!(names(&registered), ["count"]);

    for (by, total) in [(None, 1), (Some(5), 6)] {
        let options = match by {
            Some(by) => json!([{ "name": "by", "type": 4, "value": by }]),
            None => json!([]),
        };
        let (status, answer) = node
            .interact(APP, &signer, &command_with("count", options))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["data"]["content"],
            format!("Counted {total} so far."),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn events_template_builds_tests_deploys_and_answers() {
    let name = "new-events-bot";
    let (node, _discord, signer, registered) = new_built_and_deployed(name, "events").await;
    assert_eq!(names(&registered), ["seen"]);

    let (status, answer) = node
        .interact(APP, &signer, &command_with("seen", json!([])))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["content"], "0 messages seen", "{answer}");
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
}

#[tokio::test]
async fn new_refuses_bad_names_and_non_empty_directories() {
    let temp = tempfile::tempdir().unwrap();
    for bad in ["2fast", "my bot", "test", "twilight-model"] {
        let output = run(appliance()
            .args(["new", bad, "--path"])
            .arg(temp.path().join("x")))
        .await;
        assert_eq!(output.status.code(), Some(1), "{bad}: {}", text(&output));
        assert!(
            text(&output).contains(&format!("{bad:?}")),
            "the error names {bad:?}: {}",
            text(&output)
        );
    }
    assert!(
        !temp.path().join("x").exists(),
        "nothing written for a bad name"
    );

    let taken = temp.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("notes.txt"), "mine").unwrap();
    let output = run(appliance().args(["new", "fine", "--path"]).arg(&taken)).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("is not empty"), "{}", text(&output));
    let left: Vec<_> = std::fs::read_dir(&taken).unwrap().collect();
    assert_eq!(left.len(), 1, "the directory is left as it was");
    assert_eq!(
        std::fs::read_to_string(taken.join("notes.txt")).unwrap(),
        "mine"
    );

    let output = run(appliance().args(["new", "fine", "--template", "nope"])).await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "a usage error: {}",
        text(&output)
    );
}
