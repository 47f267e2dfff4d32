//! The deadline guarantee and the REST import, end to end: the real node,
//! real guests, and the fake Discord standing in for discord.com.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord, Recorded};
use crate::support::{command, Node, Signer};

const APP: &str = "3000000000000000001";
const TOKEN: &str = "token-a";

fn with_options(name: &str, kind: u8, options: Value) -> Vec<u8> {
    let mut body = command(name, "42");
    body["type"] = json!(kind);
    body["application_id"] = json!(APP);
    body["data"]["options"] = options;
    serde_json::to_vec(&body).unwrap()
}

/// Waits (bounded) until the fake has seen a request matching `pick`.
async fn wait_for(fake: &FakeDiscord, pick: impl Fn(&Recorded) -> bool) -> Recorded {
    let started = Instant::now();
    loop {
        if let Some(found) = fake.requests().into_iter().find(|r| pick(r)) {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "request never arrived: {:#?}",
            fake.requests()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the host's edit of a deferred answer and returns the message it sent.
async fn edited_original(fake: &FakeDiscord) -> Value {
    let edit = wait_for(fake, |r| r.method == "PATCH").await;
    serde_json::from_slice(&edit.body).unwrap()
}

async fn node_with_fake() -> (Node, FakeDiscord, Signer) {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::start_with(&["--plain-http", "--discord-api", &fake.base_url()]);
    (node, fake, Signer::new(21))
}

#[tokio::test]
async fn a_slow_bot_is_deferred_in_time_and_its_answer_edits_the_original() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("slow-bot", "slow", APP, &signer);

    let sent = Instant::now();
    let body = with_options(
        "slow",
        2,
        json!([{ "name": "ms", "type": 4, "value": 2500 }]),
    );
    let (status, answer) = node.interact(APP, &signer, &body).await;
    let answered_after = sent.elapsed();
    assert_eq!((status, answer), (200, json!({ "type": 5 })));
    // Discord's hard limit; the host answers at 2 s.
    assert!(
        answered_after < Duration::from_secs(3),
        "deferred answer took {answered_after:?}"
    );

    let edit = wait_for(&fake, |r| {
        r.method == "PATCH" && r.path.ends_with("/messages/@original")
    })
    .await;
    assert_eq!(
        edit.path,
        format!("/webhooks/{APP}/interaction-token/messages/@original")
    );
    assert!(
        edit.authorization.is_none(),
        "webhook calls must not carry the bot token"
    );
    let message: Value = serde_json::from_slice(&edit.body).unwrap();
    assert!(
        message["content"]
            .as_str()
            .unwrap()
            .starts_with("done after"),
        "{message}"
    );

    // A quick answer is still the HTTP response itself.
    let quick = with_options("slow", 2, json!([{ "name": "ms", "type": 4, "value": 10 }]));
    let (_, answer) = node.interact(APP, &signer, &quick).await;
    assert_eq!(answer["type"], 4, "{answer}");
}

#[tokio::test]
async fn autocomplete_and_components_get_the_deferral_their_type_allows() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("slow-bot", "slow", APP, &signer);
    let options = json!([{ "name": "ms", "type": 4, "value": 2500, "focused": true }]);
    let (status, answer) = node
        .interact(APP, &signer, &with_options("slow", 4, options))
        .await;
    assert_eq!(
        (status, answer),
        (200, json!({ "type": 8, "data": { "choices": [] } }))
    );

    // A trap after the deferral edits the original with the ephemeral notice.
    node.deploy("hostile-bot", "slow", APP, &signer);
    let (status, answer) = node
        .interact(APP, &signer, &with_options("slowpanic", 2, json!([])))
        .await;
    assert_eq!((status, answer), (200, json!({ "type": 5 })));
    let message = edited_original(&fake).await;
    assert!(
        message["content"]
            .as_str()
            .unwrap()
            .contains("ran into a problem"),
        "{message}"
    );
}

#[tokio::test]
async fn the_token_never_reaches_the_guest_or_the_logs_and_a_401_stops_it() {
    let (node, fake, signer) = node_with_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    node.deploy_with(
        "hostile-bot",
        "hunter",
        APP,
        &signer,
        &["--token-file", token_file.to_str().unwrap()],
    );
    assert_eq!(node.bot("hunter")["has_token"], true);

    let reversed: String = TOKEN.chars().rev().collect();
    let hunt = with_options(
        "token-hunt",
        2,
        json!([{ "name": "reversed", "type": 3, "value": reversed }]),
    );
    let (status, answer) = node.interact(APP, &signer, &hunt).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["data"]["content"],
        "token in answers: false, token in memory: false, statuses checked: 2"
    );
    // The host did use the token for the bot's calls.
    let me = wait_for(&fake, |r| r.path.ends_with("/users/@me")).await;
    assert_eq!(me.authorization.as_deref(), Some("Bot token-a"));

    // Discord revokes the token: one 401, then no more traffic with it.
    fake.invalidate_token(TOKEN);
    let rest = || serde_json::to_vec(&command("rest", "42")).unwrap();
    let (_, answer) = node.interact(APP, &signer, &rest()).await;
    assert!(
        answer["data"]["content"].as_str().unwrap().contains("401"),
        "{answer}"
    );
    let sent_before = fake.requests_with_token(TOKEN);
    for _ in 0..5 {
        let (_, answer) = node.interact(APP, &signer, &rest()).await;
        assert!(
            answer["data"]["content"]
                .as_str()
                .unwrap()
                .starts_with("error:"),
            "{answer}"
        );
    }
    assert_eq!(
        fake.requests_with_token(TOKEN),
        sent_before,
        "requests sent with a revoked token"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = node.cli_ok(&["logs", "hunter"]);
    assert!(logs.contains("rejected this bot's token"), "{logs}");

    for (what, text) in [
        ("node log", node.node_log()),
        ("bot logs", logs),
        ("list", node.cli_ok(&["list", "--json"])),
    ] {
        assert!(!text.contains(TOKEN), "the token appears in the {what}");
    }
}

#[tokio::test]
async fn remind_posts_a_follow_up_through_the_rest_import_then_edits_its_answer_in() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("remind-bot", "remind", APP, &signer);
    let options = json!([
        { "name": "text", "type": 3, "value": "stretch" },
        { "name": "seconds", "type": 4, "value": 3 }
    ]);
    let (status, answer) = node
        .interact(APP, &signer, &with_options("remind", 2, options))
        .await;
    assert_eq!((status, answer), (200, json!({ "type": 5 })));

    let follow_up = wait_for(&fake, |r| {
        r.method == "POST" && r.path == format!("/webhooks/{APP}/interaction-token")
    })
    .await;
    assert!(follow_up.authorization.is_none());
    let message: Value = serde_json::from_slice(&follow_up.body).unwrap();
    assert_eq!(message["content"], "⏰ Reminder: stretch");

    let message = edited_original(&fake).await;
    assert_eq!(message["content"], "Reminder sent after 3 s.");
}

