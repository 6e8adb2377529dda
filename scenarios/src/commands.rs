//! The scenario commands.
//!
//! | command | does |
//! |---|---|
//! | `cluster [name=N] [meta=3] [data=0] [rf=R] [ready-timeout=20s] [NODE.section.key=V…]` | starts a fresh cluster (replacing one of the same name) and makes it current |
//! | `use N` | makes cluster N current (`@N cmd` does it for one command) |
//! | `ctl ARGS…` | runs the ctl binary with `-bind <a running meta node>` unless ARGS bind (a `*` in a file name expands to the matching files, sorted); prints stdout, `stderr: …` lines, `exit: N` when N ≠ 0 |
//! | `write db=D [rp=] [consistency=] [precision=] [node=dataN \| addr=H:P] [batch=5000] [background=true] SOURCE` | POSTs a file (`.lp` or `.lp.gz`) or `gen:…` points to `/write`, recording what was acknowledged; `background=true` returns at once |
//! | `wait-writes` | waits for the background writes, records them and prints their summaries |
//! | `query [db=D] [node= \| addr=] [epoch=] "Q"` | runs InfluxQL; prints like the `influx` CLI |
//! | `crash\|restart\|pause\|resume\|stop NODE…` | process faults (SIGKILL, restart, SIGSTOP, SIGCONT, SIGTERM) |
//! | `partition A B`, `isolate A`, `heal` | network faults through testkit's proxies |
//! | `config NODE section.key=V…` | config override, applied at the next `restart NODE` |
//! | `sleep DUR`, `wait-leader [node=metaN] [timeout=15s]` | time; the running meta nodes (or one) agree on a running leader |
//! | `wait [timeout=30s] [every=200ms] until=TEXT\|while=TEXT CMD…` | reruns a command until its output holds TEXT (or no longer does), see [`crate::wait`] |
//! | `repeat N CMD…` | runs a command N times, `{i}` = 0…N−1 in its words; equal outputs grouped (`N × …`), see [`crate::repeat`] |
//! | `ls PATH`, `mkdir PATH…` | lists a directory (backup files); creates directories |
//! | `check lost-writes [mode=auto\|count\|exact] [from=CLUSTER]`, `check counts db=D [rp=] [expect=…] [state=…]`, `check placement` | invariants, see [`crate::checks`] |

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use testkit::{ClusterSpec, Role};

use crate::backend::Cluster;
use crate::checks::{counts, lost_writes, placement};
use crate::generator::Generator;
use crate::http::{Http, WriteParams, format_query};
use crate::lineproto::{PointKey, point_key, precision_ns};
use crate::meta;
use crate::oracle::Target;
use crate::script::Command;
use crate::session::{Background, DEFAULT_CLUSTER, Out, Session};

/// Lines per `/write` request, as the fixture writer sent them.
pub const DEFAULT_BATCH: usize = 5000;
/// Longest a single ctl run may take (the scenario deadline may cut it shorter).
pub const CTL_TIMEOUT: Duration = Duration::from_secs(120);

/// A command's words, placeholders expanded, split into `key=value` and
/// positional arguments.
struct Args {
    keys: Vec<(String, String)>,
    pos: Vec<String>,
    cmd: String,
}

impl Args {
    fn new(s: &Session, cmd: &Command) -> Result<Args> {
        let target = cmd.target.as_deref();
        let mut keys = Vec::new();
        let mut pos = Vec::new();
        for w in &cmd.args {
            match w.key_value() {
                Some((k, v)) => keys.push((k.to_string(), s.expand(v, target)?)),
                None => pos.push(s.expand(&w.text, target)?),
            }
        }
        Ok(Args { keys, pos, cmd: cmd.name.clone() })
    }

    fn take(&mut self, key: &str) -> Option<String> {
        let i = self.keys.iter().rposition(|(k, _)| k == key)?;
        let v = self.keys.remove(i).1;
        self.keys.retain(|(k, _)| k != key);
        Some(v)
    }

    fn take_parse<T: std::str::FromStr>(&mut self, key: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.take(key)
            .map(|v| v.parse::<T>().map_err(|e| anyhow::anyhow!("{key}={v}: {e}")))
            .transpose()
    }

