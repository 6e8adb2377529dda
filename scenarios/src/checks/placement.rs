//! `check placement`: shard placement in the metastore (read through the
//! meta API, the data behind `ctl show-shards`).
//!
//! - every live shard group has at least one shard (B#13: `shard group …
//!   has no shards` after a restore);
//! - every shard has exactly min(RF, active data nodes) owners (A.6; B#14:
//!   `-newrf` is capped at the number of data nodes), `_internal` excepted
//!   (its shards have one owner each, per node, in Enterprise);
//! - every owner is a data node of the cluster (B#23: a removed data node
//!   must not stay an owner).

use std::collections::HashSet;
use std::fmt::Write as _;

use proto::meta::Data;

/// The database whose shards are per node.
pub const INTERNAL_DB: &str = "_internal";

/// Checks placement; the text ends with `placement ok: …` or
/// `placement violations: N`.
pub fn check(data: &Data) -> String {
    let data_ids: HashSet<u64> = data.data_nodes.iter().map(|n| n.id).collect();
    let passive: HashSet<u64> =
        data.node_extras.iter().filter(|e| e.passive == Some(true)).map(|e| e.id).collect();
    let active = data_ids.iter().filter(|id| !passive.contains(id)).count();
    let mut out = String::new();
    let (mut groups, mut shards, mut bad) = (0, 0, 0);
    for db in &data.databases {
        for rp in &db.retention_policies {
            for g in rp.shard_groups.iter().filter(|g| g.deleted_at == 0) {
                groups += 1;
                let place = format!("{}.{} group {}", db.name, rp.name, g.id);
                if g.shards.is_empty() {
                    bad += 1;
                    let _ = writeln!(out, "{place}: no shards");
                }
                for s in &g.shards {
                    shards += 1;
                    let owners: Vec<u64> = s.owners.iter().map(|o| o.node_id).collect();
                    let want = (rp.replica_n.max(1) as usize).min(active);
                    if db.name != INTERNAL_DB && owners.len() != want {
                        bad += 1;
                        let _ = writeln!(
                            out,
                            "{place} shard {}: {} owners, want {want}",
                            s.id,
                            owners.len()
                        );
                    }
                    for o in owners.iter().filter(|o| !data_ids.contains(o)) {
                        bad += 1;
                        let _ =
                            writeln!(out, "{place} shard {}: owner {o} is not a data node", s.id);
                    }
                }
            }
        }
    }
    if bad == 0 {
        let _ = writeln!(out, "placement ok: {groups} shard groups, {shards} shards");
    } else {
        let _ = writeln!(out, "placement violations: {bad}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::meta::{
        DatabaseInfo, NodeInfo, RetentionPolicyInfo, ShardGroupInfo, ShardInfo, ShardOwner,
    };

    fn shard(id: u64, owners: &[u64]) -> ShardInfo {
        ShardInfo {
            id,
            owners: owners.iter().map(|&node_id| ShardOwner { node_id }).collect(),
            ..Default::default()
        }
    }

    fn data(groups: Vec<ShardGroupInfo>, rf: u32, nodes: &[u64]) -> Data {
        Data {
            data_nodes: nodes.iter().map(|&id| NodeInfo { id, ..Default::default() }).collect(),
            databases: vec![DatabaseInfo {
                name: "db".into(),
                retention_policies: vec![RetentionPolicyInfo {
                    name: "autogen".into(),
                    replica_n: rf,
                    shard_groups: groups,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn healthy_placement() {
        let g = ShardGroupInfo {
            id: 1,
            shards: vec![shard(1, &[4, 5]), shard(2, &[6, 4])],
            ..Default::default()
        };
        assert_eq!(
            check(&data(vec![g], 2, &[4, 5, 6])),
            "placement ok: 1 shard groups, 2 shards\n"
        );
    }

    #[test]
    fn rf_above_node_count_is_capped() {
        let g = ShardGroupInfo { id: 1, shards: vec![shard(1, &[4, 5])], ..Default::default() };
        assert_eq!(check(&data(vec![g], 3, &[4, 5])), "placement ok: 1 shard groups, 1 shards\n");
    }

    #[test]
    fn violations() {
        let empty = ShardGroupInfo { id: 1, ..Default::default() };
        let deleted = ShardGroupInfo { id: 2, deleted_at: 5, ..Default::default() };
        let short = ShardGroupInfo {
            id: 3,
            shards: vec![shard(7, &[4]), shard(8, &[4, 9])],
            ..Default::default()
        };
        assert_eq!(
            check(&data(vec![empty, deleted, short], 2, &[4, 5])),
            "db.autogen group 1: no shards\ndb.autogen group 3 shard 7: 1 owners, want 2\ndb.autogen group 3 shard 8: owner 9 is not a data node\nplacement violations: 3\n"
        );
    }
}
