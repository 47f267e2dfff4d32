//! Per-address budgets of rejected requests. Verifying a bad signature costs
//! CPU; a client that keeps sending them to one application is refused with
//! a cheap 429 for a while instead.
//!
//! Counted per (client address, application) on purpose: Discord calls
//! every tenant from the same few addresses, so a tenant with a wrong public
//! key (every request a 401) must not get Discord's address refused for its
//! neighbours.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::edge::ClientKey;
use crate::sync::lock;

const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked at most; past it new keys go uncounted (memory stays bounded).
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
struct Budget {
    window_start: Instant,
    count: u32,
    blocked_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Rejections {
    limit: u32,
    block: Duration,
    budgets: Mutex<HashMap<(ClientKey, Box<str>), Budget>>,
    refused: AtomicU64,
}

impl Rejections {
    pub fn new(limit: u32, block: Duration) -> Rejections {
        Rejections {
            limit,
            block,
            budgets: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        }
    }

    /// `Err(retry_after)` while `ip` is refused for `app`.
    pub fn check(&self, ip: IpAddr, app: &str, now: Instant) -> Result<(), Duration> {
        let budgets = lock(&self.budgets);
        let key = (ClientKey::of(ip), Box::<str>::from(app));
        match budgets.get(&key).and_then(|b| b.blocked_until) {
            Some(until) if until > now => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(until - now)
            }
            _ => Ok(()),
        }
    }

    /// Counts one rejected request; returns true when this one starts a block.
    pub fn reject(&self, ip: IpAddr, app: &str, now: Instant) -> bool {
        let mut budgets = lock(&self.budgets);
        let key = (ClientKey::of(ip), Box::<str>::from(app));
        if !budgets.contains_key(&key) && budgets.len() >= MAX_TRACKED {
            budgets.retain(|_, b| {
                now.duration_since(b.window_start) < WINDOW
                    || b.blocked_until.is_some_and(|t| t > now)
            });
            if budgets.len() >= MAX_TRACKED {
                return false;
            }
        }
        let budget = budgets.entry(key).or_insert(Budget {
            window_start: now,
            count: 0,
            blocked_until: None,
        });
        if now.duration_since(budget.window_start) >= WINDOW {
            budget.window_start = now;
            budget.count = 0;
        }
        budget.count = budget.count.saturating_add(1);
        if budget.count > self.limit && budget.blocked_until.is_none_or(|t| t <= now) {
            budget.blocked_until = Some(now + self.block);
            budget.window_start = now;
            budget.count = 0;
            return true;
        }
        false
    }

    /// Requests refused by a block since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_budget_is_blocked_for_that_app_only_then_let_back() {
        let rejections = Rejections::new(3, Duration::from_secs(60));
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        let now = Instant::now();
        for _ in 0..3 {
            assert!(!rejections.reject(ip, "1", now));
        }
        assert!(rejections.check(ip, "1", now).is_ok());
        assert!(rejections.reject(ip, "1", now), "the fourth starts a block");
        assert_eq!(rejections.check(ip, "1", now), Err(Duration::from_secs(60)));
        assert!(
            rejections.check(ip, "2", now).is_ok(),
            "other apps unaffected"
        );
        assert!(
            rejections.check(other, "1", now).is_ok(),
            "other clients unaffected"
        );
        assert!(rejections
            .check(ip, "1", now + Duration::from_secs(61))
            .is_ok());
        assert_eq!(rejections.refused(), 1);
    }

    #[test]
    fn the_budget_refills_each_minute() {
        let rejections = Rejections::new(2, Duration::from_secs(60));
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let now = Instant::now();
        rejections.reject(ip, "1", now);
        rejections.reject(ip, "1", now);
        let later = now + WINDOW;
        assert!(!rejections.reject(ip, "1", later), "a new window");
        rejections.reject(ip, "1", later);
        assert!(rejections.reject(ip, "1", later));
        assert!(rejections.check(ip, "1", later).is_err());
    }
}
