//! `entropy show`, `entropy repair <id>`, `entropy kill-repair <id>`.
//!
//! Anti-entropy runs on the data nodes; these commands ask every data
//! node's `EntropyStatus` (merged: a shard flagged by two owners is listed
//! once) or send the repair to the shard's first owner that has AE enabled.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow, bail};
use proto::cluster;
use proto::meta;

use crate::client::Meta;
use crate::commands::data;
use crate::commands::shards::{data_nodes, go_time};
use crate::run::Outcome;
use crate::table;

/// Merged anti-entropy status of the cluster.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClusterEntropy {
    /// Shards with entropy, by ID.
    pub shards: BTreeMap<u64, cluster::EntropyShard>,
    /// Queued shards, in queue order (first seen first).
    pub queued: Vec<u64>,
}

/// Merges the answers of the data nodes with AE enabled.
pub fn merge(answers: Vec<cluster::EntropyStatusResponse>) -> ClusterEntropy {
    let mut out = ClusterEntropy::default();
    let mut seen = BTreeSet::new();
    for a in answers.into_iter().filter(|a| a.enabled) {
        for s in a.shards {
            out.shards.entry(s.id).or_insert(s);
        }
        for q in a.queued.into_iter().chain(a.processing) {
            if seen.insert(q) {
                out.queued.push(q);
            }
        }
    }
    out
}

/// The `entropy show` output.
pub fn render(e: &ClusterEntropy) -> String {
    let mut rows = vec![
        ["ID", "Database", "Retention Policy", "Start", "End", "Expires", "Status"]
            .map(String::from)
            .to_vec(),
    ];
    for s in e.shards.values() {
        rows.push(vec![
            s.id.to_string(),
            s.database.clone(),
            s.policy.clone(),
            go_time(s.start_time),
            go_time(s.end_time),
            go_time(s.expires),
            s.status.clone(),
        ]);
    }
    let queued: Vec<String> = e.queued.iter().map(u64::to_string).collect();
    format!(
        "Entropy\n==========\n{}Queued Shards: [{}]\n",
        table::render_with(&rows, 1, 2),
        queued.join(" ")
    )
}

/// `entropy show`.
pub async fn show(meta: &Meta) -> Result<Outcome> {
    let data = meta.data().await?;
    let timeout = meta.timeout();
    let futs = data_nodes(&data).into_iter().map(|(_, addr)| async move {
        let mut c = data::client(&addr).ok()?;
        let r = tokio::time::timeout(timeout, c.entropy_status(cluster::EntropyStatusRequest {}))
            .await
            .ok()?
            .ok()?;
        Some(r.into_inner())
    });
    let answers: Vec<_> = futures::future::join_all(futs).await.into_iter().flatten().collect();
    if !answers.iter().any(|a| a.enabled) {
        bail!("anti-entropy service is not enabled on any data node");
    }
    print!("{}", render(&merge(answers)));
    Ok(Outcome::Success)
}

fn parse_id(s: &str) -> Result<u64> {
    match s.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => bail!("invalid shard ID {s:?}"),
    }
}

fn owners(data: &meta::Data, id: u64) -> Option<Vec<String>> {
    let shard = data
        .databases
        .iter()
        .flat_map(|d| &d.retention_policies)
        .flat_map(|r| &r.shard_groups)
        .filter(|g| g.deleted_at == 0)
        .flat_map(|g| &g.shards)
        .find(|s| s.id == id)?;
    Some(
        shard
            .owners
            .iter()
            .filter_map(|o| data.data_nodes.iter().find(|n| n.id == o.node_id))
            .filter_map(|n| n.tcp_host.clone())
            .collect(),
    )
}

/// `entropy repair <id>`: queued on the first owner that takes it.
pub async fn repair(meta: &Meta, id: &str) -> Result<Outcome> {
    let id = parse_id(id)?;
    let data = meta.data().await?;
    let addrs = owners(&data, id).ok_or_else(|| anyhow!("shard {id} not found"))?;
    let mut disabled = 0;
    let mut last = format!("shard {id} has no owners");
    for addr in &addrs {
        let Ok(mut c) = data::client(addr) else { continue };
        let req = cluster::EntropyRepairRequest { shard_id: id, resolved: false };
        match tokio::time::timeout(meta.timeout(), c.entropy_repair(req)).await {
            Ok(Ok(_)) => {
                println!("Repair Shard {id} queued");
                return Ok(Outcome::Success);
            }
            Ok(Err(s)) if s.code() == tonic::Code::FailedPrecondition => {
                disabled += 1;
                last = format!("{addr}: {}", s.message());
            }
            Ok(Err(s)) => last = format!("{addr}: {}", s.message()),
            Err(_) => last = format!("{addr}: timed out"),
        }
    }
    if disabled == addrs.len() && disabled > 0 {
        bail!("anti-entropy service is not enabled on the data nodes owning shard {id}");
    }
    Err(anyhow!(last))
}

/// `entropy kill-repair <id>`: takes the shard off every node's queue.
pub async fn kill_repair(meta: &Meta, id: &str) -> Result<Outcome> {
    let id = parse_id(id)?;
    let data = meta.data().await?;
    let mut removed = false;
    let mut enabled = false;
    for (_, addr) in data_nodes(&data) {
        let Ok(mut c) = data::client(&addr) else { continue };
        let req = cluster::EntropyKillRepairRequest { shard_id: id };
        match tokio::time::timeout(meta.timeout(), c.entropy_kill_repair(req)).await {
            Ok(Ok(r)) => {
                enabled = true;
                removed |= r.into_inner().removed;
            }
            Ok(Err(s))
                if s.code() == tonic::Code::FailedPrecondition
                    && s.message().contains("cannot be killed") =>
            {
                bail!("{}", s.message());
            }
            _ => {}
        }
    }
    if !enabled {
        bail!("anti-entropy service is not enabled on any data node");
    }
    if !removed {
        bail!("shard {id} is not in the repair queue");
    }
    println!("Repair Shard {id} removed from the queue");
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_lists_each_shard_once_with_the_queue() {
        let shard = |id| cluster::EntropyShard {
            id,
            database: "statsdb".into(),
            policy: "1hour".into(),
            start_time: 1_696_809_600_000_000_000,
            end_time: 1_697_414_400_000_000_000,
            expires: 1_729_555_200_000_000_000,
            status: "diff".into(),
        };
        let a = cluster::EntropyStatusResponse {
            enabled: true,
            shards: vec![shard(21179)],
            queued: vec![21179],
            processing: vec![],
        };
        let b = cluster::EntropyStatusResponse {
            enabled: true,
            shards: vec![shard(21179), shard(25165)],
            queued: vec![25165],
            processing: vec![21179],
        };
        assert_eq!(
            render(&merge(vec![a, b])),
            "Entropy\n==========\n\
ID     Database  Retention Policy  Start                          End                            Expires                        Status\n\
21179  statsdb   1hour             2023-10-09 00:00:00 +0000 UTC  2023-10-16 00:00:00 +0000 UTC  2024-10-22 00:00:00 +0000 UTC  diff\n\
25165  statsdb   1hour             2023-10-09 00:00:00 +0000 UTC  2023-10-16 00:00:00 +0000 UTC  2024-10-22 00:00:00 +0000 UTC  diff\n\
Queued Shards: [21179 25165]\n"
        );
        assert_eq!(
            render(&ClusterEntropy::default()),
            "Entropy\n==========\nID  Database  Retention Policy  Start  End  Expires  Status\nQueued Shards: []\n"
        );
    }
}
