//! Readiness (`GET /readyz`), for load balancers and the handover: the
//! node takes traffic only when every bot is loaded and a write gets
//! through to the store. `/healthz` stays liveness: the process serves.
//!
//! The public listener is served only once start-up loaded every bot, so
//! "loaded" holds from the first request; the node says not ready again
//! when it drains (a signal, or a handover to a new process). The store is
//! probed with a write through the writer thread, at most once a second
//! however often `/readyz` is asked, so the endpoint costs the store nothing
//! under a flood.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::store::Db;

/// A probe that has not committed by then counts as a store that cannot
/// write (the writer waits up to 5 s for a lock held by another process).
const PROBE_WITHIN: Duration = Duration::from_secs(1);
/// How long a probe's result is reused.
const PROBE_REUSED_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("the node is loading its bots")]
    Loading,
    #[error("the node is draining: another process serves now, or it is stopping")]
    Draining,
    #[error("the store does not take writes: {0}")]
    Store(String),
    /// In a fleet: cut off from the engine's majority (fail closed).
    #[error("the fleet engine does not acknowledge this node: {0}")]
    Engine(String),
}

#[derive(Debug)]
pub struct Readiness {
    db: Db,
    phase: AtomicU8,
    /// The last probe's time and result; the lock makes one probe at a time.
    last_probe: tokio::sync::Mutex<Option<(Instant, Result<(), NotReady>)>>,
    /// In a fleet, the engine's word on this node.
    engine: Option<std::sync::Arc<crate::cluster::EngineHealth>>,
}

const LOADING: u8 = 0;
const SERVING: u8 = 1;
const DRAINING: u8 = 2;

impl Readiness {
    pub fn new(db: Db) -> Readiness {
        Readiness {
            db,
            phase: AtomicU8::new(LOADING),
            last_probe: tokio::sync::Mutex::new(None),
            engine: None,
        }
    }

    /// A fleet member is ready only while the engine acknowledges it.
    pub fn with_engine(
        mut self,
        engine: std::sync::Arc<crate::cluster::EngineHealth>,
    ) -> Readiness {
        self.engine = Some(engine);
        self
    }

    /// Every bot is loaded: ready, if the store takes writes.
    pub fn loaded(&self) {
        let _ = self
            .phase
            .compare_exchange(LOADING, SERVING, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The node stops taking traffic: not ready from now on.
    pub fn draining(&self) {
        self.phase.store(DRAINING, Ordering::SeqCst);
    }

    pub async fn check(&self) -> Result<(), NotReady> {
        match self.phase.load(Ordering::SeqCst) {
            LOADING => return Err(NotReady::Loading),
            DRAINING => return Err(NotReady::Draining),
            _ => {}
        }
        if let Some(engine) = &self.engine {
            engine.check().map_err(NotReady::Engine)?;
        }
        let mut last = self.last_probe.lock().await;
        if let Some((at, result)) = &*last {
            if at.elapsed() < PROBE_REUSED_FOR {
                return result.clone();
            }
        }
        let result = match tokio::time::timeout(PROBE_WITHIN, self.db.check_writable()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(NotReady::Store(err.to_string())),
            Err(_) => Err(NotReady::Store(format!(
                "a write did not commit within {PROBE_WITHIN:?}"
            ))),
        };
        if let Err(why) = &result {
            tracing::warn!(reason = %why, "not ready");
        }
        *last = Some((Instant::now(), result.clone()));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_only_between_loading_and_draining() {
        let readiness = Readiness::new(Db::open_in_memory());
        assert_eq!(readiness.check().await, Err(NotReady::Loading));
        readiness.loaded();
        assert_eq!(readiness.check().await, Ok(()));
        readiness.draining();
        readiness.loaded();
        assert_eq!(readiness.check().await, Err(NotReady::Draining));
    }
}
