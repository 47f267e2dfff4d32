//! The deadline guarantee and the REST import, end to end: the real node,
//! real guests, and the fake Discord standing in for discord.com.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeConfig, FakeDiscord, Recorded, Reply, Script};
use crate::support::{
    assert_crash_notice, command, command_bytes, eventually, holds, Node, Signer,
};

const APP: &str = "3000000000000000001";
const TOKEN: &str = "token-a";

fn with_options(name: &str, kind: u8, options: Value) -> Vec<u8> {
    for_app(APP, name, kind, options)
}

fn for_app(app: &str, name: &str, kind: u8, options: Value) -> Vec<u8> {
    let mut body = command(name, "42");
    body["type"] = json!(kind);
    body["application_id"] = json!(app);
    body["data"]["options"] = options;
    serde_json::to_vec(&body).unwrap()
}

/// The JSON body of a recorded request.
fn body_of(request: &Recorded) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

/// Waits for a request with this method whose JSON `content` contains `text`.
async fn wait_for_content(fake: &FakeDiscord, method: &str, text: &str) -> Value {
    let found = wait_for(fake, |r| {
        r.method == method
            && body_of(r)["content"]
                .as_str()
                .is_some_and(|content| content.contains(text))
    })
    .await;
    body_of(&found)
}

/// Waits (bounded) until the fake has seen a request matching `pick`.
async fn wait_for(fake: &FakeDiscord, pick: impl Fn(&Recorded) -> bool) -> Recorded {
    eventually(Duration::from_secs(20), "the request arrived", async || {
        let requests = fake.requests();
        match requests.iter().find(|r| pick(r)) {
            Some(found) => Ok(found.clone()),
            None => Err(format!("{requests:#?}")),
        }
    })
    .await
}

/// Waits for the host's edit of a deferred answer and returns the message it sent.
async fn edited_original(fake: &FakeDiscord) -> Value {
    let edit = wait_for(fake, |r| r.method == "PATCH").await;
    serde_json::from_slice(&edit.body).unwrap()
}

async fn node_with_fake() -> (Node, FakeDiscord, Signer) {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::with_fake_discord(&fake).await;
    (node, fake, Signer::new(21))
}

#[tokio::test]
async fn a_slow_bot_is_deferred_in_time_and_its_answer_edits_the_original() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("slow-bot", "slow", APP, &signer).await;

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
async fn autocomplete_gets_no_choices_and_a_crash_after_the_deferral_stays_private() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("slow-bot", "slow", APP, &signer).await;
    let options = json!([{ "name": "ms", "type": 4, "value": 2500, "focused": true }]);
    let (status, answer) = node
        .interact(APP, &signer, &with_options("slow", 4, options))
        .await;
    assert_eq!(
        (status, answer),
        (200, json!({ "type": 8, "data": { "choices": [] } }))
    );

    // A trap after the (public) deferral: the notice is ephemeral, which an
    // edit of "thinking..." cannot be, so it is an ephemeral follow-up and the
    // placeholder is deleted.
    node.deploy("hostile-bot", "slow", APP, &signer).await;
    let (status, answer) = node
        .interact(APP, &signer, &with_options("slowpanic", 2, json!([])))
        .await;
    assert_eq!((status, answer), (200, json!({ "type": 5 })));
    let notice = wait_for_content(&fake, "POST", "ran into a problem").await;
    assert_eq!(notice["flags"], 64, "{notice}");
    let delete = wait_for(&fake, |r| r.method == "DELETE").await;
    assert_eq!(
        delete.path,
        format!("/webhooks/{APP}/interaction-token/messages/@original")
    );
    assert!(
        !fake.requests().iter().any(|r| r.method == "PATCH"),
        "the notice must not be made public by an edit"
    );
}