    fn require(&mut self, key: &str) -> Result<String> {
        self.take(key).with_context(|| format!("{} needs {key}=…", self.cmd))
    }

    /// Fails on arguments nobody took.
    fn done(&self) -> Result<()> {
        if let Some((k, _)) = self.keys.first() {
            bail!("{}: unknown argument {k}=", self.cmd);
        }
        Ok(())
    }

    fn one_pos(&mut self, what: &str) -> Result<String> {
        if self.pos.len() != 1 {
            bail!("{} takes one {what}, got {}", self.cmd, self.pos.len());
        }
        Ok(self.pos.remove(0))
    }
}

impl Session {
    /// Runs one command.
    pub(crate) fn run(&mut self, cmd: &Command) -> Result<Out> {
        let target = cmd.target.as_deref();
        if cmd.name == "ctl" {
            return self.ctl(cmd);
        }
        if cmd.name == "run" {
            return self.run_binary(cmd);
        }
        if cmd.name == "wait" {
            return self.wait(cmd);
        }
        if cmd.name == "mkdir" {
            return self.mkdir(cmd);
        }
        if cmd.name == "repeat" {
            return self.repeat(cmd);
        }
        let mut a = Args::new(self, cmd)?;
        match cmd.name.as_str() {
            "cluster" => self.start_cluster(&mut a),
            "use" => {
                let name = a.one_pos("cluster name")?;
                self.cluster_name(Some(&name))?;
                self.current = Some(name);
                Ok(Out::none())
            }
            "write" => self.write(target, &mut a),
            "query" => self.query(target, &mut a),
            "crash" | "restart" | "pause" | "resume" | "stop" => {
                if a.pos.is_empty() {
                    bail!("{} needs a node name", cmd.name);
                }
                a.done()?;
                let c = self.cluster(target)?;
                for n in &a.pos {
                    match cmd.name.as_str() {
                        "crash" => c.crash(n),
                        "restart" => c.restart(n),
                        "pause" => c.pause(n),
                        "resume" => c.resume(n),
                        _ => c.stop(n),
                    }
                    .with_context(|| format!("{} {n}", cmd.name))?;
                }
                Ok(Out::none())
            }
            "partition" => {
                a.done()?;
                let [x, y] = a.pos.as_slice() else { bail!("partition takes two node names") };
                self.cluster(target)?.partition(x, y)?;
                Ok(Out::none())
            }
            "isolate" => {
                let n = a.one_pos("node name")?;
                self.cluster(target)?.isolate(&n)?;
                Ok(Out::none())
            }
            "heal" => {
                a.done()?;
                self.cluster(target)?.heal()?;
                Ok(Out::none())
            }
            "config" => {
                let n = a.one_pos("node name")?;
                if a.keys.is_empty() {
                    bail!("config needs section.key=value");
                }
                let keys = std::mem::take(&mut a.keys);
                let c = self.cluster(target)?;
                for (k, v) in keys {
                    c.set_config(&n, &k, &v)?;
                }
                Ok(Out::none())
            }
            "sleep" => {
                let d = humantime::parse_duration(&a.one_pos("duration")?)?;
                std::thread::sleep(d.min(self.remaining()));
                Ok(Out::none())
            }
            "wait-leader" => {
                let t = a.take("timeout").unwrap_or_else(|| "15s".into());
                let t = humantime::parse_duration(&t)?.min(self.remaining());
                let node = a.take("node");
                a.done()?;
                let name = self.cluster_name(target)?;
                let c = self.clusters.get_mut(&name).context("no cluster")?;
                meta::wait_leader(c, &self.http, node.as_deref(), t)?;
                Ok(Out::none())
            }
            "ls" => {
                let p = a.one_pos("path")?;
                let p = glob(&p)?.join(" ");
                Ok(Out::full(list_dir(Path::new(&p))?))
            }
            "check" => self.check(target, &mut a),
            "wait-writes" => {
                a.done()?;
                if !a.pos.is_empty() {
                    bail!("wait-writes takes no arguments");
                }
                self.wait_writes()
            }
            other => bail!(
                "unknown command {other:?} (cluster, use, ctl, run, write, query, crash, restart, \
                 pause, resume, stop, partition, isolate, heal, config, sleep, wait, wait-leader, \
                 wait-writes, mkdir, ls, check, repeat)"
            ),
        }
    }

