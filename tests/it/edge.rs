//! The public edge under abuse: slowloris, connection caps, floods of bad
//! signatures, replays, HTTP/2 rapid reset, certificate reload, and a
//! tenant whose REST calls keep earning 403s. Clients bind distinct
//! loopback addresses (127.0.0.x) to play distinct hosts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::fake_discord::{FakeConfig, FakeDiscord};
use crate::support::{appliance, command_bytes, eventually, holds, unix_now, Node, Signer};

const APP: &str = "5000000000000000001";

async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

async fn h1_from(source: &str, to: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = connect_from(source, to).await;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// Sends one interaction on `sender`, signed by `signer` at `timestamp`.
async fn send_signed(
    sender: &mut SendRequest<Full<Bytes>>,
    signer: &Signer,
    body: &[u8],
    timestamp: i64,
) -> (u16, Value, Option<String>) {
    sender.ready().await.unwrap();
    let request = signer.request_at(APP, body, timestamp);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value, retry_after)
}

fn ping_body() -> Vec<u8> {
    command_bytes("ping", "42")
}

/// A normal client from 127.0.0.1: `count` interactions, each answered `pong`
/// within a generous bound (liveness, not a timing claim).
async fn normal_client(node_public: SocketAddr, signer: Arc<Signer>, count: usize) {
    let mut sender = h1_from("127.0.0.1", node_public).await;
    for _ in 0..count {
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            send_signed(&mut sender, &signer, &ping_body(), unix_now()),
        )
        .await
        .expect("a normal client was stalled");
        assert_eq!(answer.0, 200, "{answer:?}");
        assert_eq!(answer.1["data"]["content"], "pong");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads until the server closes the connection; returns what it sent, or
/// `None` if it was still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let result = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    result
        .ok()
        .map(|()| String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn slowloris_connections_are_closed_at_the_timeout_while_a_normal_client_is_served() {
    let node = Node::start_with_config(
        "[limits]\nheader_read_timeout_ms = 1000\nbody_read_timeout_ms = 1000\n",
        &["--plain-http"],
    )
    .await;
    let signer = Arc::new(Signer::new(31));
    node.deploy("ping-bot", "ping", APP, &signer).await;
    let started = Instant::now();

    // Headers a line at a time, forever (or until the node hangs up).
    let mut slow_headers = Vec::new();
    for _ in 0..30 {
        let public = node.public;
        slow_headers.push(tokio::spawn(async move {
            let mut stream = connect_from("127.0.0.2", public).await;
            let request_line = format!("POST /interactions/{APP} HTTP/1.1\r\nHost: x\r\n");
            stream.write_all(request_line.as_bytes()).await.unwrap();
            for i in 0..100 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if stream
                    .write_all(format!("X-Drip-{i}: 1\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return true;
                }
            }
            false
        }));
    }
    // Full headers, then a body a byte at a time.
    let mut slow_bodies = Vec::new();
    for _ in 0..5 {
        let public = node.public;
        let (signature, timestamp) = signer.sign(b"{}");
        slow_bodies.push(tokio::spawn(async move {
            let stream = connect_from("127.0.0.3", public).await;
            let (mut reader, mut writer) = tokio::io::split(stream);
            let head = format!(
                "POST /interactions/{APP} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\
                 X-Signature-Ed25519: {signature}\r\nX-Signature-Timestamp: {timestamp}\r\n\r\n"
            );
            writer.write_all(head.as_bytes()).await.unwrap();
            let dripper = async {
                for _ in 0..100 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if writer.write_all(b" ").await.is_err() {
                        break;
                    }
                }
            };
            let mut answer = [0u8; 64];
            tokio::select! {
                n = reader.read(&mut answer) => String::from_utf8_lossy(&answer[..n.unwrap_or(0)]).into_owned(),
                _ = dripper => String::new(),
            }
        }));
    }
    // Connected, never a byte.
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(connect_from("127.0.0.4", node.public).await);
    }

    normal_client(node.public, signer.clone(), 30).await;

    for task in slow_headers {
        assert!(
            task.await.unwrap(),
            "a slow-header connection was never closed"
        );
    }
    for task in slow_bodies {
        let answer = task.await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "slow body got {answer:?}"
        );
    }
    for mut stream in silent {
        assert!(
            closed_within(&mut stream, Duration::from_secs(10))
                .await
                .is_some(),
            "a silent connection was never closed"
        );
    }
    // Each would have dripped for 20 s; the node cut them all off long before.
    assert!(started.elapsed() < Duration::from_secs(19));
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let node =
        Node::start_with_config("[limits]\nmax_connections_per_ip = 40\n", &["--plain-http"]).await;
    let signer = Arc::new(Signer::new(32));
    node.deploy("ping-bot", "ping", APP, &signer).await;

    let mut streams = Vec::new();
    for _ in 0..60 {
        streams.push(connect_from("127.0.0.5", node.public).await);
    }
    // All watched at once: the accepted ones stay open (their first-byte
    // timeout is 10 s), the refused ones are closed at once.
    let watches = streams.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            closed_within(&mut stream, Duration::from_millis(1000))
                .await
                .is_some()
        })
    });
    let mut closed = 0;
    for watch in watches.collect::<Vec<_>>() {
        if watch.await.unwrap() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 20,
        "exactly the connections over the cap are closed"
    );
    // Another address is served as usual meanwhile.
    normal_client(node.public, signer, 3).await;
}

