//! Fail closed: a node whose heartbeat the engine has not acknowledged
//! lately may be cut off from the engine's majority. Its reads could be
//! stale and its writes are refused, so it says so on `/readyz` (a load
//! balancer drains it) and stops claiming bots.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sync::lock;

/// An acknowledged heartbeat older than this means "cut off". Heartbeats go
/// every second, so this is two missed beats plus a slow one.
pub const FAIL_CLOSED_AFTER: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
pub struct EngineHealth {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the last acknowledged heartbeat was *sent*: the engine held
    /// this node as live at least from then.
    last_ack_sent: Option<Instant>,
    last_error: Option<String>,
}

impl EngineHealth {
    /// A heartbeat sent at `sent` was acknowledged (stored on a majority).
    pub fn acknowledged(&self, sent: Instant) {
        let mut state = lock(&self.state);
        if state.last_ack_sent.is_none_or(|last| sent > last) {
            state.last_ack_sent = Some(sent);
        }
        state.last_error = None;
    }

    pub fn failed(&self, error: String) {
        lock(&self.state).last_error = Some(error);
    }

    /// Ok while the engine's majority acknowledged this node lately.
    pub fn check(&self) -> Result<(), String> {
        let state = lock(&self.state);
        match state.last_ack_sent {
            Some(sent) if sent.elapsed() < FAIL_CLOSED_AFTER => Ok(()),
            Some(sent) => Err(format!(
                "no heartbeat acknowledged by the fleet engine for {} ms{}",
                sent.elapsed().as_millis(),
                state
                    .last_error
                    .as_ref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )),
            None => Err("not yet acknowledged by the fleet engine".into()),
        }
    }

    /// Milliseconds since the last acknowledged heartbeat was sent.
    pub fn ack_age_ms(&self) -> Option<u64> {
        lock(&self.state)
            .last_ack_sent
            .map(|sent| sent.elapsed().as_millis() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_while_acknowledged_lately() {
        let health = EngineHealth::default();
        assert!(health.check().is_err());
        health.acknowledged(Instant::now());
        assert!(health.check().is_ok());
        health.acknowledged(Instant::now() - FAIL_CLOSED_AFTER * 2);
        assert!(
            health.check().is_ok(),
            "an older ack does not move time back"
        );
        let health = EngineHealth::default();
        health.acknowledged(Instant::now() - FAIL_CLOSED_AFTER);
        health.failed("timed out".into());
        let err = health.check().unwrap_err();
        assert!(err.contains("timed out"), "{err}");
    }
}
