//! The public endpoint, driven over loopback exactly as Discord would.

use serde_json::{json, Value};

use crate::support::{command_bytes, Node, Signer};

const APP: &str = "1180000000000000000";

async fn setup() -> (Node, Signer) {
    let node = Node::start().await;
    let signer = Signer::new(7);
    node.deploy("ping-bot", "ping", APP, &signer).await;
    (node, signer)
}

#[tokio::test]
async fn ping_gets_pong_and_the_ping_command_gets_pong() {
    let (node, signer) = setup().await;
    let (status, body) = node
        .interact(
            APP,
            &signer,
            br#"{"type":1,"id":"1","application_id":"1","token":"t","version":1}"#,
        )
        .await;
    assert_eq!((status, body), (200, json!({"type": 1})));

    let interaction = command_bytes("ping", "42");
    let (status, body) = node.interact(APP, &signer, &interaction).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], 4, "{body}");
    assert_eq!(body["data"]["content"], "pong", "{body}");
}

#[tokio::test]
async fn every_signature_failure_is_401() {
    let (node, signer) = setup().await;
    let path = format!("/interactions/{APP}");
    let body = command_bytes("ping", "42");
    let (signature, timestamp) = signer.sign(&body);

    // One flipped bit in the signature.
    let mut flipped = hex::decode(&signature).unwrap();
    flipped[0] ^= 1;
    let flipped = hex::encode(flipped);
    let (status, _) = node
        .post(
            &path,
            &[
                ("x-signature-ed25519", &flipped),
                ("x-signature-timestamp", &timestamp),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(status, 401, "flipped signature bit");

    // The body changed after signing.
    let mut changed = body.clone();
    let last = changed.len() - 2;
    changed[last] = b' ';
    let (status, _) = node
        .post(
            &path,
            &[
                ("x-signature-ed25519", &signature),
                ("x-signature-timestamp", &timestamp),
            ],
            changed,
        )
        .await;
    assert_eq!(status, 401, "changed body");

    // The timestamp changed after signing, to one just as current: only the
    // signature (which covers the timestamp) can refuse it.
    let later = (timestamp.parse::<i64>().unwrap() + 1).to_string();
    let (status, _) = node
        .post(
            &path,
            &[
                ("x-signature-ed25519", &signature),
                ("x-signature-timestamp", &later),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(status, 401, "changed timestamp");

    // Missing headers, one at a time and both.
    let (status, _) = node
        .post(
            &path,
            &[("x-signature-timestamp", &timestamp)],
            body.clone(),
        )
        .await;
    assert_eq!(status, 401, "missing signature");
    let (status, _) = node
        .post(&path, &[("x-signature-ed25519", &signature)], body.clone())
        .await;
    assert_eq!(status, 401, "missing timestamp");
    let (status, _) = node.post(&path, &[], body.clone()).await;
    assert_eq!(status, 401, "no headers");
    let (status, _) = node
        .post(
            &path,
            &[
                ("x-signature-ed25519", "not hex"),
                ("x-signature-timestamp", &timestamp),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(status, 401, "malformed signature");

    // Signed by another application's key.
    let (status, _) = node.interact(APP, &Signer::new(8), &body).await;
    assert_eq!(status, 401, "wrong key");

    // And the genuine request still works.
    let (status, _) = node.interact(APP, &signer, &body).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_app_oversized_body_and_non_json_get_their_statuses() {
    let (node, signer) = setup().await;
    let (status, _) = node.interact("999", &signer, br#"{"type":1}"#).await;
    assert_eq!(status, 404, "unknown app id");

    let huge = vec![b' '; 300 * 1024];
    let (status, _) = node.interact(APP, &signer, &huge).await;
    assert_eq!(status, 413, "oversized body");

    // The signature headers are screened before the body is read: an
    // unsigned oversized request gets the 401, without its body being read.
    let (status, head) = unsigned_declaring_a_huge_body(&node).await;
    assert_eq!(status, 401, "unsigned oversized body: {head}");

    let (status, _) = node.interact(APP, &signer, b"this is not json").await;
    assert_eq!(status, 400, "non-JSON after a valid signature");

    let (status, _) = node.interact(APP, &signer, br#"{"no_type":true}"#).await;
    assert_eq!(status, 400, "JSON without an interaction type");

    let (status, body) = node.post("/healthz", &[], vec![]).await;
    assert_eq!(status, 405, "{body}");
}

/// Sends the head of an unsigned POST that declares a 10 MiB body, sends
/// none of the body, and returns the status and head of the answer (0 if
/// none came within 5 s: the node waited for the body).
async fn unsigned_declaring_a_huge_body(node: &Node) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(node.public).await.unwrap();
    let head = format!(
        "POST /interactions/{APP} HTTP/1.1\r\nhost: localhost\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        10 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    if read.is_err() {
        return (0, answer);
    }
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[tokio::test]
async fn healthz_answers_a_plain_get() {
    let node = Node::start().await;
    let stream = tokio::net::TcpStream::connect(node.public).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get("/healthz")
        .header("host", "localhost")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn tls_listener_answers_with_its_self_signed_certificate() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let node = Node::start_with(&[]).await;
    let signer = Signer::new(9);
    node.deploy("ping-bot", "ping", APP, &signer).await;

    let cert_path = node.data_dir.join("tls").join("self-signed.crt");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&cert_path).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(node.public).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the self-signed certificate");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);

    let request = signer.request(APP, br#"{"type":1,"id":"1"}"#);
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        json!({"type": 1})
    );

    // Plain HTTP on the TLS port gets no answer.
    let (status, _) = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let stream = tokio::net::TcpStream::connect(node.public).await.unwrap();
        match hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await {
            Ok((mut sender, connection)) => {
                tokio::spawn(connection);
                let request = hyper::Request::get("/healthz")
                    .header("host", "x")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                match sender.send_request(request).await {
                    Ok(response) => (response.status().as_u16(), ()),
                    Err(_) => (0, ()),
                }
            }
            Err(_) => (0, ()),
        }
    })
    .await
    .unwrap();
    assert_eq!(
        status, 0,
        "plain HTTP must not be served on the TLS listener"
    );
}
