//! Refuses captured requests sent again. Discord documents no freshness
//! window for `X-Signature-Timestamp` (discord-api-docs issue 6209) and its
//! own libraries check none, so the window is ours: a request signed more
//! than `max_age` away from the node's clock is refused, and every
//! interaction id accepted within the window is remembered until its
//! timestamp leaves the window. A replay is then either stale or a repeat.
//!
//! The memory is not kept across a cold restart; instead a node refuses
//! timestamps from before it started, so nothing captured before a restart
//! can be replayed after it. (A node whose clock runs ahead of Discord's
//! refuses requests for that long after starting: keep clocks in sync.) A
//! handover keeps it: the old process hands its memory to the new one
//! ([`ReplayGuard::hand_over`], [`ReplayGuard::resume`]) and forwards every
//! id it still accepts afterwards ([`ReplayGuard::absorb`]), so a request
//! signed just before the handover is answered by the new process, and no
//! id either process accepted can be sent again to the other.
//!
//! The memory is bounded. When it is full the oldest id is forgotten and
//! the window's lower edge moves up to that id's timestamp, so a forgotten
//! id can never be replayed: under a flood the window narrows, it never
//! opens.

use crate::sync::lock;
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the signed timestamp is outside the accepted window")]
    Stale,
    #[error("this interaction id was already seen")]
    Replayed,
}

/// One remembered id: (signed timestamp, id key).
pub type Entry = (i64, u64);

#[derive(Debug)]
pub struct ReplayGuard {
    max_age_secs: i64,
    capacity: usize,
    /// Keys the hash of an id that is not a number. Random per node, and
    /// handed over with the memory so both processes key ids alike.
    salt: [u8; 16],
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<u64>,
    /// Entries in the order accepted.
    order: VecDeque<Entry>,
    /// Timestamps at or below this are refused (before the node started,
    /// or the memory was full).
    floor: i64,
    /// After a handover: where every newly accepted entry goes as well.
    forward: Option<UnboundedSender<Entry>>,
}

/// A guard's whole memory, as one process hands it to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayMemory {
    pub floor: i64,
    pub salt: [u8; 16],
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
#[error("the handed-over replay memory is malformed ({0} bytes)")]
pub struct MalformedMemory(usize);

impl ReplayGuard {
    /// `started`: unix seconds when the node started; earlier timestamps
    /// are refused (ids seen before a restart are not remembered).
    pub fn new(max_age: Duration, capacity: usize, started: i64) -> ReplayGuard {
        ReplayGuard::resume(
            max_age,
            capacity,
            ReplayMemory {
                floor: started - 1,
                salt: rand::random(),
                entries: Vec::new(),
            },
        )
    }

    /// A guard that goes on from `memory`, another process's (handover).
    pub fn resume(max_age: Duration, capacity: usize, memory: ReplayMemory) -> ReplayGuard {
        let guard = ReplayGuard {
            max_age_secs: max_age.as_secs() as i64,
            capacity,
            salt: memory.salt,
            inner: Mutex::new(Inner {
                floor: memory.floor,
                ..Inner::default()
            }),
        };
        guard.absorb(&memory.entries);
        guard
    }

    /// The memory as it is now, for the process taking over; from now on
    /// every id this guard accepts is also sent to `forward`. One lock for
    /// both, so no id falls between the copy and the forwarding.
    pub fn hand_over(&self, forward: UnboundedSender<Entry>) -> ReplayMemory {
        let mut inner = lock(&self.inner);
        inner.forward = Some(forward);
        self.memory(&inner)
    }

    /// The memory as it is now, for the next start after a clean stop.
    pub fn snapshot(&self) -> ReplayMemory {
        self.memory(&lock(&self.inner))
    }

    fn memory(&self, inner: &Inner) -> ReplayMemory {
        ReplayMemory {
            floor: inner.floor,
            salt: self.salt,
            entries: inner.order.iter().copied().collect(),
        }
    }

    /// Adds entries another process accepted (the one handing over).
    pub fn absorb(&self, entries: &[Entry]) {
        let mut inner = lock(&self.inner);
        for &(timestamp, key) in entries {
            if timestamp > inner.floor && inner.seen.insert(key) {
                inner.order.push_back((timestamp, key));
            }
        }
        self.keep_within_capacity(&mut inner);
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
        let key = self.key_of(id);
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
        if let Some(forward) = &inner.forward {
            let _ = forward.send((timestamp, key));
        }
        self.keep_within_capacity(&mut inner);
        Ok(())
    }

