//! The data-node server: the HTTP API and the cluster TCP port.
//!
//! The cluster port multiplexes, as InfluxDB's `tcp.Mux` does, on the first
//! byte of each connection: 3 selects InfluxDB's snapshotter protocol (so
//! the real `influxd backup -portable -host` works against a data node);
//! anything else (an HTTP/2 preface) is gRPC.

pub mod cluster_rpc;
pub mod shard_stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use proto::cluster::data_server::DataServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info};

use crate::config::Config;
use crate::meta_client::MetaClient;
use crate::node::Node;

/// Largest gRPC message.
pub const MAX_MESSAGE: usize = 256 << 20;

/// The snapshotter's mux header byte.
pub const SNAPSHOTTER_HEADER: u8 = 3;

/// Options that are not in the config file.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// Write `{"http": addr, "tcp": addr, "id": n}` here once serving.
    pub ready_file: Option<PathBuf>,
}

/// Binds `:8086`-style or `host:port` addresses.
pub async fn bind(addr: &str) -> Result<TcpListener> {
    let a = if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_string() };
    TcpListener::bind(&a).await.with_context(|| format!("binding {a}"))
}

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

/// Runs the data node until `shutdown` resolves.
pub async fn run(
    config: Config,
    opts: RunOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tcp_listener = bind(&config.bind_address).await?;
    let http_listener = bind(&config.http.bind_address).await?;
    let tcp_local = tcp_listener.local_addr()?;
    let http_local = http_listener.local_addr()?;
    proto::net::set_source_ip(tcp_local.ip());
    let tcp_addr =
        advertised(config.advertise_address.as_deref(), tcp_local, config.hostname.as_deref());
    let http_addr = advertised(
        config.http.advertise_address.as_deref(),
        http_local,
        config.hostname.as_deref(),
    );
    std::fs::create_dir_all(&config.meta.dir)
        .with_context(|| format!("creating {}", config.meta.dir.display()))?;
    let span =
        tracing::info_span!("node", role = "data", id = tracing::field::Empty, tcp = %tcp_addr);
    let meta = {
        let _g = span.enter();
        MetaClient::open(&config.meta.dir, config.cluster.write_timeout)
            .with_context(|| format!("reading {}/client.json", config.meta.dir.display()))?
    };
    if meta.node_id() != 0 {
        span.record("id", meta.node_id());
    }
    let store_cfg = crate::store::StoreConfig {
        cache_max_points: config.data.cache_snapshot_points.max(1000),
        segment_min_bytes: config.data.segment_min_bytes,
        ..Default::default()
    };
    let store = crate::store::Store::open_with(&config.data.dir, store_cfg)
        .with_context(|| format!("opening the shard store in {}", config.data.dir.display()))?;
    let node = Arc::new(Node {
        config: config.clone(),
        meta,
        store: Arc::new(store),
        tcp_addr: tcp_addr.clone(),
        http_addr: http_addr.clone(),
        stats: Default::default(),
        peers: Default::default(),
        auth: Default::default(),
        hh: crate::handoff::HintedHandoff::open(&config.hinted_handoff)
            .map_err(anyhow::Error::msg)?,
    });

    {
        let _g = span.enter();
        crate::reconcile::spawn(node.clone());
        crate::entropy::spawn(node.clone());
        crate::handoff::spawn(node.clone());
        crate::monitor::spawn(node.clone());
        crate::retention::spawn(node.clone());
    }
    // Cluster port: mux snapshotter vs gRPC on the first byte.
    let (grpc_tx, grpc_rx) = mpsc::channel::<std::io::Result<TcpStream>>(128);
    let mux = tokio::spawn(mux_loop(tcp_listener, grpc_tx, node.clone()).instrument(span.clone()));
    let data_svc = DataServer::new(cluster_rpc::DataService { node: node.clone() })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let grpc_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };
    let grpc = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(data_svc)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::ReceiverStream::new(grpc_rx),
                grpc_stop,
            )
            .instrument(span.clone()),
    );
    let http_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };
    let router = crate::http::router(node.clone());
    let guard_addr = tcp_addr.clone();
    let http = tokio::spawn(
        async move {
            let listener =
                crate::snapshotter::http_guard::GuardedListener::new(http_listener, guard_addr);
            axum::serve(listener, router).with_graceful_shutdown(http_stop).await
        }
        .instrument(span.clone()),
    );

    if let Some(path) = &opts.ready_file {
        let ready = serde_json::json!({
            "http": http_local.to_string(),
            "tcp": tcp_local.to_string(),
            "id": node.id(),
        });
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, ready.to_string())?;
        std::fs::rename(&tmp, path)?;
    }
    {
        let _g = span.enter();
        info!(http = %http_local, tcp = %tcp_local, "data node serving");
    }
    // Record the ID once the node joins.
    {
        let node = node.clone();
        let span2 = span.clone();
        tokio::spawn(async move {
            loop {
                let id = node.id();
                if id != 0 {
                    span2.record("id", id);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    shutdown.await;
    {
        let _g = span.enter();
        info!("shutting down");
    }
    let _ = stop_tx.send(true);
    mux.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = grpc.await;
        let _ = http.await;
    })
    .await;
    Ok(())
}

async fn mux_loop(
    listener: TcpListener,
    grpc_tx: mpsc::Sender<std::io::Result<TcpStream>>,
    node: Arc<Node>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let grpc_tx = grpc_tx.clone();
        let node = node.clone();
        tokio::spawn(
            async move {
                let _ = stream.set_nodelay(true);
                let mut first = [0u8; 1];
                let peeked =
                    tokio::time::timeout(Duration::from_secs(10), stream.peek(&mut first)).await;
                match peeked {
                    Ok(Ok(1)) if first[0] == SNAPSHOTTER_HEADER => {
                        crate::snapshotter::serve(node, stream, peer).await;
                    }
                    Ok(Ok(_)) => {
                        let _ = grpc_tx.send(Ok(stream)).await;
                    }
                    _ => {}
                }
            }
            .in_current_span(),
        );
    }
}
