//! Bots' key-value data in the engine, so it outlives any one node: the
//! fleet's [`KvBackend`]. The guest sees the same WIT `kv` as on a single
//! node.
//!
//! Layout: 16 buckets `botkv_p00`..`botkv_p15` (R3 in a fleet of three,
//! streams made with `allow_direct: false` so reads go to the stream
//! leader); a bot's data sits in one of them, chosen by a hash of its
//! *space*, a random token its record gets when the bot is first deployed
//! and keeps on redeploys and rollbacks. A bot removed and deployed again
//! under the same name gets a new space: it never sees the old data, even
//! a write an event of the old bot made after the removal. A guest key is
//! stored as `<space>.<one hex token per byte>` ("ab" → `<space>.61.62`),
//! so any key is a valid subject and `list-keys(prefix)` is the server-side
//! filter `<space>.<prefix tokens>` plus `.>`, sorted here by byte order.
//!
//! Reads are confirmed by the majority. A stream leader cut off from its
//! peers goes on answering reads for seconds after the others elected a
//! new leader and took newer writes (nats-server steps it down only after
//! 10 s without a quorum), and for a moment after the cut heals; a bot
//! that read there would write over newer data with what it computed from
//! older. So a read's answer is followed by a publish to the space's
//! confirmation subject `<space>` (outside `<space>.>`) expecting what was
//! read still to be the newest: the key's sequence for a `get`, the
//! space's newest sequence (`<space>.>`) for a listing. Only the current
//! leader can store it (the publish needs a quorum); when it refuses, the
//! answer was stale and the read is tried again. That costs a read one
//! replicated write (BENCHMARKS.md). A delete first stores a marker
//! `<space>.v`, so the space's newest sequence moves forward on deletes
//! too, and a listing answered from before a delete cannot be confirmed.
//!
//! Writes are acknowledged to the guest only once JetStream acknowledged
//! them: stored by a majority of the replicas, on disk there when the
//! servers run with `sync_interval: always` (`appliance fleet init` writes
//! that). A call the engine cannot answer (a leader election takes 4–9 s)
//! is retried until the event's deadline, then the guest gets
//! `unavailable`, never a trap.
//!
//! Quotas: the node keeps a tally of each bot's keys and bytes, built by a
//! scan of the bot's entries the first time it writes there (and again
//! after it became the bot's owner, or after a write of unknown outcome;
//! in the background, so a bot with many keys is counted even when one
//! event's deadline is too short for it),
//! and checked and updated under one lock per bot, so one node's writes
//! cannot overshoot together. A bot runs on its owner only; during a
//! handover two nodes may write at once and overshoot by what both wrote
//! in that window.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::{bucket, EngineHealth, Error};
use crate::sandbox::{KvBackend, KvCall, KvResult, LocalKv};
use crate::store::{check_key, check_value, KvError, KvQuota, LIST_LIMIT};
use crate::sync::lock;

pub const PARTITIONS: usize = 16;
/// The token of the marker a delete stores (never a key's: those are
/// two hex digits).
const DELETE_MARKER: &str = "v";

/// `botkv_p00` … `botkv_p15`.
pub fn partition_name(index: usize) -> String {
    format!("botkv_p{index:02}")
}

/// Which of the buckets holds `space` (spread by hash, so are the
/// buckets' stream leaders).
pub fn partition_of(space: &str) -> usize {
    usize::from(Sha256::digest(space.as_bytes())[0]) % PARTITIONS
}

/// A fresh space token: 16 hex digits from the system's randomness.
pub fn new_space() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's randomness");
    hex::encode(bytes)
}

/// With `Nats-Expected-Last-Subject-Sequence`, the subjects it is about
/// (nats-server 2.11+), rather than the published message's own.
const EXPECTED_SUBJECT_HEADER: &str = "Nats-Expected-Last-Subject-Sequence-Subject";

/// How long between two attempts at a call the engine did not answer.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// How long a background count of a bot's data retries the engine.
const COUNT_FOR: Duration = Duration::from_secs(60);
/// Kept back from the event's deadline, for the guest to use the answer.
const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

