//! The periodic status check: which owned shards are missing, hot, or
//! differ from their next owner. [`classify`] is the pure decision; [`run`]
//! gathers the facts (the metastore view, the peers' local shard lists,
//! digests) and acts on it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tracing::{debug, info};

use super::error::{EntropyError, Result};
use super::{JobKind, Service, copy, now_ns, peer};
use crate::node::Node;

/// Whether a shard last modified at `last_modified` (wall-clock ns, 0 for
/// never) is hot at `now`: written within the cold duration.
pub fn is_hot(last_modified: i64, now: i64, cold: Duration) -> bool {
    let cold = i64::try_from(cold.as_nanos()).unwrap_or(i64::MAX);
    last_modified > 0 && now.saturating_sub(last_modified) < cold
}

/// The owner after `me` in `owners` (wrapping), if there is another one.
pub fn next_owner(owners: &[u64], me: u64) -> Option<u64> {
    let i = owners.iter().position(|o| *o == me)?;
    let next = owners[(i + 1) % owners.len()];
    (next != me).then_some(next)
}

/// What a check decides for one shard this node owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardVerdict {
    /// Not on disk here; these other owners have it.
    Missing {
        /// Owners holding it, in owner order.
        sources: Vec<u64>,
    },
    /// Not on disk here nor on any reachable owner: nothing to copy.
    Absent,
    /// Written within the cold duration, here or on the next owner.
    Hot,
    /// Compare digests with the next owner.
    Compare {
        /// The next owner.
        peer: u64,
        /// (local, peer) last-modified times.
        last_modified: (i64, i64),
    },
    /// Nothing changed since the last comparison, or nothing to compare
    /// with (no other owner, unreachable, or it lacks the shard).
    Unchanged,
}

/// The facts [`classify`] decides on.
#[derive(Debug, Clone)]
pub struct ShardFacts<'a> {
    /// The shard.
    pub shard: u64,
    /// This node.
    pub me: u64,
    /// The shard's owners in metastore order.
    pub owners: &'a [u64],
    /// Last-modified time of the local copy; `None` when not on disk.
    pub local: Option<i64>,
    /// Reachable peers: node → (shard on its disk → last modified).
    pub peers: &'a HashMap<u64, HashMap<u64, i64>>,
    /// The (local, peer) times of the last comparison.
    pub last_compared: Option<(i64, i64)>,
    /// Wall-clock ns.
    pub now: i64,
    /// `cache-snapshot-write-cold-duration`.
    pub cold: Duration,
}

/// Decides what to do with one owned shard.
pub fn classify(f: &ShardFacts<'_>) -> ShardVerdict {
    let Some(local) = f.local else {
        let sources: Vec<u64> = f
            .owners
            .iter()
            .copied()
            .filter(|o| *o != f.me)
            .filter(|o| f.peers.get(o).is_some_and(|s| s.contains_key(&f.shard)))
            .collect();
        return if sources.is_empty() {
            ShardVerdict::Absent
        } else {
            ShardVerdict::Missing { sources }
        };
    };
    if is_hot(local, f.now, f.cold) {
        return ShardVerdict::Hot;
    }
    let Some(peer) = next_owner(f.owners, f.me) else { return ShardVerdict::Unchanged };
    let Some(peer_lm) = f.peers.get(&peer).and_then(|s| s.get(&f.shard)).copied() else {
        return ShardVerdict::Unchanged;
    };
    if is_hot(peer_lm, f.now, f.cold) {
        return ShardVerdict::Hot;
    }
    let last_modified = (local, peer_lm);
    if f.last_compared == Some(last_modified) {
        return ShardVerdict::Unchanged;
    }
    ShardVerdict::Compare { peer, last_modified }
}

