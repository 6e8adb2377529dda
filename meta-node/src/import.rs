//! Restore's metadata step: importing databases from a backup's `meta.Data`
//! into the live metastore, inside one Raft command so every replica derives
//! the same new IDs and owners.
//!
//! RULES (InfluxDB Enterprise `influxd-ctl restore`, enterprise-behaviour.md
//! §A.10):
//! - without `-db`, every database of the backup except `_internal` is
//!   imported (a complete restore), with users and roles, and the target's
//!   own `_internal` is dropped so it restarts from scratch;
//! - with `-db`, only that database, named `-newdb` or else `-db`; with `-rp`
//!   only that RP, named `-newrp` or else `-rp`, which becomes the default;
//! - a database that already exists fails the whole import with
//!   `problem setting snapshot: database already exists`, unless it is the
//!   unfinished result of an earlier restore (it carries a restore token),
//!   which is replaced: a failed restore can be retried;
//! - shard groups and shards get new IDs (`MaxShardGroupID++`,
//!   `MaxShardID++`), or `-newshard` for a single shard; the replication
//!   factor is the backup's or `-newrf`, capped at the number of data nodes;
//!   owners are placed round-robin like new shard groups;
//! - continuous queries come along; subscriptions do not (Enterprise does not
//!   restore Kapacitor subscriptions).

use proto::cluster;
use proto::meta;

use crate::error::MetaError;
use crate::state::{Applied, MetaState, decode_data};

/// The internal monitoring database.
pub const INTERNAL_DB: &str = "_internal";

/// Applies an `ImportData` command.
pub fn import_data(state: &mut MetaState, c: &cluster::ImportData) -> Result<Applied, MetaError> {
    let backup = decode_data(&c.data)?;
    let complete = c.backup_database.is_empty();
    if !c.backup_policy.is_empty() && complete {
        return Err(MetaError::Import("-rp requires -db".into()));
    }
    // Which databases, under which names.
    let mut selected: Vec<(meta::DatabaseInfo, String)> = Vec::new();
    if complete {
        for db in &backup.databases {
            if db.name != INTERNAL_DB {
                selected.push((db.clone(), db.name.clone()));
            }
        }
    } else {
        let db =
            backup.databases.iter().find(|d| d.name == c.backup_database).ok_or_else(|| {
                MetaError::Import(format!(
                    "imported metadata does not have database named {}",
                    c.backup_database
                ))
            })?;
        let target = if c.restore_database.is_empty() {
            db.name.clone()
        } else {
            c.restore_database.clone()
        };
        selected.push((db.clone(), target));
    }
    // Existence check first, so a failed import changes nothing.
    for (_, target) in &selected {
        if let Some(existing) = state.db(target)
            && existing.restore_token.as_deref().unwrap_or_default().is_empty()
        {
            return Err(MetaError::RestoreDatabaseExists);
        }
    }
    let nodes = state.placement_nodes();
    if nodes.is_empty() && selected.iter().any(|(d, _)| has_shards(d)) {
        return Err(MetaError::NoDataNodes);
    }
    // Build every imported database before touching the state.
    let mut imported = Vec::new();
    let mut shard_map = Vec::new();
    let mut max_sg = state.data.max_shard_group_id;
    let mut max_shard = state.data.max_shard_id;
    let existing_shards = state.shard_ids();
    let mut node_index = (state.data.index % nodes.len().max(1) as u64) as usize;
    for (db, target) in selected {
        let mut rps: Vec<meta::RetentionPolicyInfo> = Vec::new();
        let mut default_rp = db.default_retention_policy.clone();
        if c.backup_policy.is_empty() {
            rps = db.retention_policies.clone();
        } else {
            let rp = db.retention_policies.iter().find(|r| r.name == c.backup_policy).ok_or_else(
                || {
                    MetaError::Import(format!(
                        "retention policy not found in meta backup: {}.{}",
                        db.name, c.backup_policy
                    ))
                },
            )?;
            let mut rp = rp.clone();
            if !c.restore_policy.is_empty() {
                rp.name = c.restore_policy.clone();
            }
            default_rp = rp.name.clone();
            rps.push(rp);
        }
        for rp in &mut rps {
            if let Some(d) = c.new_duration {
                rp.duration = d;
            }
            if c.new_replica_n > 0 {
                rp.replica_n = c.new_replica_n;
            }
            rp.replica_n = rp.replica_n.clamp(1, (nodes.len() as u32).max(1));
            rp.subscriptions.clear();
            let replica_n = rp.replica_n as usize;
            let mut groups = Vec::new();
            for g in &rp.shard_groups {
                if g.deleted_at != 0 || g.shards.is_empty() {
                    continue;
                }
                max_sg += 1;
                let mut shards = Vec::with_capacity(g.shards.len());
                for s in &g.shards {
                    let single =
                        c.new_shard_id != 0 && c.only_shards.len() == 1 && c.only_shards[0] == s.id;
                    let new_id = if single {
                        if existing_shards.contains(&c.new_shard_id) {
                            return Err(MetaError::Import(format!(
                                "shard {} already exists",
                                c.new_shard_id
                            )));
                        }
                        max_shard = max_shard.max(c.new_shard_id);
                        c.new_shard_id
                    } else {
                        // Never the ID `-newshard` reserves for the selected
                        // shard, which may come later in this import.
                        max_shard += 1;
                        while existing_shards.contains(&max_shard)
                            || (c.new_shard_id != 0 && max_shard == c.new_shard_id)
                        {
                            max_shard += 1;
                        }
                        max_shard
                    };
                    let mut owners = Vec::with_capacity(replica_n);
                    for _ in 0..replica_n.min(nodes.len()) {
                        owners.push(meta::ShardOwner { node_id: nodes[node_index % nodes.len()] });
                        node_index += 1;
                    }
                    shard_map.push((s.id, new_id));
                    shards.push(meta::ShardInfo { id: new_id, owners, ..Default::default() });
                }
                groups.push(meta::ShardGroupInfo {
                    id: max_sg,
                    start_time: g.start_time,
                    end_time: g.end_time,
                    deleted_at: 0,
                    shards,
                    truncated_at: g.truncated_at,
                });
            }
            rp.shard_groups = groups;
        }
        imported.push(meta::DatabaseInfo {
            name: target,
            default_retention_policy: default_rp,
            retention_policies: rps,
            continuous_queries: db.continuous_queries.clone(),
            restore_token: (!c.restore_token.is_empty()).then(|| c.restore_token.clone()),
        });
    }
    // Apply.
    if c.drop_internal {
        state.data.databases.retain(|d| d.name != INTERNAL_DB);
    }
    for db in imported {
        state.data.databases.retain(|d| d.name != db.name);
        state.data.databases.push(db);
    }
    state.data.max_shard_group_id = max_sg;
    state.data.max_shard_id = max_shard;
    if c.import_users {
        for u in &backup.users {
            state.data.users.retain(|x| x.name != u.name);
            state.data.users.push(u.clone());
        }
        for r in &backup.roles {
            state.data.roles.retain(|x| x.name != r.name);
            state.data.roles.push(r.clone());
        }
    }
    Ok(Applied { id: 0, shard_group: None, shard_map })
}

