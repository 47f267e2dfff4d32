//! `examples/modlog` end to end: a slash command configures it (KV), the
//! node's gateway session feeds it MESSAGE_CREATE / MESSAGE_DELETE /
//! GUILD_MEMBER_ADD, and it acts through Discord's REST API with the node's
//! token (against the fakes).

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::fake_gateway::{BotAccount, FakeGateway, GatewayConfig, PRIVILEGED_INTENTS};
use crate::support::{command, eventually, guest_path, holds, Node, Signer};

const APP: &str = "5300";
const TOKEN: &str = "token-a";
const GUILD: &str = "1180000000000000003";
const LOG_CHANNEL: &str = "1180000000000000077";

/// `/modlog` with `options` (the subcommand tree), in the guild.
fn modlog(options: Value) -> Vec<u8> {
    let mut interaction = command("modlog", "42");
    interaction["data"]["options"] = options;
    serde_json::to_vec(&interaction).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modlog_deletes_banned_words_and_logs_with_the_nodes_token() {
    let mut account = BotAccount::new(TOKEN, 1_100_000_000_000_000_001);
    account.privileged_intents = PRIVILEGED_INTENTS;
    let gateway = FakeGateway::start(GatewayConfig {
        bots: vec![account],
        heartbeat_interval: Duration::from_secs(5),
        ..GatewayConfig::default()
    })
    .await;
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    discord.set_gateway_bot(gateway.gateway_bot(1));
    let node = Node::with_fake_discord(&discord).await;
    let signer = Signer::new(53);
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), TOKEN).unwrap();
    let wasm = guest_path("modlog-bot").await;
    let key = signer.public_hex();
    node.cli_ok(&[
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        "modlog",
        "--app-id",
        APP,
        "--public-key",
        &key,
        "--token-file",
        token_file.path().to_str().unwrap(),
        "--intents",
        "GUILDS,GUILD_MEMBERS,GUILD_MESSAGES,MESSAGE_CONTENT",
    ])
    .await;

    // Configure it, as a moderator would, with slash commands.
    let add = modlog(json!([{"type": 2, "name": "words", "options": [
        {"type": 1, "name": "add", "options": [{"type": 3, "name": "word", "value": "darn"}]}
    ]}]));
    let (status, answer) = node.interact(APP, &signer, &add).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    let channel = modlog(json!([{"type": 1, "name": "channel", "options": [
        {"type": 7, "name": "channel", "value": LOG_CHANNEL}
    ]}]));
    let (status, answer) = node.interact(APP, &signer, &channel).await;
    assert_eq!(status, 200, "{answer}");

    eventually(
        Duration::from_secs(20),
        "the session is ready",
        async || {
            holds(node.bot("modlog").await["gateway"]["state"].clone(), |s| {
                s == "ready"
            })
        },
    )
    .await;
    let identify = &gateway.identifies()[0];
    assert_eq!(identify.intents, 1 | 1 << 1 | 1 << 9 | 1 << 15);

    // A message with the banned word is deleted and the deletion logged.
    let author = json!({"id": "1180000000000000099", "username": "someone", "discriminator": "0", "avatar": null, "global_name": null});
    let message = |id: &str, content: &str| {
        json!({
            "id": id, "channel_id": "1180000000000000055", "guild_id": GUILD,
            "author": author, "content": content, "timestamp": "2026-11-30T00:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0,
        })
    };
    gateway.dispatch(
        TOKEN,
        0,
        "MESSAGE_CREATE",
        message("1180000000000000101", "well, darn it"),
    );
    gateway.dispatch(
        TOKEN,
        0,
        "MESSAGE_CREATE",
        message("1180000000000000102", "all fine here"),
    );
    let requests = eventually(
        Duration::from_secs(20),
        "the message was deleted and logged",
        async || {
            let requests = discord.requests();
            let deleted = requests.iter().any(|r| {
                r.method == "DELETE"
                    && r.path == "/channels/1180000000000000055/messages/1180000000000000101"
            });
            let logged = requests.iter().any(|r| {
                r.method == "POST"
                    && r.path == format!("/channels/{LOG_CHANNEL}/messages")
                    && String::from_utf8_lossy(&r.body).contains("banned word")
            });
            holds(requests, |_| deleted && logged).map_err(|r| format!("{} requests", r.len()))
        },
    )
    .await;
    // Only the banned one; every call carried the node's token, never the guest's.
    assert!(!requests
        .iter()
        .any(|r| r.path.contains("1180000000000000102")));
    assert!(requests
        .iter()
        .filter(|r| r.path.starts_with("/channels/"))
        .all(|r| r.authorization.as_deref() == Some("Bot token-a")));
}