/// One status check.
pub(super) async fn run(node: &Arc<Node>, svc: &Arc<Service>) {
    info!("Checking status");
    let me = node.id();
    let view = node.meta.view();
    if me == 0 || view.index == 0 {
        return;
    }
    let owned: Vec<(u64, Vec<u64>)> = view
        .shards()
        .filter(|s| s.group.deleted_at == 0 && s.owned_by(me))
        .map(|s| (s.shard.id, s.shard.owners.iter().map(|o| o.node_id).collect()))
        .collect();
    svc.retain_owned(&owned.iter().map(|(id, _)| *id).collect());
    let peer_ids: BTreeSet<u64> =
        owned.iter().flat_map(|(_, o)| o.iter().copied()).filter(|o| *o != me).collect();
    let lists = futures::future::join_all(peer_ids.iter().map(|id| {
        let addr = view.data_node_tcp(*id).map(str::to_string);
        async move {
            let addr = addr?;
            match peer::local_shards(node, &addr).await {
                Ok(r) => {
                    Some((*id, r.shards.into_iter().map(|s| (s.id, s.last_modified)).collect()))
                }
                Err(e) => {
                    debug!(peer = %addr, error = %e, "anti-entropy: peer unreachable");
                    None
                }
            }
        }
    }))
    .await;
    let peers: HashMap<u64, HashMap<u64, i64>> = lists.into_iter().flatten().collect();
    let now = now_ns();
    let mut skipped = Vec::new();
    let mut compares = Vec::new();
    for (shard, owners) in &owned {
        let facts = ShardFacts {
            shard: *shard,
            me,
            owners,
            local: node.store.shard(*shard).map(|s| s.last_modified()),
            peers: &peers,
            last_compared: svc.last_compared(*shard),
            now,
            cold: svc.cold,
        };
        match classify(&facts) {
            ShardVerdict::Missing { sources } => {
                if svc.config.auto_repair_missing && svc.enqueue(*shard, JobKind::Copy) {
                    info!(shard, ?sources, "missing shard queued for repair");
                }
            }
            ShardVerdict::Hot => skipped.push(*shard),
            ShardVerdict::Compare { peer, last_modified } => {
                if let Some(addr) = view.data_node_tcp(peer) {
                    compares.push((*shard, addr.to_string(), last_modified));
                }
            }
            ShardVerdict::Absent | ShardVerdict::Unchanged => {}
        }
    }
    futures::stream::iter(compares)
        .map(|(shard, addr, lms)| async move {
            if let Err(e) = compare(node, svc, shard, &addr, lms).await {
                debug!(shard, peer = %addr, error = %e, "anti-entropy: comparison failed");
            }
        })
        .buffer_unordered(svc.config.max_sync.max(1))
        .collect::<Vec<()>>()
        .await;
    if !skipped.is_empty() {
        info!(shards = ?skipped, reason = "hot", "Skipped shards");
    }
}

/// Compares the local digest of `shard` with the one of the owner at `addr`.
async fn compare(
    node: &Arc<Node>,
    svc: &Service,
    shard: u64,
    addr: &str,
    lms: (i64, i64),
) -> Result<()> {
    let Some(local) = node.store.shard(shard) else { return Ok(()) };
    let local_lm = local.last_modified();
    let ours = tokio::task::spawn_blocking(move || local.digest()).await??;
    let theirs = peer::digest(node, addr, shard, false).await?;
    if !theirs.exists {
        return Ok(());
    }
    let differs = ours.digest != theirs.digest;
    if differs && svc.last_compared(shard).is_none_or(|p| p != lms) {
        info!(shard, peer = %addr, "shard differs from its next owner");
    }
    svc.record_comparison(shard, (local_lm, theirs.last_modified), differs);
    Ok(())
}

/// Copies a missing shard from the first owner that has it. `Ok(None)`:
/// nothing to do (no longer owned, already here, or no owner has it).
pub(super) async fn repair_missing(
    node: &Arc<Node>,
    svc: &Service,
    shard: u64,
) -> Result<Option<String>> {
    let me = node.id();
    let view = node.meta.view();
    let sref = view.shard(shard).ok_or(EntropyError::ShardNotFound(shard))?;
    if !sref.owned_by(me) || node.store.shard(shard).is_some() {
        return Ok(None);
    }
    let sources: Vec<String> = sref
        .shard
        .owners
        .iter()
        .filter(|o| o.node_id != me)
        .filter_map(|o| view.data_node_tcp(o.node_id).map(str::to_string))
        .collect();
    let mut last = None;
    for source in sources {
        match copy::copy_shard(node, svc, shard, &source).await {
            Ok(_) => return Ok(Some(source)),
            Err(EntropyError::NotOnSource { .. }) => {}
            Err(e) => last = Some(e),
        }
    }
    last.map_or(Ok(None), Err)
}
