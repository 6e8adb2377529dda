//! The state of one running scenario: its clusters, its temp dir, the write
//! oracles, the deadline; placeholders (`$data1.tcp`) and output masking.
//!
//! PLACEHOLDERS
//!
//! | placeholder | value |
//! |---|---|
//! | `$tmp` | a temp dir for this scenario (backups go here) |
//! | `$fixtures` | `../shared/fixtures/influxdb-1.6` beside the workspace |
//! | `$cluster` | the current cluster's directory |
//! | `$NODE.KIND` | an address of a node of the current cluster: KIND is `raft` or `api` (meta), `http` or `tcp` (data); also `id`, `ip`, `dir` |
//! | `$NODE.KIND.direct` | the address the node's process bound, behind testkit's proxy |
//! | `$NAME.NODE.KIND`, `$NAME.cluster` | the same in the cluster called NAME |
//!
//! Masking is the reverse: a known address prints as its placeholder,
//! relative to the cluster the command ran against (see [`crate::mask`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use regex::{Captures, Regex};
use testkit::NodeInfo;

use crate::backend::Cluster;
use crate::http::Http;
use crate::mask::Masker;
use crate::oracle::Oracle;
use crate::script::Command;

/// Name of a cluster started without `name=`.
pub const DEFAULT_CLUSTER: &str = "main";

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)").unwrap()
});

/// What a command printed, and how much of it to mask.
pub struct Out {
    /// The text.
    pub text: String,
    /// Full masking (durations, times, byte counts) rather than addresses
    /// and paths only.
    pub full: bool,
}

impl Out {
    /// Output that gets every mask.
    pub fn full(text: impl Into<String>) -> Out {
        Out { text: text.into(), full: true }
    }

    /// Output whose times and numbers are kept (query results, checks).
    pub fn light(text: impl Into<String>) -> Out {
        Out { text: text.into(), full: false }
    }

    /// No output (`ok`).
    pub fn none() -> Out {
        Out::light("")
    }
}

/// One scenario's state.
pub struct Session {
    /// Running clusters by name. Dropping one kills its processes.
    pub(crate) clusters: BTreeMap<String, Cluster>,
    /// Acknowledged writes, by cluster name (or `addr:HOST:PORT` for writes
    /// to an address outside any cluster).
    pub(crate) oracles: BTreeMap<String, Oracle>,
    /// The cluster commands go to when they name none.
    pub(crate) current: Option<String>,
    /// `$tmp`.
    pub(crate) tmp: tempfile::TempDir,
    /// `$fixtures`, when found.
    pub(crate) fixtures: Option<PathBuf>,
    /// When the scenario must stop.
    pub(crate) deadline: Instant,
    /// HTTP client for data and meta nodes.
    pub(crate) http: Http,
    /// The ctl binary, located on first use.
    pub(crate) ctl_bin: Option<PathBuf>,
    /// Writes running in the background (`write … background=true`), in
    /// start order, until `wait-writes`.
    pub(crate) background: Vec<Background>,
}

/// A `write … background=true` in flight.
pub struct Background {
    /// The writer thread.
    pub(crate) handle: std::thread::JoinHandle<Result<crate::commands::WriteResult>>,
    /// Where its acknowledgements are recorded.
    pub(crate) oracle_key: String,
}

impl Session {
    /// A session without clusters.
    pub fn new(fixtures: Option<PathBuf>, deadline: Instant) -> Result<Session> {
        let tmp =
            tempfile::Builder::new().prefix("scenario-").tempdir().context("creating $tmp")?;
        Ok(Session {
            clusters: BTreeMap::new(),
            oracles: BTreeMap::new(),
            current: None,
            tmp,
            fixtures,
            deadline,
            http: Http::new()?,
            ctl_bin: None,
            background: Vec::new(),
        })
    }

