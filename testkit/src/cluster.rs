//! A local testbed cluster of real `meta-node` and `data-node` processes.
//!
//! Layout: one directory per cluster (a temp dir unless given), one
//! sub-directory per node (`meta1/`, `data2/`, …) holding its config, data,
//! log and ready file. Meta node `i` binds 127.0.1.i and data node `i`
//! 127.0.2.i, on port 0; every port sits behind a proxy (see [`crate::proxy`])
//! whose address is what the node advertises and what clients use, so
//! addresses stay stable across restarts and links can be cut one by one.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::Signal;
use proto::cluster::meta_client::MetaClient;
use serde::{Deserialize, Serialize};

use crate::process::{Process, find_binary, wait_ready_file};
use crate::proxy::Proxies;

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Number of meta nodes (1, 3 or 5 are sensible).
    pub meta: usize,
    /// Number of data nodes.
    pub data: usize,
    /// Default replication factor of new databases (None: data nodes, max 3).
    pub rf: Option<u32>,
    /// Cluster directory; a temporary one (removed on drop) when None.
    pub dir: Option<PathBuf>,
    /// Per-node config overrides: node name → ("section.key", TOML value).
    pub overrides: BTreeMap<String, Vec<(String, String)>>,
    /// How long each node may take to become ready.
    pub ready_timeout: Duration,
    /// Let data nodes write `_internal` statistics (`[monitor]
    /// store-enabled`). Off by default so tests see only their own data;
    /// an override for a node wins.
    pub monitor: bool,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            meta: 3,
            data: 0,
            rf: None,
            dir: None,
            overrides: BTreeMap::new(),
            ready_timeout: Duration::from_secs(20),
            monitor: false,
        }
    }
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `meta-node`.
    Meta,
    /// `data-node`.
    Data,
}

/// Addresses of one node. Meta nodes have `raft` and `api`; data nodes have
/// `http` and `tcp`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddrs {
    /// Meta: Raft peer address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raft: Option<String>,
    /// Meta: API address (HTTP `/ping` `/status` + gRPC), what `ctl -bind` takes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub api: Option<String>,
    /// Data: InfluxDB HTTP API (`/write`, `/query`, `/ping`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub http: Option<String>,
    /// Data: cluster TCP address (gRPC + snapshotter), what `add-data` takes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tcp: Option<String>,
}

/// One node as `cluster.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `meta1`, `data2`, …
    pub name: String,
    /// Role.
    pub role: Role,
    /// Cluster node ID (0 until joined).
    pub id: u64,
    /// PID while running.
    pub pid: Option<u32>,
    /// The node's own loopback IP.
    pub ip: Ipv4Addr,
    /// Stable addresses (the proxies): use these.
    pub addrs: NodeAddrs,
    /// The ports the process actually bound (change on restart).
    pub direct: NodeAddrs,
    /// Node directory (config, data, log).
    pub dir: PathBuf,
    /// Config file.
    pub config: PathBuf,
    /// Log file (stdout + stderr).
    pub log: PathBuf,
    /// Whether the process is stopped with SIGSTOP.
    #[serde(default)]
    pub paused: bool,
}

/// `cluster.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Cluster directory.
    pub dir: PathBuf,
    /// Default replication factor given at start.
    pub rf: Option<u32>,
    /// PID of the process that owns the nodes (testbed supervisor or test).
    pub owner_pid: u32,
    /// Control socket of the supervisor, when there is one.
    #[serde(default)]
    pub control: Option<PathBuf>,
    /// Every node.
    pub nodes: Vec<NodeInfo>,
}

