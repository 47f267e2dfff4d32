//! The global limit: a sliding log of one token's send times.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Sliding log of send times: no window of [`GLOBAL_WINDOW`] ever holds more
/// than [`GLOBAL_LIMIT`] requests.
#[derive(Debug)]
pub(crate) struct GlobalWindow {
    limit: usize,
    window: Duration,
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl GlobalWindow {
    pub fn new(limit: usize, window: Duration) -> GlobalWindow {
        GlobalWindow {
            limit,
            window,
            sent: VecDeque::with_capacity(limit),
            paused_until: None,
        }
    }

    /// How many requests may start now.
    pub fn available(&mut self, now: Instant) -> usize {
        while self.sent.front().is_some_and(|t| *t + self.window <= now) {
            self.sent.pop_front();
        }
        if self.paused_until.is_some_and(|t| t > now) {
            return 0;
        }
        self.limit - self.sent.len()
    }

    /// The earliest time a request could start (call after `available`).
    pub fn ready_at(&self, now: Instant) -> Instant {
        let window = match self.sent.front() {
            Some(first) if self.sent.len() >= self.limit => *first + self.window,
            _ => now,
        };
        window.max(self.paused_until.unwrap_or(now))
    }

    pub fn record(&mut self, now: Instant) {
        self.sent.push_back(now);
    }

    /// A global 429: nothing starts before `until`.
    pub fn pause(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |t| t.max(until)));
    }
}
