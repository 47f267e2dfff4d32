//! Gateway sessions in a fleet: each bot's sessions are held by its owner
//! only (the `own.<app_id>` lease, `owner`), and shared through the engine
//! (`gwstate.<bot>`) so the next owner RESUMEs them instead of identifying.
//!
//! The holder closes its sockets when it loses the lease, and drops them
//! without a frame once [`owner::FENCE_AFTER`] has passed since its last
//! successful refresh: 5 s before the lease can expire and another node
//! take the bot, even if this node was paused (SIGSTOP, a VM freeze) in
//! between, because the gateway checks the fence before it polls a socket.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::kv;

use super::owner::{self, Ownership};
use super::Cluster;
use crate::gateway::Holding;
use crate::store::SavedSession;

pub const GWSTATE: &str = "gwstate";

pub struct SessionHolding {
    ownership: Arc<Ownership>,
    sessions: kv::Store,
}

impl Cluster {
    /// What the gateway may hold on this node, and where sessions are shared.
    pub fn session_holding(&self) -> Arc<SessionHolding> {
        Arc::new(SessionHolding {
            ownership: self.ownership.clone(),
            sessions: self.gwstate.clone(),
        })
    }
}

impl Holding for SessionHolding {
    fn held_until(&self, name: &str) -> Option<Instant> {
        self.ownership.held_until(name)
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ownership.changes()
    }

    fn shared_sessions<'a>(
        &'a self,
        bot: &'a str,
    ) -> Pin<Box<dyn Future<Output = Vec<SavedSession>> + Send + 'a>> {
        Box::pin(async move {
            match self.sessions.get(bot).await {
                Ok(Some(value)) => serde_json::from_slice(&value).unwrap_or_default(),
                Ok(None) => Vec::new(),
                Err(err) => {
                    tracing::warn!(bot, error = %err, "cannot read the bot's shared gateway sessions; identifying");
                    Vec::new()
                }
            }
        })
    }

    fn share_sessions(&self, bot: &str, sessions: Vec<SavedSession>) {
        let store = self.sessions.clone();
        let bot = bot.to_owned();
        let value = serde_json::to_vec(&sessions).expect("sessions serialize");
        tokio::spawn(async move {
            if let Err(err) = store.put(&bot, value.into()).await {
                tracing::debug!(bot, error = %err, "cannot share the bot's gateway sessions");
            }
        });
    }
}

/// Keeps [`owner::FENCE_AFTER`] meaningful: well inside the lease's TTL.
const _: () = assert!(owner::FENCE_AFTER.as_secs() + 5 <= owner::LEASE_TTL.as_secs());