    fn start_cluster(&mut self, a: &mut Args) -> Result<Out> {
        let name = a.take("name").unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
        let mut spec = ClusterSpec {
            meta: a.take_parse("meta")?.unwrap_or(3),
            data: a.take_parse("data")?.unwrap_or(0),
            rf: a.take_parse("rf")?,
            ..ClusterSpec::default()
        };
        if let Some(t) = a.take("ready-timeout") {
            spec.ready_timeout = humantime::parse_duration(&t)?;
        }
        for (k, v) in std::mem::take(&mut a.keys) {
            let Some((node, key)) = k.split_once('.') else {
                bail!(
                    "cluster: unknown argument {k}= (meta, data, rf, name, ready-timeout, NODE.section.key)"
                );
            };
            spec.overrides.entry(node.to_string()).or_default().push((key.to_string(), v));
        }
        a.done()?;
        // Stop the old cluster of that name first: its nodes are killed now.
        self.clusters.remove(&name);
        self.oracles.remove(&name);
        let cluster = Cluster::start(spec).context("starting the cluster")?;
        self.clusters.insert(name.clone(), cluster);
        self.current = Some(name);
        Ok(Out::none())
    }

    fn ctl(&mut self, cmd: &Command) -> Result<Out> {
        let target = cmd.target.as_deref();
        let mut args = Vec::new();
        for w in &cmd.args {
            args.extend(glob(&self.expand(&w.text, target)?)?);
        }
        if !crate::ctl::has_bind(&args) && (target.is_some() || self.current.is_some()) {
            let api = self.cluster(target)?.meta_api()?;
            args.splice(0..0, ["-bind".to_string(), api]);
        }
        let run = self.run_ctl(target, &args, CTL_TIMEOUT.min(self.remaining()))?;
        Ok(Out::full(crate::ctl::render(&run)))
    }

    /// `run data-node|influxd|influx ARGS…`: the testbed's `data-node` binary
    /// (its `backup`/`restore` subcommands) or Debian's real InfluxDB 1.x
    /// tools, rendered like `ctl`.
    fn run_binary(&mut self, cmd: &Command) -> Result<Out> {
        let target = cmd.target.as_deref();
        let mut args = Vec::new();
        for w in &cmd.args {
            args.extend(glob(&self.expand(&w.text, target)?)?);
        }
        if args.is_empty() {
            bail!("run needs a program: data-node, influxd or influx");
        }
        let name = args.remove(0);
        let bin = match name.as_str() {
            "data-node" => testkit::process::find_binary("data-node")?,
            "influxd" | "influx" => ["/usr/bin", "/usr/local/bin"]
                .iter()
                .map(|d| Path::new(d).join(&name))
                .find(|p| p.is_file())
                .with_context(|| {
                    format!("{name} not found: install Debian's influxdb and influxdb-client")
                })?,
            other => bail!("run: unknown program {other:?} (data-node, influxd, influx)"),
        };
        let run = crate::ctl::run(&bin, &args, CTL_TIMEOUT.min(self.remaining()))?;
        Ok(Out::full(crate::ctl::render(&run)))
    }

    /// The HTTP address for `node=`/`addr=`, else the first running data
    /// node of the cluster; and the oracle key for writes there.
    fn data_addr(&mut self, target: Option<&str>, a: &mut Args) -> Result<(String, String)> {
        let node = a.take("node");
        if let Some(addr) = a.take("addr") {
            return Ok((addr.clone(), format!("addr:{addr}")));
        }
        let name = self.cluster_name(target)?;
        let c = self.cluster(target)?;
        let node = match node {
            Some(n) => n,
            None => {
                let datas: Vec<String> = c
                    .names()
                    .into_iter()
                    .filter(|n| c.node_info(n).is_ok_and(|i| i.role == Role::Data))
                    .collect();
                datas
                    .into_iter()
                    .find(|n| c.is_running(n))
                    .context("the cluster has no running data node")?
            }
        };
        let info = c.node_info(&node)?;
        let addr = info.addrs.http.with_context(|| format!("{node} is not a data node"))?;
        Ok((c.reach(&addr), name))
    }

