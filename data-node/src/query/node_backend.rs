//! [`Backend`] over a running data node: local shards through the store
//! (on blocking threads), remote ones through the `Data` service RPCs
//! (`ShardSeries`, `ReadShard`, `DeleteShardData`), metastore commands
//! through the meta client, writes through the write coordinator.

use std::sync::Arc;
use std::time::Duration;

use portable::tsm::Values;
use portable::{FieldType, Point};
use proto::cluster::{self, command::Cmd, data_client::DataClient};
use tonic::transport::Channel;

use super::backend::{Backend, BoxFuture, RawColumn};
use crate::coordinator::{self, Consistency};
use crate::meta_client::MetaView;
use crate::node::Node;
use crate::store::SeriesInfo;

/// The engine's view of a live node.
#[derive(Clone)]
pub struct NodeBackend {
    /// The node.
    pub node: Arc<Node>,
}

impl NodeBackend {
    fn client(&self, owner: u64) -> Result<DataClient<Channel>, String> {
        let view = self.node.meta.view();
        let addr =
            view.data_node_tcp(owner).ok_or_else(|| format!("data node {owner} not found"))?;
        let ch = self.node.peer_channel(addr)?;
        Ok(DataClient::new(ch)
            .max_encoding_message_size(crate::server::MAX_MESSAGE)
            .max_decoding_message_size(crate::server::MAX_MESSAGE))
    }

    /// How long a remote call may stay silent (`[cluster]
    /// shard-reader-timeout`; 0 = 10 s, so that a hung peer only delays a
    /// query until the next owner is tried).
    fn timeout(&self) -> Duration {
        let t = self.node.config.cluster.shard_reader_timeout;
        if t.is_zero() { Duration::from_secs(10) } else { t }
    }

    fn is_local(&self, owner: u64) -> bool {
        owner == self.node.id()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())?
}

