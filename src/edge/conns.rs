//! Caps on open connections: node-wide (back-pressure: the accept loop
//! waits for a free slot) and per client address (extra connections are
//! closed as soon as they are accepted).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::edge::ClientKey;
use crate::sync::lock;

#[derive(Debug)]
pub struct ConnGuard {
    slots: Arc<Semaphore>,
    per_client: Mutex<HashMap<ClientKey, usize>>,
    max_per_client: usize,
    refused: AtomicU64,
}

/// A connection's hold on its slots; dropping it frees them.
#[derive(Debug)]
pub struct ConnSlot {
    guard: Arc<ConnGuard>,
    client: ClientKey,
    _slot: OwnedSemaphorePermit,
}

impl ConnGuard {
    pub fn new(max_connections: usize, max_per_client: usize) -> Arc<ConnGuard> {
        Arc::new(ConnGuard {
            slots: Arc::new(Semaphore::new(max_connections)),
            per_client: Mutex::new(HashMap::new()),
            max_per_client,
            refused: AtomicU64::new(0),
        })
    }

    /// Waits until the node may hold one more connection.
    pub async fn free_slot(&self) -> OwnedSemaphorePermit {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// Counts a new connection from `ip`, or refuses it if that client
    /// already holds its share.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, slot: OwnedSemaphorePermit) -> Option<ConnSlot> {
        let client = ClientKey::of(ip);
        let mut counts = lock(&self.per_client);
        let count = counts.entry(client).or_insert(0);
        if *count >= self.max_per_client {
            drop(counts);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *count += 1;
        Some(ConnSlot {
            guard: self.clone(),
            client,
            _slot: slot,
        })
    }

    /// Connections refused by the per-client cap since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        let counts = lock(&self.per_client);
        counts.values().sum()
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.guard.per_client);
        if let Some(count) = counts.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn per_client_cap_refuses_and_frees_on_drop() {
        let guard = ConnGuard::new(10, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let a = guard.admit(ip, guard.free_slot().await).unwrap();
        let _b = guard.admit(ip, guard.free_slot().await).unwrap();
        assert!(guard.admit(ip, guard.free_slot().await).is_none());
        assert!(guard.admit(other, guard.free_slot().await).is_some());
        assert_eq!(guard.refused(), 1);
        drop(a);
        assert!(guard.admit(ip, guard.free_slot().await).is_some());
    }

    #[tokio::test]
    async fn the_node_wide_cap_makes_the_accept_loop_wait() {
        let guard = ConnGuard::new(1, 5);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let held = guard.admit(ip, guard.free_slot().await).unwrap();
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), guard.free_slot());
        assert!(
            waiting.await.is_err(),
            "no slot while one connection is open"
        );
        drop(held);
        let _next = guard.free_slot().await;
    }
}
