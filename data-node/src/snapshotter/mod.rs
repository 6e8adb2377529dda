//! InfluxDB's snapshotter protocol on the data node's cluster TCP port
//! (first byte 3; portable-format spec §5.7), so that the real
//! `influxd backup -portable -host <data node>` and
//! `influxd restore -portable -host <data node>` work against the testbed,
//! and the `data-node backup` / `data-node restore` subcommands (the OSS
//! utilities of `influxd`, [`backup_cmd`], [`restore_cmd`]) that speak it.
//!
//! Request types served (the type byte decides, as in InfluxDB):
//!
//! | type | what the data node does |
//! |---|---|
//! | 0 ShardBackup | the shard as a plain tar; with `Since`, the whole shard if it changed after it, else an empty tar |
//! | 1 MetastoreBackup | magic, the cluster's `meta.Data`, `{"ID":<node id>}` |
//! | 3 DatabaseInfo | `{"Paths":["db/rp/id",…]}`: every shard of the database (all databases for `""`) that some data node holds |
//! | 4 RetentionPolicyInfo | the same for one retention policy |
//! | 5 ShardExport | the shard's tar filtered by `ExportStart`/`ExportEnd` the way InfluxDB filters (block-granular, see [`tarball`]) |
//! | 6 MetaStoreUpdate | OSS import of a backup's metadata through the metastore; the reply maps old to new shard IDs |
//! | 7 ShardUpdate | a tar into a shard created by 6, installed on every owner of the shard |
//!
//! Type 2 (SeriesFileBackup, defined but not handled by InfluxDB) and
//! unknown types are logged and the connection is closed, as in InfluxDB.
//!
//! WHICH SHARDS A NODE SERVES. An OSS server answers for its own shards; a
//! testbed data node holds only some. The real tool asks one host, so a
//! data node answers for the whole cluster: DatabaseInfo lists every live
//! shard of the metastore that at least one reachable data node holds (its
//! own store, then the others' `LocalShards`), and a ShardBackup/Export of
//! a shard it does not hold is read from a node that holds it through the
//! `BackupShard` RPC. A restore through one data node likewise imports the
//! metadata once (the metastore places the new shards on data nodes as it
//! places new shard groups) and installs each uploaded shard on every owner
//! (locally, or through the owners' `RestoreShard` RPC).
//!
//! MetaStoreUpdate follows OSS's `ImportData`: without `-db` every database
//! but `_internal`, a database that exists fails the whole import; no
//! users, no continuous queries (they are stripped before the metastore
//! command, whose own rules are Enterprise's). Errors have no channel in
//! this protocol: the reply is the magic and zero pairs (the client prints
//! `DB metadata not changed. database may already exist`), and the reason
//! goes to the node's log. A ShardUpdate that fails writes `ERR <reason>`
//! before closing: the real client never reads it, `data-node restore`
//! reports it.

pub mod backup_cmd;
pub mod client;
pub mod goflag;
pub mod http_guard;
pub mod offline;
pub mod pipe;
pub mod restore_cmd;
pub mod tarball;
mod update;
pub mod wire;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use proto::cluster::{self, data_client::DataClient};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tracing::{Instrument, debug, info, warn};

