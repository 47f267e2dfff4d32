//! Parked instances: each bot version's idle instances, and the node-wide
//! list that lets a bot evict another bot's least recently used one when the
//! instance pool is full.

use std::sync::{Arc, Mutex, Weak};

use super::bot::Instance;
use crate::sync::lock;

/// One bot version's instances parked between events.
pub(super) type IdlePool = Mutex<Vec<Instance>>;

/// Every bot's parked instances, so that when the node-wide instance pool is
/// full, a bot that needs an instance can free the node's least recently
/// used parked one instead of failing: idle instances are a cache, and one
/// tenant's cache must never lock another tenant out.
#[derive(Default)]
pub(super) struct Parked(Mutex<ParkedPools>);

#[derive(Default)]
struct ParkedPools {
    pools: Vec<Weak<IdlePool>>,
    /// Dead entries are swept when the list reaches this length, so
    /// registering is amortized O(1) (10,000 bots start without 50 M checks).
    sweep_at: usize,
}

impl Parked {
    pub(super) fn register(&self, pool: &Arc<IdlePool>) {
        let mut parked = lock(&self.0);
        if parked.pools.len() >= parked.sweep_at {
            parked.pools.retain(|pool| pool.strong_count() > 0);
            parked.sweep_at = (parked.pools.len() * 2).max(64);
        }
        parked.pools.push(Arc::downgrade(pool));
    }

    /// Drops the least recently used parked instance of any bot; false when
    /// nothing is parked.
    pub(super) fn evict_least_recently_used(&self) -> bool {
        let pools: Vec<Arc<IdlePool>> = lock(&self.0)
            .pools
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let oldest = pools
            .iter()
            .filter_map(|pool| {
                let idle = lock(pool);
                idle.iter().map(|i| i.last_used).min().map(|at| (at, pool))
            })
            .min_by_key(|(at, _)| *at);
        let Some((_, pool)) = oldest else {
            return false;
        };
        let evicted = {
            let mut idle = lock(pool);
            let index = (0..idle.len()).min_by_key(|&i| idle[i].last_used);
            index.map(|i| idle.swap_remove(i))
        };
        // Counted against the bot that lost its warm instance; dropped
        // outside the lock: it returns the slot to the pool.
        if let Some(instance) = &evicted {
            instance.counters().evicted("pool_full", 1);
        }
        evicted.is_some()
    }
}

/// Whether instantiation failed only because the node's pool is full.
pub(super) fn pool_is_full(err: &wasmtime::Error) -> bool {
    err.chain()
        .any(|cause| cause.is::<wasmtime::PoolConcurrencyLimitError>())
}

/// Parked instances a bot may evict in a row to make room for one of its own
/// (an instance can hold several pool slots: memories, tables, core instances).
pub(super) const MAX_EVICTIONS_PER_INSTANTIATION: usize = 16;