#[tokio::test]
async fn ten_thousand_bad_signatures_get_401_while_a_valid_one_is_answered() {
    let node = Node::start().await;
    let signer = Arc::new(Signer::new(33));
    let forger = Arc::new(Signer::new(34));
    node.deploy("ping-bot", "ping", APP, &signer).await;

    // 10,000 forged requests from 20 addresses (500 each, under the
    // per-address budget of 1,000 a minute), on keep-alive connections.
    let mut floods = Vec::new();
    for host in 0..20 {
        let public = node.public;
        let forger = forger.clone();
        floods.push(tokio::spawn(async move {
            let mut sender = h1_from(&format!("127.0.0.{}", 10 + host), public).await;
            let mut statuses = std::collections::BTreeMap::new();
            for _ in 0..500 {
                let (status, _, _) =
                    send_signed(&mut sender, &forger, &ping_body(), unix_now()).await;
                *statuses.entry(status).or_insert(0) += 1;
            }
            statuses
        }));
    }
    normal_client(node.public, signer.clone(), 5).await;
    for flood in floods {
        let statuses = flood.await.unwrap();
        assert_eq!(statuses.get(&401), Some(&500), "{statuses:?}");
    }

    // One address past its budget is refused cheaply with 429...
    let mut sender = h1_from("127.0.0.60", node.public).await;
    for i in 0..1001 {
        let (status, _, _) = send_signed(&mut sender, &forger, &ping_body(), unix_now()).await;
        assert_eq!(status, 401, "request {i}");
    }
    let (status, body, retry_after) =
        send_signed(&mut sender, &forger, &ping_body(), unix_now()).await;
    assert_eq!(status, 429, "{body}");
    let retry_after: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    // ...even with a valid signature, while other addresses go on.
    let (status, _, _) = send_signed(&mut sender, &signer, &ping_body(), unix_now()).await;
    assert_eq!(status, 429);
    normal_client(node.public, signer, 2).await;

    let metrics = node.admin_get("/metrics").await;
    let rejected = metrics
        .lines()
        .find(|l| l.starts_with("appliance_ingress_rejected_total{reason=\"bad_signature\"}"))
        .expect("rejection metric");
    let count: u64 = rejected.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(count, 11_001, "{metrics}");
}

#[tokio::test]
async fn a_replayed_or_stale_request_is_refused_like_a_bad_signature() {
    let mut node = Node::start().await;
    // The node's start second is at most this: it refuses timestamps up to
    // one second before it started.
    let started_by = unix_now();
    let signer = Signer::new(35);
    node.deploy("ping-bot", "ping", APP, &signer).await;
    let mut sender = h1_from("127.0.0.1", node.public).await;

    let body = ping_body();
    let now = unix_now();
    let first = send_signed(&mut sender, &signer, &body, now).await;
    assert_eq!(first.0, 200, "{first:?}");
    // The same bytes and headers again: a captured request replayed.
    let replay = send_signed(&mut sender, &signer, &body, now).await;
    assert_eq!(
        (replay.0, replay.1),
        (401, json!({"error": "invalid request signature"}))
    );
    // Signed for a time outside the 300 s window, either side.
    for skew in [-400, 400] {
        let stale = send_signed(&mut sender, &signer, &ping_body(), now + skew).await;
        assert_eq!(stale.0, 401, "skew {skew}");
    }
    // Inside the window a new interaction is fine, even a late one (signed a
    // second ago, but not before the node started: that is the next case)...
    // The wall clock, not the node: wait for the next second.
    while unix_now() - 1 < started_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let late = send_signed(&mut sender, &signer, &ping_body(), unix_now() - 1).await;
    assert_eq!(late.0, 200, "{late:?}");

    // ...but not one signed before the node started: a restart forgets the
    // ids it saw, so a request captured before it must not work after it.
    let captured = ping_body();
    let signed_at = unix_now();
    // Part of the scenario, not a wait on the node: the restart must fall in
    // a later wall-clock second than the signature, and the node refuses
    // timestamps older than its start second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    node.crash_and_restart().await;
    let mut sender = h1_from("127.0.0.1", node.public).await;
    let replay = send_signed(&mut sender, &signer, &captured, signed_at).await;
    assert_eq!(replay.0, 401);
    let fresh = send_signed(&mut sender, &signer, &ping_body(), unix_now()).await;
    assert_eq!(fresh.0, 200);

    // A clean restart (SIGTERM, as systemd's restart sends) carries the
    // memory on: what the old process accepted stays refused, and a request
    // signed just before the restart but never sent is still answered.
    let accepted = ping_body();
    let accepted_at = unix_now();
    let first = send_signed(&mut sender, &signer, &accepted, accepted_at).await;
    assert_eq!(first.0, 200, "{first:?}");
    let in_flight = ping_body();
    let in_flight_at = unix_now();
    // As above: the restart falls in a later second than the signatures.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drop(sender);
    node.restart().await;
    let mut sender = h1_from("127.0.0.1", node.public).await;
    let replay = send_signed(&mut sender, &signer, &accepted, accepted_at).await;
    assert_eq!(replay.0, 401, "a clean restart forgot an accepted id");
    let late = send_signed(&mut sender, &signer, &in_flight, in_flight_at).await;
    assert_eq!(late.0, 200, "{late:?}");
}

