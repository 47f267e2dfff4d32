//! The bot's own key-value store, kept by the host.
//!
//! Every bot has a private keyspace: the host prefixes keys with the bot's
//! identity, so `count:42` in one bot never meets `count:42` in another.
//! Values are bytes; [`get_json`] and [`set_json`] store any serde type as
//! JSON, and [`get_u64`] and [`incr`] cover the common counter.
//!
//! A write is durable once it returns `Ok`. The host enforces quotas (key
//! length, value size, number of keys and bytes per bot); going over one is
//! a [`KvError::QuotaExceeded`], which a handler can turn into a polite
//! answer.
//!
//! ```no_run
//! use appliance_sdk::kv;
//!
//! # fn main() -> appliance_sdk::Result<()> {
//! kv::set("greeting", b"hello")?;
//! assert_eq!(kv::get("greeting")?, Some(b"hello".to_vec()));
//! let visits = kv::incr("visits")?; // 1, then 2, ...
//! # let _ = visits;
//! # Ok(())
//! # }
//! ```
//!
//! In a native build (`cargo test` of a bot crate) these calls go to the
//! in-memory store of [`testing::TestBot`](crate::testing::TestBot), which
//! keeps the node's key and value limits.

use std::fmt;

use serde::{de::DeserializeOwned, Serialize};

use crate::host;

/// Why the host refused a key-value call.
///
/// These are ordinary errors, not crashes; the text in each variant is the
/// host's explanation (for example the limit that was hit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    /// The key is empty or longer than the host allows.
    InvalidKey(String),
    /// The value, or the bot's total keys or bytes, would exceed its quota.
    QuotaExceeded(String),
    /// The host could not reach its database; trying again later may work.
    Unavailable(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Self::QuotaExceeded(why) => write!(f, "quota exceeded: {why}"),
            Self::Unavailable(why) => write!(f, "storage unavailable: {why}"),
        }
    }
}

impl std::error::Error for KvError {}

/// Returns the value stored under `key`, or `None` if there is none.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    host::kv_get(key)
}

/// Stores `value` under `key`, replacing any earlier value.
pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
    host::kv_set(key, value)
}

/// Removes `key`. Removing a key that does not exist is not an error.
pub fn delete(key: &str) -> Result<(), KvError> {
    host::kv_delete(key)
}

/// Lists this bot's keys that start with `prefix` (all keys for `""`), in
/// byte order.
pub fn list_keys(prefix: &str) -> Result<Vec<String>, KvError> {
    host::kv_list_keys(prefix)
}

/// Reads the value under `key` as JSON into a `T`; `None` if there is none.
///
/// Fails if the stored bytes are not a JSON `T` (for example after the
/// bot changed the type it stores).
pub fn get_json<T: DeserializeOwned>(key: &str) -> crate::Result<Option<T>> {
    match get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> crate::Result<()> {
    let bytes = serde_json::to_vec(value)?;
    Ok(set(key, &bytes)?)
}

/// Reads a counter stored by [`incr`] or [`set_json`]; `None` if unset.
pub fn get_u64(key: &str) -> crate::Result<Option<u64>> {
    get_json(key)
}

/// Adds one to the counter under `key` (a missing key counts as 0) and
/// returns the new value.
///
/// The value is stored as decimal text (`"3"`), which is also its JSON form.
/// This is a read followed by a write, not an atomic operation: two
/// instances of the same bot running at the same moment can both read 2 and
/// both write 3. Deploy with `--instances 1` if every count must be exact.
pub fn incr(key: &str) -> crate::Result<u64> {
    let next = get_u64(key)?.unwrap_or(0).saturating_add(1);
    set_json(key, &next)?;
    Ok(next)
}
