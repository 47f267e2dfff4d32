//! Where a bot's key-value data lives. On a single node, in the node's
//! SQLite store ([`LocalKv`]); in a fleet, in the engine, so it survives the
//! node (`cluster::botkv`). The WIT `kv` interface is the same either way:
//! the `kv` import calls whichever backend the fleet handed the bot.

use std::future::Future;
use std::pin::Pin;

use std::time::Instant;

use crate::store::{Db, KvError, KvQuota};

/// A backend's answer, boxed so backends can be chosen at run time.
pub type KvResult<'a, T> = Pin<Box<dyn Future<Output = Result<T, KvError>> + Send + 'a>>;

/// Whose data a call is about, and how long its caller can wait.
#[derive(Debug, Clone, Copy)]
pub struct KvCall<'a> {
    /// The bot's id in this node's store.
    pub bot_id: i64,
    /// The bot's name: the same on every node of a fleet.
    pub bot: &'a str,
    pub quota: KvQuota,
    /// When the event making the call runs out of time: a backend that
    /// cannot answer by then says `unavailable` rather than wait on.
    pub deadline: Instant,
}

pub trait KvBackend: Send + Sync {
    fn get<'a>(&'a self, call: KvCall<'a>, key: String) -> KvResult<'a, Option<Vec<u8>>>;
    fn set<'a>(&'a self, call: KvCall<'a>, key: String, value: Vec<u8>) -> KvResult<'a, ()>;
    fn delete<'a>(&'a self, call: KvCall<'a>, key: String) -> KvResult<'a, ()>;
    /// Keys starting with `prefix`, in byte order, at most
    /// [`crate::store::LIST_LIMIT`].
    fn list_keys<'a>(&'a self, call: KvCall<'a>, prefix: String) -> KvResult<'a, Vec<String>>;
}

/// The node's own SQLite store: the single-node backend.
#[derive(Debug, Clone)]
pub struct LocalKv(pub Db);

impl KvBackend for LocalKv {
    fn get<'a>(&'a self, call: KvCall<'a>, key: String) -> KvResult<'a, Option<Vec<u8>>> {
        Box::pin(self.0.kv_get(call.bot_id, key))
    }

    fn set<'a>(&'a self, call: KvCall<'a>, key: String, value: Vec<u8>) -> KvResult<'a, ()> {
        Box::pin(self.0.kv_set(call.bot_id, key, value, call.quota))
    }

    fn delete<'a>(&'a self, call: KvCall<'a>, key: String) -> KvResult<'a, ()> {
        Box::pin(self.0.kv_delete(call.bot_id, key))
    }

    fn list_keys<'a>(&'a self, call: KvCall<'a>, prefix: String) -> KvResult<'a, Vec<String>> {
        Box::pin(self.0.kv_list_keys(call.bot_id, prefix))
    }
}
