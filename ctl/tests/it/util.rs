//! Shared helpers: running ctl, counting a database's points through a
//! backup, reading expected-counts.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use testkit::{Cluster, ClusterSpec};

/// rp → measurement → field → count.
pub type Counts = BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>;

pub fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6");
    assert!(p.is_dir(), "fixtures missing at {} (../shared beside the repo)", p.display());
    p
}

pub fn cluster(meta: usize, data: usize) -> Cluster {
    Cluster::start(ClusterSpec { meta, data, ..Default::default() }).expect("cluster starts")
}

pub fn ctl_bin() -> PathBuf {
    testkit::ctl::binary().expect("the ctl binary (run cargo build --workspace --bins)")
}

/// Runs `ctl -bind <meta api> args...`.
pub fn ctl(c: &Cluster, args: &[&str]) -> Output {
    testkit::ctl::run(c, args).expect("ctl runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "ctl failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Counts every field value per rp/measurement in the shard archives of a
/// backup directory (for database `db`; all when empty).
pub fn counts_in_backup(dir: &Path, db: &str) -> Counts {
    let inc = portable::manifest::load_incremental(dir).expect("backup loads");
    let mut out = Counts::new();
    for f in &inc.files {
        if !db.is_empty() && f.database != db {
            continue;
        }
        let path = inc.file_path(f);
        let file = std::fs::File::open(&path).unwrap();
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

/// A database's counts in a cluster, through a full backup of it.
pub fn counts_in_cluster(c: &Cluster, db: &str) -> Counts {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    ok(ctl(c, &["backup", "-strategy", "full", "-db", db, d]));
    counts_in_backup(dir.path(), db)
}

/// Expected counts in expected-counts.json shape: rp → measurement → fields.
pub fn expected(json: &serde_json::Value) -> Counts {
    let mut out = Counts::new();
    for (rp, v) in json.as_object().unwrap() {
        for (m, mv) in v["measurements"].as_object().unwrap() {
            for (f, n) in mv["fields"].as_object().unwrap() {
                out.entry(rp.clone())
                    .or_default()
                    .entry(m.clone())
                    .or_default()
                    .insert(f.clone(), n.as_u64().unwrap());
            }
        }
    }
    out
}

pub fn expected_counts() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("expected-counts.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The metastore of a cluster.
pub fn meta_data(c: &Cluster) -> proto::meta::Data {
    testkit::ctl::metastore(c).expect("metastore read")
}
