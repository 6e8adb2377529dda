//! The compose backend: `scenarios run --compose docker/docker-compose.yml`
//! runs scenarios against the 3 meta + 3 data node cluster of that compose
//! file (README, "Docker") instead of local testkit processes.
//!
//! - `cluster meta=3 data=3 rf=2` (the only shape the file has) removes
//!   what is left of the project (`down -v`), starts it (`up -d`) and waits
//!   until the one-shot `init` service has joined every node. The cluster
//!   is taken down, volumes included, when the scenario ends.
//! - `crash`, `stop`, `restart`, `pause`, `resume` become `docker kill`,
//!   `stop`, `kill`+`start` (then wait for `/ping`), `pause`, `unpause` of
//!   the node's container; `isolate NODE` disconnects it from the compose
//!   network and `heal` connects it again. `partition A B` (one link) and
//!   `config` are not available.
//! - `ctl` runs in a throwaway container of the image on the compose
//!   network, as the calling user, with `$tmp` and `$fixtures` mounted at
//!   the same paths.
//! - Placeholders give the addresses nodes announce on the compose network
//!   (`$data1.tcp` is `data1:8088`); the runner itself writes and queries
//!   through the ports published on 127.0.0.1 (`$data1.http.direct`).
//!
//! The project is `influx-testbed-scenarios` (`TESTBED_COMPOSE_PROJECT`),
//! published with port prefix 181 (18186…, `TESTBED_PORT_PREFIX`), so it
//! does not touch a cluster started by hand from the same file. The
//! compose command is `docker compose` when it works, else
//! `docker-compose` (`TESTBED_COMPOSE` overrides).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use testkit::{ClusterInfo, ClusterSpec, NodeAddrs, NodeInfo, Role};

use crate::ctl::CtlRun;

/// The compose file given with `--compose`, for the whole process.
static FILE: OnceLock<PathBuf> = OnceLock::new();

/// Meta and data nodes of the compose file, and its replication factor
/// (`default-replication-factor` in docker/config/meta.toml).
const METAS: [&str; 3] = ["meta1", "meta2", "meta3"];
const DATAS: [&str; 3] = ["data1", "data2", "data3"];
const RF: u32 = 2;
/// Bounds of docker commands.
const UP_TIMEOUT: Duration = Duration::from_secs(240);
const DOWN_TIMEOUT: Duration = Duration::from_secs(120);
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes every `cluster` command of this process start the compose file.
pub fn set_file(path: &Path) -> Result<()> {
    let p = path.canonicalize().with_context(|| format!("--compose {}", path.display()))?;
    FILE.set(p).map_err(|_| anyhow::anyhow!("--compose given twice"))
}

/// The `--compose` file, when given.
pub fn file() -> Option<&'static Path> {
    FILE.get().map(PathBuf::as_path)
}

/// A running compose project.
pub struct Compose {
    compose: Vec<String>,
    file: PathBuf,
    project: String,
    port_prefix: String,
    nodes: Vec<NodeInfo>,
    /// Node name → container ID.
    containers: BTreeMap<String, String>,
    network: String,
    image: String,
    isolated: BTreeSet<String>,
    ready_timeout: Duration,
    /// A runtime for gRPC reads of the metastore (testkit's proxies own one).
    rt: testkit::proxy::Proxies,
}

