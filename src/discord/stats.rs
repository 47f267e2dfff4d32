//! Node-wide figures of the REST client for `/metrics`: Discord's answers by
//! status, its 429s by scope, and the time requests waited for the rate
//! limits. Atomics, counted once per attempt; the per-token books stay in
//! `guard` and `ratelimit`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::discord::ratelimit::TooManyRequests;

/// Discord's answers, grouped so the series stay few: the statuses the
/// client treats differently by code, the rest by class, and `error` for
/// no answer at all (connection failed, timed out, answer too large).
pub const STATUSES: [&str; 10] = [
    "2xx", "3xx", "400", "401", "403", "404", "429", "4xx", "5xx", "error",
];

/// Whose limit a 429 was: one bucket's (`route`), the token's `global`
/// one, a `shared` resource's, or Discord's `edge` (Cloudflare), which
/// blocks the node's address.
pub const SCOPES: [&str; 4] = ["route", "global", "shared", "edge"];

/// Waits shorter than this are the limiter's bookkeeping, not a wait.
const WAIT_THRESHOLD: Duration = Duration::from_millis(1);

#[derive(Debug, Default)]
pub(crate) struct RestStats {
    answers: [AtomicU64; STATUSES.len()],
    too_many: [AtomicU64; SCOPES.len()],
    waits: AtomicU64,
    waited_micros: AtomicU64,
}

/// What the REST client counted, read at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestFigures {
    /// `(status, count)` for every group that happened.
    pub answers: Vec<(&'static str, u64)>,
    /// `(scope, count)` of 429s.
    pub too_many_requests: Vec<(&'static str, u64)>,
    /// Requests that waited for a rate limit or a pause before going out.
    pub waits: u64,
    pub waited_seconds: f64,
    /// Invalid requests (401, 403, non-shared 429) in Discord's 10-minute
    /// window, and the node's budget for them, past which it stops sending.
    pub invalid_requests_10min: u64,
    pub invalid_budget: u64,
}

impl RestStats {
    pub fn answered(&self, status: u16) {
        let group = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400 => "400",
            401 => "401",
            403 => "403",
            404 => "404",
            429 => "429",
            402 | 405..=428 | 430..=499 => "4xx",
            _ => "5xx",
        };
        self.count_answer(group);
    }

    /// An attempt that got no answer.
    pub fn failed(&self) {
        self.count_answer("error");
    }

    fn count_answer(&self, group: &str) {
        let index = STATUSES.iter().position(|s| *s == group).unwrap_or(0);
        self.answers[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn too_many_requests(&self, limit: &TooManyRequests) {
        let index = if limit.edge {
            3
        } else if limit.shared {
            2
        } else if limit.global {
            1
        } else {
            0
        };
        self.too_many[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Time an attempt spent in the guards and the limiter before it went out.
    pub fn waited(&self, waited: Duration) {
        if waited >= WAIT_THRESHOLD {
            self.waits.fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
            self.waited_micros.fetch_add(micros, Ordering::Relaxed);
        }
    }

    pub fn figures(&self, invalid_requests_10min: u64, invalid_budget: u64) -> RestFigures {
        let pairs = |labels: &[&'static str], counts: &[AtomicU64]| {
            labels
                .iter()
                .zip(counts)
                .map(|(label, n)| (*label, n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        RestFigures {
            answers: pairs(&STATUSES, &self.answers),
            too_many_requests: pairs(&SCOPES, &self.too_many),
            waits: self.waits.load(Ordering::Relaxed),
            waited_seconds: self.waited_micros.load(Ordering::Relaxed) as f64 / 1e6,
            invalid_requests_10min,
            invalid_budget,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_grouped_and_short_waits_are_not_waits() {
        let stats = RestStats::default();
        for status in [200, 204, 403, 418, 429, 502] {
            stats.answered(status);
        }
        stats.failed();
        stats.waited(Duration::from_micros(10));
        stats.waited(Duration::from_millis(250));
        let figures = stats.figures(3, 5_000);
        assert_eq!(
            figures.answers,
            [
                ("2xx", 2),
                ("403", 1),
                ("429", 1),
                ("4xx", 1),
                ("5xx", 1),
                ("error", 1)
            ]
        );
        assert_eq!(figures.waits, 1);
        assert!((figures.waited_seconds - 0.25).abs() < 1e-9);
    }
}