/// One bot's keys and bytes as this node counted them.
#[derive(Debug, Default)]
struct Tally {
    keys: u64,
    bytes: u64,
    /// Key + value bytes of each entry, to charge an overwrite its difference.
    sizes: HashMap<String, u64>,
}

pub struct EngineKv {
    /// For the scans' delivery subjects.
    client: async_nats::Client,
    /// For the confirmations' publishes.
    js: jetstream::Context,
    partitions: Vec<kv::Store>,
    /// `bots`: each record names the bot's space.
    bots: kv::Store,
    health: Arc<EngineHealth>,
    /// Bot name → space, learnt from the records this node follows.
    spaces: Mutex<HashMap<String, String>>,
    /// Space → its tally (`None` until scanned); the lock serializes the
    /// bot's writes on this node.
    tallies: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Tally>>>>>,
    /// For bots the fleet has no record of.
    local: std::sync::OnceLock<LocalKv>,
    /// Counts under way, by space: done once `true`.
    counting: Arc<Mutex<HashMap<String, tokio::sync::watch::Receiver<bool>>>>,
}

impl std::fmt::Debug for EngineKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineKv").finish_non_exhaustive()
    }
}

/// Why an attempt failed; the engine's errors are all worth another try
/// (a paused leader, a lost connection, a timeout).
type Failure = String;

fn failed(err: impl std::fmt::Display) -> Failure {
    err.to_string()
}

impl Tally {
    fn of(entries: Vec<(String, u64)>) -> Tally {
        let mut counted = Tally::default();
        for (key, size) in entries {
            counted.keys += 1;
            counted.bytes += size;
            counted.sizes.insert(key, size);
        }
        counted
    }
}

impl EngineKv {
    pub async fn open(
        client: async_nats::Client,
        js: &jetstream::Context,
        replicas: usize,
        bots: kv::Store,
        health: Arc<EngineHealth>,
    ) -> Result<EngineKv, Error> {
        let mut partitions = Vec::with_capacity(PARTITIONS);
        for index in 0..PARTITIONS {
            partitions.push(bucket(js, &partition_name(index), replicas, Duration::ZERO).await?);
        }
        Ok(EngineKv {
            client,
            js: js.clone(),
            partitions,
            bots,
            health,
            spaces: Mutex::default(),
            tallies: Mutex::default(),
            local: std::sync::OnceLock::new(),
            counting: Arc::default(),
        })
    }

    /// The bucket holding `space`.
    fn partition(&self, space: &str) -> &kv::Store {
        &self.partitions[partition_of(space)]
    }

    /// What the records say: `name` keeps its data in `space`.
    pub fn learn(&self, name: &str, space: &str) {
        let previous = lock(&self.spaces).insert(name.to_owned(), space.to_owned());
        if previous.as_deref() != Some(space) {
            if let Some(previous) = previous {
                lock(&self.tallies).remove(&previous);
            }
        }
    }

    /// `name` was removed: its calls are refused from now on.
    pub fn forget(&self, name: &str) {
        if let Some(space) = lock(&self.spaces).remove(name) {
            lock(&self.tallies).remove(&space);
        }
    }

    /// This node has just become `name`'s owner: others may have written
    /// since it last counted, so it counts again at its next write.
    pub fn recount(&self, name: &str) {
        if let Some(space) = lock(&self.spaces).get(name) {
            lock(&self.tallies).remove(space);
        }
    }

    /// Deletes every entry of `space` (the bot was removed), and its
    /// confirmation subject.
    pub async fn purge_space(&self, space: &str) -> Result<(), Error> {
        let store = self.partition(space);
        for filter in [format!("{space}.>"), space.to_owned()] {
            store
                .stream
                .purge()
                .filter(format!("{}{filter}", store.prefix))
                .await
                .map_err(Error::engine)?;
        }
        Ok(())
    }

