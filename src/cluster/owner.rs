//! One owner per bot. The owner of a bot is the live member that ranks
//! first for its application id by rendezvous hashing (adding a node moves
//! about 1/N of the bots); it holds the lease `own.<app_id>` in the
//! `leases` bucket (a TTL, refreshed by compare-and-swap) and, only while
//! it does, answers `bot.<app_id>.invoke`. Any node that receives an
//! interaction verifies it, then forwards it there; when no owner answers
//! ("no responders" is immediate) it serves the bot itself.
//!
//! Fencing: a node whose heartbeat the engine has not acknowledged for 3 s
//! (`EngineHealth`) drops every lease it holds at once, long before the
//! lease's 15 s TTL lets another node take it; a refresh refused for a
//! wrong revision means someone else holds it, and the bot is dropped too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Cluster, Error};
use crate::dispatch::{Deferral, Dispatcher};
use crate::fleet::Fleet;
use crate::protocol::interaction::Head;
use crate::sync::lock;

pub const LEASES: &str = "leases";
/// A lease not refreshed for this long is gone: the failover time after a
/// node dies.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
const REFRESH_EVERY: Duration = Duration::from_secs(4);
/// How often each node looks at which bots it should own.
const PLACE_EVERY: Duration = Duration::from_secs(1);
/// The header with the time the receiving node has already spent (ms).
const ELAPSED_HEADER: &str = "Appliance-Elapsed-Ms";
/// The header with when (Unix ms, the receiving node's clock) the receiving
/// node stops waiting and serves the interaction itself: an owner that
/// gets the request later (it was paused, or the request sat in a cut
/// link) drops it instead of running it a second time.
const GIVE_UP_HEADER: &str = "Appliance-Give-Up-Unix-Ms";

/// `own.<app_id>`'s value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub node: String,
    pub bot: String,
}

/// A lease this node holds.
struct Held {
    /// The bot's name.
    bot: String,
    revision: u64,
    refreshed: Instant,
    serving: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Unsubscribes: no more invocations reach this node for the bot.
        self.serving.abort();
    }
}

/// This node's leases, by application id.
#[derive(Default)]
pub struct Ownership {
    held: Mutex<HashMap<String, Held>>,
    /// Bumped whenever the set of leases changes (the gateway follows it).
    changes: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Ownership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ownership").finish_non_exhaustive()
    }
}

/// A lease's holder keeps the bot's gateway sessions open at most this
/// long after it sent its last successful refresh: 5 s before the lease
/// can expire in the engine and another node take the sessions over.
pub const FENCE_AFTER: Duration = Duration::from_secs(10);

impl Ownership {
    pub fn owns(&self, app_id: &str) -> bool {
        lock(&self.held).contains_key(app_id)
    }

    /// Until when this node surely still holds bot `name`'s lease.
    pub fn held_until(&self, name: &str) -> Option<Instant> {
        lock(&self.held)
            .values()
            .find(|held| held.bot == name)
            .map(|held| held.refreshed + FENCE_AFTER)
    }

    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn held_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.held).keys().cloned().collect();
        ids.sort_unstable();
        ids
    }
}

/// The member that ranks first for `app_id`.
pub fn rendezvous<'a>(members: impl IntoIterator<Item = &'a str>, app_id: &str) -> Option<&'a str> {
    members.into_iter().max_by_key(|node| {
        let digest = Sha256::new()
            .chain_update(node.as_bytes())
            .chain_update([0])
            .chain_update(app_id.as_bytes())
            .finalize();
        (
            u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")),
            *node,
        )
    })
}

/// What forwarding an interaction came to.
pub enum Forwarded {
    /// The owner's HTTP answer.
    Answer(Bytes),
    /// No owner answered: serve it here.
    NoOwner,
}

