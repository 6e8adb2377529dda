//! Retention enforcement (`[retention] enabled`, `check-interval` 30m): every
//! interval, shard groups whose end lies before `now - RP duration` are
//! deleted through the metastore (`DeleteShardGroup`, idempotent, so every
//! data node may do it); the reconcile loop then removes their shards from
//! disk. This is why restored old shards can vanish (enterprise-behaviour.md
//! §B#11) unless `-newduration` gives the RP more room.
//!
//! As in InfluxDB, the first check runs one interval after start.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use proto::cluster::{self, command::Cmd};
use tracing::{Instrument, info, warn};

use crate::meta_client::MetaView;
use crate::node::Node;

/// (db, rp, group ID) of every live group that has expired at `now`.
pub fn expired(view: &MetaView, now: i64) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for db in &view.data.databases {
        for rp in &db.retention_policies {
            if rp.duration <= 0 {
                continue;
            }
            let cutoff = now.saturating_sub(rp.duration);
            for g in &rp.shard_groups {
                if g.deleted_at == 0 && g.end_time < cutoff {
                    out.push((db.name.clone(), rp.name.clone(), g.id));
                }
            }
        }
    }
    out
}

/// Starts the service when `[retention] enabled`.
pub fn spawn(node: Arc<Node>) {
    if !node.config.retention.enabled {
        return;
    }
    let every = node.config.retention.check_interval.max(std::time::Duration::from_millis(100));
    tokio::spawn(
        async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if node.id() == 0 {
                    continue;
                }
                let now =
                    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
                for (db, rp, id) in expired(&node.meta.view(), now) {
                    let cmd = Cmd::DeleteShardGroup(cluster::DeleteShardGroup {
                        database: db.clone(),
                        policy: rp.clone(),
                        id,
                        deleted_at: now,
                    });
                    match node.meta.execute(cmd).await {
                        Ok(_) => {
                            info!(db = %db, rp = %rp, group = id, "deleted expired shard group")
                        }
                        Err(e) => warn!(db = %db, rp = %rp, group = id, error = %e, "retention"),
                    }
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
    fn groups_past_the_rp_duration_expire() {
        let hour = 3_600_000_000_000i64;
        let g = |id, start: i64| meta::ShardGroupInfo {
            id,
            start_time: start,
            end_time: start + hour,
            ..Default::default()
        };
        let mut data = meta::Data::default();
        data.databases.push(meta::DatabaseInfo {
            name: "db".into(),
            retention_policies: vec![
                meta::RetentionPolicyInfo {
                    name: "day".into(),
                    duration: 24 * hour,
                    shard_groups: vec![g(1, 0), g(2, 30 * hour)],
                    ..Default::default()
                },
                meta::RetentionPolicyInfo {
                    name: "inf".into(),
                    duration: 0,
                    shard_groups: vec![g(3, 0)],
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let view = MetaView { index: 1, data };
        assert_eq!(expired(&view, 48 * hour), vec![("db".into(), "day".into(), 1)]);
    }
}
