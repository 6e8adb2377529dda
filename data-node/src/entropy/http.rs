//! The anti-entropy HTTP API of a data node (only routed when AE is
//! enabled, as in Enterprise):
//!
//! - `GET /shard-status`: `{"<db>": {"<rp>": {"replication_factor": 2,
//!   "shards": [{"id": 3, "size": 1234, "is_hot": false, "state": "healthy"}]}}}`
//!   for the shards this node owns.
//! - `GET /shard-repair/status[?local=true]`: `{"shards": [{"id": "3",
//!   "database": …, "retention_policy": …, "start_time": "<ns>", "end_time":
//!   "<ns>", "expires": "<ns>", "status": "diff"}], "queued_shards": [3],
//!   "processing_shards": []}`; without `local`, merged over every data node.
//! - `POST /shard-repair/repair?id=N`: 204 once queued (on this node if it
//!   owns the shard, else on an owner), 400 for a bad or unknown id, 500
//!   when no owner could queue it.
//! - `POST /shard-repair/cancel-repair?id=N[&local=true]`: 204; 400 for a
//!   bad id or a repair that is already running.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use proto::cluster;
use serde_json::{Value, json};

use super::error::EntropyError;
use super::rpc::{entropy_status, queue_repair};
use super::{KillOutcome, is_hot, now_ns, peer, service};
use crate::http::ping::version_headers;
use crate::http::response;
use crate::node::Node;

/// The routes, or none when AE is disabled on this node.
pub fn router(node: &Node) -> Router<Arc<Node>> {
    if !node.config.anti_entropy.enabled {
        return Router::new();
    }
    Router::new()
        .route("/shard-status", get(shard_status))
        .route("/shard-repair/status", get(repair_status))
        .route("/shard-repair/repair", post(repair))
        .route("/shard-repair/cancel-repair", post(cancel_repair))
}

fn json_ok(v: Value) -> Response {
    let mut h = version_headers();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    (axum::http::StatusCode::OK, h, v.to_string() + "\n").into_response()
}

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params.get(name).is_some_and(|v| matches!(v.as_str(), "true" | "1" | "t" | "T" | "TRUE"))
}

/// The `id` parameter, or the 400 message.
fn shard_id(params: &HashMap<String, String>) -> Result<u64, &'static str> {
    match params.get("id").map(|s| s.trim().parse::<u64>()) {
        Some(Ok(id)) if id > 0 => Ok(id),
        Some(_) => Err("invalid shard id"),
        None => Err("missing shard id"),
    }
}

/// `GET /shard-status`.
async fn shard_status(State(node): State<Arc<Node>>) -> Response {
    let svc = service(&node);
    let me = node.id();
    let view = node.meta.view();
    let now = now_ns();
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for s in view.shards().filter(|s| s.group.deleted_at == 0 && s.owned_by(me)) {
        let local = node.store.shard(s.shard.id);
        let entry = out
            .entry(s.db.name.clone())
            .or_default()
            .entry(s.rp.name.clone())
            .or_insert_with(|| json!({"replication_factor": s.rp.replica_n, "shards": []}));
        let shard = json!({
            "id": s.shard.id,
            "size": local.as_ref().map_or(0, |l| l.size_bytes()),
            "is_hot": local.as_ref().is_some_and(|l| is_hot(l.last_modified(), now, svc.cold_duration())),
            "state": svc.state_of(s.shard.id).as_str(),
        });
        if let Some(list) = entry["shards"].as_array_mut() {
            list.push(shard);
        }
    }
    json_ok(json!(out))
}

/// Merges status answers of several nodes.
fn merge(parts: Vec<cluster::EntropyStatusResponse>) -> cluster::EntropyStatusResponse {
    let mut shards: BTreeMap<u64, cluster::EntropyShard> = BTreeMap::new();
    let (mut queued, mut seen) = (Vec::new(), BTreeSet::new());
    let mut processing = BTreeSet::new();
    for p in parts {
        for s in p.shards {
            shards.entry(s.id).or_insert(s);
        }
        for q in p.queued {
            if seen.insert(q) {
                queued.push(q);
            }
        }
        processing.extend(p.processing);
    }
    cluster::EntropyStatusResponse {
        enabled: true,
        shards: shards.into_values().collect(),
        queued,
        processing: processing.into_iter().collect(),
    }
}

