//! The data node's view of the metastore.
//!
//! After `add-data`, a meta node calls `Join` with this node's ID and the
//! meta servers; both are saved in `<meta dir>/client.json` (as Enterprise
//! data nodes keep `meta/client.json`). The client then keeps a long-poll
//! `Snapshot` stream open to one meta server at a time, rotating on errors,
//! and publishes every new metastore as a [`MetaView`]. Commands go to
//! `Execute` on any meta server (followers forward to the leader), retried
//! with the same idempotency key until they succeed or time out.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use proto::cluster::{self, command::Cmd, meta_client::MetaClient as Grpc};
use proto::meta;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// `client.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientState {
    /// This node's ID (0 until joined).
    pub id: u64,
    /// Meta servers' API addresses.
    pub meta_servers: Vec<String>,
}

impl ClientState {
    /// Loads `client.json` from `dir` (default when absent).
    pub fn load(dir: &Path) -> std::io::Result<ClientState> {
        match std::fs::read(dir.join("client.json")) {
            Ok(b) => serde_json::from_slice(&b).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientState::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves `client.json` atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join("client.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, dir.join("client.json"))
    }
}

/// An immutable metastore snapshot with lookups.
#[derive(Debug, Clone, Default)]
pub struct MetaView {
    /// Raft index it was taken at.
    pub index: u64,
    /// The metastore.
    pub data: meta::Data,
}

impl MetaView {
    /// A database by name.
    pub fn database(&self, name: &str) -> Option<&meta::DatabaseInfo> {
        self.data.databases.iter().find(|d| d.name == name)
    }

    /// An RP of a database.
    pub fn retention_policy(&self, db: &str, rp: &str) -> Option<&meta::RetentionPolicyInfo> {
        self.database(db)?.retention_policies.iter().find(|r| r.name == rp)
    }

    /// The live shard group of db.rp covering `ts`.
    pub fn shard_group_for(&self, db: &str, rp: &str, ts: i64) -> Option<&meta::ShardGroupInfo> {
        self.retention_policy(db, rp)?.shard_groups.iter().find(|g| group_covers(g, ts))
    }

    /// A data node's TCP address.
    pub fn data_node_tcp(&self, id: u64) -> Option<&str> {
        self.data.data_nodes.iter().find(|n| n.id == id).and_then(|n| n.tcp_host.as_deref())
    }

    /// Every shard with its database, RP and group.
    pub fn shards(&self) -> impl Iterator<Item = ShardRef<'_>> {
        self.data.databases.iter().flat_map(|db| {
            db.retention_policies.iter().flat_map(move |rp| {
                rp.shard_groups.iter().flat_map(move |g| {
                    g.shards.iter().map(move |s| ShardRef { db, rp, group: g, shard: s })
                })
            })
        })
    }

    /// One shard by ID.
    pub fn shard(&self, id: u64) -> Option<ShardRef<'_>> {
        self.shards().find(|s| s.shard.id == id)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&meta::UserInfo> {
        self.data.users.iter().find(|u| u.name == name)
    }
}

/// A shard with its context.
#[derive(Debug, Clone, Copy)]
pub struct ShardRef<'a> {
    /// Database.
    pub db: &'a meta::DatabaseInfo,
    /// Retention policy.
    pub rp: &'a meta::RetentionPolicyInfo,
    /// Shard group.
    pub group: &'a meta::ShardGroupInfo,
    /// The shard.
    pub shard: &'a meta::ShardInfo,
}

impl ShardRef<'_> {
    /// Whether `node` owns this shard.
    pub fn owned_by(&self, node: u64) -> bool {
        self.shard.owners.iter().any(|o| o.node_id == node)
    }
}

/// Whether a live shard group takes writes at `ts` (not deleted, in range,
/// before a truncation).
pub fn group_covers(g: &meta::ShardGroupInfo, ts: i64) -> bool {
    if g.deleted_at != 0 || ts < g.start_time || ts >= g.end_time {
        return false;
    }
    match g.truncated_at {
        Some(t) if t != 0 => ts < t,
        _ => true,
    }
}

/// An error from the meta service, with the text users see.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MetaClientError {
    /// The data node has not joined a cluster.
    #[error("data node is not part of a cluster (run influxd-ctl add-data)")]
    NotJoined,
    /// No meta server answered in time.
    #[error("unable to reach the meta service: {0}")]
    Unreachable(String),
    /// The metastore rejected the command (InfluxDB's text).
    #[error("{0}")]
    Rejected(String),
}

/// The meta client shared by the node.
pub struct MetaClient {
    dir: PathBuf,
    state: Mutex<ClientState>,
    view_tx: watch::Sender<Arc<MetaView>>,
    view_rx: watch::Receiver<Arc<MetaView>>,
    joined_tx: watch::Sender<ClientState>,
    timeout: Duration,
}

impl MetaClient {
    /// Loads `client.json` from `dir` and starts following the metastore if
    /// the node already joined.
    pub fn open(dir: &Path, timeout: Duration) -> std::io::Result<Arc<MetaClient>> {
        let state = ClientState::load(dir)?;
        let (view_tx, view_rx) = watch::channel(Arc::new(MetaView::default()));
        let (joined_tx, _) = watch::channel(state.clone());
        let c = Arc::new(MetaClient {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            view_tx,
            view_rx,
            joined_tx,
            timeout,
        });
        tokio::spawn(follow(c.clone()).in_current_span());
        Ok(c)
    }

    /// The node's ID (0 before joining).
    pub fn node_id(&self) -> u64 {
        self.lock().id
    }

