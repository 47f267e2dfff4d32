//! REST and deadline benchmarks: `cargo bench --bench rest`.
//!
//! 1. Added latency of `discord::Client` (route parsing, rate limiter actor,
//!    guard) over a direct keep-alive hyper call to the same loopback server,
//!    and connections opened per 1,000 calls.
//! 2. The same call made by a guest through the `discord` import, over the
//!    same guest event without the call.
//! 3. Deferral punctuality: time from an interaction's arrival to the
//!    deferred answer, for a bot that takes 2.5 s (defer point 2,000 ms).

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appliance::discord::{self, Auth};
use appliance::dispatch::{Deferral, Dispatcher};
use appliance::fleet::{ComponentSource, DeploySpec, Fleet};
use appliance::protocol::interaction::Head;
use appliance::sandbox::{Engine, PoolConfig};
use bytes::Bytes;
use common::{build_guests, scratch_db, KEY};
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A loopback server answering like a generous Discord; counts connections.
async fn server(connections: Arc<AtomicU64>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    let response = hyper::Response::builder()
                        .header("content-type", "application/json")
                        .header("x-ratelimit-limit", "100000")
                        .header("x-ratelimit-remaining", "99999")
                        .header("x-ratelimit-reset-after", "1.000")
                        .header("x-ratelimit-bucket", "bench")
                        .body(Full::new(Bytes::from_static(
                            br#"{"id":"1","username":"bench"}"#,
                        )))
                        .unwrap();
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<52} n={:<6} p50={:>9.1?} p90={:>9.1?} p99={:>9.1?}",
        samples.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99)
    );
    pick(0.5)
}

fn interaction(command: &str, app: &str, options: serde_json::Value) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "type": 2, "id": "1", "application_id": app, "token": "bench-token",
            "data": { "id": "2", "name": command, "options": options },
            "channel_id": "3", "user": { "id": "42", "username": "bench" }
        }))
        .unwrap(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let guests = build_guests(&["hostile-bot", "slow-bot"]);
    let connections = Arc::new(AtomicU64::new(0));
    let addr = server(connections.clone()).await;
    let n = 2000;

    // Direct keep-alive calls (the floor) and the same call through
    // discord::Client, interleaved so both see the same machine noise.
    let direct = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, Full<Bytes>>(hyper_util::client::legacy::connect::HttpConnector::new());
    let client = Arc::new(discord::Client::new(&format!("http://{addr}/api/v10")).unwrap());
    let mut floor_samples = Vec::new();
    let mut client_samples = Vec::new();
    let mut client_connections = 0;
    for _ in 0..n {
        let t = Instant::now();
        let request = hyper::Request::get(format!("http://{addr}/api/v10/users/@me"))
            .header("authorization", "Bot bench")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = direct.request(request).await.unwrap();
        response.into_body().collect().await.unwrap();
        floor_samples.push(t.elapsed());

        let before = connections.load(Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let t = Instant::now();
        let response = client
            .request(
                Auth::Bot("bench-token"),
                Method::GET,
                "/users/@me",
                None,
                deadline,
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        client_samples.push(t.elapsed());
        client_connections += connections.load(Ordering::Relaxed) - before;
    }
    let floor = report("direct keep-alive GET (hyper-util)", floor_samples);
    let via_client = report("discord::Client GET (limiter + guard)", client_samples);
    println!(
        "  added latency p50: {:.1?}; connections discord::Client opened for {n} calls: {client_connections} ({:.1} per 1,000)",
        via_client.saturating_sub(floor),
        client_connections as f64 * 1000.0 / n as f64
    );

    // The same call from inside a guest, through the `discord` import.
    let (temp, db) = scratch_db();
    let engine = Arc::new(
        Engine::new(PoolConfig {
            max_instances: 64,
            ..PoolConfig::default()
        })
        .unwrap(),
    );
    let fleet = Fleet::new(
        engine,
        db.clone(),
        temp.path().to_path_buf(),
        client.clone(),
    );
    let hostile = std::fs::read(guests.join("hostile_bot.wasm")).unwrap();
    let mut request = deploy("rest", "10", hostile);
    request.token = Some("bench-token".into());
    fleet.deploy(request).await.unwrap();
    let bot = fleet.by_name("rest").unwrap();
    let (ok, rest) = (
        interaction("ok", "10", serde_json::json!([])),
        interaction("rest", "10", serde_json::json!([])),
    );
    bot.bot.invoke(&ok, None, None).await.result.unwrap();
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..n / 2 {
        let t = Instant::now();
        bot.bot.invoke(&ok, None, None).await.result.unwrap();
        without.push(t.elapsed());
        let t = Instant::now();
        let answer = bot.bot.invoke(&rest, None, None).await.result.unwrap();
        with.push(t.elapsed());
        assert!(String::from_utf8_lossy(&answer.json).contains("status 200"));
    }
    let base = report("guest event without a REST call", without);
    let call = report("guest event with one GET through the import", with);
    println!(
        "  a guest's REST call costs p50 {:.1?} over the event; {:.1?} over a direct keep-alive call",
        call.saturating_sub(base),
        call.saturating_sub(base).saturating_sub(floor)
    );

    // Deferral punctuality: 40 slow interactions at once, each timed from arrival.
    let slow = std::fs::read(guests.join("slow_bot.wasm")).unwrap();
    let mut request = deploy("slow", "11", slow);
    request.limits.instances = Some(64);
    fleet.deploy(request).await.unwrap();
    let slow_bot = fleet.by_name("slow").unwrap();
    let dispatcher = Dispatcher::new(db, client, Duration::from_millis(2000));
    let body = interaction(
        "slow",
        "11",
        serde_json::json!([{ "name": "ms", "type": 4, "value": 2500 }]),
    );
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let (dispatcher, bot, body) = (dispatcher.clone(), slow_bot.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let head = Head::parse(&body).unwrap();
            let answer = dispatcher
                .dispatch(bot, head, body, Deferral::CountingFrom(t))
                .await;
            assert_eq!(&answer[..], br#"{"type":5}"#);
            t.elapsed().saturating_sub(Duration::from_millis(2000))
        }));
    }
    let mut lateness = Vec::new();
    for task in tasks {
        lateness.push(task.await.unwrap());
    }
    report(
        "deferred answer, lateness past the 2,000 ms point",
        lateness,
    );
    // Let the late answers go out before the runtime stops.
    tokio::time::sleep(Duration::from_millis(1000)).await;
}

fn deploy(name: &str, app_id: &str, wasm: Vec<u8>) -> DeploySpec {
    DeploySpec {
        name: name.into(),
        app_id: app_id.into(),
        public_key: KEY.into(),
        token: None,
        limits: Default::default(),
        wasm: ComponentSource::Bytes(wasm),
        gateway: Default::default(),
        commands_scope: appliance::registry::Scope::Global,
        register_commands: true,
    }
}