use crate::meta_client::MetaView;
use crate::node::Node;
use tarball::{Filter, TsmSource};
use wire::{GoTime, JsonFramer, Request, RequestType, WireError};

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest pause inside a streamed upload or download.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound on calls to other data nodes that list or open something.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a snapshotter request failed (logged; the protocol has no error
/// replies).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotterError {
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The client stopped sending before the request was complete.
    #[error("truncated request: {0}")]
    Truncated(String),
    /// The client was silent too long.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// A request type InfluxDB does not handle.
    #[error("request type unknown: {0}")]
    UnknownType(u8),
    /// The JSON request is not one.
    #[error("read request: {0}")]
    BadRequest(#[from] WireError),
    /// InfluxDB's `ErrDatabaseNotFound`.
    #[error("database not found: {0}")]
    DatabaseNotFound(String),
    /// InfluxDB's `ErrRetentionPolicyNotFound`.
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    /// No data node holds the shard.
    #[error("shard not found: {0}")]
    ShardNotFound(u64),
    /// The uploaded metadata is not a `meta.Data`.
    #[error("failed to decode meta: {0}")]
    BadMeta(String),
    /// The metastore refused the import.
    #[error("importing metadata: {0}")]
    Import(String),
    /// Reading or writing shard data failed.
    #[error("{0}")]
    Shard(String),
    /// Another data node failed.
    #[error("data node {addr}: {message}")]
    Peer {
        /// Its TCP address.
        addr: String,
        /// What it said.
        message: String,
    },
}

type Result<T> = std::result::Result<T, SnapshotterError>;

/// Serves one snapshotter connection (the mux saw its first byte, 3).
/// Failures are logged; the connection is closed either way.
pub async fn serve(node: Arc<Node>, stream: TcpStream, peer: SocketAddr) {
    let span = tracing::info_span!("snapshotter", %peer);
    async move {
        match handle(&node, stream).await {
            Ok(Some(t)) => debug!(request = t.name(), "snapshotter request served"),
            Ok(None) => {}
            Err((t, e)) => warn!(
                request = t.map_or("-", RequestType::name),
                error = %e,
                "snapshotter request failed"
            ),
        }
    }
    .instrument(span)
    .await
}

type Failed = (Option<RequestType>, SnapshotterError);

async fn handle(
    node: &Arc<Node>,
    mut stream: TcpStream,
) -> std::result::Result<Option<RequestType>, Failed> {
    let mut head = [0u8; 2];
    match tokio::time::timeout(REQUEST_TIMEOUT, stream.read_exact(&mut head)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err((None, SnapshotterError::Truncated("no request type".into())));
        }
        Ok(Err(e)) => return Err((None, e.into())),
        Err(_) => return Err((None, SnapshotterError::Timeout("the request type"))),
    }
    let Some(t) = RequestType::from_byte(head[1]) else {
        return Err((None, SnapshotterError::UnknownType(head[1])));
    };
    let fail = |e| (Some(t), e);
    match t {
        RequestType::SeriesFileBackup => Err(fail(SnapshotterError::UnknownType(head[1]))),
        RequestType::ShardUpdate => {
            update::shard_update(node, stream).await.map_err(fail)?;
            Ok(Some(t))
        }
        _ => {
            let mut conn = BufReader::new(stream);
            let req = read_request(&mut conn).await.map_err(fail)?;
            debug!(request = t.name(), json = %req.to_json(), "snapshotter request");
            let res = match t {
                RequestType::MetastoreBackup => metastore_backup(node, conn.get_mut()).await,
                RequestType::DatabaseInfo => {
                    shard_paths(node, conn.get_mut(), &req.backup_database, None).await
                }
                RequestType::RetentionPolicyInfo => {
                    let rp = req.backup_retention_policy.clone();
                    shard_paths(node, conn.get_mut(), &req.backup_database, Some(&rp)).await
                }
                RequestType::ShardBackup => {
                    let f =
                        if req.since.is_zero() { Filter::All } else { Filter::Since(req.since) };
                    shard_tar(node, conn.get_mut(), req.shard_id, f).await
                }
                RequestType::ShardExport => {
                    let f = Filter::Window {
                        start: req.export_start.unix_nano_wrapping(),
                        end: req.export_end.unix_nano_wrapping(),
                    };
                    shard_tar(node, conn.get_mut(), req.shard_id, f).await
                }
                RequestType::MetaStoreUpdate => update::meta_store_update(node, conn, &req).await,
                _ => Err(SnapshotterError::UnknownType(head[1])),
            };
            res.map_err(fail)?;
            Ok(Some(t))
        }
    }
}

