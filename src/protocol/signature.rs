//! Verifies that an interaction really comes from Discord, and parses the
//! application public keys it is checked with.
//!
//! Discord signs `timestamp ++ raw_body` with the application's Ed25519 key
//! and sends the signature hex-encoded in `X-Signature-Ed25519`. Discord also
//! probes endpoints with bad signatures and de-lists endpoints that accept
//! them, so every failure here is a 401, never a 500.
//! See: https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers

use ed25519_dalek::{Signature, VerifyingKey};

/// The longest timestamp header we accept; Discord sends unix seconds.
const MAX_TIMESTAMP_LEN: usize = 32;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid request signature")]
pub struct BadSignature;

/// The signature headers, checked for shape before the body is read.
#[derive(Debug)]
pub struct SignatureHeaders {
    signature: Signature,
    timestamp: Vec<u8>,
}

impl SignatureHeaders {
    /// Parses the two headers; `None` for a missing or malformed one.
    pub fn parse(
        signature_hex: Option<&[u8]>,
        timestamp: Option<&[u8]>,
    ) -> Result<Self, BadSignature> {
        let (signature_hex, timestamp) = signature_hex.zip(timestamp).ok_or(BadSignature)?;
        if timestamp.is_empty() || timestamp.len() > MAX_TIMESTAMP_LEN {
            return Err(BadSignature);
        }
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(signature_hex, &mut bytes).map_err(|_| BadSignature)?;
        Ok(SignatureHeaders {
            signature: Signature::from_bytes(&bytes),
            timestamp: timestamp.to_vec(),
        })
    }

    /// The timestamp as unix seconds, as Discord sends it; `None` if it is
    /// not a plain decimal number.
    pub fn timestamp_secs(&self) -> Option<i64> {
        if !self.timestamp.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(&self.timestamp).ok()?.parse().ok()
    }

    /// Checks the signature over `timestamp ++ body`.
    /// The signature in hex: a replay key for signed bodies without an id
    /// (a replayed request carries the very same signature).
    pub fn hex(&self) -> String {
        hex::encode(self.signature.to_bytes())
    }

    pub fn verify(&self, key: &VerifyingKey, body: &[u8]) -> Result<(), BadSignature> {
        let mut message = Vec::with_capacity(self.timestamp.len() + body.len());
        message.extend_from_slice(&self.timestamp);
        message.extend_from_slice(body);
        // `verify_strict` also rejects weak keys and malleable signatures.
        key.verify_strict(&message, &self.signature)
            .map_err(|_| BadSignature)
    }
}

/// Parses an application's public key as shown in Discord's developer portal.
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_key.trim(), &mut bytes)
        .map_err(|_| "public key must be 64 hex characters (Discord developer portal → General Information → Public Key)".to_string())?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "public key is not a valid Ed25519 key".to_string())?;
    if key.is_weak() {
        return Err("public key is a weak Ed25519 key".into());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(body: &[u8]) -> (VerifyingKey, String, &'static [u8]) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let timestamp: &[u8] = b"1700000000";
        let mut message = timestamp.to_vec();
        message.extend_from_slice(body);
        let signature = hex::encode(key.sign(&message).to_bytes());
        (key.verifying_key(), signature, timestamp)
    }

    #[test]
    fn accepts_a_good_signature_and_rejects_any_change() {
        let body = br#"{"type":1}"#;
        let (key, signature, timestamp) = signed(body);
        let headers = SignatureHeaders::parse(Some(signature.as_bytes()), Some(timestamp)).unwrap();
        assert_eq!(headers.verify(&key, body), Ok(()));
        assert_eq!(headers.verify(&key, br#"{"type":2}"#), Err(BadSignature));

        let other =
            SignatureHeaders::parse(Some(signature.as_bytes()), Some(b"1700000001")).unwrap();
        assert_eq!(other.verify(&key, body), Err(BadSignature));

        let mut flipped = hex::decode(&signature).unwrap();
        flipped[10] ^= 1;
        let flipped = hex::encode(flipped);
        let headers = SignatureHeaders::parse(Some(flipped.as_bytes()), Some(timestamp)).unwrap();
        assert_eq!(headers.verify(&key, body), Err(BadSignature));
    }

    #[test]
    fn rejects_malformed_headers() {
        assert!(SignatureHeaders::parse(None, Some(b"1")).is_err());
        assert!(SignatureHeaders::parse(Some(b"00"), None).is_err());
        assert!(SignatureHeaders::parse(Some(b"zz"), Some(b"1")).is_err());
        assert!(SignatureHeaders::parse(Some(&[b'0'; 128]), Some(b"")).is_err());
        assert!(SignatureHeaders::parse(Some(&[b'0'; 128]), Some(&[b'1'; 33])).is_err());
    }

    #[test]
    fn public_key_errors_are_clear() {
        assert!(parse_public_key("abc").unwrap_err().contains("64 hex"));
        let good = hex::encode(SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes());
        assert!(parse_public_key(&good).is_ok());
        // The identity point is a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(parse_public_key(&hex::encode(identity)).is_err());
    }
}
