//! The invalid-request guard. Discord bans a whole IP address for a while
//! after 10,000 invalid requests (401, 403, and 429 other than
//! `X-RateLimit-Scope: shared`) in 10 minutes; on a shared node that would
//! silence every tenant. So a token Discord answered 401 is not used again
//! until it is reset, a token that collects 403s pauses for a cool-down, and
//! the node as a whole stops well short of the ban.
//!
//! See: <https://discord.com/developers/docs/topics/rate-limits#invalid-request-limit-aka-cloudflare-bans>

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::discord::{Error, TokenStatus};

/// Discord's window for invalid requests.
pub(crate) const INVALID_WINDOW: Duration = Duration::from_secs(10 * 60);
/// The node refuses all requests past this many invalid ones per window
/// (Discord bans at 10,000).
pub(crate) const NODE_INVALID_BUDGET: u64 = 5_000;
/// 403s per token within [`FORBIDDEN_WINDOW`] that trip its breaker...
pub(crate) const FORBIDDEN_THRESHOLD: u64 = 10;
pub(crate) const FORBIDDEN_WINDOW: Duration = Duration::from_secs(60);
/// ...for this long.
pub(crate) const FORBIDDEN_COOL_DOWN: Duration = Duration::from_secs(60);

/// Events counted over a sliding window in coarse slots (1/60 of the window),
/// so memory stays constant however many events arrive.
#[derive(Debug)]
pub(crate) struct SlidingCount {
    origin: Instant,
    slot: Duration,
    slots: u64,
    counts: VecDeque<(u64, u64)>,
}

impl SlidingCount {
    pub fn new(window: Duration) -> SlidingCount {
        SlidingCount {
            origin: Instant::now(),
            slot: window / 60,
            slots: 60,
            counts: VecDeque::new(),
        }
    }

    fn index(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.slot.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    fn prune(&mut self, now: Instant) {
        let current = self.index(now);
        while self
            .counts
            .front()
            .is_some_and(|(index, _)| index + self.slots <= current)
        {
            self.counts.pop_front();
        }
    }

    pub fn add(&mut self, now: Instant) {
        self.prune(now);
        let current = self.index(now);
        match self.counts.back_mut() {
            Some((index, count)) if *index == current => *count += 1,
            _ => self.counts.push_back((current, 1)),
        }
    }

    pub fn total(&mut self, now: Instant) -> u64 {
        self.prune(now);
        self.counts.iter().map(|(_, count)| count).sum()
    }

    /// When the oldest counted slot leaves the window.
    pub fn oldest_expires_in(&self, now: Instant) -> Duration {
        let Some((index, _)) = self.counts.front() else {
            return Duration::ZERO;
        };
        let expiry =
            self.origin + self.slot * u32::try_from(index + self.slots).unwrap_or(u32::MAX);
        expiry.saturating_duration_since(now)
    }
}

/// What the guard knows about one token.
#[derive(Debug)]
pub(crate) struct TokenStanding {
    revoked: bool,
    forbidden: SlidingCount,
    invalid: SlidingCount,
    paused_until: Option<Instant>,
    requests: u64,
    rate_limited: u64,
}

impl Default for TokenStanding {
    fn default() -> TokenStanding {
        TokenStanding {
            revoked: false,
            forbidden: SlidingCount::new(FORBIDDEN_WINDOW),
            invalid: SlidingCount::new(INVALID_WINDOW),
            paused_until: None,
            requests: 0,
            rate_limited: 0,
        }
    }
}

impl TokenStanding {
    /// Whether a request may be sent on behalf of this token; `authorized`
    /// is false for webhook routes, which do not carry the token.
    pub fn admit(&mut self, authorized: bool, now: Instant) -> Result<(), Error> {
        if self.revoked && authorized {
            return Err(Error::TokenRevoked);
        }
        if let Some(until) = self.paused_until.filter(|t| *t > now) {
            return Err(Error::TooManyForbidden {
                retry_after: until - now,
                count: self.forbidden.total(now),
            });
        }
        Ok(())
    }

    pub fn sent(&mut self) {
        self.requests += 1;
    }

    /// Discord refused the token on another path (the gateway): nothing more
    /// is sent with it until it is reset.
    pub fn revoke(&mut self) {
        self.revoked = true;
    }

    pub fn unauthorized(&mut self, now: Instant) {
        self.revoked = true;
        self.invalid.add(now);
    }

    /// Counts a 403; returns true if this one trips the breaker.
    pub fn forbidden(&mut self, now: Instant) -> bool {
        self.invalid.add(now);
        self.forbidden.add(now);
        let tripped = self.forbidden.total(now) >= FORBIDDEN_THRESHOLD
            && self.paused_until.is_none_or(|t| t <= now);
        if tripped {
            self.paused_until = Some(now + FORBIDDEN_COOL_DOWN);
        }
        tripped
    }