    fn write(&mut self, target: Option<&str>, a: &mut Args) -> Result<Out> {
        let params = WriteParams {
            db: a.require("db")?,
            rp: a.take("rp"),
            precision: a.take("precision"),
            consistency: a.take("consistency"),
        };
        let batch = a.take_parse("batch")?.unwrap_or(DEFAULT_BATCH).max(1);
        let background = a.take_parse::<bool>("background")?.unwrap_or(false);
        let (addr, oracle_key) = self.data_addr(target, a)?;
        let source = a.one_pos("source (a file or gen:…)")?;
        let source = match glob(&source)?.as_slice() {
            [one] => one.clone(),
            many => bail!("{source} matches {} files", many.len()),
        };
        a.done()?;
        let prec = precision_ns(params.precision.as_deref().unwrap_or("ns"))
            .context("precision must be ns, u, ms, s, m or h")?;
        let lines = match source.strip_prefix("gen:") {
            Some(spec) => Generator::parse(spec, now_ns())?.lines(prec),
            None => read_lines(Path::new(&source))?,
        };
        let job = WriteJob { addr, params, lines, prec, batch, deadline: self.deadline };
        if background {
            let n = job.lines.len();
            let handle = std::thread::Builder::new()
                .name("background write".into())
                .spawn(move || Http::new().map(|http| job.run(&http)))
                .context("starting a background writer")?;
            self.background.push(Background { handle, oracle_key });
            return Ok(Out::light(format!("writing {n} points in the background\n")));
        }
        let res = job.run(&self.http);
        Ok(Out::full(self.record(&oracle_key, res)))
    }

    /// Records a write's acknowledgements in the oracle; returns its summary.
    fn record(&mut self, oracle_key: &str, res: WriteResult) -> String {
        let oracle = self.oracles.entry(oracle_key.to_string()).or_default();
        for (keys, ok) in &res.batches {
            oracle.record(&res.target, keys, *ok);
        }
        res.summary()
    }

    /// `wait-writes`: waits for every `write background=true` to finish,
    /// records what was acknowledged and prints their summaries in order.
    fn wait_writes(&mut self) -> Result<Out> {
        let mut out = String::new();
        for bg in std::mem::take(&mut self.background) {
            match bg.handle.join() {
                Ok(Ok(res)) => out.push_str(&self.record(&bg.oracle_key, res)),
                Ok(Err(e)) => out.push_str(&format!("error: {e:#}\n")),
                Err(_) => out.push_str("error: the background writer panicked\n"),
            }
        }
        Ok(Out::full(out))
    }

    fn query(&mut self, target: Option<&str>, a: &mut Args) -> Result<Out> {
        let db = a.take("db");
        let epoch = a.take("epoch");
        let (addr, _) = self.data_addr(target, a)?;
        let q = a.one_pos("query")?;
        a.done()?;
        let v = self.http.query(&addr, db.as_deref(), &q, epoch.as_deref())?;
        Ok(Out::light(format_query(&v)))
    }

