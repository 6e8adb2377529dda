//! Raft transport: one outbound gRPC stream per peer, and the inbound service.
//!
//! Each peer gets a sender task fed by a bounded queue. The task keeps one
//! client-streaming `Raft.Send` call open and writes envelopes in order; on
//! any error it reconnects after a short pause. A full queue drops messages:
//! Raft tolerates loss, and a stalled peer must not stall the driver.

use std::collections::HashMap;
use std::time::Duration;

use proto::cluster::{self, raft_client::RaftClient, raft_server};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use tracing::debug;

use crate::raft::{Codec, Envelope};
use crate::server::driver::Inbound;

/// Per-peer queue depth.
const PEER_QUEUE: usize = 1024;

struct Peer {
    addr: String,
    tx: mpsc::Sender<cluster::RaftEnvelope>,
}

/// Outbound senders by peer ID.
#[derive(Default)]
pub struct Outbound {
    peers: HashMap<u64, Peer>,
}

impl Outbound {
    /// Queues `env` for peer `to` at `addr` (restarting the sender if the
    /// address changed).
    pub fn send(&mut self, to: u64, addr: &str, self_addr: &str, env: Envelope) {
        let stale = self.peers.get(&to).is_none_or(|p| p.addr != addr || p.tx.is_closed());
        if stale {
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            tokio::spawn(sender(addr.to_string(), rx));
            self.peers.insert(to, Peer { addr: addr.to_string(), tx });
        }
        let msg = cluster::RaftEnvelope {
            from: env.from,
            to: env.to,
            from_addr: self_addr.to_string(),
            message: env.encode(),
        };
        if let Some(p) = self.peers.get(&to) {
            let _ = p.tx.try_send(msg);
        }
    }
}

async fn sender(addr: String, mut rx: mpsc::Receiver<cluster::RaftEnvelope>) {
    loop {
        let Ok(channel) = proto::net::channel(&addr, None) else {
            return;
        };
        let mut client = RaftClient::new(channel);
        // Bridge the queue into the stream until the stream breaks.
        let (stream_tx, stream_rx) = mpsc::channel::<cluster::RaftEnvelope>(PEER_QUEUE);
        let call = tokio::spawn(async move {
            client.send(tokio_stream::wrappers::ReceiverStream::new(stream_rx)).await
        });
        loop {
            let Some(msg) = rx.recv().await else {
                call.abort();
                return;
            };
            if stream_tx.send(msg).await.is_err() {
                break;
            }
            if call.is_finished() {
                break;
            }
        }
        drop(stream_tx);
        if let Ok(Err(e)) = call.await {
            debug!(peer = %addr, error = %e, "raft stream closed");
        }
        // Drop what queued up while the link was down, then retry.
        tokio::time::sleep(Duration::from_millis(50)).await;
        while rx.try_recv().is_ok() {}
    }
}

/// The inbound `Raft` gRPC service.
pub struct RaftService {
    /// Where decoded envelopes go.
    pub inbound: mpsc::Sender<Inbound>,
}

#[tonic::async_trait]
impl raft_server::Raft for RaftService {
    async fn send(
        &self,
        request: Request<Streaming<cluster::RaftEnvelope>>,
    ) -> Result<Response<cluster::RaftAck>, Status> {
        let mut stream = request.into_inner();
        while let Some(msg) = stream.next().await {
            let msg = msg?;
            match Envelope::decode(&msg.message) {
                Ok(env) => {
                    if self.inbound.send(Inbound { env, from_addr: msg.from_addr }).await.is_err() {
                        return Err(Status::unavailable("meta node shutting down"));
                    }
                }
                Err(e) => {
                    debug!(error = %e, "dropping undecodable raft message");
                }
            }
        }
        Ok(Response::new(cluster::RaftAck {}))
    }
}
