//! Talking to data nodes directly (shard streams, local shard lists).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Result, anyhow};
use proto::cluster::{self, data_client::DataClient};
use tonic::transport::Channel;

/// Largest gRPC message.
pub const MAX_MESSAGE: usize = 256 << 20;

/// Shards `backup` and `restore` copy at the same time.
pub const SHARDS_IN_FLIGHT: usize = 4;

/// A client for the data node at `tcp_addr`.
pub fn client(tcp_addr: &str) -> Result<DataClient<Channel>> {
    let ch = proto::net::channel(tcp_addr, None)
        .map_err(|e| anyhow!("invalid data node address {tcp_addr}: {e}"))?;
    Ok(DataClient::new(ch)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// What every reachable data node holds: node ID → shard ID → local shard.
/// Unreachable nodes are left out.
pub async fn local_shards(
    nodes: &[(u64, String)],
    timeout: Duration,
) -> HashMap<u64, BTreeMap<u64, cluster::LocalShard>> {
    let mut out = HashMap::new();
    let futs = nodes.iter().map(|(id, addr)| async move {
        let mut c = client(addr).ok()?;
        let r = tokio::time::timeout(timeout, c.local_shards(cluster::LocalShardsRequest {}))
            .await
            .ok()?
            .ok()?
            .into_inner();
        Some((*id, r))
    });
    for (id, r) in futures::future::join_all(futs).await.into_iter().flatten() {
        out.insert(id, r.shards.into_iter().map(|s| (s.id, s)).collect());
    }
    out
}

/// Data nodes (TCP addresses) that have anti-entropy enabled.
pub async fn anti_entropy_nodes(nodes: &[(u64, String)], timeout: Duration) -> Vec<String> {
    let futs = nodes.iter().map(|(_, addr)| async move {
        let mut c = client(addr).ok()?;
        let r = tokio::time::timeout(timeout, c.local_shards(cluster::LocalShardsRequest {}))
            .await
            .ok()?
            .ok()?
            .into_inner();
        r.anti_entropy_enabled.then(|| addr.clone())
    });
    futures::future::join_all(futs).await.into_iter().flatten().collect()
}
