//! `entropy repair`: makes every owner of a shard hold the union of the
//! owners' points.
//!
//! 1. Every owner's per-key digests (the local store, `ShardDigest` for the
//!    others). A hot owner stops the repair (it is ignored, as Enterprise
//!    ignores repairs of hot shards).
//! 2. The keys whose (type, points, digest) differ between owners, in
//!    batches: every owner's points of those keys (`ReadShard`), the union
//!    ([`plan_union`]) and each owner's patch, imported locally or sent as a
//!    one-file archive through `RestoreShard`.
//! 3. The shard digests again: equal on every owner, or the repair failed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use portable::FieldType;
use portable::tsm::{TsmWriter, Values};
use proto::cluster;
use tracing::debug;

use super::error::{EntropyError, Result};
use super::merge::{Column, plan_union};
use super::{Service, is_hot, now_ns, peer};
use crate::node::Node;
use crate::store::{KeyDigest, digest_of};

/// Keys read and patched per round (bounds memory on large repairs).
const BATCH_KEYS: usize = 2000;

/// How a repair ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairOutcome {
    /// Every owner now holds the same points.
    Converged {
        /// Points written, over all owners.
        patched_points: u64,
    },
    /// A copy of the shard is hot: the repair was ignored.
    Hot,
}

/// One owner's digest of the shard.
#[derive(Debug, Default)]
struct OwnerDigest {
    /// `None` for this node.
    addr: Option<String>,
    exists: bool,
    last_modified: i64,
    /// key → (type, points, digest).
    keys: BTreeMap<Vec<u8>, (u32, u64, u64)>,
}

/// This node's digest of `shard` (`None` when not on disk).
pub(super) async fn local_digests(
    node: &Node,
    shard: u64,
    keys: bool,
) -> Result<Option<(i64, Vec<KeyDigest>, crate::store::ShardDigest)>> {
    let Some(s) = node.store.shard(shard) else { return Ok(None) };
    let r = tokio::task::spawn_blocking(move || -> Result<_> {
        let lm = s.last_modified();
        if keys {
            let kd = s.key_digests()?;
            let d = digest_of(&kd);
            Ok((lm, kd, d))
        } else {
            Ok((lm, Vec::new(), s.digest()?))
        }
    })
    .await??;
    Ok(Some(r))
}

