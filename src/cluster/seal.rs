//! Bot tokens are sealed (ChaCha20-Poly1305, a fresh random nonce each
//! time, the bot's name as associated data) before they are written to the
//! engine, with a key only the nodes hold: a reader of the engine's disks or
//! streams sees no token, and a sealed token cannot be moved to another bot.

use std::path::Path;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::Error;

pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// The key file holds 64 hex digits (`appliance fleet init` writes one).
    pub fn from_file(path: &Path) -> Result<Sealer, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Error::Key(format!("cannot read {}: {err}", path.display())))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| {
                Error::Key(format!(
                    "{} must hold 32 bytes as 64 hex digits",
                    path.display()
                ))
            })?;
        Sealer::new(&bytes)
    }

    pub fn new(key: &[u8]) -> Result<Sealer, Error> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, key)
            .map_err(|_| Error::Key("a fleet key is 32 bytes".into()))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// A fresh key as the key file holds it.
    pub fn generate_hex() -> String {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the system's random source works");
        hex::encode(key)
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, bot: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random source works");
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(bot.as_bytes()),
                &mut sealed,
            )
            .expect("sealing a token cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, bot: &str, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        if sealed.len() < NONCE_LEN + aead::CHACHA20_POLY1305.tag_len() {
            return Err(Error::Key("sealed token is truncated".into()));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("nonce length checked");
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(bot.as_bytes()), &mut buffer)
            .map_err(|_| {
                Error::Key(format!(
                    "the token of {bot} does not open with this node's fleet key (a different --fleet-key-file?)"
                ))
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_for_their_bot_and_key() {
        let key = hex::decode(Sealer::generate_hex()).unwrap();
        let sealer = Sealer::new(&key).unwrap();
        let sealed = sealer.seal("ping", b"token-123");
        assert!(!sealed.windows(9).any(|w| w == b"token-123"));
        assert_eq!(sealer.open("ping", &sealed).unwrap(), b"token-123");
        assert!(sealer.open("pong", &sealed).is_err());
        let other = Sealer::new(&hex::decode(Sealer::generate_hex()).unwrap()).unwrap();
        assert!(other.open("ping", &sealed).is_err());
        assert_ne!(sealer.seal("ping", b"token-123"), sealed, "fresh nonce");
    }
}
