//! Data-node configuration: a TOML file shaped like InfluxDB's
//! `influxdb.conf` for Enterprise data nodes, overridden by flags.
//!
//! Like InfluxDB, unknown sections and keys are ignored (operators paste
//! whole production configs); values of a known key must parse, or the node
//! refuses to start with one line naming the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Serde adapter for Go duration strings.
mod go_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(u64),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => proto::godur::parse(&s).map_err(serde::de::Error::custom),
            Raw::N(n) => Ok(Duration::from_nanos(n)),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Config {
    /// Host name announced to the cluster when an address has none.
    pub hostname: Option<String>,
    /// Cluster TCP address (gRPC and the snapshotter protocol), Enterprise `:8088`.
    pub bind_address: String,
    /// Cluster TCP address announced to others (default: the bound one).
    pub advertise_address: Option<String>,
    /// `[meta]`.
    pub meta: MetaSection,
    /// `[data]`.
    pub data: DataSection,
    /// `[cluster]`.
    pub cluster: ClusterSection,
    /// `[http]`.
    pub http: HttpSection,
    /// `[hinted-handoff]`.
    pub hinted_handoff: HintedHandoffSection,
    /// `[anti-entropy]`.
    pub anti_entropy: AntiEntropySection,
    /// `[monitor]`.
    pub monitor: MonitorSection,
    /// `[retention]`.
    pub retention: RetentionSection,
    /// `[logging]`.
    pub logging: LoggingSection,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: None,
            bind_address: ":8088".into(),
            advertise_address: None,
            meta: MetaSection::default(),
            data: DataSection::default(),
            cluster: ClusterSection::default(),
            http: HttpSection::default(),
            hinted_handoff: HintedHandoffSection::default(),
            anti_entropy: AntiEntropySection::default(),
            monitor: MonitorSection::default(),
            retention: RetentionSection::default(),
            logging: LoggingSection::default(),
        }
    }
}

/// `[meta]`: where the data node keeps its meta-client state.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct MetaSection {
    /// Holds `client.json` (the node's ID and meta servers).
    pub dir: PathBuf,
}

impl Default for MetaSection {
    fn default() -> Self {
        MetaSection { dir: "/var/lib/influxdb/meta".into() }
    }
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct DataSection {
    /// Shard store directory.
    pub dir: PathBuf,
    /// Accepted for compatibility (the store keeps its own write buffer).
    pub wal_dir: PathBuf,
    /// Points buffered in a shard before they are compacted into blocks.
    pub cache_snapshot_points: usize,
    /// A shard with no writes for this long is cold (backups, anti-entropy).
    #[serde(with = "go_duration")]
    pub cache_snapshot_write_cold_duration: Duration,
    /// Testbed setting: restored or copied TSM files of at least this many
    /// bytes are kept whole as segment files (0: all of them).
    pub segment_min_bytes: u64,
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection {
            dir: "/var/lib/influxdb/data".into(),
            wal_dir: "/var/lib/influxdb/wal".into(),
            cache_snapshot_points: 500_000,
            cache_snapshot_write_cold_duration: Duration::from_secs(600),
            segment_min_bytes: crate::store::StoreConfig::default().segment_min_bytes,
        }
    }
}

/// `[cluster]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ClusterSection {
    /// How long a write waits for the owners.
    #[serde(with = "go_duration")]
    pub write_timeout: Duration,
    /// Connect timeout to other nodes.
    #[serde(with = "go_duration")]
    pub dial_timeout: Duration,
    /// Timeout for remote shard reads (0 = none).
    #[serde(with = "go_duration")]
    pub shard_reader_timeout: Duration,
    /// With false, a shard with points in hinted handoff sends new points there too.
    pub allow_out_of_order_writes: bool,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            write_timeout: Duration::from_secs(10),
            dial_timeout: Duration::from_secs(1),
            shard_reader_timeout: Duration::ZERO,
            allow_out_of_order_writes: false,
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct HttpSection {
    /// Serve the HTTP API.
    pub enabled: bool,
    /// Address, InfluxDB default `:8086`.
    pub bind_address: String,
    /// HTTP address announced to the cluster (default: the bound one).
    pub advertise_address: Option<String>,
    /// Require credentials.
    pub auth_enabled: bool,
    /// Largest request body in bytes (0 = unlimited).
    pub max_body_size: u64,
    /// Log every request.
    pub log_enabled: bool,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            enabled: true,
            bind_address: ":8086".into(),
            advertise_address: None,
            auth_enabled: false,
            max_body_size: 25_000_000,
            log_enabled: false,
        }
    }
}