async fn owner_digest(node: &Node, addr: Option<&str>, shard: u64) -> Result<OwnerDigest> {
    let Some(addr) = addr else {
        let Some((lm, kd, _)) = local_digests(node, shard, true).await? else {
            return Ok(OwnerDigest::default());
        };
        let keys = kd.into_iter().map(|d| (d.key, (d.field_type as u32, d.points, d.digest)));
        return Ok(OwnerDigest {
            addr: None,
            exists: true,
            last_modified: lm,
            keys: keys.collect(),
        });
    };
    let r = peer::digest(node, addr, shard, true).await?;
    let keys = r.key_digests.into_iter().map(|d| (d.key, (d.r#type, d.points, d.digest)));
    Ok(OwnerDigest {
        addr: Some(addr.to_string()),
        exists: r.exists,
        last_modified: r.last_modified,
        keys: keys.collect(),
    })
}

/// The keys whose digests are not the same on every owner.
fn differing_keys(owners: &[OwnerDigest]) -> Vec<(Vec<u8>, FieldType)> {
    let all: BTreeSet<&Vec<u8>> = owners.iter().flat_map(|o| o.keys.keys()).collect();
    all.into_iter()
        .filter_map(|k| {
            let entries: Vec<Option<&(u32, u64, u64)>> =
                owners.iter().map(|o| o.keys.get(k)).collect();
            let first = entries.iter().flatten().next().copied()?;
            if entries.iter().all(|e| *e == Some(first)) {
                return None;
            }
            let t = u8::try_from(first.0).ok().and_then(FieldType::from_block_type)?;
            Some((k.clone(), t))
        })
        .collect()
}

/// Repairs `shard_id` from this node, one of its owners.
pub async fn repair_shard(node: &Arc<Node>, svc: &Service, shard_id: u64) -> Result<RepairOutcome> {
    let me = node.id();
    let view = node.meta.view();
    let sref = view.shard(shard_id).ok_or(EntropyError::ShardNotFound(shard_id))?;
    if !sref.owned_by(me) {
        return Err(EntropyError::NotOwner(shard_id));
    }
    let (db, rp) = (sref.db.name.clone(), sref.rp.name.clone());
    let mut addrs: Vec<Option<String>> = Vec::new();
    for o in &sref.shard.owners {
        if o.node_id == me {
            addrs.push(None);
        } else {
            let addr = view.data_node_tcp(o.node_id).ok_or_else(|| EntropyError::Peer {
                addr: format!("node {}", o.node_id),
                message: "unknown data node".into(),
            })?;
            addrs.push(Some(addr.to_string()));
        }
    }
    drop(view);
    let digests = futures::future::try_join_all(
        addrs.iter().map(|a| owner_digest(node, a.as_deref(), shard_id)),
    )
    .await?;
    let now = now_ns();
    if digests.iter().any(|d| d.exists && is_hot(d.last_modified, now, svc.cold)) {
        return Ok(RepairOutcome::Hot);
    }
    let keys = differing_keys(&digests);
    debug!(shard = shard_id, keys = keys.len(), "repair: differing keys");
    let mut patched_points = 0u64;
    for batch in keys.chunks(BATCH_KEYS) {
        patched_points += repair_batch(node, shard_id, &db, &rp, &digests, batch).await?;
    }
    if keys.is_empty() {
        return Ok(RepairOutcome::Converged { patched_points });
    }
    // Verify: every owner's shard digest is now the same.
    let finals = futures::future::try_join_all(addrs.iter().map(|a| async move {
        match a {
            None => Ok(local_digests(node, shard_id, false).await?.map(|(_, _, d)| d.digest)),
            Some(addr) => {
                let r = peer::digest(node, addr, shard_id, false).await?;
                Ok::<_, EntropyError>(r.exists.then_some(r.digest))
            }
        }
    }))
    .await?;
    let empty = digest_of(&[]).digest;
    let finals: BTreeSet<u64> = finals.into_iter().map(|d| d.unwrap_or(empty)).collect();
    if finals.len() > 1 {
        return Err(EntropyError::StillDiffers(shard_id));
    }
    Ok(RepairOutcome::Converged { patched_points })
}

/// Reads, merges and patches one batch of keys; returns the points written.
async fn repair_batch(
    node: &Arc<Node>,
    shard_id: u64,
    db: &str,
    rp: &str,
    owners: &[OwnerDigest],
    batch: &[(Vec<u8>, FieldType)],
) -> Result<u64> {
    let keys: Vec<Vec<u8>> = batch.iter().map(|(k, _)| k.clone()).collect();
    let types: Vec<FieldType> = batch.iter().map(|(_, t)| *t).collect();
    let reads = futures::future::try_join_all(owners.iter().map(|o| {
        let (keys, types) = (keys.clone(), types.clone());
        async move {
            if !o.exists {
                return Ok(types.iter().map(|t| (Vec::new(), Values::new(*t))).collect());
            }
            match &o.addr {
                None => read_local(node, shard_id, keys, types).await,
                Some(addr) => peer::read_keys(node, addr, shard_id, &keys, &types).await,
            }
        }
    }))
    .await?;
    // Transpose: per key, every owner's column.
    let mut per_owner: Vec<std::vec::IntoIter<Column>> =
        reads.into_iter().map(Vec::into_iter).collect();
    let mut patches: Vec<BTreeMap<Vec<u8>, Column>> = vec![BTreeMap::new(); owners.len()];
    for key in &keys {
        let cols: Vec<Column> = per_owner
            .iter_mut()
            .map(|it| it.next().unwrap_or_else(|| (Vec::new(), Values::new(FieldType::Float))))
            .collect();
        let plan = plan_union(&cols).ok_or_else(|| EntropyError::TypeConflict {
            shard: shard_id,
            key: String::from_utf8_lossy(key).into_owned(),
        })?;
        for (i, p) in plan.into_iter().enumerate() {
            if !p.0.is_empty() {
                patches[i].insert(key.clone(), p);
            }
        }
    }
    let mut written = 0u64;
    for (o, patch) in owners.iter().zip(&patches) {
        if patch.is_empty() {
            continue;
        }
        let points: u64 = patch.values().map(|c| c.0.len() as u64).sum();
        let tsm = build_tsm(patch)?;
        match &o.addr {
            None => {
                let store = node.store.clone();
                let (db, rp) = (db.to_string(), rp.to_string());
                tokio::task::spawn_blocking(move || -> Result<()> {
                    let shard = match store.shard(shard_id) {
                        Some(s) => s,
                        None => store.create_shard(shard_id, &db, &rp)?,
                    };
                    shard.import_tsm("anti-entropy patch", std::io::Cursor::new(tsm))?;
                    Ok(())
                })
                .await??;
            }
            Some(addr) => {
                peer::push_patch(node, addr, shard_id, db, rp, &tsm).await?;
            }
        }
        written += points;
    }
    Ok(written)
}

/// Reads whole keys of a local shard.
async fn read_local(
    node: &Node,
    shard_id: u64,
    keys: Vec<Vec<u8>>,
    types: Vec<FieldType>,
) -> Result<Vec<Column>> {
    let shard = node.store.shard(shard_id);
    tokio::task::spawn_blocking(move || -> Result<Vec<Column>> {
        let mut out = Vec::with_capacity(keys.len());
        for (k, t) in keys.iter().zip(types) {
            match &shard {
                Some(s) => out.push(s.read(k, i64::MIN, i64::MAX)?.collect_all()?),
                None => out.push((Vec::new(), Values::new(t))),
            }
        }
        Ok(out)
    })
    .await?
}

/// One TSM file holding `patch` (keys ascending).
fn build_tsm(patch: &BTreeMap<Vec<u8>, Column>) -> Result<Vec<u8>> {
    let mut w = TsmWriter::new("anti-entropy patch", Vec::new());
    for (k, (ts, vs)) in patch {
        w.write_series(k, ts, vs.as_slice())?;
    }
    Ok(w.finish()?)
}

/// Tells the other owners that `shard` converged, so they drop their
/// `diff` flags now rather than at their next comparison (best effort).
pub(super) async fn announce_resolved(node: &Arc<Node>, shard: u64) {
    let me = node.id();
    let view = node.meta.view();
    let Some(sref) = view.shard(shard) else { return };
    let addrs: Vec<String> = sref
        .shard
        .owners
        .iter()
        .filter(|o| o.node_id != me)
        .filter_map(|o| view.data_node_tcp(o.node_id).map(str::to_string))
        .collect();
    drop(view);
    for addr in addrs {
        if let Ok(mut c) = peer::client(node, &addr) {
            let req = cluster::EntropyRepairRequest { shard_id: shard, resolved: true };
            let _ = tokio::time::timeout(peer::CALL_TIMEOUT, c.entropy_repair(req)).await;
        }
    }
}
