//! Crash-loop handling for one bot version: the first crash is simply
//! replaced; repeated crashes back off exponentially (events during the
//! back-off get an immediate notice, never a hang); past a threshold the bot
//! is quarantined until a redeploy or rollback.
//!
//! Pure state machine over explicit `Instant`s, so it is tested without sleeping.

use std::time::{Duration, Instant};

/// Back-off after the second consecutive crash; doubles with each further one.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Consecutive crashes (no successful event between them) that quarantine a bot.
pub const QUARANTINE_AFTER: u32 = 5;
/// A crash this long after the previous one starts a new count: a crash a
/// day is a bug to fix, not a loop to stop.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
pub struct CrashLoop {
    consecutive: u32,
    last_crash: Option<Instant>,
    backoff_until: Option<Instant>,
    quarantined: Option<String>,
}

/// Whether an event may run now.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    BackingOff { retry_in: Duration },
    Quarantined { reason: String },
}

impl CrashLoop {
    /// A bot that was quarantined before the node restarted stays quarantined.
    pub fn quarantined(reason: String) -> CrashLoop {
        CrashLoop {
            quarantined: Some(reason),
            ..CrashLoop::default()
        }
    }

    pub fn gate(&self, now: Instant) -> Gate {
        if let Some(reason) = &self.quarantined {
            return Gate::Quarantined {
                reason: reason.clone(),
            };
        }
        match self.backoff_until {
            Some(until) if until > now => Gate::BackingOff {
                retry_in: until - now,
            },
            _ => Gate::Open,
        }
    }

    pub fn on_success(&mut self) {
        self.consecutive = 0;
        self.backoff_until = None;
    }

    /// Counts a crash; returns the quarantine reason when this crash
    /// quarantined the bot.
    pub fn on_crash(&mut self, now: Instant, reason: &str) -> Option<String> {
        if self.quarantined.is_some() {
            return None;
        }
        if self
            .last_crash
            .is_some_and(|last| now.duration_since(last) > FORGET_AFTER)
        {
            self.consecutive = 0;
        }
        self.consecutive += 1;
        self.last_crash = Some(now);
        if self.consecutive >= QUARANTINE_AFTER {
            let quarantine = format!(
                "{} consecutive crashes, the last: {reason}",
                self.consecutive
            );
            self.quarantined = Some(quarantine.clone());
            self.backoff_until = None;
            return Some(quarantine);
        }
        if self.consecutive >= 2 {
            let factor = 1u32 << (self.consecutive - 2).min(16);
            self.backoff_until = Some(now + (BACKOFF_BASE * factor).min(BACKOFF_MAX));
        }
        None
    }

    pub fn consecutive_crashes(&self) -> u32 {
        self.consecutive
    }

    /// `running`, `backing_off` or `quarantined`, as `appliance list` shows it.
    pub fn state(&self, now: Instant) -> &'static str {
        match self.gate(now) {
            Gate::Open => "running",
            Gate::BackingOff { .. } => "backing_off",
            Gate::Quarantined { .. } => "quarantined",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_crash_is_replaced_at_once_then_back_off_doubles() {
        let t0 = Instant::now();
        let mut health = CrashLoop::default();
        assert!(health.on_crash(t0, "trap").is_none());
        assert_eq!(health.gate(t0), Gate::Open);
        assert!(health.on_crash(t0, "trap").is_none());
        assert_eq!(
            health.gate(t0),
            Gate::BackingOff {
                retry_in: BACKOFF_BASE
            }
        );
        assert_eq!(health.gate(t0 + BACKOFF_BASE), Gate::Open);
        assert!(health.on_crash(t0, "trap").is_none());
        assert_eq!(
            health.gate(t0),
            Gate::BackingOff {
                retry_in: BACKOFF_BASE * 2
            }
        );
        assert_eq!(health.state(t0), "backing_off");
    }

    #[test]
    fn success_resets_and_old_crashes_are_forgotten() {
        let t0 = Instant::now();
        let mut health = CrashLoop::default();
        for _ in 0..QUARANTINE_AFTER - 1 {
            health.on_crash(t0, "trap");
        }
        health.on_success();
        assert_eq!(health.gate(t0), Gate::Open);
        assert!(health.on_crash(t0, "trap").is_none());
        assert_eq!(health.consecutive_crashes(), 1);
        let later = t0 + FORGET_AFTER + Duration::from_secs(1);
        assert!(health.on_crash(later, "trap").is_none());
        assert_eq!(health.consecutive_crashes(), 1);
    }

    #[test]
    fn a_crash_loop_quarantines_until_replaced() {
        let t0 = Instant::now();
        let mut health = CrashLoop::default();
        let quarantining: Vec<Option<String>> = (0..QUARANTINE_AFTER)
            .map(|_| health.on_crash(t0, "out_of_fuel"))
            .collect();
        assert_eq!(quarantining.iter().filter(|q| q.is_some()).count(), 1);
        assert!(quarantining[QUARANTINE_AFTER as usize - 1].is_some());
        let later = t0 + Duration::from_secs(3600);
        assert!(
            matches!(health.gate(later), Gate::Quarantined { reason } if reason.contains("out_of_fuel"))
        );
        assert_eq!(health.state(later), "quarantined");
        health.on_success();
        assert_eq!(
            health.state(later),
            "quarantined",
            "only a redeploy lifts quarantine"
        );
    }
}
