//! The InfluxDB 1.x HTTP API: `/ping`, `/write`, `/query`, plus the
//! Enterprise extras (`/shard-status`, `/shard-repair/*`, `/debug/vars`).

pub mod auth;
pub mod ping;
pub mod query;
pub mod response;
pub mod write;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::node::Node;

/// The router.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/ping", get(ping::ping).head(ping::ping))
        .route("/write", post(write::write))
        .route("/query", get(query::query).post(query::query))
        .merge(crate::entropy::http::router(&node))
        // The handlers enforce `[http] max-body-size` themselves.
        .layer(DefaultBodyLimit::disable())
        .with_state(node)
}
