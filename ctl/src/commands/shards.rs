//! Shard management: `show-shards [-v] [-m] [-e]`, `copy-shard`,
//! `copy-shard-status`, `kill-copy-shard`, `remove-shard`,
//! `truncate-shards [-delay 1m]`.
//!
//! The metastore comes from the `-bind` meta node; shard data moves between
//! data nodes directly (the destination of a copy pulls from the source
//! through its `CopyShard` RPC), then the metastore is updated
//! (`AddShardOwner`, `RemoveShardOwner`, `TruncateShardGroups`). Tables are
//! laid out as `influxd-ctl`'s (Go tabwriter, padding 2).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Result, anyhow, bail};
use proto::cluster::{self, command::Cmd};
use proto::meta;

use crate::client::Meta;
use crate::commands::data;
use crate::run::Outcome;
use crate::table;

/// Go's `time.RFC3339` of Unix ns, UTC.
pub fn rfc3339(ns: i64) -> String {
    portable::gotime::format_rfc3339(ns)
}

fn fraction(ns: i64) -> String {
    let frac = ns.rem_euclid(1_000_000_000);
    if frac == 0 {
        return String::new();
    }
    format!(".{frac:09}").trim_end_matches('0').to_string()
}

/// Go's `time.RFC3339Nano` of Unix ns, UTC (trailing zeros dropped).
pub fn rfc3339_nano(ns: i64) -> String {
    let s = rfc3339(ns);
    format!("{}{}Z", s.trim_end_matches('Z'), fraction(ns))
}

/// Go's `time.Time.String()` of Unix ns in UTC
/// (`2023-06-22 23:45:09.470696179 +0000 UTC`).
pub fn go_time(ns: i64) -> String {
    let s = rfc3339(ns);
    format!("{}{} +0000 UTC", s.trim_end_matches('Z').replacen('T', " ", 1), fraction(ns))
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A data node's TCP address by ID (empty when unknown).
fn node_addr(data: &meta::Data, id: u64) -> String {
    data.data_nodes.iter().find(|n| n.id == id).and_then(|n| n.tcp_host.clone()).unwrap_or_default()
}

/// A data node's ID by TCP address.
fn node_id(data: &meta::Data, addr: &str) -> Option<u64> {
    data.data_nodes.iter().find(|n| n.tcp_host.as_deref() == Some(addr)).map(|n| n.id)
}

/// Every data node as (ID, TCP address).
pub fn data_nodes(data: &meta::Data) -> Vec<(u64, String)> {
    data.data_nodes.iter().filter_map(|n| Some((n.id, n.tcp_host.clone()?))).collect()
}

/// `show-shards` flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShowOptions {
    /// `-v`: per-owner state, last modification, size.
    pub verbose: bool,
    /// `-m`: only shards in the metastore but not on an owner's disk, or
    /// on a node's disk without it owning them.
    pub inconsistent: bool,
    /// `-e`: include expired shards.
    pub expired: bool,
}

/// What each data node holds: node → shard → local shard. A node missing
/// from the map did not answer.
pub type Disks = HashMap<u64, BTreeMap<u64, cluster::LocalShard>>;

struct Row<'a> {
    db: &'a meta::DatabaseInfo,
    rp: &'a meta::RetentionPolicyInfo,
    group: &'a meta::ShardGroupInfo,
    shard: &'a meta::ShardInfo,
}

fn expires(rp: &meta::RetentionPolicyInfo, group: &meta::ShardGroupInfo) -> Option<i64> {
    (rp.duration > 0).then(|| group.end_time.saturating_add(rp.duration))
}

fn owner_cell(data: &meta::Data, id: u64, verbose: bool, shard: u64, disks: &Disks) -> String {
    let addr = node_addr(data, id);
    if !verbose {
        return format!("{{{id} {addr}}}");
    }
    let (state, lm, size, err) = match disks.get(&id) {
        None => ("unknown", String::new(), 0, "node unreachable".to_string()),
        Some(d) => match d.get(&shard) {
            Some(s) => ("ok", rfc3339_nano(s.last_modified), s.size, "nil".to_string()),
            None => ("missing", String::new(), 0, "nil".to_string()),
        },
    };
    format!("{{ID:{id} TCPAddr:{addr} State:{state} LastModified:{lm} Size:{size} Err:{err}}}")
}

