//! Reading the metastore and Raft status of a testkit cluster.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use prost::Message;
use proto::cluster::meta_client::MetaClient;
use testkit::Role;

use crate::backend::Cluster;
use crate::http::Http;

/// Names of the meta nodes whose process runs (paused ones included).
pub fn running_metas(cluster: &mut Cluster) -> Vec<String> {
    let metas: Vec<String> = cluster
        .names()
        .into_iter()
        .filter(|n| cluster.node_info(n).is_ok_and(|i| i.role == Role::Meta))
        .collect();
    metas.into_iter().filter(|n| cluster.is_running(n)).collect()
}

/// A linearizable read of the metastore from the first running meta node
/// that answers.
pub fn read_data(cluster: &mut Cluster, timeout: Duration) -> Result<proto::meta::Data> {
    let mut last = anyhow!("no meta node is running");
    for name in running_metas(cluster) {
        let api = cluster.node_info(&name)?.addrs.api.context("meta node without api address")?;
        let api = cluster.reach(&api);
        let res = cluster.block_on(async {
            let ch = proto::net::channel(&api, Some(timeout))?;
            let mut c = MetaClient::new(ch).max_decoding_message_size(256 << 20);
            let r = c.read(proto::cluster::ReadRequest {}).await?;
            Ok::<_, anyhow::Error>(r.into_inner().data)
        });
        match res {
            Ok(bytes) => {
                return proto::meta::Data::decode(bytes.as_slice()).context("decoding meta.Data");
            }
            Err(e) => last = e.context(format!("reading the metastore from {name}")),
        }
    }
    Err(last)
}

/// Waits until the running, unpaused meta nodes (or only `node`) all report
/// the same leader, and that leader is one of them.
pub fn wait_leader(
    cluster: &mut Cluster,
    http: &Http,
    node: Option<&str>,
    timeout: Duration,
) -> Result<()> {
    let until = Instant::now() + timeout;
    loop {
        let live: Vec<(String, String, String)> = running_metas(cluster)
            .into_iter()
            .filter_map(|n| cluster.node_info(&n).ok())
            .filter(|i| !i.paused)
            .filter_map(|i| Some((i.name.clone(), cluster.reach(&i.addrs.api?), i.addrs.raft?)))
            .collect();
        let asked: Vec<&(String, String, String)> =
            live.iter().filter(|(name, _, _)| node.is_none_or(|n| n == name)).collect();
        if asked.is_empty() {
            bail!("no running meta node {}", node.unwrap_or_default());
        }
        let mut leaders = Vec::new();
        for (name, api, _) in &asked {
            let leader = http
                .get_json(&format!("http://{api}/status"), Duration::from_secs(1))
                .ok()
                .and_then(|v| v.get("leader").and_then(|l| l.as_str()).map(str::to_string))
                .unwrap_or_default();
            leaders.push((name.clone(), leader));
        }
        let first = &leaders[0].1;
        if !first.is_empty()
            && leaders.iter().all(|(_, l)| l == first)
            && live.iter().any(|(_, _, raft)| raft == first)
        {
            return Ok(());
        }
        let last = leaders
            .iter()
            .map(|(n, l)| format!("{n}: {}", if l.is_empty() { "none" } else { l }))
            .collect::<Vec<_>>()
            .join(", ");
        if Instant::now() >= until {
            bail!("no agreed leader after {}: {last}", humantime::format_duration(timeout));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
