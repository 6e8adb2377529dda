//! The restore side of the protocol: MetaStoreUpdate (type 6) imports a
//! backup's metadata through the metastore and answers the shard ID map;
//! ShardUpdate (type 7) takes a plain tar for one of the new shards and
//! installs it on every owner of the shard.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use proto::cluster::{self, command::Cmd};
use proto::meta;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, warn};

use super::{IDLE_TIMEOUT, Result, SnapshotterError, peer_client, pipe, tarball, wire};
use crate::node::Node;

/// Largest metadata upload accepted.
const MAX_META_UPLOAD: i64 = 256 << 20;
/// How much a client may send after the tar's end marker.
const MAX_TRAILER: u64 = 1 << 20;

/// MetaStoreUpdate: reads `UploadSize` bytes of `meta.Data` after the
/// request's newline (InfluxDB reads `UploadSize + 1` bytes and drops the
/// first, the newline Go's encoder appends), imports it and answers the ID
/// map; every failure answers zero pairs and is logged.
pub(super) async fn meta_store_update(
    node: &Arc<Node>,
    mut conn: BufReader<TcpStream>,
    req: &wire::Request,
) -> Result<()> {
    let size = req.upload_size;
    if !(0..=MAX_META_UPLOAD).contains(&size) {
        return Err(SnapshotterError::Truncated(format!(
            "MetaStoreUpdate: UploadSize {size} is not in 0..={MAX_META_UPLOAD}"
        )));
    }
    let mut payload = vec![0u8; size as usize];
    if size > 0 {
        let read = async {
            let nl = conn.read_u8().await?;
            if nl != b'\n' {
                debug!(byte = nl, "MetaStoreUpdate: the byte after the JSON is not a newline");
            }
            conn.read_exact(&mut payload).await
        };
        match tokio::time::timeout(IDLE_TIMEOUT, read).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(SnapshotterError::Truncated(format!(
                    "MetaStoreUpdate: the connection closed before the {size} bytes of metadata"
                )));
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(SnapshotterError::Timeout("the metadata upload")),
        }
    }
    let w = conn.get_mut();
    let data = match meta::Data::decode(payload.as_slice()) {
        Ok(d) => d,
        Err(e) => {
            reply(w, &[]).await?;
            return Err(SnapshotterError::BadMeta(e.to_string()));
        }
    };
    let pairs = match import(node, data, req).await {
        Ok(p) => p,
        Err(e) => {
            reply(w, &[]).await?;
            return Err(e);
        }
    };
    create_local_shards(node, &pairs).await;
    reply(w, &pairs).await?;
    info!(
        backup_database = %req.backup_database,
        restore_database = %req.restore_database,
        backup_policy = %req.backup_retention_policy,
        restore_policy = %req.restore_retention_policy,
        shards = pairs.len(),
        "metadata imported"
    );
    Ok(())
}

async fn reply(w: &mut TcpStream, pairs: &[(u64, u64)]) -> Result<()> {
    w.write_all(&wire::encode_id_map(pairs)).await?;
    w.flush().await?;
    Ok(())
}

/// OSS's `ImportData` through the metastore's `ImportData` command.
async fn import(node: &Node, mut data: meta::Data, req: &wire::Request) -> Result<Vec<(u64, u64)>> {
    // OSS imports neither continuous queries nor users.
    for db in &mut data.databases {
        db.continuous_queries.clear();
    }
    data.users.clear();
    data.roles.clear();
    let one_db = !req.backup_database.is_empty();
    // Without a database, OSS ignores the other names.
    let pick = |s: &str| if one_db { s.to_string() } else { String::new() };
    let restore_policy = if req.restore_retention_policy.is_empty() {
        pick(&req.backup_retention_policy)
    } else {
        pick(&req.restore_retention_policy)
    };
    let cmd = cluster::ImportData {
        data: data.encode_to_vec(),
        backup_database: req.backup_database.clone(),
        restore_database: pick(&req.restore_database),
        backup_policy: pick(&req.backup_retention_policy),
        restore_policy,
        ..Default::default()
    };
    let resp = node
        .meta
        .execute(Cmd::ImportData(cmd))
        .await
        .map_err(|e| SnapshotterError::Import(e.to_string()))?;
    Ok(resp.shard_map.iter().map(|p| (p.old_id, p.new_id)).collect())
}

/// OSS creates an empty shard for every imported one; here the ones this
/// node owns (the others appear on their owners with their data).
async fn create_local_shards(node: &Arc<Node>, pairs: &[(u64, u64)]) {
    let view = node.meta.view();
    let me = node.id();
    for (_, new) in pairs {
        let Some(s) = view.shard(*new) else { continue };
        if !s.owned_by(me) {
            continue;
        }
        let (store, db, rp, id) = (node.store.clone(), s.db.name.clone(), s.rp.name.clone(), *new);
        match tokio::task::spawn_blocking(move || store.create_shard(id, &db, &rp)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(shard = id, error = %e, "creating an imported shard"),
            Err(e) => warn!(shard = id, error = %e, "creating an imported shard"),
        }
    }
}