/// The `show-shards` output.
pub fn render_shards(data: &meta::Data, now: i64, opts: ShowOptions, disks: &Disks) -> String {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for db in &data.databases {
        for rp in &db.retention_policies {
            for group in rp.shard_groups.iter().filter(|g| g.deleted_at == 0) {
                if !opts.expired && expires(rp, group).is_some_and(|e| e < now) {
                    continue;
                }
                rows.extend(group.shards.iter().map(|shard| Row { db, rp, group, shard }));
            }
        }
    }
    rows.sort_by_key(|r| r.shard.id);
    let mut out = vec![
        [
            "ID",
            "Database",
            "Retention Policy",
            "Desired Replicas",
            "Shard Group",
            "Start",
            "End",
            "Expires",
            "Owners",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let in_meta: BTreeSet<u64> = rows.iter().map(|r| r.shard.id).collect();
    for r in &rows {
        let owners: Vec<u64> = r.shard.owners.iter().map(|o| o.node_id).collect();
        if opts.inconsistent {
            let missing =
                owners.iter().any(|o| disks.get(o).is_some_and(|d| !d.contains_key(&r.shard.id)));
            let stray =
                disks.iter().any(|(n, d)| !owners.contains(n) && d.contains_key(&r.shard.id));
            if !missing && !stray {
                continue;
            }
        }
        let end = match r.group.truncated_at {
            Some(t) if t != 0 => format!("{}*", rfc3339_nano(t)),
            _ => rfc3339(r.group.end_time),
        };
        let cells: Vec<String> =
            owners.iter().map(|o| owner_cell(data, *o, opts.verbose, r.shard.id, disks)).collect();
        out.push(vec![
            r.shard.id.to_string(),
            r.db.name.clone(),
            r.rp.name.clone(),
            r.rp.replica_n.to_string(),
            r.group.id.to_string(),
            rfc3339(r.group.start_time),
            end,
            expires(r.rp, r.group).map(rfc3339).unwrap_or_default(),
            format!("[{}]", cells.join(" ")),
        ]);
    }
    if opts.inconsistent {
        // On a disk, but not in the metastore at all.
        let mut stray: BTreeMap<u64, (String, String, Vec<u64>)> = BTreeMap::new();
        for (node, d) in disks {
            for s in d.values().filter(|s| !in_meta.contains(&s.id)) {
                let e = stray
                    .entry(s.id)
                    .or_insert_with(|| (s.database.clone(), s.policy.clone(), Vec::new()));
                e.2.push(*node);
            }
        }
        for (id, (db, rp, mut nodes)) in stray {
            nodes.sort_unstable();
            let cells: Vec<String> =
                nodes.iter().map(|n| owner_cell(data, *n, opts.verbose, id, disks)).collect();
            out.push(vec![
                id.to_string(),
                db,
                rp,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("[{}]", cells.join(" ")),
            ]);
        }
    }
    format!("Shards\n==========\n{}", table::render_with(&out, 1, 2))
}

/// `show-shards`.
pub async fn show_shards(meta: &Meta, opts: ShowOptions) -> Result<Outcome> {
    let data = meta.data().await?;
    let disks = if opts.verbose || opts.inconsistent {
        data::local_shards(&data_nodes(&data), meta.timeout()).await
    } else {
        Disks::new()
    };
    print!("{}", render_shards(&data, now_ns(), opts, &disks));
    Ok(Outcome::Success)
}

fn parse_id(s: &str) -> Result<u64> {
    match s.parse::<u64>() {
        Ok(0) => bail!("shardID must be greater than 0"),
        Ok(id) => Ok(id),
        Err(_) => bail!("error converting shardID to int: {s}"),
    }
}

fn exited(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("operation exited with error: {e}")
}

fn find_shard(data: &meta::Data, id: u64) -> bool {
    data.databases
        .iter()
        .flat_map(|d| &d.retention_policies)
        .flat_map(|r| &r.shard_groups)
        .flat_map(|g| &g.shards)
        .any(|s| s.id == id)
}

fn shard_owners(data: &meta::Data, id: u64) -> Vec<u64> {
    data.databases
        .iter()
        .flat_map(|d| &d.retention_policies)
        .flat_map(|r| &r.shard_groups)
        .flat_map(|g| &g.shards)
        .filter(|s| s.id == id)
        .flat_map(|s| s.owners.iter().map(|o| o.node_id))
        .collect()
}

/// `copy-shard <src> <dst> <id>`.
pub async fn copy_shard(meta: &Meta, src: &str, dst: &str, id: &str) -> Result<Outcome> {
    if src == dst {
        bail!("destAddr and srcAddr are the same");
    }
    let id = parse_id(id)?;
    let data = meta.data().await?;
    if !find_shard(&data, id) {
        return Err(exited(format!("shard {id} not found")));
    }
    if node_id(&data, src).is_none() {
        return Err(exited(format!("data node {src} not found")));
    }
    let dst_id = node_id(&data, dst).ok_or_else(|| exited(format!("data node {dst} not found")))?;
    if shard_owners(&data, id).contains(&dst_id) {
        return Err(exited(format!("shard {id} is already owned by {dst}")));
    }
    let mut c = data::client(dst)?;
    c.copy_shard(cluster::CopyShardRequest { shard_id: id, source: src.to_string() })
        .await
        .map_err(|s| exited(format!("{dst}: {}", s.message())))?;
    meta.execute(Cmd::AddShardOwner(cluster::AddShardOwner { shard_id: id, node_id: dst_id }))
        .await
        .map_err(exited)?;
    println!("Copied shard {id} from {src} to {dst}");
    Ok(Outcome::Success)
}

/// `copy-shard-status`.
pub async fn copy_shard_status(meta: &Meta) -> Result<Outcome> {
    let data = meta.data().await?;
    let timeout = meta.timeout();
    let futs = data_nodes(&data).into_iter().map(|(_, addr)| async move {
        let mut c = data::client(&addr).ok()?;
        let r =
            tokio::time::timeout(timeout, c.copy_shard_status(cluster::CopyShardStatusRequest {}))
                .await
                .ok()?
                .ok()?;
        Some(r.into_inner().tasks)
    });
    let mut tasks: Vec<cluster::CopyShardTask> =
        futures::future::join_all(futs).await.into_iter().flatten().flatten().collect();
    tasks.sort_by_key(|t| (t.started_at, t.shard_id));
    let mut rows = vec![
        [
            "Source",
            "Dest",
            "Database",
            "Policy",
            "ShardID",
            "TotalSize",
            "CurrentSize",
            "StartedAt",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for t in tasks {
        rows.push(vec![
            t.source,
            t.dest,
            t.database,
            t.policy,
            t.shard_id.to_string(),
            t.total_size.to_string(),
            t.current_size.to_string(),
            go_time(t.started_at),
        ]);
    }
    print!("{}", table::render_with(&rows, 1, 2));
    Ok(Outcome::Success)
}

/// `kill-copy-shard <src> <dst> <id>`.
pub async fn kill_copy_shard(meta: &Meta, src: &str, dst: &str, id: &str) -> Result<Outcome> {
    let id = parse_id(id)?;
    let data = meta.data().await?;
    if node_id(&data, dst).is_none() {
        return Err(exited(format!("data node {dst} not found")));
    }
    let mut c = data::client(dst)?;
    let r = c
        .kill_copy_shard(cluster::KillCopyShardRequest { source: src.to_string(), shard_id: id })
        .await
        .map_err(|s| exited(format!("{dst}: {}", s.message())))?
        .into_inner();
    if !r.killed {
        return Err(exited(format!("no copy of shard {id} from {src} to {dst} is in progress")));
    }
    println!("Killed copy of shard {id} from {src} to {dst}");
    Ok(Outcome::Success)
}

/// `remove-shard <addr> <id>`: ownership first (so nothing writes there
/// any more), then the data.
pub async fn remove_shard(meta: &Meta, addr: &str, id: &str) -> Result<Outcome> {
    let id = parse_id(id)?;
    let data = meta.data().await?;
    let node = node_id(&data, addr).ok_or_else(|| exited(format!("data node {addr} not found")))?;
    let owner = shard_owners(&data, id).contains(&node);
    let mut min_index = 0;
    if owner {
        let r = meta
            .execute(Cmd::RemoveShardOwner(cluster::RemoveShardOwner {
                shard_id: id,
                node_id: node,
            }))
            .await
            .map_err(exited)?;
        min_index = r.index;
    }
    let mut c = data::client(addr)?;
    let r = c
        .delete_shard(cluster::DeleteShardRequest { shard_id: id, min_index })
        .await
        .map_err(|s| exited(format!("{addr}: {}", s.message())))?
        .into_inner();
    if !owner && !r.existed {
        return Err(exited(format!("shard {id} not found on {addr}")));
    }
    println!("Removed shard {id} from {addr}");
    Ok(Outcome::Success)
}

/// `truncate-shards [-delay D]`: ends the open shard groups at now + D.
pub async fn truncate_shards(meta: &Meta, delay: std::time::Duration) -> Result<Outcome> {
    let delay = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
    let timestamp = now_ns().saturating_add(delay);
    meta.execute(Cmd::TruncateShardGroups(cluster::TruncateShardGroups { timestamp }))
        .await
        .map_err(exited)?;
    println!("Truncated shards.");
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;

    fn data() -> meta::Data {
        let node = |id: u64, addr: &str| meta::NodeInfo {
            id,
            host: String::new(),
            tcp_host: Some(addr.into()),
        };
        let shard = |id: u64, owners: &[u64]| meta::ShardInfo {
            id,
            owners: owners.iter().map(|o| meta::ShardOwner { node_id: *o }).collect(),
            ..Default::default()
        };
        meta::Data {
            data_nodes: vec![node(26, "data1:8088"), node(33, "data3:8088")],
            databases: vec![meta::DatabaseInfo {
                name: "telegraf".into(),
                retention_policies: vec![meta::RetentionPolicyInfo {
                    name: "autogen".into(),
                    replica_n: 2,
                    duration: 0,
                    shard_groups: vec![
                        meta::ShardGroupInfo {
                            id: 37,
                            start_time: 19358 * DAY,
                            end_time: 19365 * DAY,
                            shards: vec![shard(52, &[26, 33]), shard(51, &[26])],
                            truncated_at: Some(19360 * DAY + 418_734_949),
                            ..Default::default()
                        },
                        meta::ShardGroupInfo {
                            id: 38,
                            start_time: 19365 * DAY,
                            end_time: 19372 * DAY,
                            deleted_at: 1,
                            shards: vec![shard(60, &[26])],
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn go_time_formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(go_time(1_470_696_179), "1970-01-01 00:00:01.470696179 +0000 UTC");
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn shards_table_like_influxd_ctl() {
        let out = render_shards(&data(), 0, ShowOptions::default(), &Disks::new());
        assert_eq!(
            out,
            "Shards\n==========\n\
ID  Database  Retention Policy  Desired Replicas  Shard Group  Start                 End                              Expires  Owners\n\
51  telegraf  autogen           2                 37           2023-01-01T00:00:00Z  2023-01-03T00:00:00.418734949Z*           [{26 data1:8088}]\n\
52  telegraf  autogen           2                 37           2023-01-01T00:00:00Z  2023-01-03T00:00:00.418734949Z*           [{26 data1:8088} {33 data3:8088}]\n"
        );
    }

    #[test]
    fn expired_shards_only_with_e_and_inconsistent_ones_with_m() {
        let mut d = data();
        d.databases[0].retention_policies[0].duration = DAY;
        d.databases[0].retention_policies[0].shard_groups[0].truncated_at = None;
        let now = 19400 * DAY;
        let out = render_shards(&d, now, ShowOptions::default(), &Disks::new());
        assert!(!out.contains("telegraf"), "{out}");
        let out = render_shards(
            &d,
            now,
            ShowOptions { expired: true, ..Default::default() },
            &Disks::new(),
        );
        assert!(out.contains("2023-01-08T00:00:00Z  2023-01-09T00:00:00Z"), "{out}");
        // 52 is not on data3's disk; 99 is on data1's disk only.
        let local = |id: u64| cluster::LocalShard {
            id,
            database: "telegraf".into(),
            policy: "autogen".into(),
            ..Default::default()
        };
        let mut disks = Disks::new();
        disks.insert(26, [(51, local(51)), (52, local(52)), (99, local(99))].into());
        disks.insert(33, BTreeMap::new());
        let opts = ShowOptions { inconsistent: true, expired: true, ..Default::default() };
        let out = render_shards(&d, now, opts, &disks);
        let ids: Vec<&str> =
            out.lines().skip(3).filter_map(|l| l.split_whitespace().next()).collect();
        assert_eq!(ids, ["52", "99"], "{out}");
        let verbose = ShowOptions { verbose: true, expired: true, ..Default::default() };
        let out = render_shards(&d, now, verbose, &disks);
        assert!(
            out.contains("{ID:33 TCPAddr:data3:8088 State:missing LastModified: Size:0 Err:nil}"),
            "{out}"
        );
    }
}
