//! One Discord bucket's bookkeeping: capacity from the last answer minus the
//! requests in flight, its reset, and a block after a 429.

use tokio::time::Instant;

use super::headers::RateLimitHeaders;

/// One limit: a Discord bucket (or a route whose bucket is not known yet)
/// for one major parameter.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    pub(super) limit: Option<u32>,
    pub(super) remaining: u32,
    pub(super) reset_at: Option<Instant>,
    /// Set by a 429 for this bucket.
    pub(super) blocked_until: Option<Instant>,
    pub(super) in_flight: u32,
    /// A request went unanswered outside a known window: we no longer know
    /// the count, so act as if the limit were unknown until the next answer.
    pub(super) stale: bool,
}

impl Bucket {
    pub(super) fn window_open(&self, now: Instant) -> bool {
        self.reset_at.is_some_and(|reset| now < reset)
    }

    /// How many more requests may start now.
    pub fn capacity(&self, now: Instant) -> u32 {
        if self.blocked_until.is_some_and(|t| t > now) {
            return 0;
        }
        match self.limit {
            Some(limit) if !self.stale => {
                let remaining = if self.window_open(now) {
                    self.remaining
                } else {
                    limit
                };
                remaining.saturating_sub(self.in_flight)
            }
            // Unknown limit: one at a time until an answer tells us.
            _ => u32::from(self.in_flight == 0),
        }
    }

    /// The earliest time the bucket can have capacity again, if time alone
    /// decides it (an empty window, a 429); `None` if it depends on answers
    /// to requests in flight.
    pub fn ready_at(&self, now: Instant) -> Option<Instant> {
        let blocked = self.blocked_until.filter(|t| *t > now);
        let exhausted = match self.limit {
            Some(_) if !self.stale && self.window_open(now) && self.remaining == 0 => self.reset_at,
            _ => None,
        };
        blocked.max(exhausted)
    }

    /// When to look again even without news: a window reset may free capacity.
    pub(super) fn wake_at(&self, now: Instant) -> Option<Instant> {
        self.ready_at(now).or(self.reset_at.filter(|t| *t > now))
    }

    pub(super) fn granted(&mut self) {
        self.in_flight += 1;
    }

    /// Takes in the headers of an answer received at `now`.
    pub fn update(&mut self, headers: &RateLimitHeaders, now: Instant) {
        let (Some(limit), Some(remaining), Some(reset_after)) =
            (headers.limit, headers.remaining, headers.reset_after)
        else {
            return;
        };
        let reset_at = now + reset_after;
        if self.limit.is_none() || self.stale || !self.window_open(now) {
            // First news of a new window.
            self.remaining = remaining;
            self.reset_at = Some(reset_at);
        } else {
            // Answers may arrive out of order: keep the most pessimistic view.
            self.remaining = self.remaining.min(remaining);
            self.reset_at = self.reset_at.max(Some(reset_at));
        }
        self.limit = Some(limit);
        self.stale = false;
    }

    /// A request that got no answer: assume Discord counted it.
    pub(super) fn lost(&mut self, now: Instant) {
        if self.limit.is_some() && !self.stale && self.window_open(now) {
            self.remaining = self.remaining.saturating_sub(1);
        } else if self.limit.is_some() {
            self.stale = true;
        }
    }

    pub(super) fn block(&mut self, until: Instant) {
        self.blocked_until = self.blocked_until.max(Some(until));
        self.remaining = 0;
    }

    pub(super) fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0 && self.ready_at(now).is_none() && !self.window_open(now)
    }
}
