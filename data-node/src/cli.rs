//! Command-line flags of `data-node` (Go-style, like `influxd`).

use std::path::PathBuf;

use clap::Parser;

/// InfluxDB Enterprise testbed data node.
#[derive(Debug, Parser)]
#[command(
    name = "data-node",
    version = crate::VERSION,
    about = "Testbed data node (influxd look-alike)",
    after_help = "Subcommands (InfluxDB OSS's influxd backup/restore against a data node's TCP port):\n  data-node backup [options] PATH     (data-node backup -h)\n  data-node restore [options] PATH    (data-node restore -h)"
)]
pub struct Cli {
    /// Config file (TOML shaped like influxdb.conf).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Host name announced to the cluster.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Write the bound addresses as JSON to this file once serving (testkit).
    #[arg(long = "ready-file")]
    pub ready_file: Option<PathBuf>,
}