/// Every data node's status (unreachable nodes and nodes with AE off are left out).
async fn cluster_status(node: &Arc<Node>) -> cluster::EntropyStatusResponse {
    let view = node.meta.view();
    let me = node.id();
    let peers: Vec<String> = view
        .data
        .data_nodes
        .iter()
        .filter(|n| n.id != me)
        .filter_map(|n| n.tcp_host.clone())
        .collect();
    drop(view);
    let remote = futures::future::join_all(peers.iter().map(|addr| async move {
        let mut c = peer::client(node, addr).ok()?;
        let r = tokio::time::timeout(
            peer::CALL_TIMEOUT,
            c.entropy_status(cluster::EntropyStatusRequest {}),
        )
        .await
        .ok()?
        .ok()?;
        Some(r.into_inner())
    }))
    .await;
    let mut parts = vec![entropy_status(node)];
    parts.extend(remote.into_iter().flatten().filter(|r| r.enabled));
    merge(parts)
}

/// `GET /shard-repair/status`.
async fn repair_status(
    State(node): State<Arc<Node>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let st =
        if flag(&params, "local") { entropy_status(&node) } else { cluster_status(&node).await };
    let shards: Vec<Value> = st
        .shards
        .iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(),
                "database": s.database,
                "retention_policy": s.policy,
                "start_time": s.start_time.to_string(),
                "end_time": s.end_time.to_string(),
                "expires": s.expires.to_string(),
                "status": s.status,
            })
        })
        .collect();
    json_ok(json!({
        "shards": shards,
        "queued_shards": st.queued,
        "processing_shards": st.processing,
    }))
}

/// `POST /shard-repair/repair?id=N`.
async fn repair(
    State(node): State<Arc<Node>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let id = match shard_id(&params) {
        Ok(id) => id,
        Err(msg) => return response::error(400, msg),
    };
    match queue_repair(&node, id) {
        Ok(()) => return response::no_content(),
        Err(EntropyError::NotOwner(_)) => {}
        Err(e) => return response::error(e.http_status().as_u16(), &e.to_string()),
    }
    // Not an owner: ask the owners, in order.
    let view = node.meta.view();
    let addrs: Vec<String> = view
        .shard(id)
        .map(|s| {
            s.shard
                .owners
                .iter()
                .filter_map(|o| view.data_node_tcp(o.node_id))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    drop(view);
    let mut last = String::from("no owner of the shard has anti-entropy enabled");
    for addr in addrs {
        let Ok(mut c) = peer::client(&node, &addr) else { continue };
        let req = cluster::EntropyRepairRequest { shard_id: id, resolved: false };
        match tokio::time::timeout(peer::CALL_TIMEOUT, c.entropy_repair(req)).await {
            Ok(Ok(_)) => return response::no_content(),
            Ok(Err(s)) => last = format!("{addr}: {}", s.message()),
            Err(_) => last = format!("{addr}: timed out"),
        }
    }
    response::error(500, &last)
}

/// `POST /shard-repair/cancel-repair?id=N[&local=true]`.
async fn cancel_repair(
    State(node): State<Arc<Node>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let id = match shard_id(&params) {
        Ok(id) => id,
        Err(msg) => return response::error(400, msg),
    };
    if service(&node).kill(id) == KillOutcome::Running {
        return response::error(
            400,
            &format!("repair of shard {id} is in progress and cannot be killed"),
        );
    }
    if !flag(&params, "local") {
        let view = node.meta.view();
        let me = node.id();
        let peers: Vec<String> = view
            .data
            .data_nodes
            .iter()
            .filter(|n| n.id != me)
            .filter_map(|n| n.tcp_host.clone())
            .collect();
        drop(view);
        for addr in peers {
            let Ok(mut c) = peer::client(&node, &addr) else { continue };
            let req = cluster::EntropyKillRepairRequest { shard_id: id };
            let _ = tokio::time::timeout(peer::CALL_TIMEOUT, c.entropy_kill_repair(req)).await;
        }
    }
    response::no_content()
}