impl Compose {
    /// `down -v`, `up -d`, waits for `init`; see the module docs.
    pub fn start(spec: &ClusterSpec) -> Result<Compose> {
        let file = file().context("no --compose file")?.to_path_buf();
        if spec.meta != METAS.len()
            || spec.data != DATAS.len()
            || spec.rf.is_some_and(|rf| rf != RF)
            || !spec.overrides.is_empty()
        {
            bail!(
                "--compose: the compose cluster is meta=3 data=3 rf=2 without config overrides \
                 (this asks for meta={} data={} rf={}{})",
                spec.meta,
                spec.data,
                spec.rf.map_or("default".into(), |r| r.to_string()),
                if spec.overrides.is_empty() { "" } else { " and overrides" }
            );
        }
        let project = std::env::var("TESTBED_COMPOSE_PROJECT")
            .unwrap_or_else(|_| "influx-testbed-scenarios".into());
        let port_prefix = std::env::var("TESTBED_PORT_PREFIX").unwrap_or_else(|_| "181".into());
        let mut c = Compose {
            compose: compose_command()?,
            file,
            project,
            port_prefix,
            nodes: Vec::new(),
            containers: BTreeMap::new(),
            network: String::new(),
            image: String::new(),
            isolated: BTreeSet::new(),
            ready_timeout: spec.ready_timeout.max(Duration::from_secs(30)),
            rt: testkit::proxy::Proxies::start().context("starting a runtime")?,
        };
        // No registry is reachable: name the build script rather than fail pulling.
        let image =
            std::env::var("TESTBED_IMAGE").unwrap_or_else(|_| "influx-testbed/node:latest".into());
        if docker(&["image", "inspect", &image], DOCKER_TIMEOUT)?.code != Some(0) {
            bail!("--compose: no image {image}: build it with docker/build-images.sh");
        }
        c.down()?;
        c.compose_ok(&["up", "-d", "--no-color"], UP_TIMEOUT).context("compose up")?;
        let init = c.container("init")?;
        let until = Instant::now() + c.ready_timeout + Duration::from_secs(120);
        loop {
            let st = docker_ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", &init])?;
            match st.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["exited", "0"] => break,
                ["exited", code] => bail!(
                    "the init service exited with {code}:\n{}",
                    docker(&["logs", "--tail", "20", &init], DOCKER_TIMEOUT)?.stderr
                ),
                _ if Instant::now() > until => bail!("the init service did not finish: {st}"),
                _ => std::thread::sleep(Duration::from_millis(500)),
            }
        }
        // `Meta node 1 at meta1:8091`, `Data node 4 at data1:8088`.
        let log = docker(&["logs", &init], DOCKER_TIMEOUT)?.stdout;
        let ids: BTreeMap<String, u64> = log
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace().skip(2);
                let id = w.next()?.parse().ok()?;
                let host = w.nth(1)?.split(':').next()?.to_string();
                Some((host, id))
            })
            .collect();
        for name in METAS.iter().chain(DATAS.iter()) {
            let id = c.container(name)?;
            c.containers.insert(name.to_string(), id);
            let meta = name.starts_with("meta");
            let port = if meta { "8091" } else { "8086" };
            let published = c.compose_ok(&["port", name, port], DOCKER_TIMEOUT)?;
            let published = published.trim().to_string();
            let (addrs, direct) = if meta {
                (
                    NodeAddrs {
                        raft: Some(format!("{name}:8089")),
                        api: Some(format!("{name}:8091")),
                        ..NodeAddrs::default()
                    },
                    NodeAddrs { api: Some(published), ..NodeAddrs::default() },
                )
            } else {
                (
                    NodeAddrs {
                        http: Some(format!("{name}:8086")),
                        tcp: Some(format!("{name}:8088")),
                        ..NodeAddrs::default()
                    },
                    NodeAddrs { http: Some(published), ..NodeAddrs::default() },
                )
            };
            c.nodes.push(NodeInfo {
                name: name.to_string(),
                role: if meta { Role::Meta } else { Role::Data },
                id: ids.get(*name).copied().unwrap_or(0),
                pid: None,
                ip: Ipv4Addr::UNSPECIFIED,
                addrs,
                direct,
                dir: PathBuf::new(),
                config: PathBuf::new(),
                log: PathBuf::new(),
                paused: false,
            });
        }
        let meta1 = c.containers["meta1"].clone();
        c.network = docker_ok(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
            &meta1,
        ])?
        .trim()
        .to_string();
        c.image = docker_ok(&["inspect", "-f", "{{.Config.Image}}", &meta1])?.trim().to_string();
        Ok(c)
    }

    /// Like `cluster.json`: the compose file's directory and the nodes.
    pub fn info(&self) -> ClusterInfo {
        ClusterInfo {
            dir: self.dir().to_path_buf(),
            rf: Some(RF),
            owner_pid: std::process::id(),
            control: None,
            nodes: self.nodes.clone(),
        }
    }

    /// The compose file's directory.
    pub fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// Node names, meta nodes first.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// One node.
    pub fn node_info(&self, name: &str) -> Result<NodeInfo> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
            .with_context(|| format!("no node {name:?} in the compose cluster"))
    }

    fn node_mut(&mut self, name: &str) -> Result<&mut NodeInfo> {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .with_context(|| format!("no node {name:?} in the compose cluster"))
    }

    fn id_of(&self, name: &str) -> Result<String> {
        self.containers.get(name).cloned().with_context(|| format!("no container for {name:?}"))
    }

    /// The API address of the first running meta node.
    pub fn meta_api(&mut self) -> Result<String> {
        let metas: Vec<String> = METAS.iter().map(|s| s.to_string()).collect();
        let name = metas.iter().find(|n| self.is_running(n)).unwrap_or(&metas[0]).clone();
        self.node_info(&name)?.addrs.api.context("no meta node")
    }

    /// Whether the node's container runs (paused ones too).
    pub fn is_running(&mut self, name: &str) -> bool {
        self.id_of(name)
            .and_then(|id| docker_ok(&["inspect", "-f", "{{.State.Running}}", &id]))
            .is_ok_and(|s| s.trim() == "true")
    }

    /// `docker kill`.
    pub fn crash(&mut self, name: &str) -> Result<()> {
        let id = self.id_of(name)?;
        if self.node_info(name)?.paused {
            docker_ok(&["unpause", &id])?;
        }
        if self.is_running(name) {
            docker_ok(&["kill", &id])?;
        }
        self.node_mut(name)?.paused = false;
        Ok(())
    }

    /// `docker stop` (SIGTERM, SIGKILL after 5s).
    pub fn stop(&mut self, name: &str) -> Result<()> {
        let id = self.id_of(name)?;
        if self.node_info(name)?.paused {
            docker_ok(&["unpause", &id])?;
        }
        docker_ok(&["stop", "-t", "5", &id])?;
        self.node_mut(name)?.paused = false;
        Ok(())
    }

    /// Kills a running node, starts it and waits until it answers `/ping`.
    pub fn restart(&mut self, name: &str) -> Result<()> {
        self.crash(name)?;
        let id = self.id_of(name)?;
        docker_ok(&["start", &id])?;
        if self.isolated.contains(name) {
            return Ok(());
        }
        let n = self.node_info(name)?;
        let addr = n.direct.api.or(n.direct.http).context("no published address")?;
        let until = Instant::now() + self.ready_timeout;
        loop {
            if ping(&addr) {
                return Ok(());
            }
            if Instant::now() > until {
                bail!("{name} did not answer /ping at {addr} after {:?}", self.ready_timeout);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `docker pause`.
    pub fn pause(&mut self, name: &str) -> Result<()> {
        docker_ok(&["pause", &self.id_of(name)?])?;
        self.node_mut(name)?.paused = true;
        Ok(())
    }

    /// `docker unpause`.
    pub fn resume(&mut self, name: &str) -> Result<()> {
        docker_ok(&["unpause", &self.id_of(name)?])?;
        self.node_mut(name)?.paused = false;
        Ok(())
    }

    /// Not available: docker cuts a container's whole network, not one link.
    pub fn partition(&mut self, a: &str, b: &str) -> Result<()> {
        bail!(
            "partition {a} {b}: a compose cluster cannot cut one link (use `isolate NODE`: \
             docker network disconnect)"
        )
    }

    /// `docker network disconnect`: the node reaches no other node, and the
    /// runner does not reach it either (its published port is gone too).
    pub fn isolate(&mut self, name: &str) -> Result<()> {
        let id = self.id_of(name)?;
        docker_ok(&["network", "disconnect", &self.network, &id])?;
        self.isolated.insert(name.to_string());
        Ok(())
    }

    /// Connects every isolated node again, under its name.
    pub fn heal(&mut self) -> Result<()> {
        for name in std::mem::take(&mut self.isolated) {
            let id = self.id_of(&name)?;
            docker_ok(&["network", "connect", "--alias", &name, &self.network, &id])?;
        }
        Ok(())
    }

    /// Not available: the config files are docker/config/*.toml.
    pub fn set_config(&mut self, name: &str, key: &str, _value: &str) -> Result<()> {
        bail!("config {name} {key}: not with --compose (edit docker/config/*.toml)")
    }

    /// Runs a future on the backend's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The address the runner reaches `addr` (as nodes announce it) at: the
    /// published port of a node's HTTP or API address, else `addr`.
    pub fn reach(&self, addr: &str) -> String {
        for n in &self.nodes {
            for (inner, published) in
                [(&n.addrs.api, &n.direct.api), (&n.addrs.http, &n.direct.http)]
            {
                if inner.as_deref() == Some(addr)
                    && let Some(p) = published
                {
                    return p.clone();
                }
            }
        }
        addr.to_string()
    }

    /// Runs `ctl ARGS` in a throwaway container on the compose network, as
    /// the owner of `tmp`, with `mounts` (`$tmp`, `$fixtures`) at their paths.
    pub fn ctl(&self, args: &[String], mounts: &[&Path], timeout: Duration) -> Result<CtlRun> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{}-ctl-{}-{}",
            self.project,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut argv: Vec<String> =
            ["run", "--rm", "--name", &name, "--network", &self.network, "--label"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        argv.push(format!("com.docker.compose.project={}", self.project));
        if let Some(first) = mounts.first() {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(first)?;
            argv.extend(["--user".to_string(), format!("{}:{}", m.uid(), m.gid())]);
        }
        for m in mounts {
            argv.extend(["-v".to_string(), format!("{0}:{0}", m.display())]);
        }
        argv.extend(["--entrypoint".into(), "/usr/local/bin/ctl".into(), self.image.clone()]);
        argv.extend(args.iter().cloned());
        let run = crate::ctl::run(Path::new("docker"), &argv, timeout)?;
        if run.timed_out {
            let _ = docker(&["rm", "-f", &name], DOCKER_TIMEOUT);
        }
        Ok(run)
    }

    fn compose_args(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = self.compose[1..].to_vec();
        v.extend(["-f".into(), self.file.display().to_string(), "-p".into(), self.project.clone()]);
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    fn compose_run(&self, args: &[&str], timeout: Duration) -> Result<CtlRun> {
        // Compose reads TESTBED_PORT_PREFIX from the environment; `env`
        // sets it for the child only.
        let mut argv = vec![format!("TESTBED_PORT_PREFIX={}", self.port_prefix)];
        argv.push(self.compose[0].clone());
        argv.extend(self.compose_args(args));
        crate::ctl::run(Path::new("env"), &argv, timeout)
    }

    fn compose_ok(&self, args: &[&str], timeout: Duration) -> Result<String> {
        let r = self.compose_run(args, timeout)?;
        check(&format!("{} {}", self.compose.join(" "), args.join(" ")), r)
    }

    fn container(&self, service: &str) -> Result<String> {
        let id = self.compose_ok(&["ps", "-q", service], DOCKER_TIMEOUT)?;
        let id = id.trim();
        if id.is_empty() {
            bail!("no container for the {service} service");
        }
        Ok(id.to_string())
    }

    fn down(&self) -> Result<()> {
        self.compose_ok(&["down", "-v", "--remove-orphans", "-t", "5"], DOWN_TIMEOUT)
            .map(|_| ())
            .context("compose down")
    }
}

impl Drop for Compose {
    /// Takes the project down, volumes included.
    fn drop(&mut self) {
        if let Err(e) = self.down() {
            eprintln!("scenarios: {e:#}");
        }
    }
}

/// `GET /ping` at `addr`; true on a 2xx answer.
fn ping(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(sa) = addr.parse::<std::net::SocketAddr>() else { return false };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let req = b"GET /ping HTTP/1.1\r\nHost: ping\r\nConnection: close\r\n\r\n";
    let mut buf = [0u8; 16];
    s.write_all(req).is_ok()
        && s.read(&mut buf).is_ok_and(|n| n >= 10)
        && buf.starts_with(b"HTTP/1.1 2")
}

/// `docker compose` when the plugin works, else `docker-compose`.
fn compose_command() -> Result<Vec<String>> {
    if let Ok(c) = std::env::var("TESTBED_COMPOSE") {
        return Ok(c.split_whitespace().map(str::to_string).collect());
    }
    for c in [&["docker", "compose"][..], &["docker-compose"][..]] {
        let mut args: Vec<String> = c[1..].iter().map(|s| s.to_string()).collect();
        args.push("version".into());
        if crate::ctl::run(Path::new(c[0]), &args, DOCKER_TIMEOUT).is_ok_and(|r| r.code == Some(0))
        {
            return Ok(c.iter().map(|s| s.to_string()).collect());
        }
    }
    bail!("neither `docker compose` nor `docker-compose` works")
}

fn docker(args: &[&str], timeout: Duration) -> Result<CtlRun> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    crate::ctl::run(Path::new("docker"), &args, timeout)
}

fn docker_ok(args: &[&str]) -> Result<String> {
    check(&format!("docker {}", args.join(" ")), docker(args, DOCKER_TIMEOUT)?)
}

fn check(what: &str, r: CtlRun) -> Result<String> {
    if r.timed_out {
        bail!("{what}: timed out");
    }
    if r.code != Some(0) {
        bail!("{what}: exit {:?}: {}", r.code, r.stderr.trim());
    }
    Ok(r.stdout)
}