    /// Snowflakes are numbers; anything else is hashed with the node's salt.
    fn key_of(&self, id: &str) -> u64 {
        id.parse::<u64>().unwrap_or_else(|_| {
            let digest = Sha256::new()
                .chain_update(self.salt)
                .chain_update(id.as_bytes())
                .finalize();
            u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
        })
    }

    fn keep_within_capacity(&self, inner: &mut Inner) {
        while inner.order.len() > self.capacity {
            let Some((ts, old)) = inner.order.pop_front() else {
                break;
            };
            inner.seen.remove(&old);
            inner.floor = inner.floor.max(ts);
        }
    }

    pub fn remembered(&self) -> usize {
        lock(&self.inner).seen.len()
    }
}

impl ReplayMemory {
    /// `floor`, `salt`, then the entries, all little-endian: 16 bytes an
    /// entry (a full memory of 200,000 ids is 3.2 MB).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(24 + 16 * self.entries.len());
        bytes.extend_from_slice(&self.floor.to_le_bytes());
        bytes.extend_from_slice(&self.salt);
        bytes.extend_from_slice(&entries_to_bytes(&self.entries));
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ReplayMemory, MalformedMemory> {
        let malformed = || MalformedMemory(bytes.len());
        let (floor, rest) = bytes.split_first_chunk::<8>().ok_or_else(malformed)?;
        let (salt, rest) = rest.split_first_chunk::<16>().ok_or_else(malformed)?;
        Ok(ReplayMemory {
            floor: i64::from_le_bytes(*floor),
            salt: *salt,
            entries: entries_from_bytes(rest).ok_or_else(malformed)?,
        })
    }
}

/// Entries as bytes, 16 each (timestamp, key; little-endian).
pub fn entries_to_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 * entries.len());
    for (timestamp, key) in entries {
        bytes.extend_from_slice(&timestamp.to_le_bytes());
        bytes.extend_from_slice(&key.to_le_bytes());
    }
    bytes
}

/// [`entries_to_bytes`] read back; `None` unless a whole number of entries.
pub fn entries_from_bytes(bytes: &[u8]) -> Option<Vec<Entry>> {
    if !bytes.len().is_multiple_of(16) {
        return None;
    }
    let entries = bytes
        .chunks_exact(16)
        .map(|entry| {
            let (timestamp, key) = entry.split_at(8);
            (
                i64::from_le_bytes(timestamp.try_into().expect("8 bytes")),
                u64::from_le_bytes(key.try_into().expect("8 bytes")),
            )
        })
        .collect();
    Some(entries)
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

    #[test]
    fn a_handed_over_memory_refuses_what_the_old_process_accepted_before_and_after() {
        let old = ReplayGuard::new(Duration::from_secs(300), 1000, NOW - 60);
        old.remember("1", NOW - 10, NOW).unwrap();
        old.remember("event:ab", NOW - 10, NOW).unwrap();
        let (forward, mut forwarded) = tokio::sync::mpsc::unbounded_channel();
        let memory = old.hand_over(forward);
        let bytes = memory.to_bytes();
        assert_eq!(ReplayMemory::from_bytes(&bytes).unwrap(), memory);
        assert!(ReplayMemory::from_bytes(&bytes[..bytes.len() - 1]).is_err());

        let new = ReplayGuard::resume(Duration::from_secs(300), 1000, memory);
        // Signed after the old process started, before the new one did: fresh.
        assert_eq!(new.remember("2", NOW - 30, NOW), Ok(()));
        assert_eq!(new.remember("1", NOW - 10, NOW), Err(Refusal::Replayed));
        assert_eq!(
            new.remember("event:ab", NOW - 10, NOW),
            Err(Refusal::Replayed)
        );
        assert_eq!(new.check_time(NOW - 61, NOW), Err(Refusal::Stale));
        // An id the old process still accepts on an open connection.
        old.remember("3", NOW, NOW).unwrap();
        let late = forwarded.try_recv().unwrap();
        let bytes = entries_to_bytes(&[late]);
        new.absorb(&entries_from_bytes(&bytes).unwrap());
        assert_eq!(new.remember("3", NOW, NOW + 1), Err(Refusal::Replayed));
    }
}