impl Cluster {
    /// Places and holds this node's bots for as long as the process runs,
    /// answering their invocations through `dispatcher`.
    pub fn start_owning(&self, fleet: Arc<Fleet>, dispatcher: Dispatcher) {
        let cluster = self.clone();
        tokio::spawn(async move {
            let leases = loop {
                match super::bucket(&cluster.js, LEASES, cluster.settings.replicas, LEASE_TTL).await
                {
                    Ok(leases) => break leases,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot open the leases bucket; retrying");
                        tokio::time::sleep(PLACE_EVERY).await;
                    }
                }
            };
            let mut tick = tokio::time::interval(PLACE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let before = cluster.ownership.held_ids();
                if let Err(err) = cluster.place(&leases, &fleet, &dispatcher).await {
                    tracing::debug!(error = %err, "placement round failed");
                }
                if cluster.ownership.held_ids() != before {
                    cluster.ownership.changes.send_modify(|n| *n += 1);
                }
            }
        });
    }

    async fn place(
        &self,
        leases: &kv::Store,
        fleet: &Arc<Fleet>,
        dispatcher: &Dispatcher,
    ) -> Result<(), Error> {
        let me = self.settings.node.as_str();
        if self.health.check().is_err() {
            // Cut off (fail closed): claim nothing, serve nothing for others.
            let dropped = std::mem::take(&mut *lock(&self.ownership.held));
            if !dropped.is_empty() {
                tracing::warn!(
                    bots = dropped.len(),
                    "cut off from the fleet engine: gave up every bot this node owned"
                );
            }
            return Ok(());
        }
        // Unknown members (both heartbeat streams unreadable for now): the
        // node keeps refreshing what it holds, and claims or hands over
        // nothing.
        let members = match self.members().await {
            Ok(members) => Some(members),
            Err(err) => {
                tracing::debug!(error = %err, "cannot read the members; only refreshing leases");
                None
            }
        };
        let live: Option<Vec<&str>> = members.as_ref().map(|members| {
            let mut live: Vec<&str> = members.iter().map(|m| m.node.as_str()).collect();
            if !live.contains(&me) {
                live.push(me);
            }
            live
        });
        let bots = fleet.all();
        // Leases of bots this node no longer serves are let go.
        lock(&self.ownership.held)
            .retain(|app_id, _| bots.iter().any(|d| &d.record.app_id == app_id));
        for deployed in bots {
            let app_id = deployed.record.app_id.clone();
            let key = format!("own.{app_id}");
            let held = lock(&self.ownership.held)
                .get(&app_id)
                .map(|h| (h.revision, h.refreshed));
            let winner = match &live {
                Some(live) => rendezvous(live.iter().copied(), &app_id) == Some(me),
                None => held.is_some(),
            };
            match (winner, held) {
                (true, Some((revision, refreshed))) => {
                    if refreshed.elapsed() < REFRESH_EVERY {
                        continue;
                    }
                    let sent = Instant::now();
                    let value = lease_value(me, &deployed.record.name);
                    match leases.update(&key, value, revision).await {
                        Ok(revision) => {
                            if let Some(held) = lock(&self.ownership.held).get_mut(&app_id) {
                                held.revision = revision;
                                held.refreshed = sent;
                            }
                        }
                        Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                            tracing::warn!(bot = %deployed.record.name, "lost the bot's lease to another node");
                            lock(&self.ownership.held).remove(&app_id);
                        }
                        Err(err) => {
                            tracing::debug!(bot = %deployed.record.name, error = %err, "lease refresh failed; retrying");
                            // Past its TTL the lease may be another's: let go.
                            if refreshed.elapsed() >= LEASE_TTL - REFRESH_EVERY {
                                lock(&self.ownership.held).remove(&app_id);
                            }
                        }
                    }
                }
                (true, None) => {
                    let sent = Instant::now();
                    let value = lease_value(me, &deployed.record.name);
                    match leases.create(&key, value).await {
                        Ok(revision) => {
                            self.botkv.recount(&deployed.record.name);
                            let serving = self
                                .serve_invocations(&app_id, fleet.clone(), dispatcher.clone())
                                .await?;
                            tracing::info!(bot = %deployed.record.name, "this node owns the bot now");
                            lock(&self.ownership.held).insert(
                                app_id,
                                Held {
                                    bot: deployed.record.name.clone(),
                                    revision,
                                    refreshed: sent,
                                    serving,
                                },
                            );
                        }
                        // Another node holds it until it lets go or its lease expires.
                        Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {}
                        // Tried again next round; the other bots' leases
                        // are still refreshed in this one.
                        Err(err) => {
                            tracing::debug!(bot = %deployed.record.name, error = %err, "cannot claim the bot's lease; retrying");
                        }
                    }
                }
                (false, Some((revision, _))) => {
                    // A better-ranked node is live: hand the bot over.
                    lock(&self.ownership.held).remove(&app_id);
                    let _ = leases.delete_expect_revision(&key, Some(revision)).await;
                    tracing::info!(bot = %deployed.record.name, "handed the bot to a better-placed node");
                }
                (false, None) => {}
            }
        }
        Ok(())
    }

    /// Subscribes to the bot's invocations; each runs through the local
    /// dispatcher with the deferral counted from when the receiving node
    /// took the request.
    async fn serve_invocations(
        &self,
        app_id: &str,
        fleet: Arc<Fleet>,
        dispatcher: Dispatcher,
    ) -> Result<tokio::task::JoinHandle<()>, Error> {
        let mut subscriber = self
            .client
            .subscribe(format!("bot.{app_id}.invoke"))
            .await
            .map_err(Error::engine)?;
        let client = self.client.clone();
        let app_id = app_id.to_owned();
        Ok(tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                let Some(reply) = message.reply.clone() else {
                    continue;
                };
                let received = Instant::now();
                let give_up = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(GIVE_UP_HEADER))
                    .and_then(|v| v.as_str().parse::<i64>().ok());
                if give_up.is_some_and(|at| crate::clock::unix_ms() >= at) {
                    tracing::warn!(%app_id, "dropped a forwarded interaction its receiver has given up on (and served)");
                    continue;
                }
                let elapsed = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(ELAPSED_HEADER))
                    .and_then(|v| v.as_str().parse::<u64>().ok())
                    .unwrap_or(0);
                let arrived = received
                    .checked_sub(Duration::from_millis(elapsed))
                    .unwrap_or(received);
                let (fleet, dispatcher, client, app_id) = (
                    fleet.clone(),
                    dispatcher.clone(),
                    client.clone(),
                    app_id.clone(),
                );
                tokio::spawn(async move {
                    let Some(deployed) = fleet.by_app_id(&app_id) else {
                        // Removed meanwhile: no answer, the receiver serves it.
                        return;
                    };
                    let body = message.payload;
                    let Ok(head) = Head::parse(&body) else {
                        return;
                    };
                    let answer = dispatcher
                        .dispatch(deployed, head, body, Deferral::CountingFrom(arrived))
                        .await;
                    if let Err(err) = client.publish(reply, answer).await {
                        tracing::debug!(error = %err, "cannot send a forwarded interaction's answer");
                    }
                });
            }
        }))
    }

    /// Whether this node holds the bot's lease.
    pub fn owns(&self, app_id: &str) -> bool {
        self.ownership.owns(app_id)
    }

    /// Sends a verified interaction to the bot's owner and waits for its
    /// answer, at most `within`. `elapsed`: time already spent here.
    pub async fn forward(
        &self,
        app_id: &str,
        body: Bytes,
        elapsed: Duration,
        within: Duration,
    ) -> Forwarded {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(ELAPSED_HEADER, elapsed.as_millis().to_string().as_str());
        let give_up = crate::clock::unix_ms() + within.as_millis() as i64;
        headers.insert(GIVE_UP_HEADER, give_up.to_string().as_str());
        let request = async_nats::Request::new()
            .payload(body)
            .headers(headers)
            .timeout(Some(within));
        match self
            .client
            .send_request(format!("bot.{app_id}.invoke"), request)
            .await
        {
            Ok(message) => Forwarded::Answer(message.payload),
            Err(err) => {
                tracing::debug!(app_id, error = %err, "no owner answered; serving the interaction here");
                Forwarded::NoOwner
            }
        }
    }

    /// Every bot's owner: (application id, lease).
    pub async fn owners(&self) -> Result<Vec<(String, Lease)>, Error> {
        let leases = self.js.get_key_value(LEASES).await.map_err(Error::engine)?;
        let mut keys = leases.keys().await.map_err(Error::engine)?;
        let mut out = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(Error::engine)?;
            let Some(app_id) = key.strip_prefix("own.") else {
                continue;
            };
            if let Some(value) = leases.get(&key).await.map_err(Error::engine)? {
                if let Ok(lease) = serde_json::from_slice::<Lease>(&value) {
                    out.push((app_id.to_owned(), lease));
                }
            }
        }
        Ok(out)
    }
}

fn lease_value(node: &str, bot: &str) -> Bytes {
    serde_json::to_vec(&Lease {
        node: node.to_owned(),
        bot: bot.to_owned(),
    })
    .expect("lease serializes")
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendezvous_moves_few_bots_when_a_node_joins() {
        let apps: Vec<String> = (0..1000).map(|i| format!("{}", 1_000_000 + i)).collect();
        let three = ["a", "b", "c"];
        let four = ["a", "b", "c", "d"];
        let mut moved = 0;
        let mut counts = HashMap::new();
        for app in &apps {
            let before = rendezvous(three, app).unwrap();
            let after = rendezvous(four, app).unwrap();
            *counts.entry(before).or_insert(0) += 1;
            if before != after {
                assert_eq!(after, "d", "a bot moved between old nodes");
                moved += 1;
            }
        }
        // About a quarter move, all to the new node; each old node had about a third.
        assert!((150..350).contains(&moved), "{moved}");
        assert!(
            counts.values().all(|&n| (250..420).contains(&n)),
            "{counts:?}"
        );
    }
}
