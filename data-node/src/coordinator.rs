//! The write coordinator: point → shard group (created through the
//! metastore when missing) → shard by `fnv64a(series key) % shards` → every
//! owner (local store or `WriteShard` RPC), answered by consistency level.
//!
//! CONSISTENCY (enterprise-behaviour.md §A.7): `any` and `one` need one
//! owner, `quorum` a majority, `all` every owner. The answer is sent as soon
//! as enough owners acknowledged; the other owner writes keep running, and an
//! owner that fails gets the points through its hinted-handoff queue. Only
//! `any` counts a queued write as an acknowledgement.
//!
//! ERRORS follow InfluxDB: `database not found: "x"` (404), `retention policy
//! not found: x` (500), `partial write: <reason> dropped=N` (400) for points a
//! shard rejected (field type conflicts) or that fall outside the RP's
//! retention, `timeout`, `partial write` and `write failed: <err>` (500) when
//! owners do not acknowledge.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portable::Point;
use proto::cluster::{self, command::Cmd, data_client::DataClient};
use proto::meta;
use tokio::sync::mpsc;
use tracing::debug;

use crate::meta_client::group_covers;
use crate::node::Node;

/// A write consistency level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// One owner or a hinted-handoff enqueue.
    Any,
    /// One owner.
    #[default]
    One,
    /// A majority of owners.
    Quorum,
    /// Every owner.
    All,
}

impl Consistency {
    /// Parses the `consistency` parameter (`models.ParseConsistencyLevel`).
    pub fn parse(s: &str) -> Result<Consistency, String> {
        match s.to_ascii_lowercase().as_str() {
            "any" => Ok(Consistency::Any),
            "one" => Ok(Consistency::One),
            "quorum" => Ok(Consistency::Quorum),
            "all" => Ok(Consistency::All),
            _ => Err("invalid consistency level".into()),
        }
    }

    /// Acknowledgements needed from `owners` owners.
    pub fn required(self, owners: usize) -> usize {
        match self {
            Consistency::Any | Consistency::One => 1,
            Consistency::Quorum => owners / 2 + 1,
            Consistency::All => owners,
        }
        .min(owners.max(1))
    }
}

/// Why a write failed, with the HTTP status InfluxDB gives it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// 404.
    #[error("database not found: {0:?}")]
    DatabaseNotFound(String),
    /// 500 (InfluxDB treats it as a server error).
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    /// 400: some points were dropped, the rest written.
    #[error("partial write: {reason} dropped={dropped}")]
    Partial { reason: String, dropped: usize },
    /// 500: owners did not answer within `[cluster] write-timeout`.
    #[error("timeout")]
    Timeout,
    /// 500: some owners acknowledged, fewer than the consistency level needs.
    #[error("partial write")]
    PartialConsistency,
    /// 500: no owner acknowledged.
    #[error("write failed: {0}")]
    Failed(String),
    /// 500: the metastore could not create a shard group.
    #[error("{0}")]
    Meta(String),
}

impl WriteError {
    /// The HTTP status for `/write`.
    pub fn status(&self) -> u16 {
        match self {
            WriteError::DatabaseNotFound(_) => 404,
            WriteError::Partial { .. } => 400,
            _ => 500,
        }
    }
}

/// A shard's owners and the points bound for it.
struct ShardWrite {
    shard_id: u64,
    owners: Vec<u64>,
    points: Vec<Point>,
}

