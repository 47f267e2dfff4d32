//! `appliance dev` against a real node: the first build is deployed, a
//! saved change is live as a new version, a build the compiler refuses is
//! shown and leaves the last good version answering, the bot's logs are
//! streamed, and a signal stops the loop cleanly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::new_bot::{command_with, new_bot, token_file};
use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::guests::{guests_target_dir, GUEST_PROFILE};
use crate::support::{appliance, eventually, holds, Node, Signer};

const APP: &str = "1180000000000000000";
const GUILD: &str = "1180000000000000003";
const NAME: &str = "dev-loop-bot";

/// The first build compiles the SDK's dependencies, unless the `new_bot`
/// tests did so first, or waits for their builds (one target dir).
const FIRST_BUILD: Duration = Duration::from_secs(900);
/// A rebuild compiles the bot alone.
const REBUILD: Duration = Duration::from_secs(300);

/// What `appliance dev` printed so far (stdout and stderr, one file).
fn output(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until the dev loop's output has `needle` `count` times.
async fn printed(log: &Path, needle: &str, count: usize, within: Duration) -> String {
    eventually(
        within,
        &format!("appliance dev printed {needle:?}"),
        async || holds(output(log), |out| out.matches(needle).count() >= count),
    )
    .await
}

/// `/greet name:Ada`'s answer.
async fn greeting(node: &Node, signer: &Signer) -> String {
    let body = command_with(
        "greet",
        json!([{ "name": "name", "type": 3, "value": "Ada" }]),
    );
    let (status, answer) = node.interact(APP, signer, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

#[tokio::test]
async fn dev_redeploys_on_save_and_keeps_the_last_good_version() {
    let temp = tempfile::tempdir().unwrap();
    let dir: PathBuf = temp.path().join(NAME);
    new_bot(&dir, NAME, "command").await;
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::with_fake_discord(&discord).await;
    let signer = Signer::new(9);
    let token = token_file(temp.path());

    let log = temp.path().join("dev.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut dev = appliance();
    dev.arg("dev")
        .arg(&dir)
        .args(["--name", "devbot", "--app-id", APP, "--guild", GUILD])
        .args(["--public-key", &signer.public_hex()])
        .arg("--token-file")
        .arg(&token)
        .arg("--data-dir")
        .arg(&node.data_dir)
        .env_remove("APPLIANCE_NODE")
        .env_remove("APPLIANCE_ADMIN_TOKEN")
        .env("CARGO_TARGET_DIR", guests_target_dir())
        .envs(GUEST_PROFILE)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let mut dev = KillOnDrop(dev.spawn().unwrap());

    // The first build is deployed, its commands registered to the guild.
    printed(&log, "deployed devbot version 1", 1, FIRST_BUILD).await;
    assert_eq!(greeting(&node, &signer).await, "Hello, Ada!");
    let registered = discord.commands(APP, Some(GUILD));
    assert_eq!(registered[0]["name"], "greet", "{registered:?}");
    // The bot's log line is streamed between the loop's own lines.
    printed(&log, "greeting Ada", 1, Duration::from_secs(10)).await;

    // A saved change is built and deployed as the next version.
    let lib = dir.join("src/lib.rs");
    edit(&lib, "\"Hello, {}!\"", "\"Howdy, {}!\"");
    printed(&log, "deployed devbot version 2", 1, REBUILD).await;
    assert_eq!(greeting(&node, &signer).await, "Howdy, Ada!");

    // A build the compiler refuses: its error is shown, version 2 keeps answering.
    edit(&lib, "fn wave(", "fn wave(,");
    let out = printed(&log, "build failed", 1, REBUILD).await;
    assert!(
        out.contains("could not compile `dev-loop-bot`") && out.contains("src/lib.rs:"),
        "the compiler's error is shown:\n{out}"
    );
    assert!(out.contains("version 2 keeps running"), "{out}");
    assert_eq!(greeting(&node, &signer).await, "Howdy, Ada!");
    assert_eq!(node.bot("devbot").await["version"], 2);

    // Fixed again: the loop carries on.
    edit(&lib, "fn wave(,", "fn wave(");
    edit(&lib, "\"Howdy, {}!\"", "\"Hi, {}!\"");
    printed(&log, "deployed devbot version 3", 1, REBUILD).await;
    assert_eq!(greeting(&node, &signer).await, "Hi, Ada!");

    // Stopped by its pid, as a supervisor or `kill` would.
    let pid = dev.0.id().to_string();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success());
    let child = &mut dev.0;
    let code = eventually(
        Duration::from_secs(10),
        "appliance dev exited",
        async || child.try_wait().unwrap().map(|status| status.code()),
    )
    .await;
    let out = output(&log);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("stopped; devbot version 3 keeps running"),
        "{out}"
    );
    // The bot stays deployed and answering.
    assert_eq!(greeting(&node, &signer).await, "Hi, Ada!");
}

/// The dev process is killed (by its pid) if the test fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