    fn check(&mut self, target: Option<&str>, a: &mut Args) -> Result<Out> {
        let what = if a.pos.is_empty() { String::new() } else { a.pos.remove(0) };
        match what.as_str() {
            "lost-writes" => {
                let mode = a.take_parse("mode")?.unwrap_or(lost_writes::Mode::Auto);
                // `from=NAME`: the writes acknowledged by cluster NAME (a
                // restore's source), read from this one.
                let from = a.take("from");
                let (addr, key) = self.data_addr(target, a)?;
                let key = match from {
                    Some(f) => self.cluster_name(Some(&f))?,
                    None => key,
                };
                a.done()?;
                let oracle = self.oracles.get(&key).cloned().unwrap_or_default();
                Ok(Out::light(lost_writes::check(&self.http, &addr, &oracle, mode)?))
            }
            "counts" => {
                let db = a.require("db")?;
                let rp = a.take("rp").unwrap_or_default();
                let expect = a.take("expect");
                let state = a.take("state").unwrap_or_else(|| counts::DEFAULT_STATE.into());
                let (addr, _) = self.data_addr(target, a)?;
                a.done()?;
                let observed = counts::observed(&self.http, &addr, &db, &rp)?;
                let text = match expect {
                    None => counts::list(&observed),
                    Some(e) if e.ends_with(".json") => counts::compare(
                        &observed,
                        &counts::expected_from_json(Path::new(&e), &state, &db, &rp)?,
                    ),
                    Some(e) => counts::compare(&observed, &counts::expected_inline(&e)?),
                };
                Ok(Out::light(text))
            }
            "placement" => {
                a.done()?;
                let timeout = Duration::from_secs(10).min(self.remaining());
                let data = meta::read_data(self.cluster(target)?, timeout)?;
                Ok(Out::light(placement::check(&data)))
            }
            other => bail!("unknown check {other:?} (lost-writes, counts, placement)"),
        }
    }
}

/// One `write`: its batches, sent in order.
pub struct WriteJob {
    addr: String,
    params: WriteParams,
    lines: Vec<String>,
    prec: i64,
    batch: usize,
    deadline: Instant,
}

/// What a [`WriteJob`] did.
pub struct WriteResult {
    /// (database, RP) for the oracle.
    target: Target,
    /// Each batch's point keys and whether it was acknowledged.
    batches: Vec<(Vec<PointKey>, bool)>,
    total: usize,
    acked: usize,
    failed: usize,
    errors: Vec<String>,
}

impl WriteJob {
    /// Sends the batches (stopping at the scenario deadline).
    pub fn run(&self, http: &Http) -> WriteResult {
        let target = (self.params.db.clone(), self.params.rp.clone().unwrap_or_default());
        let mut r = WriteResult {
            target,
            batches: Vec::new(),
            total: self.lines.len(),
            acked: 0,
            failed: 0,
            errors: Vec::new(),
        };
        for chunk in self.lines.chunks(self.batch) {
            if Instant::now() >= self.deadline {
                r.errors.push("stopped: the scenario timeout was reached".into());
                break;
            }
            let keys: Vec<_> = chunk.iter().filter_map(|l| point_key(l, self.prec)).collect();
            let mut body = chunk.join("\n");
            body.push('\n');
            let ok = match http.write(&self.addr, &self.params, body) {
                Ok(reply) if reply.ok() => true,
                Ok(reply) => {
                    push_unique(&mut r.errors, format!("HTTP {}: {}", reply.status, reply.error));
                    false
                }
                Err(e) => {
                    push_unique(&mut r.errors, format!("{e:#}"));
                    false
                }
            };
            r.batches.push((keys, ok));
            if ok {
                r.acked += chunk.len();
            } else {
                r.failed += 1;
            }
        }
        r
    }
}

impl WriteResult {
    /// `wrote N points`, or what failed.
    pub fn summary(&self) -> String {
        let requests = self.batches.len();
        let mut out = if self.failed == 0 && self.errors.is_empty() {
            format!("wrote {} points\n", self.total)
        } else {
            format!(
                "wrote {} of {} points; {} of {requests} requests failed\n",
                self.acked, self.total, self.failed
            )
        };
        for e in self.errors.iter().take(3) {
            out.push_str(e);
            out.push('\n');
        }
        out
    }
}

/// Expands a `*` in the last path component to the matching files, sorted
/// (backup files are named after the time they were taken); a pattern
/// that matches nothing stays as it is, like a shell does.
pub fn glob(word: &str) -> Result<Vec<String>> {
    let path = Path::new(word);
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(vec![word.to_string()]);
    };
    let Some((pre, post)) = name.split_once('*') else { return Ok(vec![word.to_string()]) };
    if post.contains('*') {
        bail!("{word}: one `*` at most");
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(vec![word.to_string()]) };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post))
        .map(|n| dir.join(n).display().to_string())
        .collect();
    out.sort();
    if out.is_empty() {
        out.push(word.to_string());
    }
    Ok(out)
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