/// A button press on a message, as Discord sends it (type 3).
fn button_press(custom_id: &str) -> Vec<u8> {
    let mut body = command("unused", "42");
    body["type"] = json!(3);
    body["application_id"] = json!(APP);
    body["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn a_slow_button_press_is_acknowledged_then_answered_by_follow_up_or_update() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("hostile-bot", "buttons", APP, &signer).await;

    // Deferred with type 6 (acknowledge, change nothing yet); a new message
    // afterwards is a follow-up, not an edit of the button's message.
    let (status, answer) = node.interact(APP, &signer, &button_press("slow-new")).await;
    assert_eq!((status, answer), (200, json!({ "type": 6 })));
    let follow_up = wait_for_content(&fake, "POST", "a new message after the press").await;
    assert!(follow_up.get("flags").is_none(), "{follow_up}");

    // An update (type 7) after the deferral edits the button's message.
    let (_, answer) = node
        .interact(APP, &signer, &button_press("slow-update"))
        .await;
    assert_eq!(answer, json!({ "type": 6 }));
    let edit = wait_for_content(&fake, "PATCH", "updated").await;
    assert_eq!(edit["content"], "the button's message, updated");
    let patch = wait_for(&fake, |r| r.method == "PATCH").await;
    assert_eq!(
        patch.path,
        format!("/webhooks/{APP}/interaction-token/messages/@original")
    );
}

#[tokio::test]
async fn a_bot_can_answer_at_once_and_keep_working_then_edit_its_answer() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("hostile-bot", "early", APP, &signer).await;

    // `interaction.respond` is the HTTP answer; the return value edits it.
    let sent = Instant::now();
    let (status, answer) = node
        .interact(APP, &signer, &with_options("early", 2, json!([])))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (answer["type"].clone(), answer["data"]["content"].clone()),
        (json!(4), json!("first")),
        "{answer}"
    );
    // The first answer does not wait for the bot to finish (it sleeps 200 ms
    // after responding); far below the deferral point either way.
    assert!(sent.elapsed() < Duration::from_secs(2));
    let edit = wait_for_content(&fake, "PATCH", "second").await;
    assert_eq!(edit["content"], "second");

    // One initial response per interaction.
    let (_, answer) = node
        .interact(APP, &signer, &with_options("respond-twice", 2, json!([])))
        .await;
    assert_eq!(answer["data"]["content"], "first", "{answer}");
    let edit = wait_for_content(&fake, "PATCH", "refused").await;
    assert!(
        edit["content"]
            .as_str()
            .unwrap()
            .contains("already has its initial response"),
        "{edit}"
    );

    // After the host's deferral, `respond` is refused and the return value
    // still edits the deferred answer.
    let (_, answer) = node
        .interact(APP, &signer, &with_options("respond-late", 2, json!([])))
        .await;
    assert_eq!(answer, json!({ "type": 5 }));
    let edit = wait_for_content(&fake, "PATCH", "deferral").await;
    assert!(
        edit["content"]
            .as_str()
            .unwrap()
            .contains("already answered this interaction with a deferral"),
        "{edit}"
    );
}

#[tokio::test]
async fn ephemeral_answers_stay_private_after_any_deferral() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("hostile-bot", "private", APP, &signer).await;

    // The bot deferred ephemerally itself: its answer fills that in by edit.
    let (_, answer) = node
        .interact(APP, &signer, &with_options("private-defer", 2, json!([])))
        .await;
    assert_eq!(answer, json!({ "type": 5, "data": { "flags": 64 } }));
    let edit = wait_for_content(&fake, "PATCH", "for your eyes only").await;
    assert_eq!(edit["flags"], 64);

    // The host deferred publicly: an ephemeral follow-up, and the public
    // "thinking..." is deleted rather than edited into a public answer.
    let (_, answer) = node
        .interact(APP, &signer, &with_options("late-private", 2, json!([])))
        .await;
    assert_eq!(answer, json!({ "type": 5 }));
    let follow_up = wait_for(&fake, |r| {
        r.method == "POST" && r.path == format!("/webhooks/{APP}/interaction-token")
    })
    .await;
    assert_eq!(body_of(&follow_up)["content"], "for your eyes only");
    assert_eq!(body_of(&follow_up)["flags"], 64);
    wait_for(&fake, |r| r.method == "DELETE").await;
    let patches = fake
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(
        patches,
        1,
        "only the first interaction's edit: {:#?}",
        fake.requests()
    );
}

#[tokio::test]
async fn the_wall_clock_limit_also_ends_a_bot_waiting_in_a_host_call() {
    let (node, _fake, signer) = node_with_fake().await;
    node.deploy_with(
        "hostile-bot",
        "sleeper",
        APP,
        &signer,
        &["--timeout-ms", "500"],
    )
    .await;
    let sent = Instant::now();
    let (status, answer) = node
        .interact(APP, &signer, &with_options("sleep", 2, json!([])))
        .await;
    // Cut at 500 ms, not after the guest's 60 s sleep (and before any deferral).
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert_crash_notice(status, &answer);
    // The instance is replaced before the next event arrives...
    eventually(
        Duration::from_secs(10),
        "a replacement instance is parked",
        async || holds(node.bot("sleeper").await, |bot| bot["idle_instances"] == 1),
    )
    .await;
    // ...and serves it.
    let (_, answer) = node
        .interact(APP, &signer, &with_options("ok", 2, json!([])))
        .await;
    assert_eq!(answer["data"]["content"], "ok");
    node.logs_when("sleeper", "the timeout is on record", |logs| {
        logs.contains("CRASH version 1: timeout") && logs.contains("waiting in a host call")
    })
    .await;
}