/// Reads the JSON request and the newline after it, as Go's decoder does.
async fn read_request<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<Request> {
    let read = async {
        let mut framer = JsonFramer::new();
        loop {
            let b = match r.read_u8().await {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(SnapshotterError::Truncated(if framer.is_empty() {
                        "no JSON request after the request type".into()
                    } else {
                        format!("the JSON request ends after {} bytes", framer.len())
                    }));
                }
                Err(e) => return Err(e.into()),
            };
            if framer.push(b)? {
                return Ok(Request::from_json(framer.bytes())?);
            }
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .map_err(|_| SnapshotterError::Timeout("the JSON request"))?
}

/// A fresh metastore view (a linearizable read when the meta nodes answer).
async fn fresh_view(node: &Node) -> Arc<MetaView> {
    node.meta.sync().await
}

async fn metastore_backup(node: &Node, w: &mut TcpStream) -> Result<()> {
    let view = fresh_view(node).await;
    let data = view.data.encode_to_vec();
    let node_json = format!("{{\"ID\":{}}}\n", node.id());
    let blob = portable::meta_file::encode_snapshot_blob(&data, node_json.as_bytes());
    w.write_all(&blob).await?;
    w.flush().await?;
    info!(bytes = blob.len(), index = view.index, "metastore backed up");
    Ok(())
}

/// A data-node client for `addr`.
fn peer_client(node: &Node, addr: &str) -> Result<DataClient<Channel>> {
    let ch = node
        .peer_channel(addr)
        .map_err(|message| SnapshotterError::Peer { addr: addr.to_string(), message })?;
    Ok(DataClient::new(ch)
        .max_decoding_message_size(crate::server::MAX_MESSAGE)
        .max_encoding_message_size(crate::server::MAX_MESSAGE))
}

/// Other data nodes' TCP addresses, by ID.
fn other_nodes(node: &Node, view: &MetaView) -> Vec<(u64, String)> {
    let me = node.id();
    view.data
        .data_nodes
        .iter()
        .filter(|n| n.id != me)
        .filter_map(|n| Some((n.id, n.tcp_host.clone()?)))
        .filter(|(_, a)| *a != node.tcp_addr)
        .collect()
}

/// The shards each other data node holds (unreachable nodes are left out
/// and logged).
async fn remote_shards(
    node: &Node,
    view: &MetaView,
) -> Vec<(u64, String, cluster::LocalShardsResponse)> {
    let calls = other_nodes(node, view).into_iter().map(|(id, addr)| async move {
        let mut c = match peer_client(node, &addr) {
            Ok(c) => c,
            Err(e) => return Err((addr, e.to_string())),
        };
        match tokio::time::timeout(PEER_TIMEOUT, c.local_shards(cluster::LocalShardsRequest {}))
            .await
        {
            Ok(Ok(r)) => Ok((id, addr, r.into_inner())),
            Ok(Err(s)) => Err((addr, s.message().to_string())),
            Err(_) => Err((addr, "timed out".to_string())),
        }
    });
    let mut out = Vec::new();
    for r in futures::future::join_all(calls).await {
        match r {
            Ok(x) => out.push(x),
            Err((addr, e)) => warn!(node = %addr, error = %e, "listing shards of a data node"),
        }
    }
    out
}

/// DatabaseInfo (`rp` None) and RetentionPolicyInfo.
async fn shard_paths(
    node: &Node,
    w: &mut TcpStream,
    database: &str,
    rp: Option<&str>,
) -> Result<()> {
    let view = fresh_view(node).await;
    let dbs: Vec<&proto::meta::DatabaseInfo> = match (database, rp) {
        ("", None) => view.data.databases.iter().collect(),
        (db, _) => vec![
            view.database(db).ok_or_else(|| SnapshotterError::DatabaseNotFound(db.to_string()))?,
        ],
    };
    let mut candidates: Vec<(String, String, u64)> = Vec::new();
    for db in dbs {
        for r in &db.retention_policies {
            if rp.is_some_and(|want| want != r.name) {
                continue;
            }
            for g in r.shard_groups.iter().filter(|g| g.deleted_at == 0) {
                for s in &g.shards {
                    candidates.push((db.name.clone(), r.name.clone(), s.id));
                }
            }
        }
    }
    if let Some(want) = rp {
        let db = view.database(database).map(|d| d.retention_policies.iter());
        if !db.into_iter().flatten().any(|r| r.name == want) {
            return Err(SnapshotterError::RetentionPolicyNotFound(want.to_string()));
        }
    }
    let mut held: HashSet<u64> = node.store.shards().iter().map(|s| s.id).collect();
    if candidates.iter().any(|(_, _, id)| !held.contains(id)) {
        for (_, _, list) in remote_shards(node, &view).await {
            held.extend(list.shards.iter().map(|s| s.id));
        }
    }
    let paths: Vec<String> = candidates
        .into_iter()
        .filter(|(_, _, id)| held.contains(id))
        .map(|(d, r, id)| format!("{d}/{r}/{id}"))
        .collect();
    w.write_all(wire::paths_json(&paths).as_bytes()).await?;
    w.flush().await?;
    info!(database, rp = rp.unwrap_or(""), shards = paths.len(), "listed shards");
    Ok(())
}

/// Where a shard is read from.
enum Located {
    Local(Arc<crate::store::Shard>),
    Remote { addr: String, db: String, rp: String, last_modified: i64 },
}

/// This node's copy of a shard, else a node that holds it (owners first).
async fn locate(node: &Node, id: u64) -> Result<Located> {
    if let Some(s) = node.store.shard(id) {
        return Ok(Located::Local(s));
    }
    let view = fresh_view(node).await;
    let owners: Vec<u64> = view
        .shard(id)
        .map(|s| s.shard.owners.iter().map(|o| o.node_id).collect())
        .unwrap_or_default();
    let mut lists = remote_shards(node, &view).await;
    lists.sort_by_key(|(nid, _, _)| !owners.contains(nid));
    for (_, addr, list) in lists {
        if let Some(s) = list.shards.iter().find(|s| s.id == id) {
            return Ok(Located::Remote {
                addr,
                db: s.database.clone(),
                rp: s.policy.clone(),
                last_modified: s.last_modified,
            });
        }
    }
    Err(SnapshotterError::ShardNotFound(id))
}

/// ShardBackup and ShardExport: the shard's tar through `filter`.
async fn shard_tar(node: &Arc<Node>, w: &mut TcpStream, id: u64, filter: Filter) -> Result<()> {
    let located = locate(node, id).await?;
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(4);
    let (db, rp, from) = match &located {
        Located::Local(s) => (s.database().to_string(), s.retention_policy().to_string(), None),
        Located::Remote { addr, db, rp, .. } => (db.clone(), rp.clone(), Some(addr.clone())),
    };
    let job = match located {
        Located::Local(shard) => {
            let (db, rp) = (db.clone(), rp.clone());
            tokio::task::spawn_blocking(move || {
                let src: TsmSource<std::io::Empty> = TsmSource::Local(shard);
                tarball::build(src, (&db, &rp, id), filter, pipe::ChunkWriter::new(out_tx))
                    .map(|(_writer, stats)| stats)
            })
        }
        Located::Remote { addr, last_modified, .. } => {
            let (gz_tx, gz_rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
            let mut client = peer_client(node, &addr)?;
            let req = cluster::BackupShardRequest { shard_id: id, level: 1, ..Default::default() };
            let mut stream = match tokio::time::timeout(PEER_TIMEOUT, client.backup_shard(req))
                .await
            {
                Ok(Ok(r)) => r.into_inner(),
                Ok(Err(s)) => {
                    return Err(SnapshotterError::Peer { addr, message: s.message().to_string() });
                }
                Err(_) => {
                    return Err(SnapshotterError::Peer { addr, message: "timed out".into() });
                }
            };
            tokio::spawn(
                async move {
                    loop {
                        let next = tokio::time::timeout(IDLE_TIMEOUT, stream.message()).await;
                        let item = match next {
                            Ok(Ok(Some(c))) if c.data.is_empty() => continue,
                            Ok(Ok(Some(c))) => Ok(c.data),
                            Ok(Ok(None)) => return,
                            Ok(Err(s)) => Err(std::io::Error::other(format!(
                                "data node {addr}: {}",
                                s.message()
                            ))),
                            Err(_) => Err(std::io::Error::other(format!(
                                "data node {addr}: backup stream timed out"
                            ))),
                        };
                        let stop = item.is_err();
                        if gz_tx.send(item).await.is_err() || stop {
                            return;
                        }
                    }
                }
                .in_current_span(),
            );
            let (db, rp) = (db.clone(), rp.clone());
            tokio::task::spawn_blocking(move || {
                let src =
                    TsmSource::Remote { reader: pipe::ChunkReader::new(gz_rx), last_modified };
                tarball::build(src, (&db, &rp, id), filter, pipe::ChunkWriter::new(out_tx))
                    .map(|(_writer, stats)| stats)
            })
        }
    };
    let mut sent = 0u64;
    let mut write_err = None;
    while let Some(chunk) = out_rx.recv().await {
        if let Err(e) = w.write_all(&chunk).await {
            write_err = Some(e);
            break;
        }
        sent += chunk.len() as u64;
    }
    drop(out_rx);
    let built = job.await.map_err(|e| SnapshotterError::Shard(e.to_string()))?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    let stats = built.map_err(SnapshotterError::Shard)?;
    w.flush().await?;
    info!(
        shard = id,
        db = %db,
        rp = %rp,
        from = from.as_deref().unwrap_or("local"),
        files = stats.files,
        skipped = stats.skipped,
        bytes = sent,
        filter = %describe(&filter),
        "shard sent"
    );
    Ok(())
}

fn describe(f: &Filter) -> String {
    match f {
        Filter::All => "all".into(),
        Filter::Since(t) => format!("since {}", t.format_rfc3339_nano()),
        Filter::Window { start, end } => format!("window [{start}, {end}]"),
    }
}

/// Go's `time.Time` now, for logs and names.
pub fn now() -> GoTime {
    GoTime::now()
}
