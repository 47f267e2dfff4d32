//! Interactions as Discord sends them: the application's Ed25519 signer, a
//! realistic command body, and the signed `POST /interactions/{app}`.
//! Shared with the benches (`benches/common` includes this file).

use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};
use http_body_util::Full;
use serde_json::{json, Value};

/// The Ed25519 key pair of one fake Discord application.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    pub fn new(seed: u8) -> Signer {
        Signer {
            key: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Returns `(signature_hex, timestamp)` for `body`, as Discord sends them.
    pub fn sign(&self, body: &[u8]) -> (String, String) {
        self.sign_at(body, unix_now())
    }

    /// [`Signer::sign`] with the timestamp `timestamp` (unix seconds).
    pub fn sign_at(&self, body: &[u8], timestamp: i64) -> (String, String) {
        let timestamp = timestamp.to_string();
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        (hex::encode(self.key.sign(&message).to_bytes()), timestamp)
    }

    /// `POST /interactions/{app}` with `body`, signed now.
    pub fn request(&self, app: &str, body: &[u8]) -> hyper::Request<Full<Bytes>> {
        self.request_at(app, body, unix_now())
    }

    /// [`Signer::request`] signed at `timestamp` (unix seconds).
    pub fn request_at(
        &self,
        app: &str,
        body: &[u8],
        timestamp: i64,
    ) -> hyper::Request<Full<Bytes>> {
        self.post_at(&format!("/interactions/{app}"), body, timestamp)
    }

    /// `POST {path}` with `body`, signed at `timestamp` (unix seconds): the
    /// shape of every request Discord signs (interactions, webhook events).
    pub fn post_at(&self, path: &str, body: &[u8], timestamp: i64) -> hyper::Request<Full<Bytes>> {
        let (signature, timestamp) = self.sign_at(body, timestamp);
        hyper::Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", timestamp)
            .body(Full::new(Bytes::copy_from_slice(body)))
            .unwrap()
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A fresh snowflake-shaped interaction id: the node refuses a repeated id
/// as a replay, as it would a captured request sent again.
pub fn fresh_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let seq = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (((ms - 1_420_070_400_000) << 22) | (seq & 0x3F_FFFF)).to_string()
}

/// [`command`] as the bytes a request carries.
pub fn command_bytes(name: &str, user_id: &str) -> Vec<u8> {
    serde_json::to_vec(&command(name, user_id)).unwrap()
}

/// A realistic APPLICATION_COMMAND interaction in a guild (a new id each call).
pub fn command(name: &str, user_id: &str) -> Value {
    json!({
        "type": 2,
        "id": fresh_id(),
        "application_id": "1180000000000000000",
        "token": "interaction-token",
        "version": 1,
        "data": { "id": "1180000000000000002", "name": name, "type": 1 },
        "guild_id": "1180000000000000003",
        "channel_id": "1180000000000000004",
        "member": {
            "user": { "id": user_id, "username": format!("user{user_id}"), "discriminator": "0", "avatar": null, "global_name": null },
            "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0,
            "permissions": "0"
        },
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "0",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0
    })
}