    pub fn rate_limited(&mut self, shared: bool, now: Instant) {
        self.rate_limited += 1;
        if !shared {
            self.invalid.add(now);
        }
    }

    pub fn status(&mut self, now: Instant) -> TokenStatus {
        TokenStatus {
            revoked: self.revoked,
            paused_for: self.paused_until.filter(|t| *t > now).map(|t| t - now),
            invalid_requests_10min: self.invalid.total(now),
            forbidden_60s: self.forbidden.total(now),
            requests: self.requests,
            rate_limited: self.rate_limited,
        }
    }
}

/// Node-wide state: the IP address is what Discord bans.
#[derive(Debug)]
pub(crate) struct NodeGuard {
    invalid: SlidingCount,
    /// Set by a 429 from Discord's edge (Cloudflare), which bans the IP.
    paused_until: Option<Instant>,
}

impl Default for NodeGuard {
    fn default() -> NodeGuard {
        NodeGuard {
            invalid: SlidingCount::new(INVALID_WINDOW),
            paused_until: None,
        }
    }
}

impl NodeGuard {
    /// How long requests must wait before they may be sent, if at all.
    pub fn admit(&mut self, now: Instant) -> Result<Option<Instant>, Error> {
        if self.invalid.total(now) >= NODE_INVALID_BUDGET {
            return Err(Error::NodePaused {
                retry_after: self.invalid.oldest_expires_in(now),
            });
        }
        Ok(self.paused_until.filter(|t| *t > now))
    }

    pub fn invalid(&mut self, now: Instant) {
        self.invalid.add(now);
    }

    /// Invalid requests in the current window.
    pub fn invalid_requests(&mut self, now: Instant) -> u64 {
        self.invalid.total(now)
    }

    pub fn pause(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sliding_count_forgets_old_events() {
        let start = Instant::now();
        let mut count = SlidingCount::new(Duration::from_secs(60));
        for second in 0..30 {
            count.add(start + Duration::from_secs(second));
        }
        assert_eq!(count.total(start + Duration::from_secs(30)), 30);
        // (15 s, 75 s] holds the events at 16..=29 s.
        assert_eq!(count.total(start + Duration::from_secs(75)), 14);
        assert_eq!(count.total(start + Duration::from_secs(200)), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn ten_403s_in_a_minute_pause_the_token() {
        let start = Instant::now();
        let mut health = TokenStanding::default();
        for i in 0..9 {
            assert!(!health.forbidden(start + Duration::from_secs(i)));
        }
        assert!(health.admit(true, start + Duration::from_secs(9)).is_ok());
        let tripped_at = start + Duration::from_secs(9);
        assert!(health.forbidden(tripped_at));
        let err = health.admit(false, tripped_at).unwrap_err();
        assert!(
            matches!(err, Error::TooManyForbidden { retry_after, count: 10 } if retry_after == FORBIDDEN_COOL_DOWN),
            "{err:?}"
        );
        let status = health.status(tripped_at);
        assert_eq!(status.forbidden_60s, 10);
        assert_eq!(status.invalid_requests_10min, 10);
        assert_eq!(status.paused_for, Some(FORBIDDEN_COOL_DOWN));
        assert!(health.admit(true, tripped_at + FORBIDDEN_COOL_DOWN).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_401_revokes_only_authorized_requests() {
        let now = Instant::now();
        let mut health = TokenStanding::default();
        health.unauthorized(now);
        assert!(matches!(health.admit(true, now), Err(Error::TokenRevoked)));
        assert!(
            health.admit(false, now).is_ok(),
            "webhook routes carry no token"
        );
        health.rate_limited(true, now);
        assert_eq!(
            health.status(now).invalid_requests_10min,
            1,
            "shared 429s are not ours"
        );
        health.rate_limited(false, now);
        assert_eq!(health.status(now).invalid_requests_10min, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn node_stops_short_of_the_ip_ban() {
        let now = Instant::now();
        let mut node = NodeGuard::default();
        for _ in 0..NODE_INVALID_BUDGET - 1 {
            node.invalid(now);
        }
        assert!(matches!(node.admit(now), Ok(None)));
        node.invalid(now);
        assert!(
            matches!(node.admit(now), Err(Error::NodePaused { retry_after }) if retry_after == INVALID_WINDOW)
        );
        node.pause(now + INVALID_WINDOW * 2);
        let later = now + INVALID_WINDOW + Duration::from_secs(1);
        assert_eq!(node.admit(later).unwrap(), Some(now + INVALID_WINDOW * 2));
    }
}