/// FNV-1a 64 of the series key: InfluxDB's series → shard hash.
pub fn fnv64a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Writes `points` into `db`.`rp` (empty rp = the default RP).
pub async fn write_points(
    node: &Arc<Node>,
    db: &str,
    rp: &str,
    consistency: Consistency,
    points: Vec<Point>,
) -> Result<(), WriteError> {
    let mut view = node.meta.view();
    if view.database(db).is_none() {
        view = node.meta.sync().await;
    }
    let dbi = view.database(db).ok_or_else(|| WriteError::DatabaseNotFound(db.to_string()))?;
    let rp_name = if rp.is_empty() { dbi.default_retention_policy.as_str() } else { rp };
    let rpi = view
        .retention_policy(db, rp_name)
        .ok_or_else(|| WriteError::RetentionPolicyNotFound(rp_name.to_string()))?;
    let rp_name = rp_name.to_string();
    // Points older than the retention period are dropped, as InfluxDB does.
    let mut dropped_old = 0usize;
    let points: Vec<Point> = if rpi.duration > 0 {
        let min = now_ns().saturating_sub(rpi.duration);
        let before = points.len();
        let kept: Vec<Point> = points.into_iter().filter(|p| p.time >= min).collect();
        dropped_old = before - kept.len();
        kept
    } else {
        points
    };
    let mut groups: Vec<meta::ShardGroupInfo> = rpi.shard_groups.clone();
    let writes = map_points(node, db, &rp_name, &mut groups, points).await?;
    let write_timeout = node.config.cluster.write_timeout;
    let mut partial: Option<(String, usize)> = None;
    let mut failure: Option<WriteError> = None;
    let mut tasks = Vec::with_capacity(writes.len());
    for w in writes {
        let node = node.clone();
        let db = db.to_string();
        let rp = rp_name.clone();
        tasks.push(tokio::spawn(async move {
            write_shard(&node, &db, &rp, w, consistency, write_timeout).await
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(None)) => {}
            Ok(Ok(Some((reason, n)))) => {
                let p = partial.get_or_insert((reason, 0));
                p.1 += n;
            }
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(WriteError::Failed(e.to_string()))),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some((reason, dropped)) = partial {
        return Err(WriteError::Partial { reason, dropped: dropped + dropped_old });
    }
    if dropped_old > 0 {
        return Err(WriteError::Partial {
            reason: "points beyond retention policy".into(),
            dropped: dropped_old,
        });
    }
    Ok(())
}

/// Assigns points to shards, creating missing shard groups.
async fn map_points(
    node: &Arc<Node>,
    db: &str,
    rp: &str,
    groups: &mut Vec<meta::ShardGroupInfo>,
    points: Vec<Point>,
) -> Result<Vec<ShardWrite>, WriteError> {
    let mut by_shard: HashMap<u64, ShardWrite> = HashMap::new();
    for p in points {
        let group = match groups.iter().position(|g| group_covers(g, p.time)) {
            Some(i) => &groups[i],
            None => {
                let r = node
                    .meta
                    .execute(Cmd::CreateShardGroup(cluster::CreateShardGroup {
                        database: db.to_string(),
                        policy: rp.to_string(),
                        timestamp: p.time,
                    }))
                    .await
                    .map_err(|e| WriteError::Meta(e.to_string()))?;
                let g = r
                    .shard_group
                    .ok_or_else(|| WriteError::Meta("metastore returned no shard group".into()))?;
                if !group_covers(&g, p.time) {
                    return Err(WriteError::Meta(format!(
                        "shard group {} does not cover time {}",
                        g.id, p.time
                    )));
                }
                groups.push(g);
                &groups[groups.len() - 1]
            }
        };
        if group.shards.is_empty() {
            return Err(WriteError::Meta(format!("shard group {} has no shards", group.id)));
        }
        let key = p.series_key();
        let shard = &group.shards[(fnv64a(key.as_bytes()) % group.shards.len() as u64) as usize];
        let entry = by_shard.entry(shard.id).or_insert_with(|| ShardWrite {
            shard_id: shard.id,
            owners: shard.owners.iter().map(|o| o.node_id).collect(),
            points: Vec::new(),
        });
        entry.points.push(p);
    }
    Ok(by_shard.into_values().collect())
}

/// Outcome of one owner's write.
enum OwnerResult {
    /// Stored; the partial-write reason and count if some points were dropped.
    Ok(Option<(String, usize)>),
    /// Put in the owner's hinted-handoff queue.
    Queued,
    /// Failed.
    Err(String),
    /// The owner's hinted-handoff queue refused the write (full, or an I/O
    /// error): already tried, and counted, so not enqueued a second time.
    QueueRefused(String),
}

/// Writes one shard's points to its owners; returns the partial-write
/// reason (if a shard dropped points) once the consistency level is met.
async fn write_shard(
    node: &Arc<Node>,
    db: &str,
    rp: &str,
    w: ShardWrite,
    consistency: Consistency,
    timeout: Duration,
) -> Result<Option<(String, usize)>, WriteError> {
    if w.owners.is_empty() {
        return Err(WriteError::Failed(format!("shard {} has no owners", w.shard_id)));
    }
    let required = consistency.required(w.owners.len());
    let points = Arc::new(w.points);
    let (tx, mut rx) = mpsc::channel(w.owners.len());
    for owner in w.owners.clone() {
        let tx = tx.clone();
        let node = node.clone();
        let points = points.clone();
        let (db, rp) = (db.to_string(), rp.to_string());
        let shard_id = w.shard_id;
        tokio::spawn(async move {
            let res = write_owner(&node, owner, shard_id, &db, &rp, &points, timeout).await;
            let res = match res {
                OwnerResult::Err(e) if owner != node.id() && node.hh.enabled() => {
                    debug!(shard = shard_id, owner, error = %e, "owner write failed: queued");
                    match node.hh.enqueue(owner, shard_id, &db, &rp, &points) {
                        Ok(()) => OwnerResult::Queued,
                        Err(q) => OwnerResult::Err(q.to_string()),
                    }
                }
                other => other,
            };
            let _ = tx.send(res).await;
        });
    }
    drop(tx);
    let mut acked = 0usize;
    let mut partial = None;
    let mut last_err = String::new();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            res = rx.recv() => match res {
                Some(OwnerResult::Ok(p)) => {
                    acked += 1;
                    if partial.is_none() {
                        partial = p;
                    }
                    if acked >= required {
                        return Ok(partial);
                    }
                }
                Some(OwnerResult::Queued) => {
                    // Only `any` counts a write that waits in hinted handoff.
                    last_err = "write queued in hinted handoff".into();
                    if consistency == Consistency::Any {
                        acked += 1;
                        if acked >= required {
                            return Ok(partial);
                        }
                    }
                }
                Some(OwnerResult::Err(e) | OwnerResult::QueueRefused(e)) => last_err = e,
                None => break,
            },
            _ = &mut deadline => return Err(WriteError::Timeout),
        }
    }
    if acked > 0 { Err(WriteError::PartialConsistency) } else { Err(WriteError::Failed(last_err)) }
}

