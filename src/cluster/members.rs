//! Membership: every node writes `nodes.<name>` once a second; the bucket's
//! `max_age` drops a node that stopped. A write the engine acknowledged is
//! what keeps this node ready (`EngineHealth`).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Cluster, Error};

pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

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
            loop {
                tick.tick().await;
                let sent = Instant::now();
                let member = me();
                let value = serde_json::to_vec(&member).expect("member serializes");
                match cluster.nodes.put(&member.node, value.into()).await {
                    Ok(_) => cluster.health.acknowledged(sent),
                    Err(err) => {
                        tracing::warn!(error = %err, "fleet heartbeat not acknowledged");
                        cluster.health.failed(err.to_string());
                    }
                }
            }
        });
    }

    /// The members whose heartbeat has not expired, sorted by name.
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        let keys = super::all_keys(&self.nodes).await?;
        let mut members = Vec::new();
        for key in keys {
            if let Some(value) = self.nodes.get(&key).await.map_err(Error::engine)? {
                if let Ok(member) = serde_json::from_slice::<Member>(&value) {
                    members.push(member);
                }
            }
        }
        members.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(members)
    }
}
