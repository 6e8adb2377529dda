//! The `Meta` gRPC service: metastore commands, reads, status and membership.
//!
//! Handlers convert requests and hand them to the driver. Writes that reach a
//! follower are forwarded to the leader (once: a forwarded request is never
//! forwarded again). With no leader, requests wait up to
//! [`MetaService::leader_wait`] for one and then fail with `no leader`, so a
//! cluster without quorum answers fast instead of hanging.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proto::cluster::meta_server::Meta as _;
use proto::cluster::{self, command::Cmd, meta_client::MetaClient, meta_server};
use tokio::sync::{mpsc, oneshot, watch};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::error::MetaError;
use crate::raft::{Member, MemberChange};
use crate::server::driver::{self, Published, RaftStatus, SelfAddrs};

const FORWARDED: &str = "x-meta-forwarded";

/// The service state.
pub struct MetaService {
    /// Driver requests.
    pub requests: mpsc::Sender<driver::Request>,
    /// Latest applied state.
    pub published: watch::Receiver<Published>,
    /// Raft status.
    pub status: watch::Receiver<RaftStatus>,
    /// This node's addresses.
    pub addrs: SelfAddrs,
    /// `[meta] default-replication-factor` (0 = automatic).
    pub default_rf: u32,
    /// `[meta] retention-autocreate`.
    pub retention_autocreate: bool,
    /// How long a request waits for a leader before failing with `no leader`.
    pub leader_wait: Duration,
    /// Cached channels to other meta nodes and data nodes.
    pub channels: Mutex<HashMap<String, Channel>>,
}

impl MetaService {
    fn channel(&self, addr: &str) -> Result<Channel, Status> {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let c = proto::net::channel(addr, Some(Duration::from_secs(10)))
            .map_err(|e| Status::unavailable(format!("{addr}: {e}")))?;
        map.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// The leader's API address, if another node leads.
    fn remote_leader(&self) -> Option<String> {
        let st = self.status.borrow();
        let l = st.leader.as_ref()?;
        (l.id != st.id).then(|| l.http_addr.clone())
    }

    /// A client for the leader when this (non-forwarded) request must go
    /// there, or None to handle it here.
    fn forward_to_leader(&self, forwarded: bool) -> Result<Option<MetaClient<Channel>>, Status> {
        if forwarded || self.is_leader() {
            return Ok(None);
        }
        match self.remote_leader() {
            Some(addr) => Ok(Some(MetaClient::new(self.channel(&addr)?))),
            None => Ok(None),
        }
    }

    /// The data node with TCP address `tcp` in the applied metastore.
    fn data_node(&self, tcp: &str) -> Result<proto::meta::NodeInfo, Status> {
        self.state()
            .data_nodes
            .into_iter()
            .find(|n| n.tcp_host.as_deref() == Some(tcp))
            .ok_or_else(|| Status::not_found(format!("data node {tcp} does not exist")))
    }

    fn is_leader(&self) -> bool {
        let st = self.status.borrow();
        st.leader.as_ref().is_some_and(|l| l.id == st.id)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, MetaError>>) -> driver::Request,
    ) -> Result<T, MetaError> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(make(tx)).await.map_err(|_| MetaError::NoLeader)?;
        rx.await.map_err(|_| MetaError::NoLeader)?
    }

    /// Waits for a status change (a leader appearing) for at most `until`.
    async fn wait_status(&self, until: Instant) {
        let mut rx = self.status.clone();
        let left = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        let _ = tokio::time::timeout(left, rx.changed()).await;
    }

    /// Runs `local` until it succeeds, forwarding to the leader with `remote`
    /// when another node leads, and failing with `no leader` after the wait.
    async fn with_leader<T, L, LF, R, RF>(
        &self,
        forwarded: bool,
        mut local: L,
        mut remote: R,
    ) -> Result<T, Status>
    where
        L: FnMut() -> LF,
        LF: std::future::Future<Output = Result<T, MetaError>>,
        R: FnMut(MetaClient<Channel>) -> RF,
        RF: std::future::Future<Output = Result<T, Status>>,
    {
        let until = Instant::now() + self.leader_wait;
        loop {
            if !forwarded && let Some(addr) = self.remote_leader() {
                let client = MetaClient::new(self.channel(&addr)?);
                match remote(client).await {
                    Ok(v) => return Ok(v),
                    Err(s) if retryable(&s) && Instant::now() < until => {
                        self.wait_status(until).await;
                        continue;
                    }
                    Err(s) => return Err(s),
                }
            }
            match local().await {
                Ok(v) => return Ok(v),
                Err(MetaError::NoLeader) if Instant::now() < until => self.wait_status(until).await,
                Err(e) => return Err(to_status(e)),
            }
        }
    }

    async fn execute_cmd(&self, cmd: Cmd) -> Result<cluster::ExecuteResponse, Status> {
        let req = cluster::ExecuteRequest {
            request_id: new_request_id(),
            command: Some(cluster::Command { cmd: Some(cmd) }),
        };
        let resp = self.execute(Request::new(req)).await?.into_inner();
        if !resp.error.is_empty() {
            return Err(Status::failed_precondition(resp.error));
        }
        Ok(resp)
    }

    fn members(&self) -> Vec<Member> {
        self.status.borrow().members.clone()
    }

    fn state(&self) -> proto::meta::Data {
        crate::state::decode_data(&self.published.borrow().data)
            .unwrap_or_else(|_| crate::state::empty_data())
    }
}

