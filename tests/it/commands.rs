//! Commands declared in a bot's code, registered by the node with the bot's
//! token (one bulk overwrite) at deploy and rollback, against the fake
//! Discord: the global and guild routes, a declaration Discord would refuse
//! (refused before anything changes), Discord's own refusal (the serving
//! version stays), and `appliance commands` showing and repairing a drift.

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::{guest_path, Node, Signer};

const APP: &str = "5300";
const TOKEN: &str = "token-a";

struct Setup {
    discord: FakeDiscord,
    node: Node,
    signer: Signer,
    token_file: tempfile::NamedTempFile,
}

async fn setup() -> Setup {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::with_fake_discord(&discord).await;
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), TOKEN).unwrap();
    Setup {
        discord,
        node,
        signer: Signer::new(53),
        token_file,
    }
}

impl Setup {
    /// `appliance deploy` of a test guest as bot `cmd`, with the token
    /// unless `extra` says otherwise.
    async fn deploy(&self, crate_name: &str, extra: &[&str]) -> std::process::Output {
        let wasm = guest_path(crate_name).await;
        let key = self.signer.public_hex();
        let mut args = vec![
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "cmd",
            "--app-id",
            APP,
            "--public-key",
            &key,
        ];
        args.extend_from_slice(extra);
        self.node.cli(&args).await
    }

    async fn deploy_ok(&self, crate_name: &str, extra: &[&str]) -> String {
        let token = self.token_file.path().to_str().unwrap().to_owned();
        let mut args = vec!["--token-file", &token];
        args.extend_from_slice(extra);
        let output = self.deploy(crate_name, &args).await;
        assert!(
            output.status.success(),
            "deploy failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// The bulk overwrites the fake received: (path, authorization, body).
    fn overwrites(&self) -> Vec<(String, Option<String>, Value)> {
        self.discord
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/commands"))
            .map(|r| {
                (
                    r.path,
                    r.authorization,
                    serde_json::from_slice(&r.body).unwrap(),
                )
            })
            .collect()
    }

    async fn answer(&self) -> String {
        self.node.ask(APP, &self.signer, "ping").await
    }
}

fn names(commands: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn deploy_registers_the_declared_commands_with_the_bots_token() {
    let setup = setup().await;
    let stdout = setup.deploy_ok("commands-v1-bot", &[]).await;
    assert!(
        stdout.contains("registered /ping, /remind, High Five (user command) globally"),
        "{stdout}"
    );
    let overwrites = setup.overwrites();
    assert_eq!(overwrites.len(), 1, "{overwrites:?}");
    let (path, authorization, body) = &overwrites[0];
    assert_eq!(path, &format!("/applications/{APP}/commands"));
    assert_eq!(authorization.as_deref(), Some("Bot token-a"));
    // What the bot declared, as declared: options and contexts kept.
    assert_eq!(body[1]["options"][0]["max_value"], 900);
    assert_eq!(body[1]["contexts"], json!([0, 1]));
    assert_eq!(
        names(&setup.discord.commands(APP, None)),
        ["High Five", "ping", "remind"]
    );
    assert_eq!(setup.answer().await, "v1");

    // Without a token a bot still deploys; the node says what it could not do.
    let wasm = guest_path("commands-v2-bot").await;
    let key = setup.signer.public_hex();
    let output = setup
        .node
        .cli(&[
            "deploy",
            wasm.to_str().unwrap(),
            "--name",
            "other",
            "--app-id",
            "5301",
            "--public-key",
            &key,
        ])
        .await;
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("declares 2 command(s) but has no token"),
        "{stderr}"
    );
    assert_eq!(setup.overwrites().len(), 1, "nothing sent without a token");
}

#[tokio::test]
async fn guild_flag_registers_to_the_guild_route_and_commands_shows_it() {
    let setup = setup().await;
    let stdout = setup
        .deploy_ok("commands-v1-bot", &["--guild", "4242"])
        .await;
    assert!(stdout.contains("in server 4242"), "{stdout}");
    assert_eq!(
        setup.overwrites()[0].0,
        format!("/applications/{APP}/guilds/4242/commands")
    );
    assert_eq!(setup.discord.commands(APP, Some("4242")).len(), 3);
    assert!(setup.discord.commands(APP, None).is_empty());

    // `commands` looks where the version registered them.
    let shown = setup.node.cli_ok(&["commands", "cmd"]).await;
    assert!(shown.contains("(in server 4242)"), "{shown}");
    assert!(shown.contains("in sync"), "{shown}");

    // A server id that is not one is refused before the node is asked.
    let output = setup
        .deploy("commands-v1-bot", &["--guild", "my-server"])
        .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Copy Server ID"),
        "{output:?}"
    );
}

#[tokio::test]
async fn an_invalid_declaration_is_refused_before_anything_changes() {
    let setup = setup().await;
    setup.deploy_ok("commands-v1-bot", &[]).await;
    let token = setup.token_file.path().to_str().unwrap().to_owned();
    let output = setup
        .deploy("commands-bad-bot", &["--token-file", &token])
        .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("commands[1].options[1].required")
            && stderr.contains("required options first"),
        "the error names the field and the rule: {stderr}"
    );
    assert_eq!(setup.overwrites().len(), 1, "only v1's registration");
    assert_eq!(setup.answer().await, "v1");
    assert_eq!(setup.node.bot("cmd").await["version"], 1);
}

