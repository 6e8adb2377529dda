//! Output masking: what changes from run to run becomes a fixed word, so
//! expected blocks stay stable.
//!
//! | what | example | becomes |
//! |---|---|---|
//! | a known node address | `127.0.1.2:40313` | `$meta2.api` (`$b.meta2.api` for another cluster) |
//! | any other IPv4 address with a port | `127.0.0.1:8086` | `HOST:PORT` |
//! | a known directory | the scenario temp dir | `$tmp` (also `$fixtures`, `$cluster`) |
//! | a backup timestamp | `20261121T143720Z` | `TS` |
//! | an RFC3339 time | `2026-11-21T14:37:20.5Z` | `TIME` |
//! | a Go `log` time (`influx -import` output) | `2026/11/21 14:37:20` | `LOGTIME` |
//! | a Go duration | `903.539567ms`, `1m30s` | `DUR` |
//! | a byte count | `307712 bytes` | `N bytes` |
//!
//! [`Masker::light`] applies only the first three rows: query results keep
//! their (deterministic) times and numbers. [`Masker::full`] applies them all
//! and is used for `ctl` output, `ls` listings and error messages.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

static ADDR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}\b").unwrap());
static BACKUP_TS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{8}T\d{6}Z\b").unwrap());
static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})").unwrap()
});
static LOG_TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\b").unwrap());
static DURATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:\d+(?:\.\d+)?(?:ns|µs|us|ms|h|m|s))+\b").unwrap());
static BYTES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d+ bytes\b").unwrap());

/// Replaces what varies between runs in command output.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Address (`ip:port`) → placeholder name.
    addrs: HashMap<String, String>,
    /// (path, placeholder), longest path first.
    paths: Vec<(String, String)>,
    /// (`host:port`, placeholder) of addresses named by host, longest first.
    hosts: Vec<(Regex, String)>,
}

impl Masker {
    /// An empty masker (generic rules only).
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Masks `addr` (`ip:port`, or `host:port` as compose clusters
    /// announce them) as `name` (e.g. `$data1.tcp`).
    pub fn add_addr(&mut self, addr: &str, name: &str) {
        if addr.parse::<std::net::SocketAddr>().is_err() {
            let re = Regex::new(&format!(r"\b{}\b", regex::escape(addr))).expect("escaped");
            self.hosts.push((re, name.to_string()));
            self.hosts.sort_by_key(|h| std::cmp::Reverse(h.0.as_str().len()));
        }
        self.addrs.insert(addr.to_string(), name.to_string());
    }

    /// Masks the directory `path` as `name` (e.g. `$tmp`).
    pub fn add_path(&mut self, path: &std::path::Path, name: &str) {
        let mut variants = vec![path.display().to_string()];
        if let Ok(c) = path.canonicalize() {
            variants.push(c.display().to_string());
        }
        for v in variants {
            let v = v.trim_end_matches('/').to_string();
            if !v.is_empty() && !self.paths.iter().any(|(p, _)| *p == v) {
                self.paths.push((v, name.to_string()));
            }
        }
        self.paths.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    /// Known paths and addresses only.
    pub fn light(&self, text: &str) -> String {
        let mut s = text.to_string();
        for (p, name) in &self.paths {
            s = s.replace(p.as_str(), name);
        }
        for (re, name) in &self.hosts {
            s = re.replace_all(&s, regex::NoExpand(name)).into_owned();
        }
        ADDR.replace_all(&s, |c: &Captures| {
            self.addrs.get(&c[0]).cloned().unwrap_or_else(|| "HOST:PORT".to_string())
        })
        .into_owned()
    }

    /// Every rule of the module table.
    pub fn full(&self, text: &str) -> String {
        let s = self.light(text);
        let s = BACKUP_TS.replace_all(&s, "TS");
        let s = RFC3339.replace_all(&s, "TIME");
        let s = LOG_TIME.replace_all(&s, "LOGTIME");
        let s = BYTES.replace_all(&s, "N bytes");
        let s = DURATION.replace_all(&s, "DUR");
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker() -> Masker {
        let mut m = Masker::new();
        m.add_addr("127.0.1.1:40001", "$meta1.api");
        m.add_addr("127.0.2.1:4000", "$data1.tcp");
        m.add_path(std::path::Path::new("/tmp/scn-abc/"), "$tmp");
        m.add_path(std::path::Path::new("/tmp/scn-abc/cluster"), "$cluster");
        m
    }

    #[test]
    fn addresses_known_and_unknown() {
        let m = masker();
        assert_eq!(
            m.light("bind 127.0.1.1:40001, 127.0.2.1:4000 and 127.0.2.1:40001 or 10.0.0.1:8086"),
            "bind $meta1.api, $data1.tcp and HOST:PORT or HOST:PORT"
        );
    }

    #[test]
    fn paths_longest_first() {
        let m = masker();
        assert_eq!(
            m.light("/tmp/scn-abc/cluster/meta1 and /tmp/scn-abc/full"),
            "$cluster/meta1 and $tmp/full"
        );
    }

    #[test]
    fn backup_lines_from_the_docs() {
        let m = Masker::new();
        assert_eq!(
            m.full("Backing up node 10.1.2.3:8088, db telegraf, rp autogen, shard 4... Done. Backed up in 903.539567ms, 307712 bytes transferred"),
            "Backing up node HOST:PORT, db telegraf, rp autogen, shard 4... Done. Backed up in DUR, N bytes transferred"
        );
        assert_eq!(
            m.full("Backed up to . in 1.293710883s, transferred 441765 bytes"),
            "Backed up to . in DUR, transferred N bytes"
        );
        assert_eq!(
            m.full("20160803T222310Z.manifest  20160803T222310Z.s1.tar.gz"),
            "TS.manifest  TS.s1.tar.gz"
        );
        assert_eq!(
            m.full("Restoring meta data... Done. Restored in 21.373019ms, 1 shards mapped"),
            "Restoring meta data... Done. Restored in DUR, 1 shards mapped"
        );
    }

    #[test]
    fn durations_and_times() {
        let m = Masker::new();
        assert_eq!(m.full("took 1m30.5s then 2h0m0s, 10µs, 3us"), "took DUR then DUR, DUR, DUR");
        assert_eq!(
            m.full("start 2026-11-21T14:37:20Z end 2026-11-21T14:37:20.123456789+01:00"),
            "start TIME end TIME"
        );
        assert_eq!(
            m.full("2026/11/21 14:38:40 Processed 1 commands"),
            "LOGTIME Processed 1 commands"
        );
        // Not durations: words, versions, shard file names, counts.
        assert_eq!(
            m.full("shards 1.12.3-c1.12.3 s1.tar.gz 3 shards v2"),
            "shards 1.12.3-c1.12.3 s1.tar.gz 3 shards v2"
        );
    }

    #[test]
    fn host_names_of_compose_clusters() {
        let mut m = Masker::new();
        m.add_addr("data1:8088", "$data1.tcp");
        m.add_addr("data1:8086", "$data1.http");
        assert_eq!(
            m.full("Copying data to data1:8088... data1:8086 xdata1:8088 data1:80881"),
            "Copying data to $data1.tcp... $data1.http xdata1:8088 data1:80881"
        );
    }

    #[test]
    fn light_keeps_times_and_numbers() {
        let m = Masker::new();
        let t = "2026-11-01T00:00:00Z 10s 42 bytes";
        assert_eq!(m.light(t), t);
    }
}
