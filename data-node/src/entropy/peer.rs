//! Calls to other data nodes: local shard lists, digests, key reads, and
//! patches sent as one-file shard archives.

use std::time::Duration;

use portable::FieldType;
use portable::archive::{ArchiveOptions, ShardArchiveWriter};
use portable::tsm::Values;
use proto::cluster::{self, data_client::DataClient};
use tonic::transport::Channel;

use super::error::{EntropyError, Result};
use super::merge::Column;
use crate::node::Node;

/// Largest gRPC message.
const MAX_MESSAGE: usize = crate::server::MAX_MESSAGE;
/// Bound on small calls (lists, digests of a cold shard).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes per patch chunk sent to `RestoreShard`.
const CHUNK: usize = 256 << 10;

/// A client for the data node at `addr`.
pub fn client(node: &Node, addr: &str) -> Result<DataClient<Channel>> {
    let ch = node
        .peer_channel(addr)
        .map_err(|message| EntropyError::Peer { addr: addr.to_string(), message })?;
    Ok(DataClient::new(ch)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

async fn bounded<T>(
    addr: &str,
    fut: impl Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) => Err(EntropyError::peer(addr, &s)),
        Err(_) => Err(EntropyError::Peer { addr: addr.to_string(), message: "timed out".into() }),
    }
}

/// The shards on another node's disk.
pub async fn local_shards(node: &Node, addr: &str) -> Result<cluster::LocalShardsResponse> {
    let mut c = client(node, addr)?;
    bounded(addr, c.local_shards(cluster::LocalShardsRequest {})).await
}

/// Another node's digest of a shard (and of its keys with `keys`).
pub async fn digest(
    node: &Node,
    addr: &str,
    shard_id: u64,
    keys: bool,
) -> Result<cluster::ShardDigestResponse> {
    let mut c = client(node, addr)?;
    bounded(addr, c.shard_digest(cluster::ShardDigestRequest { shard_id, keys })).await
}

/// Reads whole composite keys of a shard on another node. The result has
/// one entry per key (empty columns for keys it lacks).
pub async fn read_keys(
    node: &Node,
    addr: &str,
    shard_id: u64,
    keys: &[Vec<u8>],
    types: &[FieldType],
) -> Result<Vec<Column>> {
    let mut out: Vec<Column> = types.iter().map(|t| (Vec::new(), Values::new(*t))).collect();
    if keys.is_empty() {
        return Ok(out);
    }
    let req = cluster::ReadShardRequest {
        shard_id,
        keys: keys
            .iter()
            .map(|k| {
                let (sk, field) = portable::key::split_composite_key(k);
                cluster::ReadKey {
                    series_key: String::from_utf8_lossy(sk).into_owned(),
                    field: String::from_utf8_lossy(field).into_owned(),
                }
            })
            .collect(),
        min: i64::MIN,
        max: i64::MAX,
    };
    let mut c = client(node, addr)?;
    let mut stream = bounded(addr, c.read_shard(req)).await?;
    loop {
        let msg = match tokio::time::timeout(CALL_TIMEOUT, stream.message()).await {
            Ok(Ok(Some(m))) => m,
            Ok(Ok(None)) => break,
            Ok(Err(s)) => return Err(EntropyError::peer(addr, &s)),
            Err(_) => {
                return Err(EntropyError::Peer {
                    addr: addr.to_string(),
                    message: "read timed out".into(),
                });
            }
        };
        let bad = |what: &str| EntropyError::Peer {
            addr: addr.to_string(),
            message: format!("malformed ReadShard chunk: {what}"),
        };
        let col = out.get_mut(msg.key as usize).ok_or_else(|| bad("key index"))?;
        let values = chunk_values(&msg).ok_or_else(|| bad("values"))?;
        if values.len() != msg.times.len() {
            return Err(bad("lengths"));
        }
        if col.0.is_empty() {
            col.1 = Values::new(values.field_type());
        } else if col.1.field_type() != values.field_type() {
            return Err(bad("type"));
        }
        col.0.extend_from_slice(&msg.times);
        col.1.extend_from(&values, 0..values.len()).map_err(|_| bad("type"))?;
    }
    Ok(out)
}

/// The typed values of a `ReadShardChunk`.
fn chunk_values(c: &cluster::ReadShardChunk) -> Option<Values> {
    Some(match c.r#type {
        0 => Values::Float(c.floats.clone()),
        1 => Values::Integer(c.integers.clone()),
        2 => Values::Boolean(c.booleans.clone()),
        3 => Values::String(c.strings.clone()),
        4 => Values::Unsigned(c.unsigneds.clone()),
        _ => return None,
    })
}

/// Wraps one TSM file into a shard archive (`.tar.gz`).
pub fn archive(db: &str, rp: &str, shard_id: u64, tsm: &[u8]) -> Result<Vec<u8>> {
    let mut ar = ShardArchiveWriter::new(Vec::new(), db, rp, shard_id, ArchiveOptions::default());
    ar.append_file("000000001-000000001.tsm", tsm.len() as u64, tsm)?;
    Ok(ar.finish()?.0)
}

/// Sends a TSM patch to another owner (its `RestoreShard` imports it,
/// creating the shard if it lacks it).
pub async fn push_patch(
    node: &Node,
    addr: &str,
    shard_id: u64,
    db: &str,
    rp: &str,
    tsm: &[u8],
) -> Result<u64> {
    let data = archive(db, rp, shard_id, tsm)?;
    let mut chunks: Vec<cluster::RestoreShardChunk> = data
        .chunks(CHUNK)
        .map(|c| cluster::RestoreShardChunk { data: c.to_vec(), ..Default::default() })
        .collect();
    if chunks.is_empty() {
        chunks.push(cluster::RestoreShardChunk::default());
    }
    chunks[0].shard_id = shard_id;
    chunks[0].database = db.to_string();
    chunks[0].policy = rp.to_string();
    let mut c = client(node, addr)?;
    let r = bounded(addr, c.restore_shard(tokio_stream::iter(chunks))).await?;
    Ok(r.points)
}
