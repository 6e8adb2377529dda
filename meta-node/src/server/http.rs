//! The meta node's plain HTTP endpoints, served on the API port beside gRPC:
//! `GET /ping` and `GET /status` as InfluxDB Enterprise meta nodes answer them.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde_json::json;
use tokio::sync::watch;

use crate::server::driver::{RaftStatus, SelfAddrs};

#[derive(Clone)]
struct HttpState {
    status: watch::Receiver<RaftStatus>,
    addrs: SelfAddrs,
}

/// The router for `/ping` and `/status`.
pub fn router(status: watch::Receiver<RaftStatus>, addrs: SelfAddrs) -> Router {
    Router::new()
        .route("/ping", get(ping).head(ping))
        .route("/status", get(status_handler))
        .with_state(HttpState { status, addrs })
}

fn version_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("X-Influxdb-Version", HeaderValue::from_static(crate::VERSION));
    h
}

async fn ping() -> impl IntoResponse {
    (StatusCode::NO_CONTENT, version_headers())
}

async fn status_handler(State(s): State<HttpState>) -> impl IntoResponse {
    let st = s.status.borrow().clone();
    let body = json!({
        "nodeType": "meta",
        "leader": st.leader.as_ref().map(|l| l.raft_addr.clone()).unwrap_or_default(),
        "httpAddr": s.addrs.http,
        "raftAddr": s.addrs.raft,
        "peers": st.members.iter().map(|m| m.raft_addr.clone()).collect::<Vec<_>>(),
    });
    (version_headers(), Json(body))
}
