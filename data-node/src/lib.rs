//! Data node: shard store, write coordinator, InfluxDB 1.x HTTP API.

pub mod cli;
pub mod config;
pub mod coordinator;
pub mod entropy;
pub mod handoff;
pub mod http;
pub mod influxql;
pub mod meta_client;
pub mod monitor;
pub mod node;
pub mod query;
pub mod reconcile;
pub mod retention;
pub mod run;
pub mod server;
pub mod snapshotter;
pub mod stats;
pub mod store;
pub mod wire;

/// Version reported in `X-Influxdb-Version`.
pub const VERSION: &str = "1.12.3-c1.12.3";
