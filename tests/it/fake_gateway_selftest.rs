//! The fake gateway (`support::fake_gateway`) against twilight-gateway's
//! `Shard`, the client the product uses, so the fake is shown to be a
//! gateway twilight agrees with; a raw WebSocket client for what twilight
//! never does wrong (protocol errors, resuming after a close 1000); and
//! `GET /gateway/bot` on the fake REST API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_websockets::{MaybeTlsStream, WebSocketStream};
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{ConfigBuilder, Intents, Message, Shard, ShardId, ShardState};
use twilight_model::gateway::payload::incoming::Ready;

use crate::support::eventually;
use crate::support::fake_discord::{FakeConfig, FakeDiscord, GatewayBot};
use crate::support::fake_gateway::{
    BotAccount, FakeGateway, GatewayConfig, IdentifyOutcome, ResumeOutcome, MESSAGE_CONTENT,
};

const TOKEN: &str = "token-a";
const WAIT: Duration = Duration::from_secs(3);

/// Short heartbeats, and no identify spacing (the test that checks
/// `max_concurrency` restores Discord's 5 s).
fn config() -> GatewayConfig {
    GatewayConfig {
        heartbeat_interval: Duration::from_millis(300),
        identify_interval: Duration::ZERO,
        ..GatewayConfig::default()
    }
}

/// What a twilight shard yielded.
#[derive(Debug)]
enum Seen {
    Dispatch {
        t: String,
        s: u64,
        d: Value,
    },
    /// Any other opcode.
    Op(u64),
    /// A close frame, the gateway's or twilight's own (1006 for a lost connection).
    Closed(Option<u16>),
    Error(String),
}

/// A twilight `Shard` driven by its own task, reporting what it yields.
struct Client {
    rx: mpsc::UnboundedReceiver<Seen>,
    state: Arc<Mutex<ShardState>>,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn connect(gateway: &FakeGateway, token: &str, shard: ShardId, intents: Intents) -> Client {
    let config = ConfigBuilder::new(token.to_owned(), intents)
        .proxy_url(gateway.url())
        // Identify at once: spacing identifies is the fake's to check.
        .queue(InMemoryQueue::new(
            0,
            1000,
            Duration::from_secs(86_400),
            1000,
        ))
        .build();
    let mut shard = Shard::with_config(shard, config);
    let state = Arc::new(Mutex::new(shard.state()));
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn({
        let state = state.clone();
        async move {
            while let Some(item) = shard.next().await {
                *state.lock().unwrap() = shard.state();
                let seen = match item {
                    Ok(Message::Text(text)) => {
                        let value: Value = serde_json::from_str(&text).unwrap();
                        match value["op"].as_u64().unwrap() {
                            0 => Seen::Dispatch {
                                t: value["t"].as_str().unwrap().to_owned(),
                                s: value["s"].as_u64().unwrap(),
                                d: value["d"].clone(),
                            },
                            op => Seen::Op(op),
                        }
                    }
                    Ok(Message::Close(frame)) => Seen::Closed(frame.map(|frame| frame.code)),
                    Err(error) => Seen::Error(error.to_string()),
                };
                if tx.send(seen).is_err() {
                    return;
                }
            }
            *state.lock().unwrap() = shard.state();
        }
    });
    Client { rx, state, task }
}

impl Client {
    fn state(&self) -> ShardState {
        *self.state.lock().unwrap()
    }

    /// The next thing the shard yields; `None` once its stream ended.
    async fn next(&mut self) -> Option<Seen> {
        let seen = timeout(WAIT, self.rx.recv())
            .await
            .expect("the shard yielded nothing in time");
        if let Some(Seen::Error(error)) = &seen {
            eprintln!("the shard yielded an error: {error}");
        }
        seen
    }

    /// The next dispatch: `(t, s, d)`.
    async fn dispatch(&mut self) -> (String, u64, Value) {
        loop {
            match self.next().await {
                Some(Seen::Dispatch { t, s, d }) => return (t, s, d),
                Some(_) => {}
                None => panic!("the shard ended while waiting for a dispatch"),
            }
        }
    }

    /// Dispatches `(t, s)` up to and including the first named `last`.
    async fn dispatches_until(&mut self, last: &str) -> Vec<(String, u64)> {
        let mut seen = Vec::new();
        loop {
            let (t, s, _) = self.dispatch().await;
            let done = t == last;
            seen.push((t, s));
            if done {
                return seen;
            }
        }
    }