    /// The meta servers.
    pub fn meta_servers(&self) -> Vec<String> {
        self.lock().meta_servers.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a join (ID and meta servers) and starts following.
    pub fn join(&self, id: u64, meta_servers: Vec<String>) -> std::io::Result<()> {
        let st = ClientState { id, meta_servers };
        st.save(&self.dir)?;
        *self.lock() = st.clone();
        self.joined_tx.send_replace(st);
        Ok(())
    }

    /// Forgets the cluster (remove-data).
    pub fn leave(&self) -> std::io::Result<()> {
        let st = ClientState::default();
        st.save(&self.dir)?;
        *self.lock() = st.clone();
        self.view_tx.send_replace(Arc::new(MetaView::default()));
        self.joined_tx.send_replace(st);
        Ok(())
    }

    /// The latest metastore.
    pub fn view(&self) -> Arc<MetaView> {
        self.view_rx.borrow().clone()
    }

    /// A receiver of metastore updates.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetaView>> {
        self.view_rx.clone()
    }

    /// Waits until the local view has reached `index` (or `timeout` passes).
    pub async fn wait_index(&self, index: u64, timeout: Duration) -> bool {
        let mut rx = self.view_rx.clone();
        let wait = async {
            loop {
                if rx.borrow_and_update().index >= index {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Refreshes the view with a linearizable read from a meta server (used
    /// on a miss, e.g. a database created a moment ago through another node
    /// that this node's stream has not delivered yet). Returns the view.
    pub async fn sync(&self) -> Arc<MetaView> {
        for addr in self.meta_servers() {
            let Ok(ch) = proto::net::channel(&addr, Some(Duration::from_secs(2))) else {
                continue;
            };
            let mut c = Grpc::new(ch).max_decoding_message_size(256 << 20);
            if let Ok(r) = c.read(cluster::ReadRequest {}).await {
                let r = r.into_inner();
                if let Ok(data) = meta::Data::decode(r.data.as_slice()) {
                    self.view_tx.send_if_modified(|v| {
                        if r.index > v.index {
                            *v = Arc::new(MetaView { index: r.index, data });
                            true
                        } else {
                            false
                        }
                    });
                }
                break;
            }
        }
        self.view()
    }

    /// Executes a command on the meta service and waits until this node's
    /// view includes its effect. Retries other meta servers with the same
    /// idempotency key.
    pub async fn execute(&self, cmd: Cmd) -> Result<cluster::ExecuteResponse, MetaClientError> {
        let servers = self.meta_servers();
        if servers.is_empty() {
            return Err(MetaClientError::NotJoined);
        }
        let req = cluster::ExecuteRequest {
            request_id: request_id(self.node_id()),
            command: Some(cluster::Command { cmd: Some(cmd) }),
        };
        let until = Instant::now() + self.timeout;
        let mut last = String::from("no meta server answered");
        let mut i = 0usize;
        while Instant::now() < until {
            let addr = &servers[i % servers.len()];
            i += 1;
            let ch = match proto::net::channel(addr, Some(self.timeout)) {
                Ok(c) => c,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let mut c = Grpc::new(ch).max_decoding_message_size(256 << 20);
            match c.execute(req.clone()).await {
                Ok(r) => {
                    let r = r.into_inner();
                    if !r.error.is_empty() {
                        return Err(MetaClientError::Rejected(r.error));
                    }
                    self.wait_index(r.index, Duration::from_secs(5)).await;
                    return Ok(r);
                }
                Err(s) => {
                    last = s.message().to_string();
                    debug!(server = %addr, error = %last, "meta execute failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        Err(MetaClientError::Unreachable(last))
    }
}

fn request_id(node: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("d{node}-{nanos:x}-{:x}", SEQ.fetch_add(1, Ordering::Relaxed))
}

use tracing::Instrument as _;

/// Follows the metastore: one Snapshot stream at a time, rotating servers.
async fn follow(c: Arc<MetaClient>) {
    let mut joined = c.joined_tx.subscribe();
    let mut i = 0usize;
    loop {
        let st = joined.borrow_and_update().clone();
        if st.meta_servers.is_empty() {
            if joined.changed().await.is_err() {
                return;
            }
            continue;
        }
        let addr = st.meta_servers[i % st.meta_servers.len()].clone();
        i += 1;
        let min_index = c.view().index;
        let res = tokio::select! {
            r = stream_from(&c, &addr, min_index) => r,
            _ = joined.changed() => Ok(()),
        };
        if let Err(e) = res {
            debug!(server = %addr, error = %e, "metastore stream ended");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn stream_from(c: &MetaClient, addr: &str, min_index: u64) -> Result<(), String> {
    let ch = proto::net::channel(addr, None).map_err(|e| e.to_string())?;
    let mut client = Grpc::new(ch).max_decoding_message_size(256 << 20);
    let mut stream = client
        .snapshot(cluster::SnapshotRequest { min_index })
        .await
        .map_err(|s| s.message().to_string())?
        .into_inner();
    info!(server = %addr, "following the metastore");
    loop {
        let msg = stream.message().await.map_err(|s| s.message().to_string())?;
        let Some(msg) = msg else { return Err("stream closed".into()) };
        match meta::Data::decode(msg.data.as_slice()) {
            Ok(data) => {
                if msg.index > c.view().index {
                    c.view_tx.send_replace(Arc::new(MetaView { index: msg.index, data }));
                }
            }
            Err(e) => warn!(error = %e, "undecodable metastore from {addr}"),
        }
    }
}
