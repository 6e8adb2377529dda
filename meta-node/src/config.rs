//! Meta-node configuration: a TOML file shaped like `influxdb-meta.conf`
//! (the `[meta]` keys of InfluxDB Enterprise that apply here), overridden by
//! command-line flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Host name other nodes use for this one when an address has no host.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The `[meta]` section.
    #[serde(default)]
    pub meta: MetaConfig,
}

/// `[meta]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MetaConfig {
    /// Where the Raft log, vote and snapshots live.
    pub dir: PathBuf,
    /// Raft address (Enterprise default `:8089`). Port 0 picks a free port.
    pub bind_address: String,
    /// Meta API address: HTTP (`/ping`, `/status`) and gRPC (Enterprise
    /// default `:8091`). Port 0 picks a free port.
    pub http_bind_address: String,
    /// Raft address announced to peers (default: the bound address).
    pub advertise_address: Option<String>,
    /// API address announced to peers and data nodes (default: the bound one).
    pub http_advertise_address: Option<String>,
    /// Followers campaign after a random time in [t/2, t) without a leader.
    #[serde(with = "go_duration")]
    pub election_timeout: Duration,
    /// How often the leader sends heartbeats is a tenth of this.
    #[serde(with = "go_duration")]
    pub heartbeat_timeout: Duration,
    /// A leader steps down when it has not heard from a quorum this long
    /// (check-quorum uses the election timeout; kept for config compatibility).
    #[serde(with = "go_duration")]
    pub leader_lease_timeout: Duration,
    /// Accepted for compatibility; the testbed commits as soon as it can.
    #[serde(with = "go_duration")]
    pub commit_timeout: Duration,
    /// Accepted for compatibility.
    #[serde(with = "go_duration")]
    pub consensus_timeout: Duration,
    /// Create the `autogen` RP with new databases.
    pub retention_autocreate: bool,
    /// Replication factor of auto-created RPs (0 = data nodes, at most 3).
    pub default_replication_factor: u32,
    /// Accepted for compatibility (no gossip in the testbed).
    #[serde(with = "go_duration")]
    pub gossip_frequency: Duration,
    /// Accepted for compatibility.
    #[serde(with = "go_duration")]
    pub announcement_expiration: Duration,
    /// Accepted for compatibility.
    #[serde(with = "go_duration")]
    pub lease_duration: Duration,
    /// Accepted for compatibility (no authentication on the meta API).
    pub auth_enabled: bool,
    /// Take a Raft snapshot and compact the log every this many entries.
    pub snapshot_entries: u64,
    /// Log level: error, warn, info, debug, trace.
    pub log_level: String,
}

impl Default for MetaConfig {
    fn default() -> Self {
        MetaConfig {
            dir: PathBuf::from("/var/lib/influxdb/meta"),
            bind_address: ":8089".into(),
            http_bind_address: ":8091".into(),
            advertise_address: None,
            http_advertise_address: None,
            election_timeout: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(1),
            leader_lease_timeout: Duration::from_millis(500),
            commit_timeout: Duration::from_millis(50),
            consensus_timeout: Duration::from_secs(30),
            retention_autocreate: true,
            default_replication_factor: 0,
            gossip_frequency: Duration::from_secs(5),
            announcement_expiration: Duration::from_secs(30),
            lease_duration: Duration::from_secs(60),
            auth_enabled: false,
            snapshot_entries: 1000,
            log_level: "info".into(),
        }
    }
}

/// A config file problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("parsing config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
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

    /// Checks values that TOML types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.meta.election_timeout < Duration::from_millis(20) {
            return Err(ConfigError::Invalid("election-timeout must be at least 20ms".into()));
        }
        if self.meta.heartbeat_timeout < Duration::from_millis(20) {
            return Err(ConfigError::Invalid("heartbeat-timeout must be at least 20ms".into()));
        }
        Ok(())
    }
}

/// Serde adapter for Go duration strings (`"1s"`, `"168h0m0s"`).
pub mod go_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    /// Deserializes a Go duration string (or an integer of nanoseconds).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_enterprise_style_file() {
        let c = Config::parse(
            r#"
hostname = "meta1"
[meta]
  dir = "/tmp/m"
  bind-address = "127.0.0.1:0"
  election-timeout = "500ms"
  retention-autocreate = false
"#,
        )
        .unwrap();
        assert_eq!(c.meta.election_timeout, Duration::from_millis(500));
        assert_eq!(c.meta.heartbeat_timeout, Duration::from_secs(1));
        assert!(!c.meta.retention_autocreate);
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_errors() {
        assert!(Config::parse("[meta]\nbogus = 1").unwrap_err().contains("bogus"));
        assert!(Config::parse("[meta]\nelection-timeout = \"1d\"").is_err());
    }
}