async fn write_owner(
    node: &Arc<Node>,
    owner: u64,
    shard_id: u64,
    db: &str,
    rp: &str,
    points: &Arc<Vec<Point>>,
    timeout: Duration,
) -> OwnerResult {
    if owner == node.id() {
        return match node.write_local(shard_id, db, rp, points.clone()).await {
            Ok(p) => OwnerResult::Ok(p),
            Err(e) => OwnerResult::Err(e),
        };
    }
    // While the owner's queue holds writes, new ones join it (order kept).
    if node.hh.has_pending(owner) {
        return match node.hh.enqueue(owner, shard_id, db, rp, points) {
            Ok(()) => OwnerResult::Queued,
            Err(e) => OwnerResult::QueueRefused(e.to_string()),
        };
    }
    let view = node.meta.view();
    let Some(addr) = view.data_node_tcp(owner) else {
        return OwnerResult::Err(format!("data node {owner} not found"));
    };
    let ch = match node.peer_channel(addr) {
        Ok(c) => c,
        Err(e) => return OwnerResult::Err(e),
    };
    let mut client = DataClient::new(ch)
        .max_encoding_message_size(crate::server::MAX_MESSAGE)
        .max_decoding_message_size(crate::server::MAX_MESSAGE);
    let req = cluster::WriteShardRequest {
        shard_id,
        database: db.to_string(),
        policy: rp.to_string(),
        points: points.iter().map(crate::wire::to_wire).collect(),
    };
    match tokio::time::timeout(timeout, client.write_shard(req)).await {
        Ok(Ok(r)) => {
            let r = r.into_inner();
            OwnerResult::Ok((r.dropped > 0).then_some((r.partial_reason, r.dropped as usize)))
        }
        Ok(Err(s)) => OwnerResult::Err(s.message().to_string()),
        Err(_) => OwnerResult::Err("timeout".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv64a_matches_go() {
        // hash/fnv New64a of "" and "a".
        assert_eq!(fnv64a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv64a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn required_acks() {
        assert_eq!(Consistency::One.required(3), 1);
        assert_eq!(Consistency::Quorum.required(2), 2);
        assert_eq!(Consistency::Quorum.required(3), 2);
        assert_eq!(Consistency::All.required(3), 3);
        assert_eq!(Consistency::parse("QUORUM"), Ok(Consistency::Quorum));
        assert!(Consistency::parse("two").is_err());
    }
}