#[tokio::test]
async fn an_http2_rapid_reset_burst_does_not_stall_other_clients() {
    let node = Node::start().await;
    let signer = Arc::new(Signer::new(36));
    node.deploy("ping-bot", "ping", APP, &signer).await;

    let public = node.public;
    let attacker = tokio::spawn(async move {
        let stream = connect_from("127.0.0.7", public).await;
        let (client, connection) = h2::client::handshake(stream).await.unwrap();
        let connection = tokio::spawn(connection);
        let mut sent = 0;
        let mut client = client;
        for _ in 0..10_000 {
            client = match client.ready().await {
                Ok(client) => client,
                Err(_) => break,
            };
            let request = hyper::Request::post(format!("http://localhost/interactions/{APP}"))
                .body(())
                .unwrap();
            match client.send_request(request, false) {
                Ok((_, mut stream)) => {
                    stream.send_reset(h2::Reason::CANCEL);
                    sent += 1;
                }
                Err(_) => break,
            }
        }
        let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
        (sent, ended)
    });
    normal_client(node.public, signer.clone(), 20).await;
    // Each reset stream costs the node a header parse and a 401 at most
    // (at most 100 at a time per connection); when resets pile up faster
    // than streams are taken, the connection gets GOAWAY instead.
    let (sent, ended) = attacker.await.unwrap();
    assert!(sent > 0);
    assert!(
        ended.is_ok(),
        "the attacking connection neither finished nor was closed"
    );
    normal_client(node.public, signer, 3).await;
}

/// A self-signed certificate for `localhost`: (cert PEM, key PEM, DER).
fn certificate() -> (String, String, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (
        certified.cert.pem(),
        certified.signing_key.serialize_pem(),
        certified.cert.der().to_vec(),
    )
}

