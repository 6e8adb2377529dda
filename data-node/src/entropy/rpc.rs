//! The bodies of the cluster-port RPCs for anti-entropy and shard copies
//! (`server::cluster_rpc` delegates here).

use std::sync::Arc;
use std::time::Duration;

use proto::cluster;
use tonic::Status;

use super::error::EntropyError;
use super::{JobKind, KillOutcome, copy, repair, service};
use crate::meta_client::MetaView;
use crate::node::Node;

/// `ShardDigest`.
pub async fn shard_digest(
    node: &Arc<Node>,
    req: cluster::ShardDigestRequest,
) -> Result<cluster::ShardDigestResponse, Status> {
    let Some(shard) = node.store.shard(req.shard_id) else {
        return Ok(cluster::ShardDigestResponse::default());
    };
    let (database, policy) = (shard.database().to_string(), shard.retention_policy().to_string());
    let Some((last_modified, keys, d)) =
        repair::local_digests(node, req.shard_id, req.keys).await.map_err(|e| e.to_status())?
    else {
        return Ok(cluster::ShardDigestResponse::default());
    };
    Ok(cluster::ShardDigestResponse {
        exists: true,
        digest: d.digest,
        keys: d.keys,
        points: d.points,
        last_modified,
        key_digests: keys
            .into_iter()
            .map(|k| cluster::KeyDigestMsg {
                key: k.key,
                r#type: k.field_type as u32,
                points: k.points,
                digest: k.digest,
            })
            .collect(),
        database,
        policy,
    })
}

/// `CopyShard`: pulls the shard from `source` onto this node.
pub async fn copy_shard(
    node: &Arc<Node>,
    req: cluster::CopyShardRequest,
) -> Result<cluster::CopyShardResponse, Status> {
    if req.source == node.tcp_addr {
        return Err(Status::invalid_argument("source and destination are the same data node"));
    }
    let svc = service(node);
    let stats =
        copy::copy_shard(node, &svc, req.shard_id, &req.source).await.map_err(|e| e.to_status())?;
    Ok(cluster::CopyShardResponse { points: stats.points, bytes: stats.bytes })
}

/// `CopyShardStatus`.
pub fn copy_shard_status(node: &Arc<Node>) -> cluster::CopyShardStatusResponse {
    let tasks = service(node)
        .copies()
        .into_iter()
        .map(|t| cluster::CopyShardTask {
            source: t.source,
            dest: node.tcp_addr.clone(),
            database: t.database,
            policy: t.policy,
            shard_id: t.shard_id,
            total_size: t.total_size,
            current_size: t.current_size,
            started_at: t.started_at,
        })
        .collect();
    cluster::CopyShardStatusResponse { tasks }
}

/// `KillCopyShard`.
pub fn kill_copy_shard(
    node: &Arc<Node>,
    req: cluster::KillCopyShardRequest,
) -> cluster::KillCopyShardResponse {
    cluster::KillCopyShardResponse { killed: service(node).kill_copy(&req.source, req.shard_id) }
}

/// `DeleteShard`.
pub async fn delete_shard(
    node: &Arc<Node>,
    req: cluster::DeleteShardRequest,
) -> Result<cluster::DeleteShardResponse, Status> {
    if req.min_index > 0 {
        node.meta.wait_index(req.min_index, Duration::from_secs(5)).await;
    }
    let store = node.store.clone();
    let existed = tokio::task::spawn_blocking(move || store.delete_shard(req.shard_id))
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| Status::internal(e.to_string()))?;
    Ok(cluster::DeleteShardResponse { existed })
}

/// The metastore times of a shard for status answers:
/// (database, policy, start, end, expires).
pub fn shard_times(view: &MetaView, id: u64) -> Option<(String, String, i64, i64, i64)> {
    let s = view.shard(id)?;
    let expires =
        if s.rp.duration > 0 { s.group.end_time.saturating_add(s.rp.duration) } else { 0 };
    Some((s.db.name.clone(), s.rp.name.clone(), s.group.start_time, s.group.end_time, expires))
}

/// `EntropyStatus`: this node's view only.
pub fn entropy_status(node: &Arc<Node>) -> cluster::EntropyStatusResponse {
    let svc = service(node);
    if !svc.enabled() {
        return cluster::EntropyStatusResponse::default();
    }
    let (diff, queued, processing) = svc.snapshot();
    let view = node.meta.view();
    let shards = diff
        .into_iter()
        .filter_map(|id| {
            let (database, policy, start_time, end_time, expires) = shard_times(&view, id)?;
            Some(cluster::EntropyShard {
                id,
                database,
                policy,
                start_time,
                end_time,
                expires,
                status: "diff".into(),
            })
        })
        .collect();
    cluster::EntropyStatusResponse { enabled: true, shards, queued, processing }
}

/// Queues a repair of `shard` on this node (an owner).
pub fn queue_repair(node: &Arc<Node>, shard: u64) -> Result<(), EntropyError> {
    let svc = service(node);
    if !svc.enabled() {
        return Err(EntropyError::Disabled);
    }
    let me = node.id();
    if me == 0 {
        return Err(EntropyError::NotJoined);
    }
    let view = node.meta.view();
    let sref = view.shard(shard).ok_or(EntropyError::ShardNotFound(shard))?;
    if !sref.owned_by(me) {
        return Err(EntropyError::NotOwner(shard));
    }
    svc.enqueue(shard, JobKind::Repair);
    Ok(())
}

/// `EntropyRepair`.
pub fn entropy_repair(
    node: &Arc<Node>,
    req: cluster::EntropyRepairRequest,
) -> Result<cluster::EntropyRepairResponse, Status> {
    if req.resolved {
        service(node).resolved(req.shard_id);
        return Ok(cluster::EntropyRepairResponse {});
    }
    queue_repair(node, req.shard_id).map_err(|e| e.to_status())?;
    Ok(cluster::EntropyRepairResponse {})
}

/// `EntropyKillRepair`.
pub fn entropy_kill_repair(
    node: &Arc<Node>,
    req: cluster::EntropyKillRepairRequest,
) -> Result<cluster::EntropyKillRepairResponse, Status> {
    let svc = service(node);
    if !svc.enabled() {
        return Err(EntropyError::Disabled.to_status());
    }
    match svc.kill(req.shard_id) {
        KillOutcome::Removed => Ok(cluster::EntropyKillRepairResponse { removed: true }),
        KillOutcome::NotQueued => Ok(cluster::EntropyKillRepairResponse { removed: false }),
        KillOutcome::Running => Err(Status::failed_precondition(format!(
            "repair of shard {} is in progress and cannot be killed",
            req.shard_id
        ))),
    }
}