    /// Whether what a read found is still the newest: `newest` is the
    /// sequence it saw last on `filter` (0: none). Only the current leader
    /// with a quorum stores the confirmation; a refusal means the read was
    /// answered by a leader that no longer is one.
    async fn confirm(
        &self,
        store: &kv::Store,
        space: &str,
        filter: &str,
        newest: u64,
    ) -> Result<(), Failure> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            newest.to_string().as_str(),
        );
        headers.insert(EXPECTED_SUBJECT_HEADER, filter);
        let ack = self
            .js
            .publish_with_headers(
                format!("{}{space}", store.prefix),
                headers,
                bytes::Bytes::new(),
            )
            .await
            .map_err(failed)?;
        match ack.await {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                Err(
                    "the read was answered by a server that no longer leads the data (stale); \
                     reading again"
                        .into(),
                )
            }
            Err(err) => Err(failed(err)),
        }
    }

    /// `attempt` until it answers or the event's deadline passes (then
    /// `unavailable`).
    async fn within<T, F, Fut>(
        &self,
        call: &KvCall<'_>,
        what: &str,
        mut attempt: F,
    ) -> Result<T, KvError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let deadline = usable_deadline(call);
        loop {
            // A node cut off from the majority might read stale data: it
            // waits like everyone else during an election, but is not served.
            let outcome = match self.health.check() {
                Err(reason) => Err(reason),
                Ok(()) => match tokio::time::timeout_at(deadline, attempt()).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err("the engine did not answer in time".to_owned()),
                },
            };
            let last = match outcome {
                Ok(done) => return Ok(done),
                Err(reason) => reason,
            };
            if tokio::time::Instant::now() + RETRY_PAUSE >= deadline {
                return Err(KvError::Unavailable(format!(
                    "the fleet's storage did not answer the {what} before the event's deadline \
                     ({last}); try again shortly"
                )));
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// `name`'s space: from the followed records, else read from `bots`;
    /// `None` for a bot the fleet has no record of.
    async fn space(&self, call: &KvCall<'_>) -> Result<Option<String>, KvError> {
        if let Some(space) = lock(&self.spaces).get(call.bot) {
            return Ok(Some(space.clone()));
        }
        let record = self
            .within(call, "lookup", || async {
                self.bots.get(call.bot).await.map_err(failed)
            })
            .await?;
        let Some(record) = record else {
            return Ok(None);
        };
        let spec: super::deploy::BotSpec = serde_json::from_slice(&record)
            .map_err(|err| KvError::Unavailable(format!("unreadable fleet record: {err}")))?;
        self.learn(call.bot, spec.space());
        Ok(Some(spec.space().to_owned()))
    }

    /// Where bots the fleet has no record of keep their data: the node's
    /// own store (bots deployed here before the node joined a fleet).
    pub fn keep_unknown_bots_in(&self, local: LocalKv) {
        let _ = self.local.set(local);
    }

    fn local(&self) -> Result<&LocalKv, KvError> {
        self.local
            .get()
            .ok_or_else(|| KvError::Unavailable("this bot is not in the fleet's records".into()))
    }

    fn tally(&self, space: &str) -> Arc<tokio::sync::Mutex<Option<Tally>>> {
        lock(&self.tallies)
            .entry(space.to_owned())
            .or_default()
            .clone()
    }

    /// Counts `space`'s data for its quota, unless counted: in the
    /// background (one count at a time per bot), so a bot with many keys
    /// is counted even when one event's deadline is too short for it; the
    /// caller waits for it until its deadline.
    async fn counted(
        &self,
        call: &KvCall<'_>,
        space: &str,
        cell: &Arc<tokio::sync::Mutex<Option<Tally>>>,
    ) -> Result<(), KvError> {
        let mut done = {
            let mut counting = lock(&self.counting);
            match counting.get(space) {
                Some(done) => done.clone(),
                None => {
                    let (tell, done) = tokio::sync::watch::channel(false);
                    counting.insert(space.to_owned(), done.clone());
                    let (client, store) = (self.client.clone(), self.partition(space).clone());
                    let (space, cell, counting) =
                        (space.to_owned(), cell.clone(), self.counting.clone());
                    tokio::spawn(async move {
                        let started = tokio::time::Instant::now();
                        let counted = loop {
                            match scan(&client, &store, &space).await {
                                Ok(entries) => break Some(Tally::of(entries)),
                                Err(err) if started.elapsed() < COUNT_FOR => {
                                    tracing::debug!(error = %err, "counting a bot's data; retrying");
                                    tokio::time::sleep(RETRY_PAUSE).await;
                                }
                                Err(err) => {
                                    tracing::warn!(error = %err, "cannot count a bot's data");
                                    break None;
                                }
                            }
                        };
                        if let Some(counted) = counted {
                            cell.lock().await.get_or_insert(counted);
                            let _ = tell.send(true);
                        }
                        lock(&counting).remove(&space);
                    });
                    done
                }
            }
        };
        let deadline = usable_deadline(call);
        let waited = tokio::time::timeout_at(deadline, done.wait_for(|counted| *counted))
            .await
            .map(|counted| counted.map(|_| ()));
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(KvError::Unavailable(
                "the fleet's storage could not count the bot's data for its quota; try again \
                 shortly"
                    .into(),
            )),
            Err(_) => Err(KvError::Unavailable(
                "the node is counting the bot's data for its quota (its first write here); \
                 try again shortly"
                    .into(),
            )),
        }
    }

    async fn get_value(&self, call: KvCall<'_>, key: String) -> Result<Option<Vec<u8>>, KvError> {
        check_key(&key, &call.quota)?;
        let Some(space) = self.space(&call).await? else {
            return self.local()?.get(call, key).await;
        };
        let store = self.partition(&space);
        let subject = entry_key(&space, &key);
        let full = format!("{}{subject}", store.prefix);
        self.within(&call, "read", || async {
            let (value, newest) = match store.entry(subject.as_str()).await.map_err(failed)? {
                Some(entry) if entry.operation == kv::Operation::Put => {
                    (Some(entry.value.to_vec()), entry.revision)
                }
                Some(entry) => (None, entry.revision),
                None => (None, 0),
            };
            self.confirm(store, &space, &full, newest).await?;
            Ok(value)
        })
        .await
    }

    async fn set_value(
        &self,
        call: KvCall<'_>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        check_key(&key, &call.quota)?;
        check_value(&value, &call.quota)?;
        let Some(space) = self.space(&call).await? else {
            return self.local()?.set(call, key, value).await;
        };
        let store = self.partition(&space);
        let cell = self.tally(&space);
        let mut tally = cell.lock().await;
        while tally.is_none() {
            drop(tally);
            self.counted(&call, &space, &cell).await?;
            tally = cell.lock().await;
        }
        let counted = tally.as_mut().expect("counted above");
        let old = counted.sizes.get(&key).copied();
        let size = (key.len() + value.len()) as u64;
        check_quota(counted, old, size, &call.quota)?;
        let subject = entry_key(&space, &key);
        let value = bytes::Bytes::from(value);
        let written = self
            .within(&call, "write", || async {
                store
                    .put(subject.as_str(), value.clone())
                    .await
                    .map_err(failed)
            })
            .await;
        match written {
            Ok(_) => {
                counted.keys += u64::from(old.is_none());
                counted.bytes = counted.bytes - old.unwrap_or(0) + size;
                counted.sizes.insert(key, size);
                Ok(())
            }
            Err(err) => {
                // It may have been stored after all: count again next time.
                *tally = None;
                Err(err)
            }
        }
    }

    async fn delete_value(&self, call: KvCall<'_>, key: String) -> Result<(), KvError> {
        check_key(&key, &call.quota)?;
        let Some(space) = self.space(&call).await? else {
            return self.local()?.delete(call, key).await;
        };
        let store = self.partition(&space);
        let tally = self.tally(&space);
        let mut tally = tally.lock().await;
        let subject = entry_key(&space, &key);
        // The subject is purged outright (no delete marker), so listings
        // can go by the stream's subject index; the marker before it moves
        // the space's newest sequence forward (see the module's comment).
        let full = format!("{}{subject}", store.prefix);
        let marker = format!("{space}.{DELETE_MARKER}");
        let deleted = self
            .within(&call, "delete", || async {
                store
                    .put(marker.as_str(), bytes::Bytes::new())
                    .await
                    .map_err(failed)?;
                store
                    .stream
                    .purge()
                    .filter(full.as_str())
                    .await
                    .map(|_| ())
                    .map_err(failed)
            })
            .await;
        match (deleted, tally.as_mut()) {
            (Ok(()), Some(counted)) => {
                if let Some(size) = counted.sizes.remove(&key) {
                    counted.keys -= 1;
                    counted.bytes -= size;
                }
                Ok(())
            }
            (Ok(()), None) => Ok(()),
            (Err(err), _) => {
                *tally = None;
                Err(err)
            }
        }
    }

    async fn keys(&self, call: KvCall<'_>, prefix: String) -> Result<Vec<String>, KvError> {
        let Some(space) = self.space(&call).await? else {
            return self.local()?.list_keys(call, prefix).await;
        };
        let tokens = encode_tokens(prefix.as_bytes());
        let filters = if tokens.is_empty() {
            vec![format!("{space}.>")]
        } else {
            vec![format!("{space}.{tokens}"), format!("{space}.{tokens}.>")]
        };
        // The stream's subject index names the live keys without reading
        // a message (a delete purges its subject; it leaves no marker).
        let store = self.partition(&space);
        let space_prefix = format!("{}{space}.", store.prefix);
        let whole_space = format!("{space_prefix}>");
        let mut keys = self
            .within(&call, "listing", || async {
                let newest = match store
                    .stream
                    .get_last_raw_message_by_subject(whole_space.as_str())
                    .await
                {
                    Ok(message) => message.sequence,
                    Err(err)
                        if err.kind()
                            == jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
                    {
                        0
                    }
                    Err(err) => return Err(failed(err)),
                };
                let mut keys = Vec::new();
                for filter in &filters {
                    let mut subjects = store
                        .stream
                        .info_with_subjects(format!("{}{filter}", store.prefix))
                        .await
                        .map_err(failed)?;
                    while let Some(subject) = subjects.next().await {
                        let (subject, _) = subject.map_err(failed)?;
                        if let Some(key) = subject
                            .strip_prefix(space_prefix.as_str())
                            .and_then(decode_key)
                        {
                            keys.push(key);
                        }
                    }
                }
                self.confirm(store, &space, &whole_space, newest).await?;
                Ok(keys)
            })
            .await?;
        keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        keys.truncate(LIST_LIMIT);
        Ok(keys)
    }
}