    /// Keeps `$tmp` after the scenario (for debugging); returns its path.
    pub fn keep_tmp(self) -> PathBuf {
        let Session { tmp, .. } = self;
        tmp.keep()
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs one command and returns its masked, filtered output. Errors
    /// become `error: …` lines: a failing command is output to compare, not
    /// the end of the scenario.
    pub fn exec(&mut self, cmd: &Command) -> String {
        let text = if Instant::now() >= self.deadline {
            "skipped: the scenario timeout was reached\n".to_string()
        } else {
            let res = self.run(cmd);
            let target = cmd.target.clone().or_else(|| self.current.clone());
            let masker = self.masker(target.as_deref());
            match res {
                Ok(out) if out.full => masker.full(&out.text),
                Ok(out) => masker.light(&out.text),
                Err(e) => masker.full(&format!("error: {e:#}\n")),
            }
        };
        cmd.filters.iter().fold(text, |t, f| f.apply(&t))
    }

    /// The cluster called `name`, or the current one.
    pub(crate) fn cluster_name(&self, target: Option<&str>) -> Result<String> {
        match target.map(str::to_string).or_else(|| self.current.clone()) {
            Some(n) if self.clusters.contains_key(&n) => Ok(n),
            Some(n) => bail!("no cluster named {n:?}"),
            None => bail!("no cluster: start one with `cluster meta=3 data=3 rf=2`"),
        }
    }

    /// The cluster a command runs against.
    pub(crate) fn cluster(&mut self, target: Option<&str>) -> Result<&mut Cluster> {
        let name = self.cluster_name(target)?;
        self.clusters.get_mut(&name).ok_or_else(|| anyhow!("no cluster named {name:?}"))
    }

    /// Builds the masker for output of a command run against `target`.
    pub fn masker(&self, target: Option<&str>) -> Masker {
        let mut m = Masker::new();
        m.add_path(self.tmp.path(), "$tmp");
        if let Some(f) = &self.fixtures {
            m.add_path(f, "$fixtures");
        }
        for (name, c) in &self.clusters {
            let prefix =
                if Some(name.as_str()) == target { "$".to_string() } else { format!("${name}.") };
            let info = c.info();
            m.add_path(&info.dir, &format!("{prefix}cluster"));
            for n in &info.nodes {
                for (kind, stable, direct) in [
                    ("raft", &n.addrs.raft, &n.direct.raft),
                    ("api", &n.addrs.api, &n.direct.api),
                    ("http", &n.addrs.http, &n.direct.http),
                    ("tcp", &n.addrs.tcp, &n.direct.tcp),
                ] {
                    if let Some(a) = stable {
                        m.add_addr(a, &format!("{prefix}{}.{kind}", n.name));
                    }
                    if let Some(a) = direct {
                        m.add_addr(a, &format!("{prefix}{}.{kind}.direct", n.name));
                    }
                }
            }
        }
        m
    }

    /// Replaces every `$placeholder` in `s`.
    pub fn expand(&self, s: &str, target: Option<&str>) -> Result<String> {
        let mut err = None;
        let out = PLACEHOLDER.replace_all(s, |c: &Captures| match self.resolve(&c[1], target) {
            Ok(v) => v,
            Err(e) => {
                err.get_or_insert(e);
                String::new()
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(out.into_owned()),
        }
    }

    fn resolve(&self, path: &str, target: Option<&str>) -> Result<String> {
        let parts: Vec<&str> = path.split('.').collect();
        let dir = |p: &Path| p.display().to_string();
        match parts.as_slice() {
            ["tmp"] => Ok(dir(self.tmp.path())),
            ["fixtures"] => self.fixtures.as_deref().map(dir).context(
                "$fixtures: ../shared/fixtures/influxdb-1.6 not found (set TESTBED_FIXTURES)",
            ),
            ["cluster"] => {
                let name = self.cluster_name(target)?;
                Ok(dir(self.clusters[&name].dir()))
            }
            [c, "cluster"] if self.clusters.contains_key(*c) => Ok(dir(self.clusters[*c].dir())),
            [c, node, kind, "direct"] if self.clusters.contains_key(*c) => {
                node_direct(&self.clusters[*c].node_info(node)?, kind)
            }
            [c, node, kind] if self.clusters.contains_key(*c) => {
                node_attr(&self.clusters[*c].node_info(node)?, kind)
            }
            [node, kind, "direct"] => {
                let name = self.cluster_name(target)?;
                node_direct(&self.clusters[&name].node_info(node)?, kind)
            }
            [node, kind] => {
                let name = self.cluster_name(target)?;
                node_attr(&self.clusters[&name].node_info(node)?, kind)
            }
            _ => bail!("unknown placeholder ${path}"),
        }
    }
}

/// The address the node's process bound itself, behind its proxy (changes
/// at restart; links to it cannot be cut).
fn node_direct(n: &NodeInfo, kind: &str) -> Result<String> {
    let a = match kind {
        "raft" => &n.direct.raft,
        "api" => &n.direct.api,
        "http" => &n.direct.http,
        "tcp" => &n.direct.tcp,
        _ => bail!("unknown address kind {kind:?} (raft, api, http, tcp)"),
    };
    a.clone().with_context(|| format!("{} has no direct {kind} address", n.name))
}

fn node_attr(n: &NodeInfo, kind: &str) -> Result<String> {
    let addr =
        |a: &Option<String>| a.clone().with_context(|| format!("{} has no {kind} address", n.name));
    match kind {
        "raft" => addr(&n.addrs.raft),
        "api" => addr(&n.addrs.api),
        "http" => addr(&n.addrs.http),
        "tcp" => addr(&n.addrs.tcp),
        "id" => Ok(n.id.to_string()),
        "ip" => Ok(n.ip.to_string()),
        "dir" => Ok(n.dir.display().to_string()),
        _ => bail!("unknown node attribute {kind:?} (raft, api, http, tcp, id, ip, dir)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(Some(PathBuf::from("/fx")), Instant::now() + Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn expands_and_masks_paths() {
        let s = session();
        let tmp = s.tmp.path().display().to_string();
        assert_eq!(s.expand("$tmp/full", None).unwrap(), format!("{tmp}/full"));
        assert_eq!(s.expand("$fixtures/dataset/a.lp.gz", None).unwrap(), "/fx/dataset/a.lp.gz");
        assert_eq!(s.expand("no placeholder", None).unwrap(), "no placeholder");
        assert_eq!(s.masker(None).full(&format!("wrote {tmp}/full/x")), "wrote $tmp/full/x");
    }

    #[test]
    fn unknown_placeholders_and_missing_clusters_fail() {
        let s = session();
        assert!(s.expand("$nope", None).is_err());
        let e = s.expand("$data1.tcp", None).unwrap_err().to_string();
        assert!(e.contains("no cluster"), "{e}");
        let e = s.expand("$b.data1.tcp", Some("b")).unwrap_err().to_string();
        assert!(e.contains("unknown placeholder") || e.contains("no cluster"), "{e}");
    }

    #[test]
    fn timeout_skips_commands() {
        let mut s = Session::new(None, Instant::now()).unwrap();
        let cmd = crate::script::parse_line("ctl show", 1).unwrap().unwrap();
        assert_eq!(s.exec(&cmd), "skipped: the scenario timeout was reached\n");
    }
}
