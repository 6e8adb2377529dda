//! Node statistics, counted with relaxed atomics and written to `_internal`
//! by the monitor.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one data node.
#[derive(Debug, Default)]
pub struct Stats {
    /// `/write` requests.
    pub write_req: AtomicU64,
    /// Points accepted by `/write`.
    pub points_written: AtomicU64,
    /// Points that failed.
    pub points_failed: AtomicU64,
    /// `/query` requests.
    pub query_req: AtomicU64,
    /// Remote shard writes received.
    pub remote_write_req: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