/// A TSM file received for a shard, staged on disk.
#[derive(Debug, Clone)]
struct Staged {
    generation: u32,
    sequence: u32,
    order: usize,
    name: String,
    path: PathBuf,
    size: u64,
}

/// Removes the staging directory when dropped.
struct StagingDir(PathBuf);

impl Drop for StagingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// ShardUpdate: 8 bytes of shard ID, then a tar until the client closes.
pub(super) async fn shard_update(node: &Arc<Node>, mut stream: TcpStream) -> Result<()> {
    let mut id = [0u8; 8];
    match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut id)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(SnapshotterError::Truncated("ShardUpdate: no shard ID".into()));
        }
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(SnapshotterError::Timeout("the shard ID")),
    }
    let id = u64::from_be_bytes(id);
    let (rd, mut wr) = stream.into_split();
    // The socket feeds a channel that the blocking tar reader consumes.
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let reader = tokio::spawn(
        async move {
            let mut rd = rd;
            let mut total = 0u64;
            loop {
                let mut buf = vec![0u8; pipe::CHUNK];
                let item = match tokio::time::timeout(IDLE_TIMEOUT, rd.read(&mut buf)).await {
                    Ok(Ok(0)) => return total,
                    Ok(Ok(n)) => {
                        buf.truncate(n);
                        total += n as u64;
                        Ok(buf)
                    }
                    Ok(Err(e)) => Err(e),
                    Err(_) => {
                        Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the upload stalled"))
                    }
                };
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return total;
                }
            }
        }
        .in_current_span(),
    );
    let res = receive_and_install(node, id, rx).await;
    let total = reader.await.unwrap_or(0);
    match res {
        Ok(files) => {
            info!(shard = id, files, bytes = total, "shard restored from upload");
            let _ = wr.shutdown().await;
            Ok(())
        }
        Err(e) => {
            let _ = wr.write_all(format!("ERR {e}\n").as_bytes()).await;
            let _ = wr.shutdown().await;
            Err(e)
        }
    }
}

async fn receive_and_install(
    node: &Arc<Node>,
    id: u64,
    rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
) -> Result<usize> {
    let mut view = node.meta.view();
    if view.shard(id).is_none() {
        view = node.meta.sync().await;
    }
    let Some(s) = view.shard(id) else {
        drain(rx).await;
        return Err(SnapshotterError::ShardNotFound(id));
    };
    let (db, rp) = (s.db.name.clone(), s.rp.name.clone());
    let me = node.id();
    let owners: Vec<u64> = s.shard.owners.iter().map(|o| o.node_id).collect();
    let local = owners.is_empty() || owners.contains(&me);
    let remote: Vec<String> = owners
        .iter()
        .filter(|o| **o != me)
        .filter_map(|o| view.data_node_tcp(*o).map(str::to_string))
        .collect();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = node.config.data.dir.join(".snapshotter").join(format!("shard-{id}-{stamp}"));
    let guard = StagingDir(dir.clone());
    let staged = {
        let (db, rp) = (db.clone(), rp.clone());
        tokio::task::spawn_blocking(move || stage(rx, &dir, &db, &rp, id))
            .await
            .map_err(|e| SnapshotterError::Shard(e.to_string()))?
    };
    let (files, skipped, rx) = match staged {
        Ok(x) => x,
        Err((e, rx)) => {
            drain(rx).await;
            return Err(SnapshotterError::Shard(e));
        }
    };
    // The client closes after the end marker; read to its end first.
    drain(rx).await;
    for p in &skipped {
        debug!(shard = id, entry = %p, "tar entry skipped (not a TSM file of this shard)");
    }
    let files = Arc::new(files);
    if local {
        let (node, files, db, rp) = (node.clone(), files.clone(), db.clone(), rp.clone());
        tokio::task::spawn_blocking(move || install_local(&node, id, &db, &rp, &files))
            .await
            .map_err(|e| SnapshotterError::Shard(e.to_string()))?
            .map_err(SnapshotterError::Shard)?;
    }
    for addr in &remote {
        forward(node, addr, id, &db, &rp, files.clone()).await?;
    }
    drop(guard);
    Ok(files.len())
}

/// Reads and discards what the client still sends (bounded), so that a
/// close after it does not reset the connection under the client.
async fn drain(mut rx: mpsc::Receiver<std::io::Result<Vec<u8>>>) {
    let mut n = 0u64;
    while let Ok(Some(Ok(c))) = tokio::time::timeout(IDLE_TIMEOUT, rx.recv()).await {
        n += c.len() as u64;
        if n > MAX_TRAILER {
            break;
        }
    }
}

type Upload = mpsc::Receiver<std::io::Result<Vec<u8>>>;
type Stage = (Vec<Staged>, Vec<String>, Upload);

