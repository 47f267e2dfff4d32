//! The public request path up to the bot: routing, signature headers,
//! timestamp window, signature, interaction head, replay memory. The input
//! is split into method, path, signature, timestamp and body; half of the
//! inputs are signed with the test key so the checks past the signature
//! (JSON, replay) are reached too.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use appliance::ingress::replay::ReplayGuard;
use appliance::ingress::{route, screen_body, screen_headers, Route};
use ed25519_dalek::{Signer, SigningKey};
use hyper::Method;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000;

fn replay() -> &'static ReplayGuard {
    static GUARD: OnceLock<ReplayGuard> = OnceLock::new();
    GUARD.get_or_init(|| ReplayGuard::new(Duration::from_secs(300), 1_000, NOW - 3_600))
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |b| *b == 0xFF);
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let timestamp = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    let method = Method::from_bytes(method).unwrap_or(Method::POST);
    let path = String::from_utf8_lossy(path);
    let Route::Interaction { app_id } = route(&method, &path) else {
        return;
    };
    let _ = app_id.len();

    let key = SigningKey::from_bytes(&[7; 32]);
    // Even inputs carry a real signature over their own timestamp and body.
    let signed;
    let signature: &[u8] = if data.len() % 2 == 0 {
        let mut message = timestamp.to_vec();
        message.extend_from_slice(body);
        signed = hex_encode(&key.sign(&message).to_bytes());
        signed.as_bytes()
    } else {
        signature
    };
    let Ok((headers, ts)) = screen_headers(replay(), Some(signature), Some(timestamp), NOW) else {
        return;
    };
    let _ = screen_body(replay(), &key.verifying_key(), &headers, ts, body, NOW);
});

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