/// Reads line protocol from a plain or gzip file, without blank and `#`
/// lines.
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut out = Vec::new();
    for line in BufReader::new(reader).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            out.push(line);
        }
    }
    Ok(out)
}

/// Lists a directory: one name a line, sorted, `/` after directories.
pub fn list_dir(path: &Path) -> Result<String> {
    let mut names = BTreeMap::new();
    for e in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let e = e?;
        let mut n = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_dir() {
            n.push('/');
        }
        names.insert(n, ());
    }
    if names.is_empty() {
        return Ok("(empty)\n".to_string());
    }
    Ok(names.into_keys().map(|n| n + "\n").collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_plain_and_gzip_line_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.lp");
        std::fs::write(&plain, "# DML\ncpu v=1 1\n\ncpu v=2 2\n").unwrap();
        assert_eq!(read_lines(&plain).unwrap(), vec!["cpu v=1 1", "cpu v=2 2"]);
        let gz = dir.path().join("a.lp.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(b"m v=1 1\n").unwrap();
        enc.finish().unwrap();
        assert_eq!(read_lines(&gz).unwrap(), vec!["m v=1 1"]);
        assert!(read_lines(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn globs_the_last_component() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        for f in ["20261121T143720Z.manifest", "20261121T143721Z.manifest", "x.meta"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        assert_eq!(
            glob(&format!("{d}/*.manifest")).unwrap(),
            vec![
                format!("{d}/20261121T143720Z.manifest"),
                format!("{d}/20261121T143721Z.manifest")
            ]
        );
        assert_eq!(glob(&format!("{d}/*.nothing")).unwrap(), vec![format!("{d}/*.nothing")]);
        assert_eq!(glob("-db").unwrap(), vec!["-db"]);
        assert!(glob(&format!("{d}/*.*")).is_err());
    }

    #[test]
    fn lists_directories() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(list_dir(dir.path()).unwrap(), "(empty)\n");
        std::fs::write(dir.path().join("b.meta"), "").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        assert_eq!(list_dir(dir.path()).unwrap(), "a/\nb.meta\n");
    }

    #[test]
    fn unknown_commands_and_arguments_are_errors() {
        let mut s = Session::new(None, Instant::now() + Duration::from_secs(5)).unwrap();
        let run = |s: &mut Session, line: &str| {
            let c = crate::script::parse_line(line, 1).unwrap().unwrap();
            s.exec(&c)
        };
        assert!(run(&mut s, "frobnicate").starts_with("error: unknown command \"frobnicate\""));
        assert!(run(&mut s, "crash meta1").starts_with("error: no cluster"));
        assert!(run(&mut s, "write rp=x gen:cpu").starts_with("error: write needs db="));
        assert!(run(&mut s, "check nothing").starts_with("error: unknown check"));
        assert_eq!(run(&mut s, "sleep 1ms"), "");
        assert!(
            run(&mut s, "cluster meta=1 bogus=2")
                .starts_with("error: cluster: unknown argument bogus=")
        );
    }

    #[test]
    fn background_writes_are_reported_by_wait_writes() {
        let mut s = Session::new(None, Instant::now() + Duration::from_secs(20)).unwrap();
        let run = |s: &mut Session, line: &str| {
            let c = crate::script::parse_line(line, 1).unwrap().unwrap();
            s.exec(&c)
        };
        assert_eq!(run(&mut s, "wait-writes"), "");
        // Port 1 on loopback refuses: the write runs, fails, and says so.
        let started = run(&mut s, "write db=x addr=127.0.0.1:1 background=true gen:cpu,points=3");
        assert_eq!(started, "writing 3 points in the background\n");
        let done = run(&mut s, "wait-writes");
        assert!(done.starts_with("wrote 0 of 3 points; 1 of 1 requests failed\n"), "{done}");
        assert_eq!(run(&mut s, "wait-writes"), "");
        assert!(run(&mut s, "wait-writes now").starts_with("error: wait-writes takes no"));
        let oracle = &s.oracles["addr:127.0.0.1:1"];
        assert_eq!(oracle.targets.len(), 1);
    }
}