fn series_from_msg(m: cluster::SeriesMsg) -> SeriesInfo {
    SeriesInfo {
        key: m.key,
        measurement: m.measurement,
        tags: m.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        fields: m
            .fields
            .into_iter()
            .filter_map(|f| Some((f.name, FieldType::from_block_type(f.r#type as u8)?)))
            .collect(),
    }
}

fn chunk_values(c: cluster::ReadShardChunk) -> Option<Values> {
    Some(match c.r#type {
        0 => Values::Float(c.floats),
        1 => Values::Integer(c.integers),
        2 => Values::Boolean(c.booleans),
        3 => Values::String(c.strings),
        4 => Values::Unsigned(c.unsigneds),
        _ => return None,
    })
}

/// Appends a chunk to a column; a chunk of another type than the column
/// so far replaces nothing and is dropped (a type conflict across blocks).
fn append(col: &mut RawColumn, times: Vec<i64>, values: Values) {
    if values.len() != times.len() {
        return;
    }
    if col.times.is_empty() {
        col.times = times;
        col.values = values;
        return;
    }
    if col.values.field_type() == values.field_type()
        && col.values.extend_from(&values, 0..values.len()).is_ok()
    {
        col.times.extend_from_slice(&times);
    }
}

impl Backend for NodeBackend {
    fn node_id(&self) -> u64 {
        self.node.id()
    }

    fn view(&self) -> Arc<MetaView> {
        self.node.meta.view()
    }

    fn execute_meta(&self, cmd: Cmd) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(
            async move { self.node.meta.execute(cmd).await.map(|_| ()).map_err(|e| e.to_string()) },
        )
    }

    fn shard_series(
        &self,
        owner: u64,
        shard_id: u64,
        measurement: Option<String>,
    ) -> BoxFuture<'_, Result<Option<Vec<SeriesInfo>>, String>> {
        Box::pin(async move {
            if self.is_local(owner) {
                let store = self.node.store.clone();
                return blocking(move || {
                    let Some(shard) = store.shard(shard_id) else { return Ok(None) };
                    let ms = match measurement {
                        Some(m) => vec![m],
                        None => shard.measurements(),
                    };
                    Ok(Some(ms.iter().flat_map(|m| shard.series(m)).collect()))
                })
                .await;
            }
            let mut c = self.client(owner)?;
            let req = cluster::ShardSeriesRequest {
                shard_id,
                measurement: measurement.unwrap_or_default(),
            };
            let resp = tokio::time::timeout(self.timeout(), c.shard_series(req))
                .await
                .map_err(|_| "timeout".to_string())?
                .map_err(|s| s.message().to_string())?
                .into_inner();
            if !resp.exists {
                return Ok(None);
            }
            Ok(Some(resp.series.into_iter().map(series_from_msg).collect()))
        })
    }

    fn read_shard(
        &self,
        owner: u64,
        shard_id: u64,
        keys: Vec<(String, String)>,
        min: i64,
        max: i64,
    ) -> BoxFuture<'_, Result<Vec<RawColumn>, String>> {
        Box::pin(async move {
            if self.is_local(owner) {
                let store = self.node.store.clone();
                return blocking(move || {
                    let shard = store
                        .shard(shard_id)
                        .ok_or_else(|| format!("shard {shard_id} not found"))?;
                    let mut out = Vec::with_capacity(keys.len());
                    for (sk, f) in &keys {
                        let cur = shard.read_field(sk, f, min, max).map_err(|e| e.to_string())?;
                        let t = cur.field_type();
                        let (times, values) = cur.collect_all().map_err(|e| e.to_string())?;
                        let values = match t {
                            Some(_) => values,
                            None => Values::Float(Vec::new()),
                        };
                        out.push(RawColumn { times, values });
                    }
                    Ok(out)
                })
                .await;
            }
            let mut c = self.client(owner)?;
            let req = cluster::ReadShardRequest {
                shard_id,
                keys: keys
                    .iter()
                    .map(|(s, f)| cluster::ReadKey { series_key: s.clone(), field: f.clone() })
                    .collect(),
                min,
                max,
            };
            let timeout = self.timeout();
            let mut stream = tokio::time::timeout(timeout, c.read_shard(req))
                .await
                .map_err(|_| "timeout".to_string())?
                .map_err(|s| s.message().to_string())?
                .into_inner();
            let mut out: Vec<RawColumn> = keys.iter().map(|_| RawColumn::empty()).collect();
            loop {
                let msg = tokio::time::timeout(timeout, stream.message())
                    .await
                    .map_err(|_| "timeout".to_string())?
                    .map_err(|s| s.message().to_string())?;
                let Some(mut chunk) = msg else { break };
                let i = chunk.key as usize;
                let times = std::mem::take(&mut chunk.times);
                if let (Some(col), Some(values)) = (out.get_mut(i), chunk_values(chunk)) {
                    append(col, times, values);
                }
            }
            Ok(out)
        })
    }

    fn delete_shard_data(
        &self,
        owner: u64,
        shard_id: u64,
        series_keys: Vec<String>,
        min: i64,
        max: i64,
        drop_measurement: Option<String>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.is_local(owner) {
                let store = self.node.store.clone();
                return blocking(move || {
                    let Some(shard) = store.shard(shard_id) else { return Ok(()) };
                    match drop_measurement {
                        Some(m) => shard.drop_measurement(&m),
                        None => shard.delete_series(&series_keys, min, max),
                    }
                    .map(|_| ())
                    .map_err(|e| e.to_string())
                })
                .await;
            }
            let mut c = self.client(owner)?;
            let req = cluster::DeleteShardDataRequest {
                shard_id,
                series_keys,
                min,
                max,
                drop_measurement: drop_measurement.unwrap_or_default(),
            };
            tokio::time::timeout(self.timeout(), c.delete_shard_data(req))
                .await
                .map_err(|_| "timeout".to_string())?
                .map_err(|s| s.message().to_string())?;
            Ok(())
        })
    }

    fn write_points(
        &self,
        db: String,
        rp: String,
        points: Vec<Point>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            coordinator::write_points(&self.node, &db, &rp, Consistency::One, points)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