#[tokio::test]
async fn discords_refusal_keeps_the_serving_version_and_prints_the_field() {
    let setup = setup().await;
    setup.deploy_ok("commands-v1-bot", &[]).await;
    setup.discord.refuse_next_commands(json!({
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {"1": {"options": {"0": {"description": {"_errors": [
            {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
        ]}}}}}
    }));
    let token = setup.token_file.path().to_str().unwrap().to_owned();
    let output = setup
        .deploy("commands-v2-bot", &["--token-file", &token])
        .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("commands[1].options[0].description: Must be between 1 and 100 in length."),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was deployed"), "{stderr}");
    assert_eq!(setup.answer().await, "v1");
    assert_eq!(setup.node.bot("cmd").await["version"], 1);
    assert_eq!(
        names(&setup.discord.commands(APP, None)),
        ["High Five", "ping", "remind"]
    );
}

#[tokio::test]
async fn commands_shows_a_drift_and_sync_repairs_it() {
    let setup = setup().await;
    setup.deploy_ok("commands-v1-bot", &[]).await;
    let shown = setup.node.cli_ok(&["commands", "cmd"]).await;
    assert!(shown.contains("in sync"), "{shown}");

    // Someone edits the commands behind the node's back.
    let mut drifted = setup.discord.commands(APP, None);
    drifted.retain(|c| c["name"] != "remind");
    drifted[0]["description"] = json!("edited by hand");
    drifted.push(json!({"id": "9", "application_id": APP, "type": 1, "name": "old", "description": "left over", "version": "9"}));
    setup.discord.set_commands(APP, None, drifted);

    let shown = setup.node.cli_ok(&["commands", "cmd"]).await;
    assert!(
        shown.contains("/remind: declared, not registered"),
        "{shown}"
    );
    assert!(shown.contains("/old: registered, not declared"), "{shown}");
    assert!(shown.contains("/ping: differs in description"), "{shown}");
    assert!(shown.contains("appliance commands cmd --sync"), "{shown}");
    let json: Value =
        serde_json::from_str(&setup.node.cli_ok(&["commands", "cmd", "--json"]).await).unwrap();
    assert_eq!(json["differences"].as_array().unwrap().len(), 3, "{json}");

    let synced = setup.node.cli_ok(&["commands", "cmd", "--sync"]).await;
    assert!(synced.contains("synced"), "{synced}");
    assert_eq!(
        names(&setup.discord.commands(APP, None)),
        ["High Five", "ping", "remind"]
    );
    let (_, authorization, _) = setup.overwrites().pop().unwrap();
    assert_eq!(authorization.as_deref(), Some("Bot token-a"));
    let shown = setup.node.cli_ok(&["commands", "cmd"]).await;
    assert!(shown.contains("in sync"), "{shown}");
}

#[tokio::test]
async fn redeploy_and_rollback_register_each_versions_commands() {
    let setup = setup().await;
    setup.deploy_ok("commands-v1-bot", &[]).await;
    setup.deploy_ok("commands-v2-bot", &[]).await;
    assert_eq!(names(&setup.discord.commands(APP, None)), ["echo", "ping"]);
    assert_eq!(setup.answer().await, "v2");

    let stdout = setup.node.cli_ok(&["rollback", "cmd"]).await;
    assert!(stdout.contains("now serves version 1"), "{stdout}");
    assert!(stdout.contains("registered /ping, /remind"), "{stdout}");
    assert_eq!(
        names(&setup.discord.commands(APP, None)),
        ["High Five", "ping", "remind"]
    );
    assert_eq!(setup.answer().await, "v1");
}
