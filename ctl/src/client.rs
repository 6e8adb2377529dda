//! The meta-node client every command uses: one gRPC channel to `-bind`,
//! every call bounded by `-timeout`, errors turned into the one-line texts
//! users see.

use std::time::Duration;

use anyhow::{Result, anyhow};
use prost::Message;
use proto::cluster::{self, meta_client::MetaClient};
use proto::meta;
use tonic::transport::Channel;

/// A connection to one meta node.
#[derive(Clone)]
pub struct Meta {
    client: MetaClient<Channel>,
    bind: String,
    timeout: Duration,
}

/// Turns a gRPC status into the message the user sees.
pub fn status_message(bind: &str, s: &tonic::Status) -> String {
    match s.code() {
        tonic::Code::Unavailable if s.message().contains("no leader") => "no leader".to_string(),
        tonic::Code::Unavailable | tonic::Code::Unknown
            if s.message().contains("transport error") || s.message().contains("tcp connect") =>
        {
            format!("unable to connect to meta node at {bind}: {}", s.message())
        }
        tonic::Code::DeadlineExceeded => "operation timed out".to_string(),
        tonic::Code::Unimplemented => {
            format!("{bind} is not a meta node API address (is it a Raft or data node port?)")
        }
        tonic::Code::Unknown | tonic::Code::Internal if s.message().is_empty() => {
            format!("unexpected answer from {bind}: is it a meta node API address?")
        }
        _ => s.message().to_string(),
    }
}

impl Meta {
    /// Connects (lazily) to the meta node at `bind`.
    pub fn new(bind: &str, timeout: Duration) -> Result<Meta> {
        let addr =
            if bind.starts_with(':') { format!("localhost{bind}") } else { bind.to_string() };
        // Each RPC may take a little longer than -timeout, so that the
        // command-level timeout (with its clearer message) fires first.
        let ch = proto::net::channel(&addr, Some(timeout + Duration::from_secs(2)))
            .map_err(|e| anyhow!("invalid meta node address {bind}: {e}"))?;
        let client = MetaClient::new(ch)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20);
        Ok(Meta { client, bind: bind.to_string(), timeout })
    }

    /// The `-bind` address.
    pub fn bind(&self) -> &str {
        &self.bind
    }

    /// The `-timeout`.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn err(&self, s: tonic::Status) -> anyhow::Error {
        anyhow!(status_message(&self.bind, &s))
    }

    /// Raft status as the bound node sees it.
    pub async fn status(&self) -> Result<cluster::StatusResponse> {
        let mut c = self.client.clone();
        Ok(c.status(cluster::StatusRequest {}).await.map_err(|e| self.err(e))?.into_inner())
    }

    /// A linearizable read of the metastore.
    pub async fn data(&self) -> Result<meta::Data> {
        let mut c = self.client.clone();
        let r = c.read(cluster::ReadRequest {}).await.map_err(|e| self.err(e))?.into_inner();
        meta::Data::decode(r.data.as_slice())
            .map_err(|e| anyhow!("bad metastore from {}: {e}", self.bind))
    }

    /// The bound node's local (possibly stale) metastore, without a leader.
    pub async fn local_data(&self) -> Result<meta::Data> {
        let mut c = self.client.clone();
        let mut stream = c
            .snapshot(cluster::SnapshotRequest { min_index: 0 })
            .await
            .map_err(|e| self.err(e))?
            .into_inner();
        match stream.message().await.map_err(|e| self.err(e))? {
            Some(r) => meta::Data::decode(r.data.as_slice())
                .map_err(|e| anyhow!("bad metastore from {}: {e}", self.bind)),
            None => Err(anyhow!("no metastore from {}", self.bind)),
        }
    }

    /// Executes a metastore command; a state-machine error becomes an error.
    pub async fn execute(&self, cmd: cluster::command::Cmd) -> Result<cluster::ExecuteResponse> {
        let mut c = self.client.clone();
        let req = cluster::ExecuteRequest {
            request_id: request_id(),
            command: Some(cluster::Command { cmd: Some(cmd) }),
        };
        let r = c.execute(req).await.map_err(|e| self.err(e))?.into_inner();
        if !r.error.is_empty() {
            return Err(anyhow!(r.error));
        }
        Ok(r)
    }

    /// Raw client, for calls without a wrapper.
    pub fn raw(&self) -> MetaClient<Channel> {
        self.client.clone()
    }

    /// Maps a status from a raw call.
    pub fn map_err(&self, s: tonic::Status) -> anyhow::Error {
        self.err(s)
    }
}

/// A fresh idempotency key for a command (retries reuse it).
pub fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("ctl-{:x}-{:x}-{:x}", std::process::id(), nanos, SEQ.fetch_add(1, Ordering::Relaxed))
}
