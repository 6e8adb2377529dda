//! Anti-entropy (AE) and shard copies.
//!
//! InfluxDB Enterprise's anti-entropy service makes every data node hold
//! the shards the metastore says it owns, with the same points as the other
//! owners. It is off by default (`[anti-entropy] enabled = false` since
//! Enterprise 1.7.2) and, when on, wakes up every `check-interval`:
//!
//! CHECKING STATUS
//!
//! Each check (log line `Checking status`) walks the live shards this node
//! owns per its metastore view:
//!
//! - MISSING: owned, not on disk, and at least one other owner has it. With
//!   `auto-repair-missing` the shard is queued at once and copied from that
//!   owner (the same pull as `copy-shard`: the source's `BackupShard` stream
//!   imported here). A shard no owner has on disk is simply empty: nothing
//!   to copy (and RF 1 can never be repaired).
//! - INCONSISTENT: on disk here and on the shard's next owner (the owner
//!   after this node in the shard's owner list, wrapping). When either
//!   side's last-modified time changed since the last comparison, the two
//!   content digests are compared (the peer's through the `ShardDigest`
//!   RPC). Different digests flag the shard `diff`; nothing is changed: an
//!   operator runs `ctl entropy repair <id>`.
//! - HOT shards (written within `[data] cache-snapshot-write-cold-duration`,
//!   here or on the peer) are skipped and logged as `Skipped shards`.
//!
//! REPAIRS
//!
//! Copies and repairs go through one queue; at most `max-fetch` run at a
//! time. A repair makes the owners converge on the UNION of their points:
//! the repairing owner gathers every owner's per-key digests, reads the
//! points of the keys that differ from every owner, merges them (on one
//! time with different values the owner listed first in the metastore
//! wins) and sends each owner a patch of what it lacks as a TSM file
//! (`RestoreShard`; imported locally for itself). A repair requested for a
//! shard that is hot when its turn comes is ignored, as in Enterprise (the
//! remedy is `truncate-shards`, then repairing again). Digest comparisons
//! of one check run `max-sync` at a time.
//!
//! INTERFACES
//!
//! `GET /shard-status`, `GET /shard-repair/status[?local=true]`,
//! `POST /shard-repair/repair?id=N`, `POST /shard-repair/cancel-repair?id=N`
//! on the HTTP port, only when AE is enabled ([`http`]); the `ShardDigest`,
//! `CopyShard`, `CopyShardStatus`, `KillCopyShard`, `DeleteShard` and
//! `Entropy*` RPCs on the cluster port ([`rpc`]), which `ctl` uses.
//!
//! IMPLEMENTATION CAVEATS
//!
//! - The queue and the `diff` flags live in memory: a restart forgets them
//!   (the next checks find the same entropy again).
//! - One owner runs a whole repair (pull from all, push to all) instead of
//!   Enterprise's patch passed from owner to owner; the result is the same.
//! - A copy imports the source's points with "file wins" on equal (key,
//!   time): a write landing on this node during the copy for a time the
//!   source also holds can be overwritten by the source's older value.
//!
//! DEVIATIONS FROM INFLUXDB ENTERPRISE
//!
//! - Digests are exact per composite key (see `store::digest`), not
//!   Enterprise's per-time-range digests; the CPU-spike pathology of many
//!   time ranges does not exist here.

mod check;
mod copy;
mod error;
pub mod http;
mod merge;
mod peer;
mod repair;
pub mod rpc;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tracing::{Instrument, info, warn};

pub use check::{ShardVerdict, is_hot, next_owner};
pub use copy::{CopyTask, copy_shard};
pub use error::{EntropyError, Result};
pub use merge::{Column, plan_union};
pub use repair::{RepairOutcome, repair_shard};

use crate::config::AntiEntropySection;
use crate::node::Node;

/// What a queued job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Copy a missing shard from another owner.
    Copy,
    /// Make the owners converge on the union of their points.
    Repair,
}

/// A shard's AE state, as `/shard-status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardState {
    /// Nothing to do.
    Healthy,
    /// Missing here and queued for a copy.
    RestorePending,
    /// Being copied here.
    Restoring,
    /// Queued for or under repair.
    Repairing,
    /// The last copy or repair failed.
    ErrorProcessing,
}

impl ShardState {
    /// The name Enterprise uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ShardState::Healthy => "healthy",
            ShardState::RestorePending => "restore pending",
            ShardState::Restoring => "restoring",
            ShardState::Repairing => "repairing",
            ShardState::ErrorProcessing => "error processing",
        }
    }
}

