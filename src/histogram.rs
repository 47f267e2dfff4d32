//! A latency histogram of atomics, for figures counted on hot paths: one
//! observation is two relaxed atomic adds, with no lock, so the interaction
//! path and the store's writer can record every event. Prometheus wants the
//! buckets cumulative; they are kept per bucket here and summed when read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds, from 100 µs (the host's own work on an
/// interaction) to 10 s (past Discord's 3 s deadline and the store's worst
/// fsync), roughly 1-2.5-5 per decade.
pub const BOUNDS_SECONDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The same bounds in whole microseconds, compared against on every observation.
const BOUNDS_MICROS: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// One count per bound, and a last one for everything above them.
    buckets: [AtomicU64; BOUNDS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

/// What a histogram held when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub sum_seconds: f64,
    pub count: u64,
    /// `(upper bound, observations in this bucket alone)`, the last bound
    /// being infinity: the shape `prometheus-client` encodes.
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let index = BOUNDS_MICROS.partition_point(|bound| *bound < micros);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let buckets: Vec<(f64, u64)> = BOUNDS_SECONDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        Snapshot {
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
        }
    }

    /// Whether anything was observed (a histogram never used is not shown).
    pub fn is_empty(&self) -> bool {
        self.buckets
            .iter()
            .all(|count| count.load(Ordering::Relaxed) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_bucket_of_their_upper_bound() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(100)); // on the bound: le="0.0001"
        histogram.observe(Duration::from_micros(101));
        histogram.observe(Duration::from_secs(60)); // above every bound: +Inf
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 3);
        assert_eq!(snapshot.buckets[0], (0.0001, 1));
        assert_eq!(snapshot.buckets[1], (0.00025, 1));
        assert_eq!(snapshot.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((snapshot.sum_seconds - 60.000201).abs() < 1e-9);
    }

    #[test]
    fn the_bounds_agree_in_both_units() {
        for (seconds, micros) in BOUNDS_SECONDS.iter().zip(BOUNDS_MICROS) {
            assert_eq!((seconds * 1e6).round() as u64, micros);
        }
    }
}
