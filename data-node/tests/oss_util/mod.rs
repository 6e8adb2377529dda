//! Helpers of the OSS backup/restore tests (`oss_*.rs`): clusters, the
//! `data-node` and real `influxd` commands, fixture transcripts, counts.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::influxd::run_bounded;
use testkit::{Cluster, ClusterSpec};

/// measurement → field → count.
pub type Counts = BTreeMap<String, BTreeMap<String, u64>>;

/// `../shared/fixtures/influxdb-1.6`.
pub fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6");
    assert!(p.is_dir(), "fixtures missing at {} (../shared beside the repo)", p.display());
    p
}

/// expected-counts.json.
pub fn expected_json() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("expected-counts.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture's counts of `db.rp` in `state` (`server_state_at_full_backup`, …).
pub fn expected(state: &str, db: &str, rp: &str) -> Counts {
    let j = expected_json();
    let ms = &j[state]["databases"][db][rp]["measurements"];
    let mut out = Counts::new();
    for (m, v) in ms.as_object().unwrap() {
        for (f, n) in v["fields"].as_object().unwrap() {
            out.entry(m.clone()).or_default().insert(f.clone(), n.as_u64().unwrap());
        }
    }
    out
}

/// Total points of counts (the max field count per measurement).
pub fn points(c: &Counts) -> u64 {
    c.values().map(|f| f.values().copied().max().unwrap_or(0)).sum()
}

/// A cluster with retention enforcement off on its data nodes (the
/// fixture's `oneday` shard groups are in the past).
pub fn cluster(data: usize) -> Cluster {
    let mut overrides = BTreeMap::new();
    for i in 1..=data {
        overrides.insert(
            format!("data{i}"),
            vec![("retention.enabled".to_string(), "false".to_string())],
        );
    }
    Cluster::start(ClusterSpec { meta: 1, data, rf: Some(1), overrides, ..Default::default() })
        .expect("cluster starts")
}

pub fn tcp(c: &Cluster, node: &str) -> String {
    c.node_info(node).unwrap().addrs.tcp.unwrap()
}

pub fn http(c: &Cluster, node: &str) -> String {
    c.node_info(node).unwrap().addrs.http.unwrap()
}

pub fn node_dir(c: &Cluster, node: &str) -> PathBuf {
    c.node_info(node).unwrap().dir
}

pub fn node_log(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node_info(node).unwrap().log).unwrap_or_default()
}

/// Counts of `db.rp` through `/query`.
pub fn counts(http: &str, db: &str, rp: &str) -> Counts {
    testkit::http::counts(http, db, rp).expect("counts query")
}

/// Waits until `db.rp` counts `want` (the real `influxd restore` does not
/// wait for the server to finish the last shard); returns the last counts.
pub fn settle(http: &str, db: &str, rp: &str, want: &Counts) -> Counts {
    testkit::http::settle(http, db, rp, want, std::time::Duration::from_secs(60))
        .expect("counts query")
}

/// Runs `data-node ARGS` in `dir`.
pub fn data_node(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_data-node"));
    cmd.current_dir(dir).args(args);
    run_bounded(&mut cmd, 300)
}

/// Runs the real `influxd ARGS` in `dir`.
pub fn influxd(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(testkit::influxd::binary("influxd"));
    cmd.current_dir(dir).args(args);
    run_bounded(&mut cmd, 300)
}

/// Runs `ctl -bind <meta> ARGS`.
pub fn ctl(c: &Cluster, args: &[&str]) -> Output {
    let bin = testkit::process::find_binary("ctl").expect("the ctl binary (cargo build -p ctl)");
    let mut cmd = Command::new(bin);
    cmd.arg("-bind").arg(c.meta_api().unwrap()).args(args);
    run_bounded(&mut cmd, 300)
}

pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Asserts exit 0; returns stdout.
pub fn ok(what: &str, o: &Output) -> String {
    assert!(
        o.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        out(o),
        err(o)
    );
    out(o)
}

/// Go `log` prefixes → `TS `, backup stamps → `STAMP`.
pub fn mask(s: &str) -> String {
    let ts = regex::Regex::new(r"(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ").unwrap();
    let stamp = regex::Regex::new(r"\d{8}T\d{6}Z").unwrap();
    stamp.replace_all(&ts.replace_all(s, "TS "), "STAMP").into_owned()
}

/// A fixture transcript: (command line, stdout, stderr, exit code).
pub struct Transcript {
    pub cmd: String,
    pub stdout: String,
    pub stderr: String,
    pub rc: i32,
}

pub fn transcript(name: &str) -> Transcript {
    let d = fixtures().join("console");
    let read = |ext: &str| std::fs::read_to_string(d.join(format!("{name}.{ext}"))).unwrap();
    Transcript {
        cmd: read("cmd").trim().to_string(),
        stdout: read("stdout"),
        stderr: read("stderr"),
        rc: read("rc").trim().parse().unwrap(),
    }
}

impl Transcript {
    /// The command's arguments after `influxd`, with `-host` replaced.
    pub fn args(&self, host: &str) -> Vec<String> {
        let mut words: Vec<String> = self.cmd.split_whitespace().map(str::to_string).collect();
        assert_eq!(words.remove(0), "influxd", "{}", self.cmd);
        for i in 0..words.len() {
            if words[i] == "-host" && i + 1 < words.len() {
                words[i + 1] = host.to_string();
            }
        }
        words
    }

    /// Checks a run against the transcript (timestamps and stamps masked).
    pub fn check(&self, o: &Output, what: &str) {
        assert_eq!(mask(&out(o)), mask(&self.stdout), "{what}: stdout of `{}`", self.cmd);
        assert_eq!(mask(&err(o)), mask(&self.stderr), "{what}: stderr of `{}`", self.cmd);
        assert_eq!(code(o), self.rc, "{what}: exit code of `{}`", self.cmd);
    }
}

/// A work directory with `backups/<name>` linked to the fixture backups
/// `names`, so the fixture command lines run unchanged (never write into
/// those).
pub fn workdir(names: &[&str]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("backups");
    std::fs::create_dir(&b).unwrap();
    for name in names {
        std::os::unix::fs::symlink(fixtures().join(name), b.join(name)).unwrap();
    }
    t
}

/// Counts of every field per rp/measurement in a portable backup's shard
/// archives of `db` (all databases when empty): rp → counts.
pub fn counts_in_backup(dir: &Path, db: &str) -> BTreeMap<String, Counts> {
    let inc = portable::manifest::load_incremental(dir).expect("backup loads");
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for f in &inc.files {
        if !db.is_empty() && f.database != db {
            continue;
        }
        let file = std::fs::File::open(inc.file_path(f)).unwrap();
        let shard = portable::shard::read_shard_archive(&f.file_name, file, false).unwrap();
        for (key, (times, _)) in &shard.points {
            let (sk, field) = portable::key::split_composite_key(key);
            let (m, _) = portable::key::parse_series_key(&String::from_utf8_lossy(sk));
            *out.entry(f.policy.clone())
                .or_default()
                .entry(m)
                .or_default()
                .entry(String::from_utf8_lossy(field).into_owned())
                .or_default() += times.len() as u64;
        }
    }
    out
}

/// File names in a directory, sorted.
pub fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