/// What `kill-repair` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// Taken off the queue.
    Removed,
    /// Running: it cannot be stopped.
    Running,
    /// Not queued here.
    NotQueued,
}

/// The mutable part of the service.
#[derive(Debug, Default)]
struct State {
    /// Shards whose digest differs from the next owner's.
    diff: BTreeSet<u64>,
    /// The last failure of a copy or repair, per shard.
    errors: BTreeMap<u64, String>,
    /// Jobs waiting, in order.
    queue: VecDeque<(u64, JobKind)>,
    /// Jobs running.
    processing: BTreeMap<u64, JobKind>,
    /// (local, peer) last-modified times of the last digest comparison.
    compared: HashMap<u64, (i64, i64)>,
}

/// One node's anti-entropy service and shard-copy registry.
#[derive(Debug)]
pub struct Service {
    /// `[anti-entropy]` in force.
    config: AntiEntropySection,
    /// `[data] cache-snapshot-write-cold-duration`.
    cold: Duration,
    /// Queue and flags (never held across an await).
    state: Mutex<State>,
    /// Wakes the worker: a job was queued or finished.
    wake: Notify,
    /// Copies running onto this node.
    copies: copy::Copies,
}

impl Service {
    fn new(node: &Node) -> Service {
        Service {
            config: node.config.anti_entropy.clone(),
            cold: node.config.data.cache_snapshot_write_cold_duration,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            copies: copy::Copies::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `[anti-entropy] enabled`.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The hot/cold threshold.
    pub fn cold_duration(&self) -> Duration {
        self.cold
    }

    /// Queues a job unless the shard already has one queued or running.
    /// Returns whether it was queued.
    pub fn enqueue(&self, shard: u64, kind: JobKind) -> bool {
        let mut st = self.lock();
        if st.processing.contains_key(&shard) || st.queue.iter().any(|(id, _)| *id == shard) {
            return false;
        }
        st.queue.push_back((shard, kind));
        drop(st);
        self.wake.notify_one();
        true
    }

    /// Takes a shard off the queue (`kill-repair`).
    pub fn kill(&self, shard: u64) -> KillOutcome {
        let mut st = self.lock();
        if st.processing.contains_key(&shard) {
            return KillOutcome::Running;
        }
        let before = st.queue.len();
        st.queue.retain(|(id, _)| *id != shard);
        if st.queue.len() < before { KillOutcome::Removed } else { KillOutcome::NotQueued }
    }

    /// Shards flagged `diff`, queued shards (in order) and running ones.
    pub fn snapshot(&self) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
        let st = self.lock();
        (
            st.diff.iter().copied().collect(),
            st.queue.iter().map(|(id, _)| *id).collect(),
            st.processing.keys().copied().collect(),
        )
    }

    /// The AE state of one shard.
    pub fn state_of(&self, shard: u64) -> ShardState {
        let st = self.lock();
        let job = st
            .processing
            .get(&shard)
            .map(|k| (*k, true))
            .or_else(|| st.queue.iter().find(|(id, _)| *id == shard).map(|(_, k)| (*k, false)));
        match job {
            Some((JobKind::Copy, true)) => ShardState::Restoring,
            Some((JobKind::Copy, false)) => ShardState::RestorePending,
            Some((JobKind::Repair, _)) => ShardState::Repairing,
            None if st.errors.contains_key(&shard) => ShardState::ErrorProcessing,
            None => ShardState::Healthy,
        }
    }

    /// Forgets a shard's `diff` flag and comparison (another owner repaired it).
    pub fn resolved(&self, shard: u64) {
        let mut st = self.lock();
        st.diff.remove(&shard);
        st.errors.remove(&shard);
        st.compared.remove(&shard);
    }

    /// Copies running onto this node.
    pub fn copies(&self) -> Vec<CopyTask> {
        self.copies.list()
    }

    /// Asks a running copy of `shard` from `source` to stop.
    pub fn kill_copy(&self, source: &str, shard: u64) -> bool {
        self.copies.kill(source, shard)
    }

    /// Records a comparison result.
    fn record_comparison(&self, shard: u64, lms: (i64, i64), differs: bool) {
        let mut st = self.lock();
        st.compared.insert(shard, lms);
        if differs {
            st.diff.insert(shard);
        } else {
            st.diff.remove(&shard);
        }
    }

    /// The (local, peer) last-modified pair of the last comparison.
    fn last_compared(&self, shard: u64) -> Option<(i64, i64)> {
        self.lock().compared.get(&shard).copied()
    }

    /// Drops all state of shards this node no longer owns.
    fn retain_owned(&self, owned: &BTreeSet<u64>) {
        let mut st = self.lock();
        st.diff.retain(|id| owned.contains(id));
        st.errors.retain(|id, _| owned.contains(id));
        st.compared.retain(|id, _| owned.contains(id));
        st.queue.retain(|(id, _)| owned.contains(id));
    }

    /// Moves the next queued job to running.
    fn start_next(&self) -> Option<(u64, JobKind)> {
        let mut st = self.lock();
        let (id, kind) = st.queue.pop_front()?;
        st.processing.insert(id, kind);
        Some((id, kind))
    }

    /// Records the end of a job.
    fn finish(&self, shard: u64, result: std::result::Result<(), String>) {
        let mut st = self.lock();
        st.processing.remove(&shard);
        match result {
            Ok(()) => {
                st.errors.remove(&shard);
            }
            Err(e) => {
                st.errors.insert(shard, e);
            }
        }
    }
}

/// Services by node (the node struct is shared with other workers; the
/// service hangs off it here).
static SERVICES: Mutex<Vec<(Weak<Node>, Arc<Service>)>> = Mutex::new(Vec::new());

/// The anti-entropy service of `node` (created on first use; its worker
/// runs only after [`spawn`] with AE enabled).
pub fn service(node: &Arc<Node>) -> Arc<Service> {
    let mut list = SERVICES.lock().unwrap_or_else(PoisonError::into_inner);
    list.retain(|(w, _)| w.strong_count() > 0);
    if let Some((_, s)) = list.iter().find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(node))) {
        return s.clone();
    }
    let s = Arc::new(Service::new(node));
    list.push((Arc::downgrade(node), s.clone()));
    s
}

