//! The state one data node shares between its servers and workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use portable::Point;
use tonic::transport::Channel;

use crate::config::Config;
use crate::meta_client::MetaClient;
use crate::stats::Stats;
use crate::store::Store;

/// Everything a request handler may need.
pub struct Node {
    /// The configuration in force.
    pub config: Config,
    /// The metastore view and meta command client.
    pub meta: Arc<MetaClient>,
    /// The shard store.
    pub store: Arc<Store>,
    /// Advertised cluster TCP address.
    pub tcp_addr: String,
    /// Advertised HTTP address.
    pub http_addr: String,
    /// Counters for `_internal` and `/debug/vars`.
    pub stats: Stats,
    /// gRPC channels to other data nodes by TCP address.
    pub peers: Mutex<HashMap<String, Channel>>,
    /// Password checks with a cache.
    pub auth: crate::http::auth::Authenticator,
    /// Hinted-handoff queues.
    pub hh: crate::handoff::HintedHandoff,
}

impl Node {
    /// This node's ID (0 before it joined a cluster).
    pub fn id(&self) -> u64 {
        self.meta.node_id()
    }

    /// A (cached, lazily connecting) channel to another data node.
    pub fn peer_channel(&self, addr: &str) -> Result<Channel, String> {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = peers.get(addr) {
            return Ok(c.clone());
        }
        let c = proto::net::channel(addr, None).map_err(|e| format!("{addr}: {e}"))?;
        peers.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Writes points into a local shard, creating the shard if this is its
    /// first write. Returns InfluxDB's partial-write reason and the number of
    /// dropped points when the shard rejected some (field type conflicts).
    pub async fn write_local(
        &self,
        shard_id: u64,
        db: &str,
        rp: &str,
        points: Arc<Vec<Point>>,
    ) -> Result<Option<(String, usize)>, String> {
        let shard = match self.store.shard(shard_id) {
            Some(s) => s,
            None => self.store.create_shard(shard_id, db, rp).map_err(|e| e.to_string())?,
        };
        let report = tokio::task::spawn_blocking(move || shard.write(&points))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(report.rejected.first().map(|r| (r.error.to_string(), report.rejected.len())))
    }

    /// Whether hinted handoff is enabled.
    pub fn hinted_handoff_enabled(&self) -> bool {
        self.hh.enabled()
    }
}
