//! The `Data` gRPC service on the cluster TCP port: identity, join/leave,
//! and (later) shard writes, reads and streams.

use std::sync::Arc;

use proto::cluster::{self, data_server};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::node::Node;

/// The service.
pub struct DataService {
    /// Shared node state.
    pub node: Arc<Node>,
}

#[tonic::async_trait]
impl data_server::Data for DataService {
    async fn node_status(
        &self,
        _request: Request<cluster::NodeStatusRequest>,
    ) -> Result<Response<cluster::NodeStatusResponse>, Status> {
        Ok(Response::new(cluster::NodeStatusResponse {
            id: self.node.id(),
            tcp_addr: self.node.tcp_addr.clone(),
            http_addr: self.node.http_addr.clone(),
            meta_servers: self.node.meta.meta_servers(),
            version: crate::VERSION.to_string(),
        }))
    }

    async fn join(
        &self,
        request: Request<cluster::JoinRequest>,
    ) -> Result<Response<cluster::JoinResponse>, Status> {
        let req = request.into_inner();
        let current = self.node.id();
        if current != 0 && current != req.id {
            return Err(Status::failed_precondition(format!(
                "data node already belongs to a cluster as node {current}"
            )));
        }
        self.node
            .meta
            .join(req.id, req.meta_servers.clone())
            .map_err(|e| Status::internal(format!("saving meta client state: {e}")))?;
        info!(id = req.id, meta = ?req.meta_servers, "joined cluster");
        Ok(Response::new(cluster::JoinResponse {}))
    }