/// Stages the TSM entries InfluxDB would install: names ending in `.tsm`
/// under `<db>/<rp>/<id>/`; the rest is skipped. Fails on a cut stream.
fn stage(
    rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    dir: &Path,
    db: &str,
    rp: &str,
    id: u64,
) -> std::result::Result<Stage, (String, Upload)> {
    let mut reader = pipe::ChunkReader::new(rx);
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let id_s = id.to_string();
    let res = (|| -> std::result::Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        tarball::walk(&mut reader, |path, size, r| {
            let parts: Vec<&str> = path.split('/').collect();
            let name = parts.get(3..).map(|p| p.join("/")).unwrap_or_default();
            let ours = parts.len() == 4 && parts[0] == db && parts[1] == rp && parts[2] == id_s;
            let tsm = portable::tsm::parse_file_name(&name).filter(|_| name.ends_with(".tsm"));
            let (Some((generation, sequence)), true) = (tsm, ours) else {
                skipped.push(path.to_string());
                return Ok(());
            };
            let order = files.len();
            let p = dir.join(format!("{order:06}.tsm"));
            let mut f =
                std::fs::File::create(&p).map_err(|e| format!("creating {}: {e}", p.display()))?;
            let n = std::io::copy(&mut r.take(size), &mut f)
                .map_err(|e| format!("receiving {path}: {e}"))?;
            if n != size {
                return Err(format!("truncated tar stream: {path} has {n} of its {size} bytes"));
            }
            files.push(Staged { generation, sequence, order, name, path: p, size });
            Ok(())
        })?;
        Ok(())
    })();
    let rx = reader.into_receiver();
    match res {
        Ok(()) => {
            files.sort_by_key(|f| (f.generation, f.sequence, f.order));
            Ok((files, skipped, rx))
        }
        Err(e) => Err((e, rx)),
    }
}

/// Imports the staged files into the local shard (created if needed), in
/// generation order so later files win on equal points.
fn install_local(
    node: &Node,
    id: u64,
    db: &str,
    rp: &str,
    files: &[Staged],
) -> std::result::Result<(), String> {
    let shard = match node.store.shard(id) {
        Some(s) => s,
        None => node.store.create_shard(id, db, rp).map_err(|e| e.to_string())?,
    };
    for f in files {
        let file = std::fs::File::open(&f.path).map_err(|e| format!("{}: {e}", f.name))?;
        shard
            .import_tsm(&format!("shard {id} upload: {}", f.name), std::io::BufReader::new(file))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Sends the staged files to another owner through its `RestoreShard`.
async fn forward(
    node: &Node,
    addr: &str,
    id: u64,
    db: &str,
    rp: &str,
    files: Arc<Vec<Staged>>,
) -> Result<()> {
    let peer = |message: String| SnapshotterError::Peer { addr: addr.to_string(), message };
    let mut client = peer_client(node, addr)?;
    let (tx, rx) = mpsc::channel::<cluster::RestoreShardChunk>(4);
    let first = cluster::RestoreShardChunk {
        shard_id: id,
        database: db.to_string(),
        policy: rp.to_string(),
        data: vec![],
    };
    tx.send(first).await.map_err(|_| peer("stream closed".into()))?;
    let (db2, rp2) = (db.to_string(), rp.to_string());
    let producer = tokio::task::spawn_blocking(move || -> std::result::Result<(), String> {
        let opts = portable::archive::ArchiveOptions {
            level: flate2::Compression::fast(),
            ..Default::default()
        };
        let w = RestoreChunks { tx, buf: Vec::with_capacity(pipe::CHUNK) };
        let mut ar = portable::archive::ShardArchiveWriter::new(w, &db2, &rp2, id, opts);
        for f in files.iter() {
            let file = std::fs::File::open(&f.path).map_err(|e| format!("{}: {e}", f.name))?;
            ar.append_file(&f.name, f.size, file).map_err(|e| e.to_string())?;
        }
        let (mut w, _) = ar.finish().map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut w).map_err(|e| e.to_string())
    });
    let call = client.restore_shard(tokio_stream::wrappers::ReceiverStream::new(rx));
    let answer = call.await;
    let produced = producer.await.map_err(|e| peer(e.to_string()))?;
    let resp = answer.map_err(|s| peer(s.message().to_string()))?.into_inner();
    produced.map_err(peer)?;
    info!(shard = id, owner = %addr, points = resp.points, files = resp.files, "shard forwarded");
    Ok(())
}

/// A `Write` that sends `RestoreShardChunk`s.
struct RestoreChunks {
    tx: mpsc::Sender<cluster::RestoreShardChunk>,
    buf: Vec<u8>,
}

impl RestoreChunks {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(pipe::CHUNK));
        self.tx
            .blocking_send(cluster::RestoreShardChunk { data, ..Default::default() })
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "owner gone"))
    }
}

impl std::io::Write for RestoreChunks {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= pipe::CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
