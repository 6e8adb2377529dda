//! Keeps the local shards in line with the metastore: a shard that the
//! metastore no longer has (its database, RP or shard group was dropped, or
//! the group was deleted by retention) is deleted from disk, as InfluxDB does
//! when a database is dropped. A restore that is rolled back, or a complete
//! restore that drops `_internal`, relies on this.
//!
//! A shard newer than the node's metastore view (ID above its MaxShardID) is
//! never touched: its shard group may not have reached this node yet.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::{Instrument, info, warn};

use crate::meta_client::MetaView;
use crate::node::Node;

/// Shards of `view` that are live (in a group that is not deleted).
pub fn live_shards(view: &MetaView) -> HashSet<u64> {
    view.shards().filter(|s| s.group.deleted_at == 0).map(|s| s.shard.id).collect()
}

/// The local shards to delete for `view`.
pub fn stale(view: &MetaView, local: &[u64]) -> Vec<u64> {
    if view.index == 0 {
        return vec![];
    }
    let live = live_shards(view);
    local.iter().copied().filter(|id| *id <= view.data.max_shard_id && !live.contains(id)).collect()
}

/// Runs until the node shuts down.
pub fn spawn(node: Arc<Node>) {
    tokio::spawn(
        async move {
            let mut rx = node.meta.subscribe();
            loop {
                let view = rx.borrow_and_update().clone();
                let local: Vec<u64> = node.store.shards().iter().map(|s| s.id).collect();
                for id in stale(&view, &local) {
                    let store = node.store.clone();
                    match tokio::task::spawn_blocking(move || store.delete_shard(id)).await {
                        Ok(Ok(_)) => info!(shard = id, "deleted shard no longer in the metastore"),
                        Ok(Err(e)) => warn!(shard = id, error = %e, "deleting shard"),
                        Err(e) => warn!(shard = id, error = %e, "deleting shard"),
                    }
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
        .in_current_span(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::meta;

    #[test]
    fn only_known_dropped_shards_are_stale() {
        let mut data = meta::Data { max_shard_id: 5, ..Default::default() };
        data.databases.push(meta::DatabaseInfo {
            name: "db".into(),
            retention_policies: vec![meta::RetentionPolicyInfo {
                name: "rp".into(),
                shard_groups: vec![
                    meta::ShardGroupInfo {
                        id: 1,
                        shards: vec![meta::ShardInfo { id: 1, ..Default::default() }],
                        ..Default::default()
                    },
                    meta::ShardGroupInfo {
                        id: 2,
                        deleted_at: 7,
                        shards: vec![meta::ShardInfo { id: 2, ..Default::default() }],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        });
        let view = MetaView { index: 9, data };
        // 1 live, 2 in a deleted group, 3 dropped, 9 newer than the view.
        assert_eq!(stale(&view, &[1, 2, 3, 9]), vec![2, 3]);
        assert!(stale(&MetaView::default(), &[1]).is_empty());
    }
}
