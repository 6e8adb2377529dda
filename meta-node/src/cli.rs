//! Command-line flags of `meta-node` (Go-style, like `influxd-meta`).

use std::path::PathBuf;

use clap::Parser;

/// InfluxDB Enterprise testbed meta node.
#[derive(Debug, Parser)]
#[command(name = "meta-node", version = crate::VERSION, about = "Testbed meta node (influxd-meta look-alike)")]
pub struct Cli {
    /// Config file (TOML shaped like influxdb-meta.conf).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Host name announced to peers.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Meta directory (overrides [meta] dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Raft address (overrides [meta] bind-address).
    #[arg(long = "bind-address")]
    pub bind_address: Option<String>,
    /// API address (overrides [meta] http-bind-address).
    #[arg(long = "http-bind-address")]
    pub http_bind_address: Option<String>,
    /// Write the bound addresses as JSON to this file once serving (testkit).
    #[arg(long = "ready-file")]
    pub ready_file: Option<PathBuf>,
    /// Create a one-node cluster of this node at start.
    #[arg(long = "single-server", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub single_server: Option<bool>,
}