/// The event's deadline less [`DEADLINE_MARGIN`]: when a call gives up.
fn usable_deadline(call: &KvCall<'_>) -> tokio::time::Instant {
    tokio::time::Instant::from_std(
        call.deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or(call.deadline),
    )
}

fn check_quota(
    counted: &Tally,
    old: Option<u64>,
    size: u64,
    quota: &KvQuota,
) -> Result<(), KvError> {
    let keys = counted.keys + u64::from(old.is_none());
    let bytes = counted.bytes - old.unwrap_or(0) + size;
    if keys > quota.max_keys {
        return Err(KvError::QuotaExceeded(format!(
            "the bot already has {} keys; the limit is {}",
            counted.keys, quota.max_keys
        )));
    }
    if bytes > quota.max_total_bytes {
        return Err(KvError::QuotaExceeded(format!(
            "the bot's data would be {bytes} bytes; the limit is {}",
            quota.max_total_bytes
        )));
    }
    Ok(())
}

/// `61.62` for "ab": one two-digit hex token per byte, so every key is a
/// valid subject and a key's tokens start with its prefix's.
fn encode_tokens(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn entry_key(space: &str, key: &str) -> String {
    format!("{space}.{}", encode_tokens(key.as_bytes()))
}

/// The guest key back from its tokens; `None` for anything else.
fn decode_key(tokens: &str) -> Option<String> {
    let bytes = tokens
        .split('.')
        .map(|token| {
            (token.len() == 2)
                .then(|| u8::from_str_radix(token, 16).ok())
                .flatten()
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

impl KvBackend for EngineKv {
    fn get<'a>(&'a self, call: KvCall<'a>, key: String) -> KvResult<'a, Option<Vec<u8>>> {
        Box::pin(self.get_value(call, key))
    }

    fn set<'a>(&'a self, call: KvCall<'a>, key: String, value: Vec<u8>) -> KvResult<'a, ()> {
        Box::pin(self.set_value(call, key, value))
    }

    fn delete<'a>(&'a self, call: KvCall<'a>, key: String) -> KvResult<'a, ()> {
        Box::pin(self.delete_value(call, key))
    }

    fn list_keys<'a>(&'a self, call: KvCall<'a>, prefix: String) -> KvResult<'a, Vec<String>> {
        Box::pin(self.keys(call, prefix))
    }
}

/// Every live entry of `space` (the last message of each of its subjects,
/// headers only), with its stored size (key + value bytes).
async fn scan(
    client: &async_nats::Client,
    store: &kv::Store,
    space: &str,
) -> Result<Vec<(String, u64)>, Failure> {
    let consumer = store
        .stream
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            description: Some("bot kv count".into()),
            filter_subject: format!("{}{space}.>", store.prefix),
            headers_only: true,
            replay_policy: consumer::ReplayPolicy::Instant,
            deliver_policy: consumer::DeliverPolicy::LastPerSubject,
            ..Default::default()
        })
        .await
        .map_err(failed)?;
    let mut found = Vec::new();
    if consumer.cached_info().num_pending == 0 {
        return Ok(found);
    }
    let mut messages = consumer.messages().await.map_err(failed)?;
    let space_prefix = format!("{}{space}.", store.prefix);
    while let Some(message) = messages.next().await {
        let message = message.map_err(failed)?;
        let pending = message.info().map_err(failed)?.pending;
        let headers = message.headers.as_ref();
        let live = headers
            .and_then(|h| h.get("KV-Operation"))
            .is_none_or(|op| op.as_str() == "PUT");
        let size = headers
            .and_then(|h| h.get("Nats-Msg-Size"))
            .and_then(|size| size.as_str().parse::<u64>().ok())
            .unwrap_or(0);
        if live {
            if let Some(key) = message
                .subject
                .strip_prefix(space_prefix.as_str())
                .and_then(decode_key)
            {
                found.push((key.clone(), key.len() as u64 + size));
            }
        }
        if pending == 0 {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_one_token_per_byte_and_back() {
        assert_eq!(encode_tokens(b"ab"), "61.62");
        assert_eq!(entry_key("s1", "a.b *>"), "s1.61.2e.62.20.2a.3e");
        assert_eq!(decode_key("61.2e.62.20.2a.3e").as_deref(), Some("a.b *>"));
        assert_eq!(
            decode_key(
                "é".as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(".")
                    .as_str()
            )
            .as_deref(),
            Some("é")
        );
        assert_eq!(decode_key("6"), None);
        assert_eq!(decode_key("zz"), None);
        assert_eq!(decode_key("ff"), None, "not UTF-8");
    }

    #[test]
    fn a_prefix_is_a_prefix_of_its_keys_tokens_and_order_is_kept() {
        let keys = ["a", "ab", "a\u{7f}", "b", "é"];
        for pair in keys.windows(2) {
            assert!(encode_tokens(pair[0].as_bytes()) < encode_tokens(pair[1].as_bytes()));
        }
        assert!(encode_tokens(b"abc").starts_with(&encode_tokens(b"ab")));
    }

    #[test]
    fn quotas_count_an_overwrite_by_its_difference() {
        let quota = KvQuota {
            max_keys: 2,
            max_total_bytes: 10,
            ..KvQuota::default()
        };
        let mut counted = Tally {
            keys: 2,
            bytes: 8,
            ..Tally::default()
        };
        counted.sizes.insert("a".into(), 4);
        counted.sizes.insert("b".into(), 4);
        assert!(check_quota(&counted, Some(4), 6, &quota).is_ok());
        assert!(matches!(
            check_quota(&counted, Some(4), 7, &quota),
            Err(KvError::QuotaExceeded(_))
        ));
        assert!(matches!(
            check_quota(&counted, None, 1, &quota),
            Err(KvError::QuotaExceeded(_))
        ));
    }
}
