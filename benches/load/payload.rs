//! Interaction bodies as Discord sends them, signed as Discord signs them.
//!
//! The body is a guild slash command modelled on Discord's documented
//! interaction object (member, user, channel, guild, options, a long token),
//! about 1.5 KiB. Every request gets a fresh snowflake-like id, its own
//! token and the current unix-seconds timestamp, because the node rejects
//! replays (repeated ids, stale timestamps).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};

/// RFC 8032's first test key: the secret whose public half is `common::KEY`.
const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// Discord's snowflake epoch (2015-01-01), in unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
const ID_MARK: &str = "@@ID@@";
const TOKEN_MARK: &str = "@@TOKEN@@";

/// One signed request, ready to send.
#[derive(Clone)]
pub struct Signed {
    pub path: String,
    pub signature: String,
    pub timestamp: String,
    pub body: Bytes,
}

/// Makes and signs interactions for one or more application ids.
pub struct Payloads {
    key: SigningKey,
    /// The serialized template, cut around the id and token marks.
    parts: [String; 3],
    /// Where the application id goes; `{app}` in the template.
    app_ids: Vec<String>,
    next: AtomicU64,
}

impl Payloads {
    /// Interactions running `command` (with `options`), one template per
    /// request, spread round-robin over `app_ids`.
    pub fn new(command: &str, options: serde_json::Value, app_ids: Vec<String>) -> Payloads {
        let key = signing_key();
        let text = serde_json::to_string(&template(command, options)).unwrap();
        let (head, rest) = text.split_once(ID_MARK).unwrap();
        let (middle, tail) = rest.split_once(TOKEN_MARK).unwrap();
        Payloads {
            key,
            parts: [head.into(), middle.into(), tail.into()],
            app_ids,
            next: AtomicU64::new(0),
        }
    }

    /// The next interaction, signed now.
    pub fn sign_next(&self) -> Signed {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let ms = now.as_millis() as u64 - DISCORD_EPOCH_MS;
        // Distinct within a bench process: the sequence fills the low 22 bits.
        let id = (ms << 22) | (seq & 0x3f_ffff);
        let app = &self.app_ids[seq as usize % self.app_ids.len()];
        let token = format!("aW50ZXJhY3Rpb246{id}OnNpZ25lZC1ieS1kaXNjb3JkLWJlbmNoLWxvYWQtZHJpdmVyLWV4YW1wbGUtdG9rZW4tdmFsdWUtdGhhdC1pcy1hYm91dC0yMDAtY2hhcmFjdGVycy1sb25nLWxpa2UtcmVhbC1vbmVz");
        let body = format!(
            "{}{id}{}{token}{}",
            self.parts[0], self.parts[1], self.parts[2]
        )
        .replace("@@APP@@", app);
        let timestamp = now.as_secs().to_string();
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body.as_bytes());
        Signed {
            path: format!("/interactions/{app}"),
            signature: hex::encode(self.key.sign(&message).to_bytes()),
            timestamp,
            body: Bytes::from(body),
        }
    }

    /// `n` interactions signed now (they stay valid for the node's window,
    /// a few minutes; the runs that use them last seconds).
    pub fn presign(&self, n: usize) -> Vec<Signed> {
        (0..n).map(|_| self.sign_next()).collect()
    }
}

fn signing_key() -> SigningKey {
    let mut secret = [0u8; 32];
    hex::decode_to_slice(SECRET, &mut secret).unwrap();
    let key = SigningKey::from_bytes(&secret);
    assert_eq!(
        hex::encode(key.verifying_key().to_bytes()),
        crate::common::KEY
    );
    key
}

/// The public key every bench application is deployed with.
pub fn public_key() -> ed25519_dalek::VerifyingKey {
    signing_key().verifying_key()
}

/// A guild slash command shaped like Discord's documented interaction object.
fn template(command: &str, options: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "app_permissions": "2248473465835073",
        "application_id": "@@APP@@",
        "attachment_size_limit": 26214400,
        "authorizing_integration_owners": { "0": "1180000000000000003" },
        "channel": {
            "flags": 0, "guild_id": "1180000000000000003", "id": "1180000000000000004",
            "last_message_id": "1190000000000000099", "name": "general", "nsfw": false,
            "parent_id": "1180000000000000006", "permissions": "2248473465835073",
            "position": 0, "rate_limit_per_user": 0, "topic": "General chat", "type": 0
        },
        "channel_id": "1180000000000000004",
        "context": 0,
        "data": {
            "guild_id": "1180000000000000003", "id": "1180000000000000002",
            "name": command, "options": options, "type": 1
        },
        "entitlement_sku_ids": [],
        "entitlements": [],
        "guild": { "features": ["COMMUNITY", "NEWS"], "id": "1180000000000000003", "locale": "en-US" },
        "guild_id": "1180000000000000003",
        "guild_locale": "en-US",
        "id": ID_MARK,
        "locale": "en-GB",
        "member": {
            "avatar": null, "banner": null, "communication_disabled_until": null, "deaf": false,
            "flags": 0, "joined_at": "2024-01-01T00:00:00.000000+00:00", "mute": false,
            "nick": "Ally", "pending": false, "permissions": "2248473465835073",
            "premium_since": null, "roles": ["1180000000000000005", "1180000000000000007"],
            "unusual_dm_activity_until": null,
            "user": {
                "avatar": "a_1269e74af4df7417b13759eae50c83dc", "avatar_decoration_data": null,
                "clan": null, "collectibles": null, "discriminator": "0",
                "global_name": "Alice", "id": "1180000000000000042", "primary_guild": null,
                "public_flags": 4194304, "username": "alice"
            }
        },
        "token": TOKEN_MARK,
        "type": 2,
        "version": 1
    })
}