/// Replaces `path` at once (write then rename), as renewal tools do.
fn replace_file(path: &std::path::Path, contents: &str) {
    let temp = path.with_extension("new");
    std::fs::write(&temp, contents).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// A TLS client trusting `roots`; returns the sender and the server's leaf certificate.
async fn tls_connect(public: SocketAddr, roots: &[Vec<u8>]) -> (SendRequest<Full<Bytes>>, Vec<u8>) {
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        store.add(CertificateDer::from(der.clone())).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(public).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    (sender, leaf)
}

async fn healthz(sender: &mut SendRequest<Full<Bytes>>) -> u16 {
    sender.ready().await.unwrap();
    let request = hyper::Request::get("/healthz")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    sender
        .send_request(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Opens new connections until one is served `want` (bounded).
async fn wait_for_leaf(public: SocketAddr, roots: &[Vec<u8>], want: &[u8]) {
    eventually(
        Duration::from_secs(15),
        "the new certificate is served",
        async || tls_connect(public, roots).await.1 == want,
    )
    .await;
}

#[tokio::test]
async fn certificate_reload_serves_the_new_certificate_without_dropping_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let (cert_a, key_a, der_a) = certificate();
    let (cert_b, key_b, der_b) = certificate();
    std::fs::write(&cert_path, &cert_a).unwrap();
    std::fs::write(&key_path, &key_a).unwrap();
    let node = Node::start_with(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ])
    .await;
    let roots = [der_a.clone(), der_b.clone()];

    let (mut kept, leaf) = tls_connect(node.public, &roots).await;
    assert_eq!(leaf, der_a);
    assert_eq!(healthz(&mut kept).await, 200);

    // SIGHUP after replacing both files: new handshakes get B.
    replace_file(&key_path, &key_b);
    replace_file(&cert_path, &cert_b);
    node.signal("HUP").await;
    wait_for_leaf(node.public, &roots, &der_b).await;
    // The connection opened before the reload is still served.
    assert_eq!(healthz(&mut kept).await, 200);

    // A broken file is refused (once the node has tried it); B stays.
    replace_file(&cert_path, "not a certificate");
    node.signal("HUP").await;
    eventually(
        Duration::from_secs(10),
        "the broken certificate is refused",
        async || node.node_log().contains("TLS certificate not reloaded"),
    )
    .await;
    let (_, leaf) = tls_connect(node.public, &roots).await;
    assert_eq!(leaf, der_b);

    // No signal needed: a change on disk is picked up by itself.
    replace_file(&key_path, &key_a);
    replace_file(&cert_path, &cert_a);
    wait_for_leaf(node.public, &roots, &der_a).await;
    assert_eq!(healthz(&mut kept).await, 200);
}

#[tokio::test]
async fn a_tenant_driving_403s_is_cut_off_by_its_breaker_while_another_tenant_goes_on() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let node = Node::with_fake_discord(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = |token: &str| {
        let path = dir.path().join(token);
        std::fs::write(&path, token).unwrap();
        path.display().to_string()
    };
    let bad = Signer::new(37);
    let good = Signer::new(38);
    const GOOD_APP: &str = "5000000000000000002";
    node.deploy_with(
        "hostile-bot",
        "bad",
        APP,
        &bad,
        &["--token-file", &token_file("token-a")],
    )
    .await;
    node.deploy_with(
        "hostile-bot",
        "good",
        GOOD_APP,
        &good,
        &["--token-file", &token_file("token-b")],
    )
    .await;
    fake.forbid_token("token-a");
    let rest = || command_bytes("rest", "42");

    for i in 0..10 {
        let (_, answer) = node.interact(APP, &bad, &rest()).await;
        assert_eq!(answer["data"]["content"], "status 403", "call {i}");
    }
    // The tenth 403 tripped the breaker: nothing more reaches Discord.
    let sent_before = fake.requests_with_token("token-a");
    let (_, answer) = node.interact(APP, &bad, &rest()).await;
    let content = answer["data"]["content"].as_str().unwrap();
    assert!(
        content.starts_with("error:") && content.contains("paused"),
        "{content}"
    );
    assert_eq!(fake.requests_with_token("token-a"), sent_before);

    // The neighbour's calls go on.
    let (_, answer) = node.interact(GOOD_APP, &good, &rest()).await;
    assert_eq!(answer["data"]["content"], "status 200");

    let bad_row = node.bot("bad").await;
    assert_eq!(bad_row["discord"]["state"], "paused", "{bad_row}");
    assert_eq!(bad_row["discord"]["forbidden_60s"], 10);
    assert_eq!(bad_row["discord"]["invalid_requests_10min"], 10);
    assert_eq!(node.bot("good").await["discord"]["state"], "ok");
    let table = node.cli_ok(&["list"]).await;
    assert!(table.contains("paused"), "{table}");
    let logs = node.cli_ok(&["logs", "bad"]).await;
    assert!(
        logs.contains("403 Forbidden 10 times within a minute"),
        "{logs}"
    );
}

#[test]
fn acme_needs_a_domain_name_and_cannot_be_mixed_with_other_tls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        appliance()
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["--acme-domain", "127.0.0.1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a DNS name"), "{stderr}");
    let output = run(&["--acme-domain", "bots.example.com", "--plain-http"]);
    assert_eq!(output.status.code(), Some(2), "clap refuses the mix");
}

#[tokio::test]
async fn with_acme_the_node_starts_keeps_its_account_in_the_data_dir_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // A directory nobody serves: ordering fails, and the node says so.
    std::fs::write(
        &config,
        "acme_directory = \"https://127.0.0.1:9/directory\"\nacme_contact = \"ops@example.com\"\n",
    )
    .unwrap();
    let node = Node::start_with(&[
        "--config",
        config.to_str().unwrap(),
        "--acme-domain",
        "bots.example.com",
    ])
    .await;
    eventually(
        Duration::from_secs(20),
        "the ACME failure is reported",
        async || holds(node.node_log(), |log| log.contains("ACME failed")),
    )
    .await;
    assert!(node.data_dir.join("acme").is_dir());
    // The admin API works meanwhile.
    node.cli_ok(&["status"]).await;
}
