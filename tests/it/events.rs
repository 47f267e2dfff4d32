//! Discord webhook events over HTTP (`POST /events/{app_id}`): verified like
//! interactions, PING answered 204, an event acknowledged 204 and handled by
//! the bot's `handle-event` (world `event-bot`) under its usual limits.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{json, Value};

use crate::support::{command_bytes, eventually, unix_now, Node, Signer};

const APP: &str = "5100";

/// `POST /events/{app}` with `body`, signed by `signer`.
fn event_request(signer: &Signer, app: &str, body: &[u8]) -> hyper::Request<Full<Bytes>> {
    signer.post_at(&format!("/events/{app}"), body, unix_now())
}

fn event_body(name: &str, data: Value) -> Vec<u8> {
    json!({
        "version": 1,
        "application_id": APP,
        "type": 1,
        "event": { "type": name, "timestamp": "2026-11-29T00:00:00Z", "data": data },
    })
    .to_string()
    .into_bytes()
}

/// The bot's answer to `/{command}`.
async fn ask(node: &Node, signer: &Signer, command: &str) -> String {
    node.ask(APP, signer, command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_reach_the_bots_event_handler() {
    let node = Node::start().await;
    let signer = Signer::new(51);
    node.deploy("events-bot", "events", APP, &signer).await;

    // PING: 204, nothing delivered.
    let ping = json!({"version": 1, "application_id": APP, "type": 0}).to_string();
    let (status, _) = node
        .send(event_request(&signer, APP, ping.as_bytes()))
        .await;
    assert_eq!(status, 204);

    // An event: 204 at once, then handled.
    let body = event_body("APPLICATION_AUTHORIZED", json!({"scopes": ["bot"]}));
    // Signed once: the replay below must be the very same request, not one
    // signed again in a later second (a new signature is a new request).
    let signed_at = unix_now();
    let path = format!("/events/{APP}");
    let (status, _) = node.send(signer.post_at(&path, &body, signed_at)).await;
    assert_eq!(status, 204);
    let last = eventually(
        Duration::from_secs(10),
        "the event is handled",
        async || {
            let last = ask(&node, &signer, "last").await;
            if last.starts_with("APPLICATION_AUTHORIZED") {
                Ok(last)
            } else {
                Err(last)
            }
        },
    )
    .await;
    assert_eq!(
        last,
        r#"APPLICATION_AUTHORIZED {"scopes":["bot"]} shard=0 seq=0"#
    );

    // The same signed request again is a replay; a bad signature is refused.
    let replay = signer.post_at(&path, &body, signed_at);
    let (status, _) = node.send(replay).await;
    assert_eq!(status, 401);
    let forged = event_request(&Signer::new(99), APP, &event_body("FORGED", json!({})));
    let (status, _) = node.send(forged).await;
    assert_eq!(status, 401);
    let (status, refusal) = node
        .send(event_request(&signer, APP, br#"{"type":1}"#))
        .await;
    assert_eq!(
        status, 400,
        "a type 1 body without an event is not an event"
    );
    assert_eq!(
        refusal["error"],
        "request body is not a webhook event: type 1 without an event"
    );

    // `interaction.respond` inside an event is refused to the guest, not a trap.
    let (status, _) = node
        .send(event_request(
            &signer,
            APP,
            &event_body("RESPOND", json!({})),
        ))
        .await;
    assert_eq!(status, 204);
    let refused = eventually(
        Duration::from_secs(10),
        "the RESPOND event ran",
        async || {
            let refused = ask(&node, &signer, "respond").await;
            if refused.is_empty() {
                Err(refused)
            } else {
                Ok(refused)
            }
        },
    )
    .await;
    assert!(
        refused.contains("no interaction to respond to"),
        "{refused}"
    );

    // A failing event is the bot's error, in its logs; the bot still answers.
    let (status, _) = node
        .send(event_request(&signer, APP, &event_body("FAIL", json!({}))))
        .await;
    assert_eq!(status, 204);
    node.logs_when("events", "the failed event is logged", |logs| {
        logs.contains("this event always fails")
    })
    .await;
    assert_eq!(ask(&node, &signer, "count").await, "2");
    let bot = node.bot("events").await;
    assert_eq!(bot["state"], "running", "{bot}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_without_an_event_handler_acknowledges_and_runs_nothing() {
    let node = Node::start().await;
    let signer = Signer::new(52);
    node.deploy("ping-bot", "pinger", APP, &signer).await;
    let body = event_body("APPLICATION_AUTHORIZED", json!({}));
    let (status, _) = node.send(event_request(&signer, APP, &body)).await;
    assert_eq!(status, 204);
    node.logs_when(
        "pinger",
        "the owner is told the bot takes no events",
        |logs| logs.contains("this bot takes no events"),
    )
    .await;
    let (status, answer) = node
        .interact(APP, &signer, &command_bytes("ping", "7"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = node.send(event_request(&signer, "5199", &body)).await;
    assert_eq!(status, 404, "no bot for that application");
}