#[tokio::test]
async fn sigterm_during_a_slow_interaction_still_delivers_its_answer_then_exits_0() {
    let (mut node, fake, signer) = node_with_fake().await;
    node.deploy("slow-bot", "slow", APP, &signer);
    let body = with_options(
        "slow",
        2,
        json!([{ "name": "ms", "type": 4, "value": 2500 }]),
    );
    let terminate = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        node.terminate();
    };
    let ((status, answer), ()) = tokio::join!(node.interact(APP, &signer, &body), terminate);
    assert_eq!((status, answer), (200, json!({ "type": 5 })));
    let message = edited_original(&fake).await;
    assert!(
        message["content"]
            .as_str()
            .unwrap()
            .starts_with("done after"),
        "{message}"
    );
    assert_eq!(node.wait_exit(Duration::from_secs(30)), Some(0));
    assert!(node.node_log().contains("drained"));
}

#[tokio::test]
async fn a_second_sigterm_exits_at_once() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::rt::TokioIo;

    let (mut node, _fake, signer) = node_with_fake().await;
    node.deploy("slow-bot", "slow", APP, &signer);
    let body = with_options(
        "slow",
        2,
        json!([{ "name": "ms", "type": 4, "value": 9000 }]),
    );
    let (signature, timestamp) = signer.sign(&body);
    let addr = node.public;
    // The request dies with the node, so it runs detached and its outcome is ignored.
    let request = tokio::spawn(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        let request = hyper::Request::post(format!("/interactions/{APP}"))
            .header("host", "localhost")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", timestamp)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        sender.send_request(request).await.ok().map(|r| r.status())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = Instant::now();
    node.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.terminate();
    assert_eq!(node.wait_exit(Duration::from_secs(5)), Some(1));
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "the second signal did not cut the 9 s bot short"
    );
    request.abort();
}