/// Applies a `FinishRestore` command: the named databases are complete.
pub fn finish_restore(
    state: &mut MetaState,
    c: &cluster::FinishRestore,
) -> Result<Applied, MetaError> {
    for db in &mut state.data.databases {
        if c.databases.contains(&db.name) && db.restore_token.as_deref() == Some(c.token.as_str()) {
            db.restore_token = None;
        }
    }
    Ok(Applied::default())
}

fn has_shards(db: &meta::DatabaseInfo) -> bool {
    db.retention_policies.iter().any(|rp| rp.shard_groups.iter().any(|g| !g.shards.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use proto::cluster::command::Cmd;

    fn cmd(c: Cmd) -> cluster::Command {
        cluster::Command { cmd: Some(c) }
    }

    fn cluster_with(nodes: u64) -> MetaState {
        let mut s = MetaState::new();
        for i in 0..nodes {
            s.apply(
                i + 1,
                1,
                "",
                &cmd(Cmd::CreateDataNode(cluster::CreateDataNode {
                    http_addr: format!("d{i}:8086"),
                    tcp_addr: format!("d{i}:8088"),
                    passive: false,
                })),
            )
            .unwrap();
        }
        s
    }

    fn backup() -> meta::Data {
        let mut src = cluster_with(3);
        for (i, db) in ["telegraf", "_internal", "metrics"].iter().enumerate() {
            src.apply(
                10 + i as u64,
                1,
                "",
                &cmd(Cmd::CreateDatabase(cluster::CreateDatabase {
                    name: db.to_string(),
                    retention_policy: Some(cluster::RetentionPolicySpec {
                        name: "autogen".into(),
                        replica_n: Some(3),
                        ..Default::default()
                    }),
                    ..Default::default()
                })),
            )
            .unwrap();
            for ts in [0i64, 8 * 86_400_000_000_000] {
                src.apply(
                    20 + i as u64,
                    1,
                    "",
                    &cmd(Cmd::CreateShardGroup(cluster::CreateShardGroup {
                        database: db.to_string(),
                        policy: "autogen".into(),
                        timestamp: ts,
                    })),
                )
                .unwrap();
            }
        }
        src.apply(
            40,
            1,
            "",
            &cmd(Cmd::CreateUser(cluster::CreateUser {
                name: "admin".into(),
                hash: "$2a$x".into(),
                admin: true,
            })),
        )
        .unwrap();
        src.data
    }

    fn import(s: &mut MetaState, c: cluster::ImportData) -> Result<Applied, MetaError> {
        s.apply(100, 2, "", &cmd(Cmd::ImportData(c)))
    }

    #[test]
    fn complete_restore_skips_internal_caps_rf_and_remaps_ids() {
        let b = backup();
        let mut t = cluster_with(2);
        t.apply(
            50,
            1,
            "",
            &cmd(Cmd::CreateDatabase(cluster::CreateDatabase {
                name: "_internal".into(),
                ..Default::default()
            })),
        )
        .unwrap();
        let r = import(
            &mut t,
            cluster::ImportData {
                data: b.encode_to_vec(),
                import_users: true,
                drop_internal: true,
                ..Default::default()
            },
        )
        .unwrap();
        // telegraf + metrics, 2 groups each, 1 shard per group (3 nodes / RF 3).
        assert_eq!(r.shard_map.len(), 4);
        let names: Vec<&str> = t.data.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["telegraf", "metrics"]);
        for db in &t.data.databases {
            for rp in &db.retention_policies {
                assert_eq!(rp.replica_n, 2, "RF 3 capped at 2 data nodes");
                for g in &rp.shard_groups {
                    assert!(!g.shards.is_empty());
                    for s in &g.shards {
                        assert_eq!(s.owners.len(), 2);
                    }
                }
            }
        }
        assert_eq!(t.data.users.len(), 1);
    }

    #[test]
    fn existing_database_fails_and_newdb_works() {
        let b = backup();
        let mut t = cluster_with(1);
        t.apply(
            50,
            1,
            "",
            &cmd(Cmd::CreateDatabase(cluster::CreateDatabase {
                name: "telegraf".into(),
                ..Default::default()
            })),
        )
        .unwrap();
        let err = import(
            &mut t,
            cluster::ImportData {
                data: b.encode_to_vec(),
                backup_database: "telegraf".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "problem setting snapshot: database already exists");
        let r = import(
            &mut t,
            cluster::ImportData {
                data: b.encode_to_vec(),
                backup_database: "telegraf".into(),
                restore_database: "restored".into(),
                backup_policy: "autogen".into(),
                restore_policy: "kept".into(),
                new_replica_n: 5,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.shard_map.len(), 2);
        let db = t.db("restored").unwrap();
        assert_eq!(db.default_retention_policy, "kept");
        assert_eq!(db.retention_policies[0].replica_n, 1);
        assert!(t.data.users.is_empty(), "a -db restore brings no users");
    }

    #[test]
    fn newshard_is_never_given_to_another_shard() {
        // The backup's shards 1..=4 (two databases, two groups each); the
        // last one restored as shard 2, which the sequential IDs of the
        // shards before it must skip.
        let b = backup();
        let last = b
            .databases
            .iter()
            .filter(|d| d.name != INTERNAL_DB)
            .flat_map(|d| &d.retention_policies)
            .flat_map(|r| &r.shard_groups)
            .flat_map(|g| &g.shards)
            .map(|s| s.id)
            .next_back()
            .unwrap();
        let mut t = cluster_with(1);
        let r = import(
            &mut t,
            cluster::ImportData {
                data: b.encode_to_vec(),
                only_shards: vec![last],
                new_shard_id: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let new_ids: Vec<u64> = r.shard_map.iter().map(|p| p.1).collect();
        let unique: std::collections::BTreeSet<u64> = new_ids.iter().copied().collect();
        assert_eq!(unique.len(), new_ids.len(), "duplicate shard IDs: {new_ids:?}");
        assert_eq!(r.shard_map.iter().find(|p| p.0 == last).map(|p| p.1), Some(2));
        assert_eq!(t.shard_ids().len(), new_ids.len(), "duplicate shard IDs in the metastore");
    }

    #[test]
    fn unfinished_restore_is_replaced_on_retry() {
        let b = backup();
        let mut t = cluster_with(1);
        let c = cluster::ImportData {
            data: b.encode_to_vec(),
            backup_database: "metrics".into(),
            restore_token: "tok1".into(),
            ..Default::default()
        };
        let first = import(&mut t, c.clone()).unwrap();
        let mut retry = c;
        retry.restore_token = "tok2".into();
        let second = import(&mut t, retry).unwrap();
        assert_eq!(t.data.databases.len(), 1);
        assert_ne!(first.shard_map, second.shard_map);
        t.apply(
            200,
            2,
            "",
            &cmd(Cmd::FinishRestore(cluster::FinishRestore {
                databases: vec!["metrics".into()],
                token: "tok2".into(),
            })),
        )
        .unwrap();
        assert!(t.db("metrics").unwrap().restore_token.is_none());
        let again = import(
            &mut t,
            cluster::ImportData {
                data: b.encode_to_vec(),
                backup_database: "metrics".into(),
                ..Default::default()
            },
        );
        assert!(again.is_err(), "a finished restore is a real database");
    }
}
