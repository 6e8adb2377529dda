//! Command-line definitions. Flags are written `--name` here; Go-style
//! `-name` is rewritten by `proto::goflags::normalize` before parsing.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Parses a Go boolean (`strconv.ParseBool`).
pub fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {s:?}")),
    }
}

/// Parses a Go duration (`10s`, `1m`, `500ms`).
pub fn go_duration(s: &str) -> Result<Duration, String> {
    proto::godur::parse(s)
}

/// `influxd-ctl` look-alike for the InfluxDB Enterprise testbed.
#[derive(Debug, Parser)]
#[command(name = "influxd-ctl", version = "1.12.3-c1.12.3", disable_help_subcommand = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Global flags.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Bind HTTP address of a meta node.
    #[arg(long, default_value = "localhost:8091", global = true)]
    pub bind: String,
    /// Timeout for operations.
    #[arg(long, default_value = "10s", value_parser = go_duration, global = true)]
    pub timeout: Duration,
    /// Use TLS for the meta node connection (not supported by the testbed).
    #[arg(long = "bind-tls", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool, global = true)]
    pub bind_tls: bool,
    /// Skip TLS certificate verification.
    #[arg(short = 'k', num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool, global = true)]
    pub insecure: bool,
    /// Auth type: none, basic or jwt.
    #[arg(long = "auth-type", default_value = "none", global = true)]
    pub auth_type: String,
    /// Username for basic/jwt auth.
    #[arg(long, default_value = "", global = true)]
    pub user: String,
    /// Password for basic auth.
    #[arg(long, default_value = "", global = true)]
    pub pwd: String,
    /// JWT shared secret.
    #[arg(long, default_value = "", global = true)]
    pub secret: String,
    /// Config file (accepted for compatibility).
    #[arg(long, global = true)]
    pub config: Option<String>,
}