/// Starts the anti-entropy worker when `[anti-entropy] enabled`.
pub fn spawn(node: Arc<Node>) {
    let svc = service(&node);
    if !svc.enabled() {
        return;
    }
    info!(
        check_interval = ?svc.config.check_interval,
        max_fetch = svc.config.max_fetch,
        auto_repair_missing = svc.config.auto_repair_missing,
        "anti-entropy service enabled"
    );
    tokio::spawn(run(node, svc).in_current_span());
}

/// The worker: a check every `check-interval`, queued jobs as permits allow.
async fn run(node: Arc<Node>, svc: Arc<Service>) {
    let interval = svc.config.check_interval.max(Duration::from_millis(10));
    let permits = Arc::new(Semaphore::new(svc.config.max_fetch.max(1)));
    let mut next_check = tokio::time::Instant::now() + interval;
    loop {
        while let Ok(permit) = permits.clone().try_acquire_owned() {
            let Some((shard, kind)) = svc.start_next() else { break };
            let (node, svc) = (node.clone(), svc.clone());
            tokio::spawn(
                async move {
                    let res = run_job(&node, &svc, shard, kind).await;
                    svc.finish(shard, res);
                    drop(permit);
                    svc.wake.notify_one();
                }
                .in_current_span(),
            );
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next_check) => {
                check::run(&node, &svc).await;
                next_check = tokio::time::Instant::now() + interval;
            }
            _ = svc.wake.notified() => {}
        }
    }
}

/// Runs one job; the error text is what `/shard-status` reports.
async fn run_job(
    node: &Arc<Node>,
    svc: &Arc<Service>,
    shard: u64,
    kind: JobKind,
) -> std::result::Result<(), String> {
    match kind {
        JobKind::Copy => match check::repair_missing(node, svc, shard).await {
            Ok(Some(source)) => {
                info!(shard, source = %source, "copied missing shard");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                warn!(shard, error = %e, "copying missing shard failed");
                Err(e.to_string())
            }
        },
        JobKind::Repair => match repair_shard(node, svc, shard).await {
            Ok(RepairOutcome::Converged { patched_points }) => {
                info!(shard, patched_points, "repaired shard");
                svc.resolved(shard);
                repair::announce_resolved(node, shard).await;
                Ok(())
            }
            Ok(RepairOutcome::Hot) => {
                info!(shards = ?[shard], reason = "hot", "Skipped shards");
                Ok(())
            }
            Err(e) => {
                warn!(shard, error = %e, "repairing shard failed");
                Err(e.to_string())
            }
        },
    }
}

/// Wall-clock ns.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