/// Whether a forwarded call failed for a reason a retry can fix: the leader
/// died or changed (transport errors, `no leader`), not an application error.
fn retryable(s: &Status) -> bool {
    !matches!(
        s.code(),
        tonic::Code::FailedPrecondition
            | tonic::Code::InvalidArgument
            | tonic::Code::NotFound
            | tonic::Code::AlreadyExists
    )
}

fn forwarded<T>(req: &Request<T>) -> bool {
    req.metadata().contains_key(FORWARDED)
}

fn forward<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
    r
}

/// A fresh idempotency key.
pub fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{:x}-{:x}", std::process::id(), nanos, SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Maps a meta error to a gRPC status whose message is the error text.
pub fn to_status(e: MetaError) -> Status {
    match e {
        MetaError::NoLeader => Status::unavailable("no leader"),
        other => Status::failed_precondition(other.to_string()),
    }
}

#[tonic::async_trait]
impl meta_server::Meta for MetaService {
    async fn execute(
        &self,
        request: Request<cluster::ExecuteRequest>,
    ) -> Result<Response<cluster::ExecuteResponse>, Status> {
        let fwd = forwarded(&request);
        let mut req = request.into_inner();
        if req.request_id.is_empty() {
            req.request_id = new_request_id();
        }
        if let Some(cluster::Command { cmd: Some(Cmd::CreateDatabase(c)) }) = req.command.as_mut() {
            if c.default_replica_n == 0 {
                c.default_replica_n = self.default_rf;
            }
            if !self.retention_autocreate {
                c.skip_default_rp = true;
            }
        }
        let resp = self
            .with_leader(
                fwd,
                || {
                    let req = req.clone();
                    self.ask(|tx| driver::Request::Execute { req, tx })
                },
                |mut c| {
                    let req = req.clone();
                    async move { Ok(c.execute(forward(req)).await?.into_inner()) }
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    type SnapshotStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<cluster::SnapshotResponse, Status>> + Send>,
    >;

    async fn snapshot(
        &self,
        request: Request<cluster::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let mut min = request.into_inner().min_index;
        let mut rx = self.published.clone();
        let stream = async_stream(
            move |tx: mpsc::Sender<Result<cluster::SnapshotResponse, Status>>| async move {
                loop {
                    let p = rx.borrow_and_update().clone();
                    if p.index > min {
                        min = p.index;
                        let msg =
                            cluster::SnapshotResponse { index: p.index, data: p.data.to_vec() };
                        if tx.send(Ok(msg)).await.is_err() {
                            return;
                        }
                    }
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            },
        );
        Ok(Response::new(stream))
    }

    async fn read(
        &self,
        request: Request<cluster::ReadRequest>,
    ) -> Result<Response<cluster::SnapshotResponse>, Status> {
        let fwd = forwarded(&request);
        let p = self
            .with_leader(
                fwd,
                || self.ask(|tx| driver::Request::Read { tx }),
                |mut c| async move {
                    let r = c.read(forward(cluster::ReadRequest {})).await?.into_inner();
                    Ok(Published { index: r.index, data: std::sync::Arc::new(r.data) })
                },
            )
            .await?;
        Ok(Response::new(cluster::SnapshotResponse { index: p.index, data: p.data.to_vec() }))
    }

    async fn status(
        &self,
        _request: Request<cluster::StatusRequest>,
    ) -> Result<Response<cluster::StatusResponse>, Status> {
        let st = self.status.borrow().clone();
        Ok(Response::new(cluster::StatusResponse {
            id: st.id,
            raft_addr: self.addrs.raft.clone(),
            http_addr: self.addrs.http.clone(),
            leader: st.leader.as_ref().map(|l| l.raft_addr.clone()).unwrap_or_default(),
            leader_id: st.leader.as_ref().map_or(0, |l| l.id),
            term: st.term,
            commit_index: st.commit,
            applied_index: st.applied,
            role: st.role.clone(),
            peers: st
                .members
                .iter()
                .map(|m| cluster::MetaMember {
                    id: m.id,
                    raft_addr: m.raft_addr.clone(),
                    http_addr: m.http_addr.clone(),
                })
                .collect(),
            version: crate::VERSION.to_string(),
        }))
    }

    async fn add_meta(
        &self,
        request: Request<cluster::AddMetaRequest>,
    ) -> Result<Response<cluster::AddMetaResponse>, Status> {
        let fwd = forwarded(&request);
        let http_addr = request.into_inner().http_addr;
        if http_addr.is_empty() {
            return Err(Status::invalid_argument("a meta node address is required"));
        }
        // A node that is in no cluster yet creates one with itself first.
        if self.status.borrow().id == 0 {
            self.ask(|tx| driver::Request::Bootstrap { tx }).await.map_err(to_status)?;
        }
        if let Some(mut c) = self.forward_to_leader(fwd)? {
            return c.add_meta(forward(cluster::AddMetaRequest { http_addr })).await;
        }
        // Wait for leadership (a freshly bootstrapped node elects itself).
        let until = Instant::now() + self.leader_wait;
        while !self.is_leader() {
            if Instant::now() >= until {
                return Err(Status::unavailable("no leader"));
            }
            self.wait_status(until).await;
        }
        if let Some(m) = self.members().into_iter().find(|m| m.http_addr == http_addr) {
            return Ok(Response::new(cluster::AddMetaResponse {
                id: m.id,
                raft_addr: m.raft_addr,
            }));
        }
        // Ask the new node who it is, reserve an ID, prepare it, add it.
        let mut target = MetaClient::new(self.channel(&http_addr)?);
        let probe = target
            .prepare(cluster::PrepareRequest { id: 0 })
            .await
            .map_err(|e| {
                Status::unavailable(format!("contacting meta node {http_addr}: {}", e.message()))
            })?
            .into_inner();
        if probe.initialized {
            return Err(Status::failed_precondition(format!(
                "meta node {http_addr} already belongs to a cluster"
            )));
        }
        let id = self.execute_cmd(Cmd::ReserveNodeId(cluster::ReserveNodeId {})).await?.id;
        let prepared = target
            .prepare(cluster::PrepareRequest { id })
            .await
            .map_err(|e| {
                Status::unavailable(format!("preparing meta node {http_addr}: {}", e.message()))
            })?
            .into_inner();
        let member = Member::new(id, prepared.raft_addr.clone(), http_addr.clone());
        let until = Instant::now() + self.leader_wait;
        loop {
            let change = MemberChange::Add(member.clone());
            match self.ask(|tx| driver::Request::ChangeMembers { change, tx }).await {
                Ok(()) => break,
                Err(MetaError::Busy(_)) if Instant::now() < until => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(to_status(e)),
            }
        }
        Ok(Response::new(cluster::AddMetaResponse { id, raft_addr: prepared.raft_addr }))
    }

    async fn remove_meta(
        &self,
        request: Request<cluster::RemoveMetaRequest>,
    ) -> Result<Response<cluster::RemoveMetaResponse>, Status> {
        let fwd = forwarded(&request);
        let req = request.into_inner();
        if let Some(mut c) = self.forward_to_leader(fwd)? {
            return c.remove_meta(forward(req)).await;
        }
        let member = self
            .members()
            .into_iter()
            .find(|m| {
                m.http_addr == req.http_addr
                    || (!req.raft_addr.is_empty() && m.raft_addr == req.raft_addr)
            })
            .ok_or_else(|| {
                Status::not_found(format!("meta node {} is not in the cluster", req.http_addr))
            })?;
        let change = MemberChange::Remove(member.id);
        self.ask(|tx| driver::Request::ChangeMembers { change, tx }).await.map_err(to_status)?;
        // Tell the removed node to erase its metastore (it may never see its
        // removal commit). A force-removed, unreachable node keeps it.
        if member.id != self.status.borrow().id
            && let Ok(ch) = self.channel(&member.http_addr)
        {
            let mut c = MetaClient::new(ch);
            let r = tokio::time::timeout(Duration::from_secs(3), c.reset(cluster::ResetRequest {}))
                .await;
            if !matches!(r, Ok(Ok(_))) && !req.force {
                tracing::warn!(node = %member.http_addr, "removed meta node did not erase its metastore");
            }
        }
        // A leader that removed itself resets once its removal commits (the
        // driver sees the committed entry).
        Ok(Response::new(cluster::RemoveMetaResponse {}))
    }

    async fn reset(
        &self,
        _request: Request<cluster::ResetRequest>,
    ) -> Result<Response<cluster::ResetResponse>, Status> {
        // Called by the leader right after it removed this node.
        self.ask(|tx| driver::Request::Reset { tx }).await.map_err(to_status)?;
        Ok(Response::new(cluster::ResetResponse {}))
    }

    async fn prepare(
        &self,
        request: Request<cluster::PrepareRequest>,
    ) -> Result<Response<cluster::PrepareResponse>, Status> {
        let id = request.into_inner().id;
        let st = self.status.borrow().clone();
        let initialized = !st.members.is_empty();
        if id != 0 && st.id == 0 {
            self.ask(|tx| driver::Request::Prepare { id, tx }).await.map_err(to_status)?;
        } else if id != 0 && st.id != id {
            return Err(Status::failed_precondition(format!("meta node already has ID {}", st.id)));
        }
        Ok(Response::new(cluster::PrepareResponse {
            id: if id != 0 { id } else { st.id },
            raft_addr: self.addrs.raft.clone(),
            http_addr: self.addrs.http.clone(),
            initialized,
        }))
    }

    async fn add_data(
        &self,
        request: Request<cluster::AddDataRequest>,
    ) -> Result<Response<cluster::AddDataResponse>, Status> {
        let fwd = forwarded(&request);
        let req = request.into_inner();
        if let Some(mut c) = self.forward_to_leader(fwd)? {
            return c.add_data(forward(req)).await;
        }
        let mut data = proto::cluster::data_client::DataClient::new(self.channel(&req.tcp_addr)?);
        let st = data
            .node_status(cluster::NodeStatusRequest {})
            .await
            .map_err(|e| {
                Status::unavailable(format!(
                    "cannot reach data node {}: {}",
                    req.tcp_addr,
                    e.message()
                ))
            })?
            .into_inner();
        let resp = self
            .execute_cmd(Cmd::CreateDataNode(cluster::CreateDataNode {
                http_addr: st.http_addr.clone(),
                tcp_addr: req.tcp_addr.clone(),
                passive: req.passive,
            }))
            .await?;
        let meta_servers: Vec<String> = self.members().into_iter().map(|m| m.http_addr).collect();
        data.join(cluster::JoinRequest { id: resp.id, meta_servers }).await.map_err(|e| {
            Status::unavailable(format!("data node {} did not join: {}", req.tcp_addr, e.message()))
        })?;
        Ok(Response::new(cluster::AddDataResponse {
            id: resp.id,
            tcp_addr: req.tcp_addr,
            http_addr: st.http_addr,
        }))
    }

    async fn remove_data(
        &self,
        request: Request<cluster::RemoveDataRequest>,
    ) -> Result<Response<cluster::RemoveDataResponse>, Status> {
        let fwd = forwarded(&request);
        let req = request.into_inner();
        if let Some(mut c) = self.forward_to_leader(fwd)? {
            return c.remove_data(forward(req)).await;
        }
        let id = self.data_node(&req.tcp_addr)?.id;
        if !req.force {
            let mut data =
                proto::cluster::data_client::DataClient::new(self.channel(&req.tcp_addr)?);
            data.leave(cluster::LeaveRequest {}).await.map_err(|e| {
                Status::unavailable(format!(
                    "data node {} is unreachable ({}); use -force",
                    req.tcp_addr,
                    e.message()
                ))
            })?;
        }
        self.execute_cmd(Cmd::DeleteDataNode(cluster::DeleteDataNode { id })).await?;
        Ok(Response::new(cluster::RemoveDataResponse { id }))
    }

    async fn update_data(
        &self,
        request: Request<cluster::UpdateDataRequest>,
    ) -> Result<Response<cluster::UpdateDataResponse>, Status> {
        let fwd = forwarded(&request);
        let req = request.into_inner();
        if let Some(mut c) = self.forward_to_leader(fwd)? {
            return c.update_data(forward(req)).await;
        }
        let id = self.data_node(&req.old_tcp_addr)?.id;
        let mut data =
            proto::cluster::data_client::DataClient::new(self.channel(&req.new_tcp_addr)?);
        let st = data
            .node_status(cluster::NodeStatusRequest {})
            .await
            .map_err(|e| {
                Status::unavailable(format!(
                    "cannot reach data node {}: {}",
                    req.new_tcp_addr,
                    e.message()
                ))
            })?
            .into_inner();
        self.execute_cmd(Cmd::UpdateDataNode(cluster::UpdateDataNode {
            id,
            tcp_addr: req.new_tcp_addr.clone(),
            http_addr: st.http_addr,
        }))
        .await?;
        let meta_servers: Vec<String> = self.members().into_iter().map(|m| m.http_addr).collect();
        let _ = data.join(cluster::JoinRequest { id, meta_servers }).await;
        Ok(Response::new(cluster::UpdateDataResponse { id }))
    }
}

/// A stream fed by a spawned task.
fn async_stream<T, F, Fut>(f: F) -> std::pin::Pin<Box<dyn tokio_stream::Stream<Item = T> + Send>>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