#[tokio::test]
async fn one_bots_failing_webhook_calls_never_stop_anothers_late_answers() {
    const OTHER_APP: &str = "3000000000000000002";
    let (node, fake, signer) = node_with_fake().await;
    // Discord answers a made-up interaction token with 401.
    fake.script(Script {
        method: "POST",
        path_prefix: format!("/webhooks/{APP}/made-up-token"),
        times: 1000,
        reply: Reply::Status(401),
    });
    node.deploy("hostile-bot", "flooder", APP, &signer).await;
    node.deploy("slow-bot", "slow", OTHER_APP, &signer).await;

    // The flooder trips its own breaker (no token: it is guarded under its
    // application id) ...
    let (_, answer) = node
        .interact(APP, &signer, &with_options("webhook-flood", 2, json!([])))
        .await;
    let statuses = answer["data"]["content"].as_str().unwrap().to_owned();
    assert!(statuses.starts_with("401, 401"), "{statuses}");
    assert!(
        statuses.ends_with(")"),
        "the breaker never tripped: {statuses}"
    );

    // ... and the other bot's late answer is still delivered.
    let body = for_app(
        OTHER_APP,
        "slow",
        2,
        json!([{ "name": "ms", "type": 4, "value": 2500 }]),
    );
    let (_, answer) = node.interact(OTHER_APP, &signer, &body).await;
    assert_eq!(answer, json!({ "type": 5 }));
    let edit = wait_for(&fake, |r| {
        r.method == "PATCH" && r.path.starts_with(&format!("/webhooks/{OTHER_APP}/"))
    })
    .await;
    assert!(body_of(&edit)["content"]
        .as_str()
        .unwrap()
        .starts_with("done after"));
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
    )
    .await;
    assert_eq!(node.bot("hunter").await["has_token"], true);

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
    let rest = || command_bytes("rest", "42");
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
    let logs = node
        .logs_when("hunter", "the revoked token is on record", |logs| {
            logs.contains("rejected this bot's token")
        })
        .await;

    for (what, text) in [
        ("node log", node.node_log()),
        ("bot logs", logs),
        ("list", node.cli_ok(&["list", "--json"]).await),
    ] {
        assert!(!text.contains(TOKEN), "the token appears in the {what}");
    }
}

#[tokio::test]
async fn remind_posts_a_follow_up_through_the_rest_import_then_edits_its_answer_in() {
    let (node, fake, signer) = node_with_fake().await;
    node.deploy("remind-bot", "remind", APP, &signer).await;
    let options = json!([
        { "name": "text", "type": 3, "value": "stretch" },
        { "name": "seconds", "type": 4, "value": 3 }
    ]);
    let (status, answer) = node
        .interact(APP, &signer, &with_options("remind", 2, options))
        .await;
    // It answers at once, then keeps working.
    assert_eq!(status, 200);
    assert_eq!(
        answer["data"]["content"], "I will remind you in 3 s.",
        "{answer}"
    );

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
    node.deploy("slow-bot", "slow", APP, &signer).await;
    let body = with_options(
        "slow",
        2,
        json!([{ "name": "ms", "type": 4, "value": 2500 }]),
    );
    let terminate = async {
        // Spacing, not a wait on the node: the signal comes mid-interaction.
        tokio::time::sleep(Duration::from_millis(500)).await;
        node.terminate().await;
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
    assert_eq!(node.wait_exit(Duration::from_secs(30)).await, Some(0));
    assert!(node.node_log().contains("drained"));
}

#[tokio::test]
async fn a_second_sigterm_exits_at_once() {
    use hyper_util::rt::TokioIo;

    let (mut node, _fake, signer) = node_with_fake().await;
    node.deploy("slow-bot", "slow", APP, &signer).await;
    // A quick event parks an instance, so the slow one is seen taking it.
    let quick = with_options("slow", 2, json!([{ "name": "ms", "type": 4, "value": 0 }]));
    let (_, answer) = node.interact(APP, &signer, &quick).await;
    assert_eq!(answer["type"], 4, "{answer}");
    eventually(
        Duration::from_secs(10),
        "the quick event's instance is parked",
        async || holds(node.bot("slow").await, |bot| bot["idle_instances"] == 1),
    )
    .await;
    let body = with_options(
        "slow",
        2,
        json!([{ "name": "ms", "type": 4, "value": 9000 }]),
    );
    let request = signer.request(APP, &body);
    let addr = node.public;
    // The request dies with the node, so it runs detached and its outcome is ignored.
    let request = tokio::spawn(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(connection);
        sender.send_request(request).await.ok().map(|r| r.status())
    });
    eventually(
        Duration::from_secs(10),
        "the 9 s bot is running",
        async || holds(node.bot("slow").await, |bot| bot["idle_instances"] == 0),
    )
    .await;
    let stopped = Instant::now();
    node.terminate().await;
    eventually(
        Duration::from_secs(10),
        "the node is draining after the first signal",
        async || node.node_log().contains("shutting down"),
    )
    .await;
    node.terminate().await;
    assert_eq!(node.wait_exit(Duration::from_secs(5)).await, Some(1));
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "the second signal did not cut the 9 s bot short"
    );
    request.abort();
}