impl ClusterInfo {
    /// Reads `DIR/cluster.json`.
    pub fn load(dir: &Path) -> Result<ClusterInfo> {
        let p = dir.join("cluster.json");
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// API address of the first meta node (for `ctl -bind`).
    pub fn meta_api(&self) -> Option<String> {
        self.nodes.iter().find(|n| n.role == Role::Meta).and_then(|n| n.addrs.api.clone())
    }
}

struct Node {
    info: NodeInfo,
    ready_file: PathBuf,
    /// (kind, proxy listen address) pairs.
    proxies: Vec<(&'static str, SocketAddr)>,
    overrides: Vec<(String, String)>,
    process: Option<Process>,
}

/// A running cluster. Dropping it kills every node (by PID) and removes a
/// temporary directory.
pub struct Cluster {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    rf: Option<u32>,
    monitor: bool,
    nodes: Vec<Node>,
    proxies: Proxies,
    meta_bin: PathBuf,
    data_bin: Option<PathBuf>,
    ready_timeout: Duration,
    control: Option<PathBuf>,
}

impl Cluster {
    /// Starts a cluster and waits until it is ready: every meta node in one
    /// Raft group with a leader, every data node joined.
    pub fn start(spec: ClusterSpec) -> Result<Cluster> {
        let (dir, tmp) = match &spec.dir {
            Some(d) => {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
                (d.canonicalize()?, None)
            }
            None => {
                let t = tempfile::Builder::new().prefix("testbed-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let meta_bin = find_binary("meta-node")?;
        let data_bin = if spec.data > 0 { Some(find_binary("data-node")?) } else { None };
        let mut cluster = Cluster {
            dir,
            _tmp: tmp,
            rf: spec.rf,
            monitor: spec.monitor,
            nodes: Vec::new(),
            proxies: Proxies::start()?,
            meta_bin,
            data_bin,
            ready_timeout: spec.ready_timeout,
            control: None,
        };
        for i in 1..=spec.meta {
            let name = format!("meta{i}");
            let ov = spec.overrides.get(&name).cloned().unwrap_or_default();
            cluster.add_node(Role::Meta, i, ov)?;
        }
        for i in 1..=spec.data {
            let name = format!("data{i}");
            let ov = spec.overrides.get(&name).cloned().unwrap_or_default();
            cluster.add_node(Role::Data, i, ov)?;
        }
        let names: Vec<String> = cluster.nodes.iter().map(|n| n.info.name.clone()).collect();
        for name in &names {
            cluster.spawn(name)?;
        }
        for name in &names {
            cluster.wait_ready(name)?;
        }
        cluster.form_meta_group()?;
        cluster.join_data_nodes()?;
        cluster.write_info()?;
        Ok(cluster)
    }

    fn add_node(&mut self, role: Role, i: usize, overrides: Vec<(String, String)>) -> Result<()> {
        let (name, ip) = match role {
            Role::Meta => (format!("meta{i}"), Ipv4Addr::new(127, 0, 1, i as u8)),
            Role::Data => (format!("data{i}"), Ipv4Addr::new(127, 0, 2, i as u8)),
        };
        let dir = self.dir.join(&name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let kinds: &[&'static str] = match role {
            Role::Meta => &["raft", "api"],
            Role::Data => &["http", "tcp"],
        };
        let mut proxies = Vec::new();
        let mut addrs = NodeAddrs::default();
        for kind in kinds {
            let listen = self.proxies.listen(IpAddr::V4(ip), &name)?;
            proxies.push((*kind, listen));
            set_addr(&mut addrs, kind, listen.to_string());
        }
        let info = NodeInfo {
            name: name.clone(),
            role,
            id: 0,
            pid: None,
            ip,
            addrs,
            direct: NodeAddrs::default(),
            config: dir.join("config.toml"),
            log: dir.join("node.log"),
            dir: dir.clone(),
            paused: false,
        };
        let node =
            Node { info, ready_file: dir.join("ready.json"), proxies, overrides, process: None };
        self.nodes.push(node);
        self.write_config(&name)?;
        Ok(())
    }

    fn node_mut(&mut self, name: &str) -> Result<&mut Node> {
        self.nodes.iter_mut().find(|n| n.info.name == name).ok_or_else(|| anyhow!("no node {name}"))
    }

    fn node(&self, name: &str) -> Result<&Node> {
        self.nodes.iter().find(|n| n.info.name == name).ok_or_else(|| anyhow!("no node {name}"))
    }

    fn write_config(&mut self, name: &str) -> Result<()> {
        let (rf, monitor) = (self.rf, self.monitor);
        let node = self.node(name)?;
        let text = render_config(&node.info, rf, monitor, &node.overrides)?;
        std::fs::write(&node.info.config, text)
            .with_context(|| format!("writing {}", node.info.config.display()))
    }

    fn spawn(&mut self, name: &str) -> Result<()> {
        let meta_bin = self.meta_bin.clone();
        let data_bin = self.data_bin.clone();
        let node = self.node_mut(name)?;
        let _ = std::fs::remove_file(&node.ready_file);
        let bin = match node.info.role {
            Role::Meta => meta_bin,
            Role::Data => data_bin.context("data-node binary not located")?,
        };
        let args = vec![
            "-config".to_string(),
            node.info.config.display().to_string(),
            "-ready-file".to_string(),
            node.ready_file.display().to_string(),
        ];
        let p = Process::spawn(&bin, &args, &node.info.log)?;
        node.info.pid = p.pid();
        node.info.paused = false;
        node.process = Some(p);
        Ok(())
    }

    fn wait_ready(&mut self, name: &str) -> Result<()> {
        let timeout = self.ready_timeout;
        let node = self.node_mut(name)?;
        let proc = node.process.as_mut().context("node is not running")?;
        let ready = wait_ready_file(proc, &node.ready_file, &node.info.log, timeout)
            .with_context(|| format!("{name} did not start"))?;
        let mut direct = NodeAddrs::default();
        for (kind, listen) in node.proxies.clone() {
            let addr = ready
                .get(kind)
                .and_then(|v| v.as_str())
                .with_context(|| format!("{name}: ready file lacks {kind}"))?;
            set_addr(&mut direct, kind, addr.to_string());
            let target: SocketAddr = addr.parse().with_context(|| format!("{name}: {addr}"))?;
            self.proxies.set_target(listen, target);
        }
        let node = self.node_mut(name)?;
        node.info.direct = direct;
        if let Some(id) = ready.get("id").and_then(|v| v.as_u64())
            && id != 0
        {
            node.info.id = id;
        }
        Ok(())
    }

    /// Bootstraps meta1 and adds the other meta nodes one at a time, as an
    /// operator does with `influxd-ctl add-meta`.
    fn form_meta_group(&mut self) -> Result<()> {
        let metas: Vec<(String, String)> = self
            .nodes
            .iter()
            .filter(|n| n.info.role == Role::Meta)
            .map(|n| (n.info.name.clone(), n.info.addrs.api.clone().unwrap_or_default()))
            .collect();
        let Some((_, first)) = metas.first().cloned() else {
            bail!("a cluster needs at least one meta node");
        };
        let timeout = self.ready_timeout;
        for (name, api) in &metas {
            let id = self.proxies.block_on(async {
                retry(timeout, || async {
                    let mut c = MetaClient::new(proto::net::channel(&first, None)?);
                    let r = c
                        .add_meta(proto::cluster::AddMetaRequest { http_addr: api.clone() })
                        .await?;
                    Ok(r.into_inner().id)
                })
                .await
            });
            let id = id.with_context(|| format!("add-meta {name}"))?;
            self.node_mut(name)?.info.id = id;
        }
        // Every member sees a leader and the whole group.
        let n = metas.len();
        for (name, api) in &metas {
            self.proxies
                .block_on(retry(timeout, || async {
                    let mut c = MetaClient::new(proto::net::channel(api, None)?);
                    let s = c.status(proto::cluster::StatusRequest {}).await?.into_inner();
                    if s.leader.is_empty() || s.peers.len() != n {
                        bail!("{name}: leader {:?}, {} peers", s.leader, s.peers.len());
                    }
                    Ok(())
                }))
                .with_context(|| format!("{name} did not join the meta group"))?;
        }
        Ok(())
    }

    /// Adds every data node through the meta API (`influxd-ctl add-data`).
    fn join_data_nodes(&mut self) -> Result<()> {
        let api = self.meta_api()?;
        let datas: Vec<(String, String)> = self
            .nodes
            .iter()
            .filter(|n| n.info.role == Role::Data)
            .map(|n| (n.info.name.clone(), n.info.addrs.tcp.clone().unwrap_or_default()))
            .collect();
        let timeout = self.ready_timeout;
        for (name, tcp) in datas {
            let id = self
                .proxies
                .block_on(retry(timeout, || async {
                    let mut c = MetaClient::new(proto::net::channel(&api, None)?);
                    let r = c
                        .add_data(proto::cluster::AddDataRequest {
                            tcp_addr: tcp.clone(),
                            passive: false,
                        })
                        .await?;
                    Ok(r.into_inner().id)
                }))
                .with_context(|| format!("add-data {name}"))?;
            self.node_mut(&name)?.info.id = id;
        }
        Ok(())
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A snapshot of every node's info.
    pub fn info(&self) -> ClusterInfo {
        ClusterInfo {
            dir: self.dir.clone(),
            rf: self.rf,
            owner_pid: std::process::id(),
            control: self.control.clone(),
            nodes: self.nodes.iter().map(|n| n.info.clone()).collect(),
        }
    }

    /// Records the supervisor's control socket in `cluster.json`.
    pub fn set_control(&mut self, path: PathBuf) {
        self.control = Some(path);
    }

    /// Writes `DIR/cluster.json` (atomically).
    pub fn write_info(&self) -> Result<()> {
        let p = self.dir.join("cluster.json");
        let tmp = self.dir.join("cluster.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.info())?)?;
        std::fs::rename(&tmp, &p)?;
        Ok(())
    }

    /// Node names in start order.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.info.name.clone()).collect()
    }

    /// One node's info.
    pub fn node_info(&self, name: &str) -> Result<NodeInfo> {
        Ok(self.node(name)?.info.clone())
    }

    /// The stable API address of a running meta node (for `ctl -bind`).
    pub fn meta_api(&self) -> Result<String> {
        self.nodes
            .iter()
            .filter(|n| n.info.role == Role::Meta)
            .find(|n| n.process.is_some())
            .or_else(|| self.nodes.iter().find(|n| n.info.role == Role::Meta))
            .and_then(|n| n.info.addrs.api.clone())
            .context("no meta node")
    }

    /// HTTP addresses of the data nodes, in order.
    pub fn data_http(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.info.role == Role::Data)
            .filter_map(|n| n.info.addrs.http.clone())
            .collect()
    }

    /// SIGKILL a node.
    pub fn crash(&mut self, name: &str) -> Result<()> {
        let node = self.node_mut(name)?;
        if let Some(mut p) = node.process.take() {
            p.kill();
        }
        node.info.pid = None;
        node.info.paused = false;
        self.write_info()
    }

    /// Stops a node gracefully (SIGTERM, then SIGKILL after 5s).
    pub fn stop(&mut self, name: &str) -> Result<()> {
        let node = self.node_mut(name)?;
        if let Some(mut p) = node.process.take() {
            p.terminate(Duration::from_secs(5));
        }
        node.info.pid = None;
        self.write_info()
    }

    /// Starts a stopped or crashed node again (a running one is killed first).
    pub fn restart(&mut self, name: &str) -> Result<()> {
        {
            let node = self.node_mut(name)?;
            if let Some(mut p) = node.process.take() {
                p.kill();
            }
        }
        self.write_config(name)?;
        self.spawn(name)?;
        self.wait_ready(name)?;
        self.write_info()
    }

    /// SIGSTOP a node.
    pub fn pause(&mut self, name: &str) -> Result<()> {
        let node = self.node_mut(name)?;
        node.process.as_ref().context("node is not running")?.signal(Signal::SIGSTOP)?;
        node.info.paused = true;
        self.write_info()
    }

    /// SIGCONT a node.
    pub fn resume(&mut self, name: &str) -> Result<()> {
        let node = self.node_mut(name)?;
        node.process.as_ref().context("node is not running")?.signal(Signal::SIGCONT)?;
        node.info.paused = false;
        self.write_info()
    }

    /// Cuts the links between two nodes, both ways.
    pub fn partition(&mut self, a: &str, b: &str) -> Result<()> {
        let (an, ai) = self.node(a).map(|n| (n.info.name.clone(), n.info.ip))?;
        let (bn, bi) = self.node(b).map(|n| (n.info.name.clone(), n.info.ip))?;
        self.proxies.partition((&an, IpAddr::V4(ai)), (&bn, IpAddr::V4(bi)));
        Ok(())
    }

    /// Cuts every link of node `a`.
    pub fn isolate(&mut self, a: &str) -> Result<()> {
        for b in self.names() {
            if b != a {
                self.partition(a, &b)?;
            }
        }
        Ok(())
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.proxies.heal();
    }

    /// Sets a config override (`section.key` = TOML value) for a node; it
    /// takes effect at the next restart.
    pub fn set_config(&mut self, name: &str, key: &str, value: &str) -> Result<()> {
        let node = self.node_mut(name)?;
        node.overrides.retain(|(k, _)| k != key);
        node.overrides.push((key.to_string(), value.to_string()));
        self.write_config(name)
    }

    /// Whether a node's process is running.
    pub fn is_running(&mut self, name: &str) -> bool {
        self.node_mut(name).map(|n| n.process.as_mut().is_some_and(|p| p.alive())).unwrap_or(false)
    }

    /// Runs a future on the cluster's runtime (not from inside async code).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.proxies.block_on(f)
    }

    /// Kills every node and waits for them to exit.
    pub fn shutdown(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut p) = n.process.take() {
                p.kill();
            }
            n.info.pid = None;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
        if std::env::var_os("TESTBED_KEEP").is_some()
            && let Some(t) = self._tmp.take()
        {
            let kept = t.keep();
            eprintln!("testkit: kept cluster dir {}", kept.display());
        }
    }
}

fn set_addr(a: &mut NodeAddrs, kind: &str, v: String) {
    match kind {
        "raft" => a.raft = Some(v),
        "api" => a.api = Some(v),
        "http" => a.http = Some(v),
        "tcp" => a.tcp = Some(v),
        _ => {}
    }
}

/// Renders a node's TOML config: the testbed's settings, then overrides.
fn render_config(
    info: &NodeInfo,
    rf: Option<u32>,
    monitor: bool,
    overrides: &[(String, String)],
) -> Result<String> {
    let mut root = toml::Table::new();
    let mut set = |path: &str, v: toml::Value| {
        let mut parts: Vec<&str> = path.split('.').collect();
        let key = parts.pop().unwrap_or_default().to_string();
        let mut t = &mut root;
        for p in parts {
            t = t
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("config sections are tables");
        }
        t.insert(key, v);
    };
    let s = |v: &str| toml::Value::String(v.to_string());
    let ip = info.ip.to_string();
    let dir = info.dir.display().to_string();
    match info.role {
        Role::Meta => {
            set("meta.dir", s(&format!("{dir}/meta")));
            set("meta.bind-address", s(&format!("{ip}:0")));
            set("meta.http-bind-address", s(&format!("{ip}:0")));
            set("meta.advertise-address", s(info.addrs.raft.as_deref().unwrap_or_default()));
            set("meta.http-advertise-address", s(info.addrs.api.as_deref().unwrap_or_default()));
            set("meta.election-timeout", s("1s"));
            if let Some(rf) = rf {
                set("meta.default-replication-factor", toml::Value::Integer(rf as i64));
            }
        }
        Role::Data => {
            set("bind-address", s(&format!("{ip}:0")));
            set("advertise-address", s(info.addrs.tcp.as_deref().unwrap_or_default()));
            set("meta.dir", s(&format!("{dir}/meta")));
            set("data.dir", s(&format!("{dir}/data")));
            set("data.wal-dir", s(&format!("{dir}/wal")));
            set("hinted-handoff.dir", s(&format!("{dir}/hh")));
            set("http.bind-address", s(&format!("{ip}:0")));
            set("http.advertise-address", s(info.addrs.http.as_deref().unwrap_or_default()));
            set("monitor.store-enabled", toml::Value::Boolean(monitor));
        }
    }
    for (k, v) in overrides {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.clone()));
        set(k, value);
    }
    Ok(toml::to_string(&root)?)
}

/// Retries `f` until it succeeds or `timeout` passes, returning the last error.
pub async fn retry<T, F, Fut>(timeout: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let until = Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= until => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