    /// Everything until the shard's stream ends.
    async fn until_end(&mut self) -> Vec<Seen> {
        let mut seen = Vec::new();
        while let Some(item) = self.next().await {
            seen.push(item);
        }
        seen
    }
}

/// The close codes among what a shard yielded.
fn closes(seen: &[Seen]) -> Vec<Option<u16>> {
    seen.iter()
        .filter_map(|seen| match seen {
            Seen::Closed(code) => Some(*code),
            _ => None,
        })
        .collect()
}

fn pairs(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    expected.iter().map(|(t, s)| (t.to_string(), *s)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_gets_ready_then_dispatches_in_seq_order_and_heartbeats_are_acked() {
    let gateway = FakeGateway::start(config()).await;
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES;
    let mut client = connect(&gateway, TOKEN, ShardId::ONE, intents);

    let (t, s, d) = client.dispatch().await;
    assert_eq!((t.as_str(), s), ("READY", 1));
    // READY is what twilight-model reads.
    let ready: Ready = serde_json::from_value(d).unwrap();
    assert_eq!(Some(ready.session_id), gateway.session_id(TOKEN, 0));
    assert_eq!(ready.resume_gateway_url, gateway.url());
    assert_eq!(ready.shard, Some(ShardId::ONE));
    assert_eq!(ready.user.id.get(), 1_100_000_000_000_000_001);
    assert!(ready.user.bot);

    let identifies = gateway.identifies();
    assert_eq!(identifies.len(), 1);
    let identify = &identifies[0];
    // twilight sends "Bot token-a"; the fake records the token itself.
    assert_eq!(identify.token, TOKEN);
    assert_eq!(identify.intents, intents.bits());
    assert_eq!(identify.shard, [0, 1]);
    assert_eq!(identify.properties["browser"], "twilight.rs");
    assert!(matches!(identify.outcome, IdentifyOutcome::Ready { .. }));

    for n in 0..5 {
        assert_eq!(
            gateway.dispatch(TOKEN, 0, "MESSAGE_CREATE", json!({ "n": n })),
            n + 2
        );
    }
    assert_eq!(
        gateway.dispatch_many(TOKEN, 0, "TYPING_START", json!({}), 100),
        7..107
    );
    for expected in 2..107 {
        let (t, s, d) = client.dispatch().await;
        assert_eq!(s, expected);
        if s <= 6 {
            assert_eq!((t.as_str(), &d["n"]), ("MESSAGE_CREATE", &json!(s - 2)));
        } else {
            assert_eq!(t, "TYPING_START");
        }
    }
    assert_eq!(gateway.last_seq(TOKEN, 0), Some(106));

    // Heartbeats carry the last seq; ACKed, so twilight never sees a zombie.
    eventually(WAIT, "a heartbeat with seq 106", async || {
        gateway.heartbeats().iter().any(|h| h.d == json!(106))
    })
    .await;
    let heartbeats = gateway.heartbeats().len();
    eventually(WAIT, "two more heartbeats", async || {
        gateway.heartbeats().len() >= heartbeats + 2
    })
    .await;
    assert_eq!(client.state(), ShardState::Active);
    assert_eq!(gateway.connections_total(), 1);
    assert!(gateway.resumes().is_empty());
    assert!(gateway.client_closes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_makes_the_client_resume_and_replays_what_it_missed() {
    let gateway = FakeGateway::start(config()).await;
    let mut client = connect(&gateway, TOKEN, ShardId::ONE, Intents::GUILDS);
    assert_eq!(client.dispatch().await.0, "READY");
    let session = gateway.session_id(TOKEN, 0).unwrap();
    gateway.dispatch(TOKEN, 0, "MESSAGE_CREATE", json!({}));
    gateway.dispatch(TOKEN, 0, "MESSAGE_CREATE", json!({}));
    assert_eq!(client.dispatches_until("MESSAGE_CREATE").await.len(), 1);
    assert_eq!(client.dispatch().await.1, 3);

    // The new connection waits for HELLO until both are dispatched.
    gateway.hold_hello(true);
    assert_eq!(gateway.reconnect((TOKEN, 0)), 1);
    // After op 7 nothing more goes to the old connection: these wait for the resume.
    gateway.dispatch(TOKEN, 0, "MESSAGE_UPDATE", json!({}));
    gateway.dispatch(TOKEN, 0, "MESSAGE_DELETE", json!({}));
    gateway.hold_hello(false);
    assert_eq!(
        client.dispatches_until("RESUMED").await,
        pairs(&[("MESSAGE_UPDATE", 4), ("MESSAGE_DELETE", 5), ("RESUMED", 6)])
    );

    let resumes = gateway.resumes();
    assert_eq!(resumes.len(), 1);
    assert_eq!(resumes[0].token, TOKEN);
    assert_eq!(resumes[0].session_id, session);
    assert_eq!(resumes[0].seq, Some(3));
    assert_eq!(resumes[0].outcome, ResumeOutcome::Resumed { replayed: 2 });
    assert_eq!(
        gateway.identifies().len(),
        1,
        "a RESUME, not a new IDENTIFY"
    );
    let closes = gateway.client_closes();
    assert_eq!(closes.len(), 1);
    assert_eq!(
        closes[0].code, 4000,
        "twilight leaves with a resumable code"
    );

    // The resumed connection gets live dispatches.
    assert_eq!(gateway.dispatch(TOKEN, 0, "MESSAGE_CREATE", json!({})), 7);
    assert_eq!(client.dispatch().await.1, 7);
    assert_eq!(client.state(), ShardState::Active);
    eventually(WAIT, "one live connection", async || {
        gateway.live_connections() == 1
    })
    .await;
    assert_eq!(gateway.connections_total(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_zombie_connection_is_resumed() {
    let gateway = FakeGateway::start(GatewayConfig {
        heartbeat_interval: Duration::from_millis(200),
        ..config()
    })
    .await;
    let mut client = connect(&gateway, TOKEN, ShardId::ONE, Intents::GUILDS);
    assert_eq!(client.dispatch().await.0, "READY");

    // A dropped TCP connection (no close frame) leaves the session resumable.
    gateway.hold_hello(true);
    assert_eq!(gateway.drop_connection((TOKEN, 0)), 1);
    gateway.dispatch(TOKEN, 0, "MESSAGE_CREATE", json!({}));
    gateway.hold_hello(false);
    assert_eq!(
        client.dispatches_until("RESUMED").await,
        pairs(&[("MESSAGE_CREATE", 2), ("RESUMED", 3)])
    );
    assert_eq!(gateway.resumes()[0].seq, Some(1));

    // Without ACKs twilight declares the connection a zombie, drops it and resumes.
    gateway.withhold_acks(true);
    eventually(WAIT, "a second resume", async || {
        gateway.resumes().len() >= 2
    })
    .await;
    gateway.withhold_acks(false);
    let resume = &gateway.resumes()[1];
    assert_eq!(resume.seq, Some(3));
    assert!(matches!(resume.outcome, ResumeOutcome::Resumed { .. }));
    assert_eq!(gateway.identifies().len(), 1);
    // The zombie was dropped, not closed with a code.
    assert!(gateway.client_closes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_session_false_makes_a_new_identify_and_true_a_resume() {
    let gateway = FakeGateway::start(config()).await;
    let mut client = connect(&gateway, TOKEN, ShardId::ONE, Intents::GUILDS);
    assert_eq!(client.dispatch().await.0, "READY");
    let first = gateway.session_id(TOKEN, 0).unwrap();

    assert_eq!(gateway.invalid_session((TOKEN, 0), false), 1);
    let (t, s, d) = client.dispatch().await;
    assert_eq!((t.as_str(), s), ("READY", 1));
    assert_ne!(d["session_id"], first.as_str());
    assert_eq!(gateway.identifies().len(), 2);
    assert!(gateway.resumes().is_empty());
    assert_eq!(gateway.client_closes()[0].code, 1000);

    assert_eq!(gateway.invalid_session((TOKEN, 0), true), 1);
    assert_eq!(client.dispatch().await.0, "RESUMED");
    assert_eq!(gateway.identifies().len(), 2);
    assert_eq!(gateway.resumes().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_closes_leave_twilight_fatally_closed() {
    let mut bot_b = BotAccount::new("token-b", 1_100_000_000_000_000_002);
    bot_b.privileged_intents = MESSAGE_CONTENT;
    let gateway = FakeGateway::start(GatewayConfig {
        bots: vec![BotAccount::new(TOKEN, 1_100_000_000_000_000_001), bot_b],
        ..config()
    })
    .await;

    // A token the gateway does not know: 4004 at IDENTIFY.
    let mut client = connect(&gateway, "no-such-token", ShardId::ONE, Intents::GUILDS);
    let seen = client.until_end().await;
    assert_eq!(closes(&seen), [Some(4004)], "{seen:?}");
    assert_eq!(client.state(), ShardState::FatallyClosed);
    assert_eq!(
        gateway.identifies()[0].outcome,
        IdentifyOutcome::Closed(4004)
    );

    // A privileged intent the bot may not use: 4014; token-b may.
    let content = Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
    let mut client = connect(&gateway, TOKEN, ShardId::ONE, content);
    let seen = client.until_end().await;
    assert_eq!(closes(&seen), [Some(4014)], "{seen:?}");
    assert_eq!(client.state(), ShardState::FatallyClosed);
    let mut allowed = connect(&gateway, "token-b", ShardId::ONE, content);
    assert_eq!(allowed.dispatch().await.0, "READY");

    // 4004 on cue, mid-session: fatal, and the session is gone.
    let mut client = connect(&gateway, TOKEN, ShardId::ONE, Intents::GUILDS);
    assert_eq!(client.dispatch().await.0, "READY");
    assert_eq!(gateway.close((TOKEN, 0), 4004), 1);
    let seen = client.until_end().await;
    assert_eq!(closes(&seen), [Some(4004)], "{seen:?}");
    assert_eq!(client.state(), ShardState::FatallyClosed);
    assert_eq!(gateway.session_id(TOKEN, 0), None);
    assert!(gateway.resumes().is_empty());
    assert_eq!(gateway.server_closes().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifies_in_one_bucket_within_5_s_get_invalid_session() {
    // Discord's spacing: 5 s per bucket, one bucket.
    let gateway = FakeGateway::start(GatewayConfig {
        identify_interval: Duration::from_secs(5),
        ..config()
    })
    .await;
    let mut first = connect(&gateway, TOKEN, ShardId::new(0, 2), Intents::GUILDS);
    assert_eq!(first.dispatch().await.0, "READY");
    let mut second = connect(&gateway, TOKEN, ShardId::new(1, 2), Intents::GUILDS);
    loop {
        match second.next().await {
            Some(Seen::Op(9)) => break,
            Some(Seen::Dispatch { t, .. }) => panic!("{t} within 5 s of the other shard"),
            _ => {}
        }
    }
    drop(second);
    let refused = gateway.identifies()[1].clone();
    assert_eq!(refused.shard, [1, 2]);
    assert_eq!(refused.outcome, IdentifyOutcome::InvalidSession);

    // Two buckets: shards 0 and 1 identify together.
    let gateway = FakeGateway::start(GatewayConfig {
        identify_interval: Duration::from_secs(5),
        max_concurrency: 2,
        ..config()
    })
    .await;
    assert_eq!(gateway.gateway_bot(2).max_concurrency, 2);
    let mut first = connect(&gateway, TOKEN, ShardId::new(0, 2), Intents::GUILDS);
    let mut second = connect(&gateway, TOKEN, ShardId::new(1, 2), Intents::GUILDS);
    assert_eq!(first.dispatch().await.0, "READY");
    assert_eq!(second.dispatch().await.0, "READY");
    assert_eq!(gateway.identifies().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_stream_frames_decode_in_twilight() {
    let gateway = FakeGateway::start(GatewayConfig {
        zstd: true,
        ..config()
    })
    .await;
    let mut client = connect(&gateway, TOKEN, ShardId::ONE, Intents::GUILDS);
    assert_eq!(client.dispatch().await.0, "READY");
    // Small messages, and one of 300 KB (a large GUILD_CREATE), in one stream.
    gateway.dispatch_many(TOKEN, 0, "TYPING_START", json!({"n": 1}), 50);
    let large = "x".repeat(300_000);
    gateway.dispatch(TOKEN, 0, "GUILD_CREATE", json!({ "large": large }));
    gateway.dispatch(TOKEN, 0, "MESSAGE_CREATE", json!({}));
    for expected in 2..52 {
        let (t, s, d) = client.dispatch().await;
        assert_eq!(
            (t.as_str(), s, &d["n"]),
            ("TYPING_START", expected, &json!(1))
        );
    }
    let (t, s, d) = client.dispatch().await;
    assert_eq!((t.as_str(), s), ("GUILD_CREATE", 52));
    assert_eq!(d["large"].as_str().unwrap().len(), 300_000);
    assert_eq!(client.dispatch().await.1, 53);
    let connect = &gateway.connects()[0];
    assert_eq!(connect.query, "v=10&encoding=json&compress=zstd-stream");
    assert!(connect.zstd);

    // A resume starts a new stream on the new connection.
    gateway.reconnect((TOKEN, 0));
    assert_eq!(client.dispatch().await.0, "RESUMED");
    assert!(gateway.connects()[1].zstd);
}

type Raw = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A bare WebSocket client that has read HELLO.
async fn raw(gateway: &FakeGateway) -> Raw {
    let uri = format!("{}/?v=10&encoding=json", gateway.url());
    let (mut ws, _) = tokio_websockets::ClientBuilder::new()
        .uri(&uri)
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(receive(&mut ws).await["op"], 10);
    ws
}

async fn send(ws: &mut Raw, payload: Value) {
    ws.send(tokio_websockets::Message::text(payload.to_string()))
        .await
        .unwrap();
}

/// The next text frame as JSON; panics on a close.
async fn receive(ws: &mut Raw) -> Value {
    let message = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    let text = message
        .as_text()
        .unwrap_or_else(|| panic!("not text: {message:?}"));
    serde_json::from_str(text).unwrap()
}

/// The code of the close frame the gateway ends with, skipping other frames.
async fn close_code(ws: &mut Raw) -> u16 {
    loop {
        let message = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        if let Some((code, _)) = message.as_close() {
            return code.into();
        }
    }
}

fn identify(token: &str) -> Value {
    json!({"op": 2, "d": {
        "token": token,
        "intents": 1,
        "properties": {"os": "linux", "browser": "raw", "device": "raw"},
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_close_with_discords_codes() {
    let gateway = FakeGateway::start(config()).await;

    let mut ws = raw(&gateway).await;
    ws.send(tokio_websockets::Message::text("not json".to_owned()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 4002);

    let mut ws = raw(&gateway).await;
    send(&mut ws, json!({"op": 99, "d": null})).await;
    assert_eq!(close_code(&mut ws).await, 4001);

    let mut ws = raw(&gateway).await;
    let mut big = identify(TOKEN);
    big["d"]["properties"]["device"] = "x".repeat(4096).into();
    send(&mut ws, big).await;
    assert_eq!(close_code(&mut ws).await, 4002);

    let mut ws = raw(&gateway).await;
    send(&mut ws, json!({"op": 3, "d": {"status": "online"}})).await;
    assert_eq!(close_code(&mut ws).await, 4003);

    let mut ws = raw(&gateway).await;
    send(&mut ws, identify(TOKEN)).await;
    assert_eq!(receive(&mut ws).await["t"], "READY");
    send(&mut ws, identify(TOKEN)).await;
    assert_eq!(close_code(&mut ws).await, 4005);

    let mut ws = raw(&gateway).await;
    for _ in 0..121 {
        send(&mut ws, json!({"op": 1, "d": null})).await;
    }
    assert_eq!(close_code(&mut ws).await, 4008);

    let mut shard = json!({"op": 2, "d": identify(TOKEN)["d"].clone()});
    shard["d"]["shard"] = json!([2, 2]);
    let mut ws = raw(&gateway).await;
    send(&mut ws, shard).await;
    assert_eq!(close_code(&mut ws).await, 4010);

    let mut ws = raw(&gateway).await;
    let mut intents = identify(TOKEN);
    intents["d"]["intents"] = json!(1u64 << 40);
    send(&mut ws, intents).await;
    assert_eq!(close_code(&mut ws).await, 4013);

    let uri = format!("{}/?v=6&encoding=json", gateway.url());
    let (mut ws, _) = tokio_websockets::ClientBuilder::new()
        .uri(&uri)
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 4012);

    let codes: Vec<u16> = gateway.server_closes().iter().map(|c| c.code).collect();
    assert_eq!(
        codes,
        [4002, 4001, 4002, 4003, 4005, 4008, 4010, 4013, 4012]
    );
    let ops: Vec<u64> = gateway.commands().iter().map(|c| c.op).collect();
    assert_eq!(ops, [99, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_1000_ends_the_session_and_a_close_4000_does_not() {
    let gateway = FakeGateway::start(config()).await;
    let resume = |session: &str, seq: u64| json!({"op": 6, "d": {"token": format!("Bot {TOKEN}"), "session_id": session, "seq": seq}});

    // 4000: resumable; the replay holds what was dispatched meanwhile.
    let mut ws = raw(&gateway).await;
    send(&mut ws, identify(TOKEN)).await;
    let ready = receive(&mut ws).await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let resumable = tokio_websockets::CloseCode::try_from(4000).unwrap();
    ws.send(tokio_websockets::Message::close(Some(resumable), ""))
        .await
        .unwrap();
    eventually(WAIT, "the session is free", async || {
        !gateway.is_held(TOKEN, 0)
    })
    .await;
    gateway.dispatch(TOKEN, 0, "MESSAGE_CREATE", json!({"n": 2}));
    let mut ws = raw(&gateway).await;
    send(&mut ws, resume(&session, 1)).await;
    let replayed = receive(&mut ws).await;
    assert_eq!(
        (&replayed["t"], &replayed["s"]),
        (&json!("MESSAGE_CREATE"), &json!(2))
    );
    let resumed = receive(&mut ws).await;
    assert_eq!(
        (&resumed["t"], &resumed["s"]),
        (&json!("RESUMED"), &json!(3))
    );

    // A second connection resuming the same session takes it over: the first is closed.
    let mut second = raw(&gateway).await;
    send(&mut second, resume(&session, 3)).await;
    assert_eq!(receive(&mut second).await["t"], "RESUMED");
    assert_eq!(close_code(&mut ws).await, 4000);

    // 1000: the session is gone.
    let normal = tokio_websockets::CloseCode::NORMAL_CLOSURE;
    second
        .send(tokio_websockets::Message::close(Some(normal), ""))
        .await
        .unwrap();
    eventually(WAIT, "the session is invalidated", async || {
        gateway.session_id(TOKEN, 0).is_none()
    })
    .await;
    let mut ws = raw(&gateway).await;
    send(&mut ws, resume(&session, 4)).await;
    let answer = receive(&mut ws).await;
    assert_eq!((&answer["op"], &answer["d"]), (&json!(9), &json!(false)));

    let outcomes: Vec<ResumeOutcome> = gateway.resumes().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            ResumeOutcome::Resumed { replayed: 1 },
            ResumeOutcome::Resumed { replayed: 0 },
            ResumeOutcome::InvalidSession
        ]
    );
    let codes: Vec<u16> = gateway.client_closes().iter().map(|c| c.code).collect();
    assert_eq!(codes, [4000, 1000]);
}

/// `GET /api/v10/gateway/bot` on the fake REST API with `authorization`: (status, JSON).
async fn get_gateway_bot(fake: &FakeDiscord, authorization: Option<&str>) -> (u16, Value) {
    let url: hyper::Uri = format!("{}/gateway/bot", fake.base_url()).parse().unwrap();
    let authority = url.authority().unwrap().as_str().to_owned();
    let stream = TcpStream::connect(&authority).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::get(url.path()).header("host", authority);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_bot_answers_as_configured() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let gateway = FakeGateway::start(config()).await;

    let (status, _) = get_gateway_bot(&fake, Some("Bot token-a")).await;
    assert_eq!(status, 404, "no gateway configured yet");

    fake.set_gateway_bot(GatewayBot {
        remaining: 7,
        ..gateway.gateway_bot(3)
    });
    let (status, body) = get_gateway_bot(&fake, Some("Bot token-a")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "url": gateway.url(),
            "shards": 3,
            "session_start_limit": {
                "total": 1000,
                "remaining": 7,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        })
    );

    assert_eq!(get_gateway_bot(&fake, None).await.0, 401);
    assert_eq!(get_gateway_bot(&fake, Some("Bot nope")).await.0, 401);
    fake.clear_gateway_bot();
    assert_eq!(get_gateway_bot(&fake, Some("Bot token-b")).await.0, 404);
    assert_eq!(fake.gateway_bot_calls(), 5);
}
