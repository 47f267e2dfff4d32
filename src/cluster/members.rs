//! Membership: every node writes `nodes.<name>` once a second; the bucket's
//! `max_age` drops a node that stopped. A write the engine acknowledged is
//! what keeps this node ready (`EngineHealth`).
//!
//! Each beat also goes to `beacons`, and either acknowledgement counts: a
//! stream whose leader died is silent for its election (4–9 s), longer than
//! the 3 s after which a node fails closed, so with one stream a single dead
//! server made every node unready at once. The first member by name keeps
//! the two streams on different leaders (it asks `beacons`' leader to step
//! down when they share one); a node cut off from the majority still gets
//! neither acknowledgement.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Cluster, Error, BEACONS, NODES};

pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// Every this many beats, the heartbeat streams' leaders are checked.
const SEPARATE_EVERY: u64 = 5;

/// What a node says about itself in `nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub node: String,
    pub site: String,
    pub public_addr: String,
    pub admin_addr: String,
    /// The node's clock at this heartbeat (ms since the epoch).
    pub at_ms: i64,
    pub started_ms: i64,
    /// Bots this node serves.
    pub bots: usize,
}

impl Cluster {
    /// Heartbeats until the process ends; each acknowledged one renews
    /// the node's readiness. `me` is called for each beat's content.
    pub fn start_heartbeat(&self, me: impl Fn() -> Member + Send + 'static) {
        let cluster = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut beats: u64 = 0;
            let mut separating: Option<tokio::task::JoinHandle<()>> = None;
            loop {
                tick.tick().await;
                let sent = Instant::now();
                let member = me();
                let value: bytes::Bytes = serde_json::to_vec(&member)
                    .expect("member serializes")
                    .into();
                // Both at once, neither waiting on the other: each put
                // gives up after the client's request timeout (2 s).
                for (stream, store) in [(NODES, &cluster.nodes), (BEACONS, &cluster.beacons)] {
                    let (store, health) = (store.clone(), cluster.health.clone());
                    let (key, value) = (member.node.clone(), value.clone());
                    tokio::spawn(async move {
                        match store.put(&key, value).await {
                            Ok(_) => health.acknowledged(sent),
                            Err(err) => {
                                tracing::warn!(stream, error = %err, "fleet heartbeat not acknowledged");
                                health.failed(format!("{stream}: {err}"));
                            }
                        }
                    });
                }
                beats += 1;
                // Apart from the beats: its reads wait out an election.
                if beats.is_multiple_of(SEPARATE_EVERY)
                    && separating.as_ref().is_none_or(|t| t.is_finished())
                {
                    let cluster = cluster.clone();
                    separating = Some(tokio::spawn(async move {
                        if let Err(err) = cluster.separate_heartbeat_leaders().await {
                            tracing::debug!(error = %err, "cannot check the heartbeat streams' leaders");
                        }
                    }));
                }
            }
        });
    }

    /// When `nodes` and `beacons` share a leader, asks `beacons`' to step
    /// down (another replica takes over). Only the first member by name
    /// does, so nodes do not step it down in turn.
    async fn separate_heartbeat_leaders(&self) -> Result<(), Error> {
        if self.settings.replicas < 2 {
            return Ok(());
        }
        let first = self.members().await?.into_iter().next();
        if first.is_none_or(|m| m.node != self.settings.node) {
            return Ok(());
        }
        let leader = async |bucket: &str| -> Result<Option<String>, Error> {
            let mut stream = self
                .js
                .get_stream(format!("KV_{bucket}"))
                .await
                .map_err(Error::engine)?;
            let info = stream.info().await.map_err(Error::engine)?;
            Ok(info.cluster.as_ref().and_then(|c| c.leader.clone()))
        };
        let shared = leader(NODES).await?;
        if shared.is_none() || shared != leader(BEACONS).await? {
            return Ok(());
        }
        self.client
            .request(
                format!("$JS.API.STREAM.LEADER.STEPDOWN.KV_{BEACONS}"),
                bytes::Bytes::new(),
            )
            .await
            .map_err(Error::engine)?;
        tracing::info!(
            leader = shared.as_deref().unwrap_or_default(),
            "the heartbeat streams shared a leader; asked beacons' to step down"
        );
        Ok(())
    }

    /// The members whose heartbeat has not expired, sorted by name: from
    /// `nodes`, or from `beacons` while `nodes` elects a leader.
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        match read_members(&self.nodes).await {
            Ok(members) => Ok(members),
            Err(err) => {
                tracing::debug!(error = %err, "cannot read nodes; reading beacons");
                read_members(&self.beacons).await
            }
        }
    }
}

async fn read_members(store: &async_nats::jetstream::kv::Store) -> Result<Vec<Member>, Error> {
    let keys = super::all_keys(store).await?;
    let mut members = Vec::new();
    for key in keys {
        if let Some(value) = store.get(&key).await.map_err(Error::engine)? {
            if let Ok(member) = serde_json::from_slice::<Member>(&value) {
                members.push(member);
            }
        }
    }
    members.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(members)
}