/// `entropy` subcommands.
#[derive(Debug, Subcommand)]
pub enum EntropyCommand {
    /// Shards with detected entropy, and the repair queue.
    Show,
    /// Queue a shard for repair.
    Repair {
        /// The shard ID.
        shard: String,
    },
    /// Take a shard off the repair queue.
    #[command(name = "kill-repair")]
    KillRepair {
        /// The shard ID.
        shard: String,
    },
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the shards of the cluster.
    #[command(name = "show-shards")]
    ShowShards {
        /// Detailed shard information (state, size, last modification per owner).
        #[arg(short = 'v', num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        verbose: bool,
        /// Only inconsistent shards: in the metastore but not on disk, or the reverse.
        #[arg(short = 'm', num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        inconsistent: bool,
        /// Include expired shards.
        #[arg(short = 'e', num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        expired: bool,
    },
    /// Copy a shard between data nodes and add the destination as an owner.
    #[command(name = "copy-shard")]
    CopyShard {
        /// Source data node TCP address.
        src: String,
        /// Destination data node TCP address.
        dst: String,
        /// The shard ID.
        shard: String,
    },
    /// Show the shard copies in progress.
    #[command(name = "copy-shard-status")]
    CopyShardStatus,
    /// Abort a shard copy.
    #[command(name = "kill-copy-shard")]
    KillCopyShard {
        /// Source data node TCP address.
        src: String,
        /// Destination data node TCP address.
        dst: String,
        /// The shard ID.
        shard: String,
    },
    /// Remove a shard from a data node (deletes its data there).
    #[command(name = "remove-shard")]
    RemoveShard {
        /// Data node TCP address.
        addr: String,
        /// The shard ID.
        shard: String,
    },
    /// End the hot shard groups at now + delay.
    #[command(name = "truncate-shards")]
    TruncateShards {
        /// Duration from now to truncate shards.
        #[arg(long, default_value = "1m", value_parser = go_duration)]
        delay: Duration,
    },
    /// Anti-entropy: shards with entropy and repairs.
    Entropy {
        #[command(subcommand)]
        command: EntropyCommand,
    },
    /// Show cluster members and Raft status.
    Show,
    /// Add a meta node.
    #[command(name = "add-meta")]
    AddMeta {
        /// The new meta node's HTTP address (host:8091).
        addr: String,
    },
    /// Remove a meta node.
    #[command(name = "remove-meta")]
    RemoveMeta {
        /// Remove an unresponsive node.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        force: bool,
        /// Raft address of the node to force-remove.
        #[arg(long = "tcpAddr", default_value = "")]
        tcp_addr: String,
        /// Assume yes.
        #[arg(short = 'y', num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        yes: bool,
        /// The meta node's HTTP address.
        addr: String,
    },
    /// Add a data node.
    #[command(name = "add-data")]
    AddData {
        /// Add the node as passive (owns no shards).
        #[arg(short = 'p', num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        passive: bool,
        /// The data node's TCP address (host:8088).
        addr: String,
    },
    /// Remove a data node (erases its data).
    #[command(name = "remove-data")]
    RemoveData {
        /// Remove an unresponsive node.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        force: bool,
        /// The data node's TCP address.
        addr: String,
    },
    /// Back up the metastore and shards into a directory.
    Backup {
        /// incremental (default), full or only-meta.
        #[arg(long, default_value = "incremental")]
        strategy: String,
        /// Full backup (deprecated: use -strategy full).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        full: bool,
        /// The database to back up.
        #[arg(long, default_value = "")]
        db: String,
        /// The retention policy to back up (needs -db).
        #[arg(long, default_value = "")]
        rp: String,
        /// The shard to back up.
        #[arg(long)]
        shard: Option<u64>,
        /// Include points from this time on (RFC3339).
        #[arg(long)]
        start: Option<String>,
        /// Include points up to this time (RFC3339).
        #[arg(long)]
        end: Option<String>,
        /// The data node (TCP address) to prefer.
        #[arg(long, default_value = "")]
        from: String,
        /// Print what would be backed up.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        estimate: bool,
        /// Accepted for compatibility (shard last-modified times are exact here).
        #[arg(long = "staleness-threshold", default_value = "10m")]
        staleness_threshold: String,
        /// gzip level: default, full, speedy or none.
        #[arg(long = "gzipCompressionLevel", default_value = "default")]
        gzip_level: String,
        /// Accepted for compatibility.
        #[arg(long = "gzipBlockCount", default_value = "0")]
        gzip_block_count: u64,
        /// Accepted for compatibility.
        #[arg(long = "gzipBlockSize", default_value = "0")]
        gzip_block_size: u64,
        /// Accepted for compatibility.
        #[arg(long, default_value = "0")]
        bufsize: u64,
        /// Accepted for compatibility.
        #[arg(long, default_value = "")]
        cpuprofile: String,
        /// The backup directory (must exist).
        dir: String,
    },
    /// Restore a backup directory, or a manifest with -full.
    Restore {
        /// The path is a backup's manifest file.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        full: bool,
        /// The database to restore.
        #[arg(long, default_value = "")]
        db: String,
        /// Restore into this new database (needs -db).
        #[arg(long, default_value = "")]
        newdb: String,
        /// The retention policy to restore (needs -db).
        #[arg(long, default_value = "")]
        rp: String,
        /// Restore into this retention policy (needs -rp).
        #[arg(long, default_value = "")]
        newrp: String,
        /// The shard to restore.
        #[arg(long)]
        shard: Option<u64>,
        /// The new shard ID (needs -shard).
        #[arg(long)]
        newshard: Option<u64>,
        /// New replication factor, capped at the number of data nodes.
        #[arg(long, default_value = "0")]
        newrf: u32,
        /// New RP duration (needs -rp; 0s = infinite).
        #[arg(long)]
        newduration: Option<String>,
        /// Show the backup's contents and change nothing.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        list: bool,
        /// Overwrite the metastore from a backup of this same cluster.
        #[arg(long = "meta-only-overwrite-force", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        meta_only_overwrite_force: bool,
        /// The backup directory (or manifest with -full).
        path: Option<String>,
    },
    /// Show every data node's hinted-handoff queues.
    #[command(name = "hinted-handoff")]
    HintedHandoff,
    /// Change a data node's TCP address in the metastore.
    #[command(name = "update-data")]
    UpdateData {
        /// Current TCP address.
        old: String,
        /// New TCP address.
        new: String,
    },
    /// Export data as `influx_inspect export` does (DDL + line protocol).
    Export {
        /// The database to export (all when empty).
        #[arg(long, default_value = "")]
        database: String,
        /// The retention policy to export (needs -database).
        #[arg(long, default_value = "")]
        retention: String,
        /// Export points from this time on (RFC3339, inclusive).
        #[arg(long)]
        start: Option<String>,
        /// Export points up to this time (RFC3339, inclusive).
        #[arg(long)]
        end: Option<String>,
        /// gzip the output.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        compress: bool,
        /// Output file; `-` for stdout (default $HOME/.influxdb/export).
        #[arg(long, default_value = "")]
        out: String,
        /// Only line protocol: no comment, DDL or context line.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        lponly: bool,
    },
    /// Import an export file as `influx -import` does.
    Import {
        /// The file to import (`-` for stdin).
        #[arg(long, default_value = "")]
        path: String,
        /// The file is gzip-compressed.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        compressed: bool,
        /// Points per second limit (0 = unlimited).
        #[arg(long, default_value = "0")]
        pps: u64,
        /// Timestamp precision of the lines (sent as is).
        #[arg(long, default_value = "ns")]
        precision: String,
        /// Write consistency: any, one, quorum or all.
        #[arg(long, default_value = "all")]
        consistency: String,
        /// A data node's HTTP address (default: the first data node).
        #[arg(long, default_value = "")]
        host: String,
        /// Username for the data node's HTTP API.
        #[arg(long, default_value = "")]
        username: String,
        /// Password for the data node's HTTP API.
        #[arg(long, default_value = "")]
        password: String,
        /// Send the one-field rows of a series as multi-field lines.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = go_bool)]
        merge: bool,
    },
    /// Exit 0 when a node's HTTP address answers `/ping` (container healthchecks).
    #[command(hide = true)]
    Health {
        /// The node's HTTP address (host:port).
        addr: String,
    },
    /// Form a cluster: add every meta node, then every data node, retrying
    /// until they answer (compose clusters; idempotent).
    #[command(hide = true)]
    Bootstrap {
        /// Meta node API addresses, comma-separated; the first one forms the group.
        #[arg(long, value_delimiter = ',', required = true)]
        meta: Vec<String>,
        /// Data node TCP addresses, comma-separated.
        #[arg(long, value_delimiter = ',')]
        data: Vec<String>,
        /// Give up after this long.
        #[arg(long, default_value = "2m", value_parser = go_duration)]
        deadline: Duration,
    },
}