/// `[hinted-handoff]` with Enterprise's defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct HintedHandoffSection {
    /// Queue writes for unreachable owners.
    pub enabled: bool,
    /// Queue directory.
    pub dir: PathBuf,
    /// Bytes per destination queue.
    pub max_size: u64,
    /// Items older than this are purged.
    #[serde(with = "go_duration")]
    pub max_age: Duration,
    /// Concurrent blocks per destination.
    pub retry_concurrency: usize,
    /// Replay bytes/s (0 = unlimited).
    pub retry_rate_limit: u64,
    /// First retry delay; doubles up to `retry-max-interval`.
    #[serde(with = "go_duration")]
    pub retry_interval: Duration,
    /// Backoff ceiling.
    #[serde(with = "go_duration")]
    pub retry_max_interval: Duration,
    /// How often old items are purged.
    #[serde(with = "go_duration")]
    pub purge_interval: Duration,
    /// Largest replayed write, bytes.
    pub batch_size: u64,
    /// Largest number of incoming pending writes.
    pub max_writes_pending: usize,
}

impl Default for HintedHandoffSection {
    fn default() -> Self {
        HintedHandoffSection {
            enabled: true,
            dir: "/var/lib/influxdb/hh".into(),
            max_size: 10_737_418_240,
            max_age: Duration::from_secs(168 * 3600),
            retry_concurrency: 20,
            retry_rate_limit: 0,
            retry_interval: Duration::from_secs(1),
            retry_max_interval: Duration::from_secs(200),
            purge_interval: Duration::from_secs(60),
            batch_size: 512_000,
            max_writes_pending: 1024,
        }
    }
}

/// `[anti-entropy]` with Enterprise's defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct AntiEntropySection {
    /// Off by default since Enterprise 1.7.2.
    pub enabled: bool,
    /// Status-check period.
    #[serde(with = "go_duration")]
    pub check_interval: Duration,
    /// Shards copied or repaired in parallel.
    pub max_fetch: usize,
    /// Concurrent syncs.
    pub max_sync: usize,
    /// Copy missing shards automatically.
    pub auto_repair_missing: bool,
}

impl Default for AntiEntropySection {
    fn default() -> Self {
        AntiEntropySection {
            enabled: false,
            check_interval: Duration::from_secs(300),
            max_fetch: 10,
            max_sync: 1,
            auto_repair_missing: true,
        }
    }
}

/// `[monitor]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct MonitorSection {
    /// Write this node's statistics into `store-database`.
    pub store_enabled: bool,
    /// Database for statistics.
    pub store_database: String,
    /// How often statistics are written.
    #[serde(with = "go_duration")]
    pub store_interval: Duration,
}

impl Default for MonitorSection {
    fn default() -> Self {
        MonitorSection {
            store_enabled: true,
            store_database: "_internal".into(),
            store_interval: Duration::from_secs(10),
        }
    }
}

/// `[retention]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RetentionSection {
    /// Drop expired shard groups.
    pub enabled: bool,
    /// How often.
    #[serde(with = "go_duration")]
    pub check_interval: Duration,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection { enabled: true, check_interval: Duration::from_secs(1800) }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct LoggingSection {
    /// error, warn, info, debug.
    pub level: String,
}

impl Default for LoggingSection {
    fn default() -> Self {
        LoggingSection { level: "info".into() }
    }
}

/// A config problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("parsing config {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// Loads a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse { path: path.into(), message })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_enterprise() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.hinted_handoff.max_size, 10_737_418_240);
        assert_eq!(c.hinted_handoff.max_age, Duration::from_secs(168 * 3600));
        assert!(!c.anti_entropy.enabled);
        assert_eq!(c.anti_entropy.check_interval, Duration::from_secs(300));
        assert_eq!(c.monitor.store_interval, Duration::from_secs(10));
        assert_eq!(c.http.max_body_size, 25_000_000);
    }

    #[test]
    fn unknown_keys_are_ignored_but_bad_values_fail() {
        let c =
            Config::parse("[graphite]\nenabled = true\n[anti-entropy]\nenabled = true\n").unwrap();
        assert!(c.anti_entropy.enabled);
        let e = Config::parse("[hinted-handoff]\nmax-age = \"1d\"").unwrap_err();
        assert!(e.contains("unknown unit"), "{e}");
    }
}
