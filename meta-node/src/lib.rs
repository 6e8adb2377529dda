//! Meta node: one member of the Raft-lite metastore group.
//!
//! - [`raft`]: the sans-IO consensus core.
//! - [`state`]: the metastore state machine over InfluxDB's `meta.Data`.
//! - [`store`]: durable Raft storage on sled.
//! - [`server`]: the driver loop, Raft transport, `Meta` gRPC API, HTTP.

pub mod cli;
pub mod config;
pub mod error;
pub mod import;
pub mod raft;
pub mod run;
pub mod server;
pub mod state;
pub mod store;

pub use error::MetaError;

/// Version reported in `X-Influxdb-Version` and `ctl show`.
pub const VERSION: &str = "1.12.3-c1.12.3";

/// Asks this node (at its API address) to form a one-node cluster.
pub async fn bootstrap_self(api: &str) {
    let api = if api.starts_with(':') { format!("127.0.0.1{api}") } else { api.to_string() };
    for _ in 0..100 {
        if let Ok(ch) = proto::net::channel(&api, None) {
            let mut c = proto::cluster::meta_client::MetaClient::new(ch);
            let status = c.status(proto::cluster::StatusRequest {}).await;
            if let Ok(s) = status {
                let s = s.into_inner();
                if s.id != 0 {
                    return;
                }
                if c.add_meta(proto::cluster::AddMetaRequest { http_addr: s.http_addr })
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
