//! The meta-node server: binds the Raft and API ports, opens the store,
//! starts the driver, and serves gRPC (Raft on the Raft port; `Meta` plus
//! `/ping` and `/status` on the API port) until shutdown.

pub mod api;
pub mod driver;
pub mod http;
pub mod transport;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use proto::cluster::{meta_server::MetaServer, raft_server::RaftServer};
use tokio::net::TcpListener;
use tracing::{Instrument, info};

use crate::config::Config;
use crate::store::SledStorage;

/// Largest gRPC message (a metastore snapshot can be large).
pub const MAX_MESSAGE: usize = 256 << 20;

/// Options that are not in the config file.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// Write `{"raft": addr, "api": addr, "id": n}` here once serving.
    pub ready_file: Option<PathBuf>,
}

/// Sets TCP_NODELAY on an accepted Raft connection (see the API listener).
fn nodelay(s: std::io::Result<tokio::net::TcpStream>) -> std::io::Result<tokio::net::TcpStream> {
    s.inspect(|s| {
        let _ = s.set_nodelay(true);
    })
}

/// Binds an address like `:8089`, `127.0.0.1:0` or `host:port`.
pub async fn bind(addr: &str) -> Result<TcpListener> {
    let a = if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_string() };
    TcpListener::bind(&a).await.with_context(|| format!("binding {a}"))
}

/// Runs the meta node until `shutdown` resolves.
pub async fn run(
    config: Config,
    opts: RunOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let meta = &config.meta;
    let raft_listener = bind(&meta.bind_address).await?;
    let api_listener = bind(&meta.http_bind_address).await?;
    let raft_local = raft_listener.local_addr()?;
    let api_local = api_listener.local_addr()?;
    proto::net::set_source_ip(raft_local.ip());
    let addrs = driver::SelfAddrs {
        raft: advertised(meta.advertise_address.as_deref(), raft_local, config.hostname.as_deref()),
        http: advertised(
            meta.http_advertise_address.as_deref(),
            api_local,
            config.hostname.as_deref(),
        ),
    };
    let span =
        tracing::info_span!("node", role = "meta", id = tracing::field::Empty, raft = %addrs.raft);
    let dir = meta.dir.join("raft.db");
    std::fs::create_dir_all(&meta.dir)
        .with_context(|| format!("creating meta dir {}", meta.dir.display()))?;
    let storage = SledStorage::open(&dir).map_err(anyhow::Error::msg)?;
    if let Some(id) = storage.node_id() {
        span.record("id", id);
    }
    let (handles, driver_task) = {
        let _g = span.enter();
        driver::Driver::spawn(storage, addrs.clone(), meta.election_timeout, meta.snapshot_entries)
            .map_err(|e| anyhow::anyhow!("starting raft: {e}"))?
    };
    let service = api::MetaService {
        requests: handles.requests.clone(),
        published: handles.published.clone(),
        status: handles.status.clone(),
        addrs: addrs.clone(),
        default_rf: meta.default_replication_factor,
        retention_autocreate: meta.retention_autocreate,
        leader_wait: (meta.election_timeout * 3).max(Duration::from_secs(2)),
        channels: Mutex::new(HashMap::new()),
    };
    let raft_svc = RaftServer::new(transport::RaftService { inbound: handles.inbound.clone() })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let meta_svc = MetaServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let raft_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };
    let raft_server =
        tonic::transport::Server::builder().add_service(raft_svc).serve_with_incoming_shutdown(
            tokio_stream::StreamExt::map(
                tokio_stream::wrappers::TcpListenerStream::new(raft_listener),
                nodelay,
            ),
            raft_stop,
        );
    let router = tonic::service::Routes::new(meta_svc)
        .into_axum_router()
        .merge(http::router(handles.status.clone(), addrs.clone()));
    let api_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };
    // TCP_NODELAY on every accepted connection: a gRPC response goes out in
    // several writes, and Nagle would hold the last one until the client's
    // delayed ACK (40 ms on Linux) — every ctl command and meta read paid it.
    let api_listener = axum::serve::ListenerExt::tap_io(api_listener, |s| {
        let _ = s.set_nodelay(true);
    });
    let api_server = axum::serve(api_listener, router).with_graceful_shutdown(api_stop);
    let raft_task = tokio::spawn(raft_server.instrument(span.clone()));
    let api_task = tokio::spawn(async move { api_server.await }.instrument(span.clone()));

    if let Some(path) = &opts.ready_file {
        let ready = serde_json::json!({
            "raft": raft_local.to_string(),
            "api": api_local.to_string(),
            "id": handles.status.borrow().id,
        });
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, ready.to_string())?;
        std::fs::rename(&tmp, path)?;
    }
    {
        let _g = span.enter();
        info!(raft = %raft_local, api = %api_local, "meta node serving");
    }
    // Record the ID in the span once the node gets one.
    let mut status = handles.status.clone();
    let id_span = span.clone();
    tokio::spawn(async move {
        loop {
            let id = status.borrow_and_update().id;
            if id != 0 {
                id_span.record("id", id);
                return;
            }
            if status.changed().await.is_err() {
                return;
            }
        }
    });
    shutdown.await;
    {
        let _g = span.enter();
        info!("shutting down");
    }
    let _ = stop_tx.send(true);
    driver_task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = raft_task.await;
        let _ = api_task.await;
    })
    .await;
    Ok(())
}

/// The address to announce: the configured one, or the bound one with the
/// hostname (or the bound IP) as host.
fn advertised(configured: Option<&str>, bound: SocketAddr, hostname: Option<&str>) -> String {
    match configured {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => match hostname {
            Some(h) if !h.is_empty() => format!("{h}:{}", bound.port()),
            _ if bound.ip().is_unspecified() => format!("localhost:{}", bound.port()),
            _ => bound.to_string(),
        },
    }
}
