//! Refuses captured requests sent again. Discord documents no freshness
//! window for `X-Signature-Timestamp` (discord-api-docs issue 6209) and its
//! own libraries check none, so the window is ours: a request signed more
//! than `max_age` away from the node's clock is refused, and every
//! interaction id accepted within the window is remembered until its
//! timestamp leaves the window. A replay is then either stale or a repeat.
//!
//! The memory is not kept across restarts; instead a node refuses
//! timestamps from before it started, so nothing captured before a restart
//! can be replayed after it. (A node whose clock runs ahead of Discord's
//! refuses requests for that long after starting: keep clocks in sync.)
//!
//! The memory is bounded. When it is full the oldest id is forgotten and
//! the window's lower edge moves up to that id's timestamp, so a forgotten
//! id can never be replayed: under a flood the window narrows, it never
//! opens.

use crate::sync::lock;
use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the signed timestamp is outside the accepted window")]
    Stale,
    #[error("this interaction id was already seen")]
    Replayed,
}

#[derive(Debug)]
pub struct ReplayGuard {
    max_age_secs: i64,
    capacity: usize,
    hasher: RandomState,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<u64>,
    /// (signed timestamp, id key) in the order accepted.
    order: VecDeque<(i64, u64)>,
    /// Timestamps at or below this are refused (memory was full).
    floor: i64,
}

impl ReplayGuard {
    /// `started`: unix seconds when the node started; earlier timestamps
    /// are refused (ids seen before a restart are not remembered).
    pub fn new(max_age: Duration, capacity: usize, started: i64) -> ReplayGuard {
        ReplayGuard {
            max_age_secs: max_age.as_secs() as i64,
            capacity,
            hasher: RandomState::new(),
            inner: Mutex::new(Inner {
                floor: started - 1,
                ..Inner::default()
            }),
        }
    }

    /// The cheap check, before the signature: is the timestamp current?
    pub fn check_time(&self, timestamp: i64, now: i64) -> Result<(), Refusal> {
        let inner = lock(&self.inner);
        self.in_window(&inner, timestamp, now)
    }

    fn in_window(&self, inner: &Inner, timestamp: i64, now: i64) -> Result<(), Refusal> {
        if (timestamp - now).abs() > self.max_age_secs || timestamp <= inner.floor {
            return Err(Refusal::Stale);
        }
        Ok(())
    }

    /// After the signature verified: accepts `id` once per window.
    pub fn remember(&self, id: &str, timestamp: i64, now: i64) -> Result<(), Refusal> {
        // Snowflakes are numbers; anything else is hashed with a per-node key.
        let key = id
            .parse::<u64>()
            .unwrap_or_else(|_| self.hasher.hash_one(id));
        // One lock for the window check and the memory, so the floor cannot
        // move between them.
        let mut inner = lock(&self.inner);
        self.in_window(&inner, timestamp, now)?;
        // Ids whose timestamp left the window cannot come back: forget them.
        while let Some(&(ts, old)) = inner.order.front() {
            if ts + self.max_age_secs >= now {
                break;
            }
            inner.order.pop_front();
            inner.seen.remove(&old);
        }
        if !inner.seen.insert(key) {
            return Err(Refusal::Replayed);
        }
        inner.order.push_back((timestamp, key));
        while inner.order.len() > self.capacity {
            let Some((ts, old)) = inner.order.pop_front() else {
                break;
            };
            inner.seen.remove(&old);
            inner.floor = inner.floor.max(ts);
        }
        Ok(())
    }

    pub fn remembered(&self) -> usize {
        lock(&self.inner).seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_repeat_within_the_window_is_refused_and_old_timestamps_are_stale() {
        let guard = ReplayGuard::new(Duration::from_secs(300), 1000, 0);
        assert_eq!(guard.remember("1", NOW, NOW), Ok(()));
        assert_eq!(guard.remember("1", NOW, NOW + 10), Err(Refusal::Replayed));
        assert_eq!(guard.remember("2", NOW, NOW + 10), Ok(()));
        assert_eq!(guard.check_time(NOW - 301, NOW), Err(Refusal::Stale));
        assert_eq!(guard.check_time(NOW + 301, NOW), Err(Refusal::Stale));
        assert_eq!(guard.check_time(NOW - 300, NOW), Ok(()));
        // Once the timestamp has left the window the id is forgotten, and a
        // replay with that timestamp is stale anyway.
        assert_eq!(guard.remember("3", NOW + 400, NOW + 400), Ok(()));
        assert_eq!(guard.remembered(), 1);
        assert_eq!(guard.remember("1", NOW, NOW + 400), Err(Refusal::Stale));
    }

    #[test]
    fn nothing_signed_before_the_node_started_is_accepted() {
        let guard = ReplayGuard::new(Duration::from_secs(300), 1000, NOW);
        assert_eq!(guard.check_time(NOW - 1, NOW), Err(Refusal::Stale));
        assert_eq!(guard.remember("1", NOW, NOW), Ok(()));
    }

    #[test]
    fn when_full_the_window_narrows_instead_of_forgetting_a_live_id() {
        let guard = ReplayGuard::new(Duration::from_secs(300), 1000, 0);
        for i in 0..1000 {
            guard.remember(&i.to_string(), NOW - 100, NOW).unwrap();
        }
        guard.remember("new", NOW - 50, NOW).unwrap();
        assert_eq!(guard.remembered(), 1000);
        // Id 0 was forgotten; its timestamp is now below the floor.
        assert_eq!(guard.remember("0", NOW - 100, NOW), Err(Refusal::Stale));
        assert_eq!(guard.remember("1", NOW - 100, NOW), Err(Refusal::Stale));
        assert_eq!(guard.remember("fresh", NOW, NOW), Ok(()));
        assert_eq!(guard.remember("new", NOW - 50, NOW), Err(Refusal::Replayed));
    }
}
