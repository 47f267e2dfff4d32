//! A bot's bounded event queue. Events are spread over lanes by channel (or
//! guild): one lane runs its events one after the other, so a channel's
//! events reach the bot in order (a message's CREATE before its DELETE),
//! while different channels run side by side. The queue is bounded in events
//! and bytes; when it fills, new events are dropped (typing, presence and
//! voice-state first, at half full) and counted, and the reader is never
//! made to wait: a slow bot must not cost its session its heartbeats.

use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::protocol::gateway::is_ephemeral;
use crate::sandbox;
use crate::sync::lock;

use super::ShardShared;

/// Lanes per bot: how many channels' events may run at once (the bot's
/// instances bound it further).
pub const LANES: usize = 8;
/// Events one bot may have waiting.
pub const MAX_EVENTS: usize = 1000;
/// Bytes of payload one bot may have waiting.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// One event waiting for the bot.
pub struct Queued {
    pub event: sandbox::Event,
    /// The shard it came on and that shard's session epoch, so finishing it
    /// moves the right watermark; `None` for the host's own notices.
    pub origin: Option<(Arc<ShardShared>, u64)>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("event", &self.event.name)
            .field("sequence", &self.event.sequence)
            .finish()
    }
}

impl Queued {
    fn bytes(&self) -> usize {
        self.event.data.len() + self.event.name.len()
    }
}

#[derive(Default)]
struct Lane {
    items: VecDeque<Queued>,
    /// A worker is draining this lane.
    running: bool,
}

pub struct EventQueue {
    lanes: Vec<Mutex<Lane>>,
    len: AtomicUsize,
    bytes: AtomicUsize,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            lanes: (0..LANES).map(|_| Mutex::default()).collect(),
            len: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }
}

/// The lane of a channel or guild id.
pub fn lane_of(key: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % LANES as u64) as usize
}

impl EventQueue {
    /// Queues `item` on `lane`. `Ok(true)`: the lane had no worker and the
    /// caller must start one; `Err(item)`: the queue is full, the event is
    /// dropped.
    pub fn push(&self, lane: usize, item: Queued) -> Result<bool, Queued> {
        let bytes = item.bytes();
        let (max_events, max_bytes) = if is_ephemeral(&item.event.name) {
            (MAX_EVENTS / 2, MAX_BYTES / 2)
        } else {
            (MAX_EVENTS, MAX_BYTES)
        };
        if self.len.load(Ordering::Relaxed) >= max_events
            || self.bytes.load(Ordering::Relaxed) + bytes > max_bytes
        {
            return Err(item);
        }
        self.len.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let mut lane = lock(&self.lanes[lane]);
        lane.items.push_back(item);
        Ok(!std::mem::replace(&mut lane.running, true))
    }

    /// Puts the host's notice at the front of `lane`, over the bounds (it
    /// is one small event, and it is why the bot learns of the drops).
    pub fn push_front(&self, lane: usize, item: Queued) -> bool {
        self.len.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(item.bytes(), Ordering::Relaxed);
        let mut lane = lock(&self.lanes[lane]);
        lane.items.push_front(item);
        !std::mem::replace(&mut lane.running, true)
    }

    /// The next event of `lane`; `None` ends the lane's worker.
    pub fn pop(&self, lane: usize) -> Option<Queued> {
        let mut lane = lock(&self.lanes[lane]);
        let item = lane.items.pop_front();
        match &item {
            Some(item) => {
                self.len.fetch_sub(1, Ordering::Relaxed);
                self.bytes.fetch_sub(item.bytes(), Ordering::Relaxed);
            }
            None => lane.running = false,
        }
        item
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Takes every waiting event out (a bot stopped): they will not run.
    pub fn clear(&self) -> Vec<Queued> {
        let mut all = Vec::new();
        for lane in &self.lanes {
            let mut lane = lock(lane);
            all.extend(lane.items.drain(..));
        }
        self.len.fetch_sub(all.len(), Ordering::Relaxed);
        self.bytes
            .fetch_sub(all.iter().map(Queued::bytes).sum(), Ordering::Relaxed);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, size: usize) -> Queued {
        Queued {
            event: sandbox::Event {
                name: name.into(),
                data: vec![b'x'; size],
                shard: 0,
                sequence: 0,
            },
            origin: None,
        }
    }

    #[test]
    fn lanes_keep_order_and_the_queue_is_bounded_ephemeral_events_first() {
        let queue = EventQueue::default();
        assert!(queue.push(1, event("A", 1)).unwrap());
        assert!(!queue.push(1, event("B", 1)).unwrap());
        assert_eq!(queue.pop(1).unwrap().event.name, "A");
        assert_eq!(queue.pop(1).unwrap().event.name, "B");
        assert!(queue.pop(1).is_none());
        // The lane's worker ended: the next push starts one again.
        assert!(queue.push(1, event("C", 1)).unwrap());
        queue.clear();

        for _ in 0..MAX_EVENTS / 2 {
            queue
                .push(lane_of("c"), event("MESSAGE_CREATE", 1))
                .unwrap();
        }
        assert!(queue.push(0, event("TYPING_START", 1)).is_err());
        for _ in MAX_EVENTS / 2..MAX_EVENTS {
            queue
                .push(lane_of("c"), event("MESSAGE_CREATE", 1))
                .unwrap();
        }
        assert!(queue.push(0, event("MESSAGE_CREATE", 1)).is_err());
        assert_eq!(queue.len(), MAX_EVENTS);
        assert_eq!(queue.clear().len(), MAX_EVENTS);
        assert_eq!(queue.len(), 0);
        assert!(queue.push(0, event("BIG", MAX_BYTES + 1)).is_err());
    }
}