    async fn leave(
        &self,
        _request: Request<cluster::LeaveRequest>,
    ) -> Result<Response<cluster::LeaveResponse>, Status> {
        info!("removed from the cluster: erasing data");
        for s in self.node.store.shards() {
            let _ = self.node.store.delete_shard(s.id);
        }
        self.node.meta.leave().map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(cluster::LeaveResponse {}))
    }

    async fn write_shard(
        &self,
        request: Request<cluster::WriteShardRequest>,
    ) -> Result<Response<cluster::WriteShardResponse>, Status> {
        let req = request.into_inner();
        crate::stats::Stats::add(&self.node.stats.remote_write_req, 1);
        let points: Vec<_> = req.points.into_iter().map(crate::wire::from_wire).collect();
        let partial = self
            .node
            .write_local(req.shard_id, &req.database, &req.policy, std::sync::Arc::new(points))
            .await
            .map_err(Status::internal)?;
        let (partial_reason, dropped) = partial.unwrap_or_default();
        Ok(Response::new(cluster::WriteShardResponse { dropped: dropped as u64, partial_reason }))
    }

    async fn shard_series(
        &self,
        request: Request<cluster::ShardSeriesRequest>,
    ) -> Result<Response<cluster::ShardSeriesResponse>, Status> {
        let req = request.into_inner();
        let Some(shard) = self.node.store.shard(req.shard_id) else {
            return Ok(Response::new(cluster::ShardSeriesResponse {
                exists: false,
                series: vec![],
            }));
        };
        let measurements =
            if req.measurement.is_empty() { shard.measurements() } else { vec![req.measurement] };
        let mut series = Vec::new();
        for m in measurements {
            for s in shard.series(&m) {
                series.push(cluster::SeriesMsg {
                    key: s.key,
                    measurement: s.measurement,
                    tags: s
                        .tags
                        .into_iter()
                        .map(|(key, value)| cluster::WireTag { key, value })
                        .collect(),
                    fields: s
                        .fields
                        .into_iter()
                        .map(|(name, t)| cluster::FieldInfoMsg { name, r#type: t as u32 })
                        .collect(),
                });
            }
        }
        Ok(Response::new(cluster::ShardSeriesResponse { exists: true, series }))
    }

    type ReadShardStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<cluster::ReadShardChunk, Status>> + Send>,
    >;

    async fn read_shard(
        &self,
        request: Request<cluster::ReadShardRequest>,
    ) -> Result<Response<Self::ReadShardStream>, Status> {
        let req = request.into_inner();
        let shard = self
            .node
            .store
            .shard(req.shard_id)
            .ok_or_else(|| Status::not_found(format!("shard {} not found", req.shard_id)))?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::task::spawn_blocking(move || {
            for (i, k) in req.keys.iter().enumerate() {
                let mut cursor = match shard.read_field(&k.series_key, &k.field, req.min, req.max) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
                        return;
                    }
                };
                loop {
                    match cursor.next_chunk() {
                        Ok(Some((times, values))) => {
                            let chunk = chunk_msg(i as u32, times, values);
                            if tx.blocking_send(Ok(chunk)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn delete_shard_data(
        &self,
        request: Request<cluster::DeleteShardDataRequest>,
    ) -> Result<Response<cluster::DeleteShardDataResponse>, Status> {
        let req = request.into_inner();
        let Some(shard) = self.node.store.shard(req.shard_id) else {
            return Ok(Response::new(cluster::DeleteShardDataResponse { deleted: 0 }));
        };
        let stats = tokio::task::spawn_blocking(move || {
            if req.drop_measurement.is_empty() {
                shard.delete_series(&req.series_keys, req.min, req.max)
            } else {
                shard.drop_measurement(&req.drop_measurement)
            }
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(cluster::DeleteShardDataResponse { deleted: stats.points_removed }))
    }

    async fn local_shards(
        &self,
        _request: Request<cluster::LocalShardsRequest>,
    ) -> Result<Response<cluster::LocalShardsResponse>, Status> {
        let node = self.node.clone();
        let svc = DataService { node: node.clone() };
        let shards = tokio::task::spawn_blocking(move || svc.local_shards())
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(cluster::LocalShardsResponse {
            shards,
            anti_entropy_enabled: node.config.anti_entropy.enabled,
        }))
    }

    async fn hinted_handoff_status(
        &self,
        _request: Request<cluster::HintedHandoffStatusRequest>,
    ) -> Result<Response<cluster::HintedHandoffStatusResponse>, Status> {
        let node = self.node.clone();
        let st = tokio::task::spawn_blocking(move || node.hh.status(&node))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(st))
    }

    async fn shard_digest(
        &self,
        request: Request<cluster::ShardDigestRequest>,
    ) -> Result<Response<cluster::ShardDigestResponse>, Status> {
        crate::entropy::rpc::shard_digest(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn copy_shard(
        &self,
        request: Request<cluster::CopyShardRequest>,
    ) -> Result<Response<cluster::CopyShardResponse>, Status> {
        crate::entropy::rpc::copy_shard(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn copy_shard_status(
        &self,
        _request: Request<cluster::CopyShardStatusRequest>,
    ) -> Result<Response<cluster::CopyShardStatusResponse>, Status> {
        Ok(Response::new(crate::entropy::rpc::copy_shard_status(&self.node)))
    }

    async fn kill_copy_shard(
        &self,
        request: Request<cluster::KillCopyShardRequest>,
    ) -> Result<Response<cluster::KillCopyShardResponse>, Status> {
        Ok(Response::new(crate::entropy::rpc::kill_copy_shard(&self.node, request.into_inner())))
    }

    async fn delete_shard(
        &self,
        request: Request<cluster::DeleteShardRequest>,
    ) -> Result<Response<cluster::DeleteShardResponse>, Status> {
        crate::entropy::rpc::delete_shard(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn entropy_status(
        &self,
        _request: Request<cluster::EntropyStatusRequest>,
    ) -> Result<Response<cluster::EntropyStatusResponse>, Status> {
        Ok(Response::new(crate::entropy::rpc::entropy_status(&self.node)))
    }

    async fn entropy_repair(
        &self,
        request: Request<cluster::EntropyRepairRequest>,
    ) -> Result<Response<cluster::EntropyRepairResponse>, Status> {
        crate::entropy::rpc::entropy_repair(&self.node, request.into_inner()).map(Response::new)
    }

    async fn entropy_kill_repair(
        &self,
        request: Request<cluster::EntropyKillRepairRequest>,
    ) -> Result<Response<cluster::EntropyKillRepairResponse>, Status> {
        crate::entropy::rpc::entropy_kill_repair(&self.node, request.into_inner())
            .map(Response::new)
    }

    type BackupShardStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<cluster::BackupShardChunk, Status>> + Send>,
    >;

    async fn backup_shard(
        &self,
        request: Request<cluster::BackupShardRequest>,
    ) -> Result<Response<Self::BackupShardStream>, Status> {
        let req = request.into_inner();
        if self.node.store.shard(req.shard_id).is_none() {
            return Err(Status::not_found(format!("shard {} not found", req.shard_id)));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let node = self.node.clone();
        tokio::task::spawn_blocking(move || super::shard_stream::backup(node, req, tx));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn restore_shard(
        &self,
        request: Request<tonic::Streaming<cluster::RestoreShardChunk>>,
    ) -> Result<Response<cluster::RestoreShardResponse>, Status> {
        let mut stream = request.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty restore stream"))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
        let node = self.node.clone();
        let (id, db, rp) = (first.shard_id, first.database.clone(), first.policy.clone());
        let job =
            tokio::task::spawn_blocking(move || super::shard_stream::restore(node, id, db, rp, rx));
        if !first.data.is_empty() && tx.send(first.data).await.is_err() {
            return Err(job_error(job.await));
        }
        while let Some(chunk) = stream.message().await? {
            if tx.send(chunk.data).await.is_err() {
                // The importer stopped early: report its error.
                return Err(job_error(job.await));
            }
        }
        drop(tx);
        match job.await {
            Ok(Ok(r)) => Ok(Response::new(r)),
            other => Err(job_error(other)),
        }
    }
}

fn job_error(
    r: Result<Result<cluster::RestoreShardResponse, String>, tokio::task::JoinError>,
) -> Status {
    match r {
        Ok(Err(e)) => Status::internal(e),
        Err(e) => Status::internal(e.to_string()),
        Ok(Ok(_)) => Status::internal("restore ended early"),
    }
}

impl DataService {
    /// Local shards for `LocalShards`.
    fn local_shards(&self) -> Vec<cluster::LocalShard> {
        self.node
            .store
            .shards()
            .into_iter()
            .filter_map(|info| {
                let s = self.node.store.shard(info.id)?;
                Some(cluster::LocalShard {
                    id: info.id,
                    database: info.database,
                    policy: info.retention_policy,
                    size: s.size_bytes(),
                    points: s.point_count(),
                    last_modified: s.last_modified(),
                })
            })
            .collect()
    }
}

/// One column chunk as a `ReadShardChunk`.
pub fn chunk_msg(
    key: u32,
    times: Vec<i64>,
    values: portable::tsm::Values,
) -> cluster::ReadShardChunk {
    use portable::tsm::Values;
    let mut c = cluster::ReadShardChunk { key, times, ..Default::default() };
    match values {
        Values::Float(v) => {
            c.r#type = 0;
            c.floats = v;
        }
        Values::Integer(v) => {
            c.r#type = 1;
            c.integers = v;
        }
        Values::Boolean(v) => {
            c.r#type = 2;
            c.booleans = v;
        }
        Values::String(v) => {
            c.r#type = 3;
            c.strings = v;
        }
        Values::Unsigned(v) => {
            c.r#type = 4;
            c.unsigneds = v;
        }
    }
    c
}
