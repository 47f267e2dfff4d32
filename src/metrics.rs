//! The node's own counters for `/metrics`, kept where the figures happen.
//!
//! Every figure here is an atomic (or a [`Histogram`] of atomics): counting
//! an interaction takes no lock. A bot's counters live in its `BotEnv`,
//! shared by every version of the bot, so a redeploy never sends a counter
//! back, and a removed bot's series go with it. Labels are the bot's name
//! and the small fixed lists below, never anything per interaction, so the
//! number of series stays bounded. The admin API turns them into the
//! Prometheus exposition (`admin::metrics`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::histogram::Histogram;

/// Every outcome an interaction or event can have, as
/// `appliance_interactions_total` labels it: answered, turned away by the
/// bot's health, an event's fate, or one of the labels of the sandbox's
/// `InvokeError`. An outcome missing from the list is counted as `other`.
pub const OUTCOMES: [&str; 19] = [
    "ok",
    "event_ok",
    "event_failed",
    "event_dropped",
    "backing_off",
    "quarantined",
    "out_of_fuel",
    "timeout",
    "memory",
    "stack_overflow",
    "resources",
    "trap",
    "guest_error",
    "response_too_large",
    "busy",
    "host_error",
    "node_full",
    "removed",
    "other",
];

/// What the bot was asked to handle: Discord's interaction types by name,
/// and `event` for gateway and webhook events.
pub const KINDS: [&str; 6] = [
    "command",
    "component",
    "autocomplete",
    "modal",
    "event",
    "other",
];

/// The `type` label of an interaction of Discord's `type`.
pub fn kind_of(interaction_type: u8) -> Kind {
    Kind(match interaction_type {
        2 => 0,
        3 => 1,
        4 => 2,
        5 => 3,
        _ => 5,
    })
}

/// An index into [`KINDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind(usize);

impl Kind {
    pub const EVENT: Kind = Kind(4);
}

/// What became of an answer delivered after the initial response.
pub const LATE_RESULTS: [&str; 3] = ["delivered", "failed", "dropped"];

/// The `kv` import's calls.
pub const KV_OPS: [&str; 4] = ["get", "set", "delete", "list_keys"];

/// Why a parked instance was dropped: unused past the idle timeout, or
/// taken for another bot when the node's instance pool was full.
pub const EVICTIONS: [&str; 2] = ["idle", "pool_full"];

/// Why a public request was turned away (`ingress`'s rejection labels).
pub const REJECTIONS: [&str; 11] = [
    "client_blocked",
    "unknown_app",
    "bad_signature",
    "stale_timestamp",
    "replayed",
    "body_too_large",
    "body_timed_out",
    "body_unreadable",
    "not_an_interaction",
    "not_an_event",
    "other",
];

