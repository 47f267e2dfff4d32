//! Deploys by hash: a node that has a component takes a deploy that names
//! it, without the bytes; one that has not answers 412 and changes nothing.

use appliance::admin::api::DeployRequest;
use appliance::admin::client::{Client, Error};
use hyper::StatusCode;
use sha2::{Digest, Sha256};

use crate::support::{command_bytes, guest_path, Node, Signer};

fn admin(node: &Node) -> Client {
    let token = std::fs::read_to_string(node.data_dir.join("admin.token")).unwrap();
    Client::new(&format!("http://{}", node.admin), token.trim().to_owned()).unwrap()
}

fn request(name: &str, app_id: &str, signer: &Signer) -> DeployRequest {
    DeployRequest {
        name: name.into(),
        app_id: app_id.into(),
        public_key: signer.public_hex(),
        token: None,
        limits: Default::default(),
        wasm_base64: None,
        wasm_sha256: None,
        gateway: Default::default(),
        guild: None,
    }
}

fn status_of(result: Result<impl std::fmt::Debug, Error>) -> StatusCode {
    match result {
        Err(Error::Api { status, .. }) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_component_deploys_by_hash_alone() {
    let node = Node::start().await;
    let client = admin(&node);
    let signer = Signer::new(41);
    let wasm = std::fs::read(guest_path("ping-bot").await).unwrap();
    let sha256 = hex::encode(Sha256::digest(&wasm));

    // Unknown to the node: 412, and no bot was created.
    let mut by_hash = request("first", "4100", &signer);
    by_hash.wasm_sha256 = Some(sha256.clone());
    assert_eq!(
        status_of(client.deploy(&by_hash).await),
        StatusCode::PRECONDITION_FAILED
    );
    assert!(client.list().await.unwrap().is_empty());

    // The client's deploy falls back to the bytes.
    let first = client
        .deploy_wasm(request("first", "4100", &signer), &wasm)
        .await
        .unwrap();
    assert_eq!(first.sha256, sha256);

    // Now known: a second bot deploys by hash alone, and answers.
    let mut second = request("second", "4101", &signer);
    second.wasm_sha256 = Some(sha256.to_uppercase());
    let deployed = client.deploy(&second).await.unwrap();
    assert!(deployed.created);
    assert_eq!(deployed.sha256, sha256);
    let (status, answer) = node
        .interact("4101", &signer, &command_bytes("ping", "7"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.to_string().contains("pong"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_match_their_hash_are_refused() {
    let node = Node::start().await;
    let client = admin(&node);
    let signer = Signer::new(42);
    let wasm = std::fs::read(guest_path("ping-bot").await).unwrap();

    let mut mismatched = request("bot", "4200", &signer);
    mismatched.wasm_base64 = Some(base64_of(&wasm));
    mismatched.wasm_sha256 = Some(hex::encode(Sha256::digest(b"other")));
    assert_eq!(
        status_of(client.deploy(&mismatched).await),
        StatusCode::BAD_REQUEST
    );

    let mut not_hex = request("bot", "4200", &signer);
    not_hex.wasm_sha256 = Some("../../etc/passwd".into());
    assert_eq!(
        status_of(client.deploy(&not_hex).await),
        StatusCode::BAD_REQUEST
    );

    let neither = request("bot", "4200", &signer);
    assert_eq!(
        status_of(client.deploy(&neither).await),
        StatusCode::BAD_REQUEST
    );
    assert!(client.list().await.unwrap().is_empty());
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