fn index_of(list: &[&str], label: &str) -> usize {
    // The last entry of every list is the catch-all.
    list.iter()
        .position(|known| *known == label)
        .unwrap_or(list.len() - 1)
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Pairs of label and count, leaving out what never happened.
fn nonzero<'a>(
    labels: &'a [&'static str],
    counts: &'a [AtomicU64],
) -> impl Iterator<Item = (&'static str, u64)> + 'a {
    labels
        .iter()
        .zip(counts)
        .map(|(label, n)| (*label, n.load(Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
}

/// One bot's figures, shared by all its versions.
#[derive(Debug, Default)]
pub struct BotCounters {
    outcomes: [[AtomicU64; OUTCOMES.len()]; KINDS.len()],
    crashes: [AtomicU64; OUTCOMES.len()],
    deferrals: AtomicU64,
    late: [AtomicU64; LATE_RESULTS.len()],
    fuel_used: AtomicU64,
    kv_ops: [AtomicU64; KV_OPS.len()],
    kv_bytes_read: AtomicU64,
    kv_bytes_written: AtomicU64,
    log_bytes_dropped: AtomicU64,
    evictions: [AtomicU64; EVICTIONS.len()],
    /// From the request's arrival to its HTTP answer (the bot's, a notice,
    /// or the deferral): what Discord waits for, less the network.
    pub latency: Histogram,
    /// The sandbox call alone: waiting for a place, an instance, the guest.
    pub run_latency: Histogram,
}

impl BotCounters {
    pub fn count(&self, kind: Kind, outcome: &str) {
        add(&self.outcomes[kind.0][index_of(&OUTCOMES, outcome)], 1);
    }

    /// A crash (an instance discarded), by the sandbox's label for it.
    pub fn crash(&self, reason: &str) {
        add(&self.crashes[index_of(&OUTCOMES, reason)], 1);
    }

    pub fn deferred(&self) {
        add(&self.deferrals, 1);
    }

    /// `result` is one of [`LATE_RESULTS`].
    pub fn late(&self, result: &str) {
        add(&self.late[index_of(&LATE_RESULTS, result)], 1);
    }

    pub fn fuel_used(&self, fuel: u64) {
        add(&self.fuel_used, fuel);
    }

    /// One `kv` call (`op` is one of [`KV_OPS`]) and the value bytes it
    /// read or wrote.
    pub fn kv(&self, op: &str, read: usize, written: usize) {
        add(&self.kv_ops[index_of(&KV_OPS, op)], 1);
        if read > 0 {
            add(&self.kv_bytes_read, read as u64);
        }
        if written > 0 {
            add(&self.kv_bytes_written, written as u64);
        }
    }

    /// Log bytes not stored: over the bot's per-minute budget.
    pub fn log_bytes_dropped(&self, bytes: usize) {
        add(&self.log_bytes_dropped, bytes as u64);
    }

    /// `reason` is one of [`EVICTIONS`].
    pub fn evicted(&self, reason: &str, instances: usize) {
        add(
            &self.evictions[index_of(&EVICTIONS, reason)],
            instances as u64,
        );
    }

    /// `(type, outcome, count)` for every pair that happened.
    pub fn outcomes(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        KINDS.iter().zip(&self.outcomes).flat_map(|(kind, row)| {
            nonzero(&OUTCOMES, row).map(move |(outcome, n)| (*kind, outcome, n))
        })
    }

    pub fn crashes(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        nonzero(&OUTCOMES, &self.crashes)
    }

    pub fn deferrals(&self) -> u64 {
        self.deferrals.load(Ordering::Relaxed)
    }

    pub fn late_deliveries(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        nonzero(&LATE_RESULTS, &self.late)
    }

    pub fn fuel(&self) -> u64 {
        self.fuel_used.load(Ordering::Relaxed)
    }

    pub fn kv_operations(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        nonzero(&KV_OPS, &self.kv_ops)
    }

    /// `(bytes read, bytes written)` by `kv` calls.
    pub fn kv_bytes(&self) -> (u64, u64) {
        (
            self.kv_bytes_read.load(Ordering::Relaxed),
            self.kv_bytes_written.load(Ordering::Relaxed),
        )
    }

    pub fn dropped_log_bytes(&self) -> u64 {
        self.log_bytes_dropped.load(Ordering::Relaxed)
    }

    pub fn evictions(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        nonzero(&EVICTIONS, &self.evictions)
    }
}

/// The public listener's connections and TLS handshakes.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    accepted: AtomicU64,
    /// Refused by the per-address cap right after accepting.
    refused: AtomicU64,
    open: AtomicI64,
    handshakes: AtomicU64,
    handshake_failures: AtomicU64,
    handshake_timeouts: AtomicU64,
}

/// What became of one TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    Completed,
    Failed,
    TimedOut,
}

impl ListenerCounters {
    pub fn refused(&self) {
        add(&self.refused, 1);
    }

    pub fn handshake(&self, result: Handshake) {
        add(
            match result {
                Handshake::Completed => &self.handshakes,
                Handshake::Failed => &self.handshake_failures,
                Handshake::TimedOut => &self.handshake_timeouts,
            },
            1,
        );
    }

    /// `(accepted, refused, open)`.
    pub fn connections(&self) -> (u64, u64, i64) {
        (
            self.accepted.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.open.load(Ordering::Relaxed).max(0),
        )
    }

    /// `(completed, failed, timed out)`.
    pub fn handshakes(&self) -> (u64, u64, u64) {
        (
            self.handshakes.load(Ordering::Relaxed),
            self.handshake_failures.load(Ordering::Relaxed),
            self.handshake_timeouts.load(Ordering::Relaxed),
        )
    }
}

/// The node-wide figures the listeners count.
#[derive(Debug, Default)]
pub struct Metrics {
    rejected: [AtomicU64; REJECTIONS.len()],
    pub listener: ListenerCounters,
}

/// An accepted connection, counted open until it is dropped.
#[derive(Debug)]
pub struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.listener.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// A connection the public listener accepted and admitted.
    pub fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        add(&self.listener.accepted, 1);
        self.listener.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    /// A public request turned away before reaching a bot.
    pub fn rejected(&self, reason: &str) {
        add(&self.rejected[index_of(&REJECTIONS, reason)], 1);
    }

    pub fn rejections(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        nonzero(&REJECTIONS, &self.rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_kept_by_type_and_outcome_and_unknown_labels_are_other() {
        let counters = BotCounters::default();
        counters.count(kind_of(2), "ok");
        counters.count(kind_of(2), "ok");
        counters.count(Kind::EVENT, "event_ok");
        counters.count(kind_of(99), "no such outcome");
        let counted: Vec<_> = counters.outcomes().collect();
        assert_eq!(
            counted,
            [
                ("command", "ok", 2),
                ("event", "event_ok", 1),
                ("other", "other", 1)
            ]
        );
    }

    #[test]
    fn every_list_ends_in_its_catch_all() {
        for list in [&OUTCOMES[..], &KINDS[..], &REJECTIONS[..]] {
            assert_eq!(list.last(), Some(&"other"));
        }
    }
}
