//! Both directions with the real server: a real `influxd` 1.6 (Debian
//! package `influxdb`) restores a backup directory written by this crate,
//! and this crate reads a backup the same server just made.
//!
//! Each test starts its own `influxd` on free loopback ports with its own
//! temporary directories and kills it by PID when done (also on panic).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use portable::archive::{ArchiveOptions, ShardArchiveWriter};
use portable::export::{DdlStyle, RetentionPolicyDdl, ddl_lines};
use portable::key::{composite_key, parse_series_key, split_composite_key};
use portable::manifest::{self, Manifest, ManifestFile, MetaEntry};
use portable::meta_file;
use portable::shard::read_shard_archive;
use portable::tsm::{TsmWriter, Values};
use proto::meta::{Data, DatabaseInfo, RetentionPolicyInfo, ShardGroupInfo, ShardInfo};
use serde_json::Value;

const NS: i64 = 1_000_000_000;
const WEEK: i64 = 7 * 24 * 3600 * NS;
/// Monday 2024-01-01T00:00:00Z: a 7-day shard-group boundary (Go's
/// `time.Truncate` counts weeks from 0001-01-01, a Monday).
const T0: i64 = 1_704_067_200 * NS;

fn influxd() -> PathBuf {
    testkit::influxd::binary("influxd")
}

use testkit::influxd::run_bounded;

/// A real influxd (testkit starts it on free loopback ports and kills it by
/// PID on drop), with the three HTTP calls these tests make.
struct Server {
    inner: testkit::influxd::Influxd,
    rpc: u16,
    dir: PathBuf,
}

impl Server {
    fn start() -> Server {
        let inner = testkit::influxd::Influxd::start();
        let rpc = inner.rpc;
        let dir = inner.dir().to_path_buf();
        Server { inner, rpc, dir }
    }

    fn log(&self) -> String {
        self.inner.log()
    }

    fn query(&self, db: &str, q: &str) -> Value {
        let (status, v) = testkit::http::query(&self.inner.http_addr(), db, q).unwrap();
        assert_eq!(status, 200, "query {q}: {v}");
        v
    }

    fn write(&self, db: &str, lines: &str) {
        let (status, text) =
            testkit::http::write(&self.inner.http_addr(), db, "", lines.as_bytes()).unwrap();
        assert_eq!(status, 204, "write: {text}");
    }

    /// Field counts of every measurement of db.rp: measurement → field → count.
    fn counts(&self, db: &str, rp: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
        testkit::http::counts(&self.inner.http_addr(), db, rp).unwrap_or_default()
    }
}

/// One series to write: composite key and values every 10 s.
fn dataset() -> Vec<(Vec<u8>, Values)> {
    let mut out = Vec::new();
    let tags = |host: &str| {
        vec![("host".to_string(), host.to_string()), ("rack".to_string(), "r,1=a".to_string())]
    };
    for host in ["web 01", "web02"] {
        let sk = portable::key::series_key("http requests", &tags(host));
        let n = 3000;
        out.push((
            composite_key(sk.as_bytes(), b"latency"),
            Values::Float((0..n).map(|i| i as f64 * 0.25 - 7.5).collect()),
        ));
        out.push((
            composite_key(sk.as_bytes(), b"read only"),
            Values::Boolean((0..n).map(|i| i % 3 == 0).collect()),
        ));
        out.push((
            composite_key(sk.as_bytes(), b"status"),
            Values::Integer((0..n).map(|i| 200 + i % 5).collect()),
        ));
        out.push((
            composite_key(sk.as_bytes(), b"msg"),
            Values::String((0..n).map(|i| format!("req \"{i}\" \\ ü")).collect()),
        ));
    }
    let sk = portable::key::series_key("cpu", &[("cpu".to_string(), "total".to_string())]);
    out.push((
        composite_key(sk.as_bytes(), b"usage"),
        Values::Float((0..5000).map(|i| (i % 100) as f64).collect()),
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn sg(id: u64, start: i64) -> ShardGroupInfo {
    ShardGroupInfo {
        id,
        start_time: start,
        end_time: start + WEEK,
        deleted_at: 0,
        shards: vec![ShardInfo { id, ..Default::default() }],
        truncated_at: None,
    }
}

/// (a) A backup written by this crate is restored by the real server.
#[test]
fn real_influxd_restores_a_backup_written_by_this_crate() {
    let server = Server::start();
    let backup = tempfile::tempdir().unwrap();
    let stamp = manifest::stamp(1_795_271_840);
    let db = "interop db";
    let rp = "autogen";
    let data = Data {
        index: 3,
        databases: vec![DatabaseInfo {
            name: db.into(),
            default_retention_policy: rp.into(),
            retention_policies: vec![RetentionPolicyInfo {
                name: rp.into(),
                duration: 0,
                shard_group_duration: WEEK,
                replica_n: 1,
                shard_groups: vec![sg(1, T0), sg(2, T0 + WEEK)],
                ..Default::default()
            }],
            ..Default::default()
        }],
        max_shard_group_id: 2,
        max_shard_id: 2,
        ..Default::default()
    };
    let (meta, meta_size) = meta_file::encode_portable(&data);
    fs::write(backup.path().join(manifest::meta_file_name(&stamp)), meta).unwrap();

    // Shard 1 holds the first week, shard 2 the second; points every 5 min.
    let series = dataset();
    let step = 300 * NS;
    let mut expected: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut files = Vec::new();
    for (shard, start) in [(1u64, T0), (2, T0 + WEEK)] {
        let mut tsm = TsmWriter::new("generated", Vec::new());
        for (key, values) in &series {
            let n = values.len() as i64;
            let ts: Vec<i64> = (0..n).map(|i| T0 + i * step).collect();
            let lo = ts.partition_point(|&t| t < start);
            let hi = ts.partition_point(|&t| t < start + WEEK);
            if lo == hi {
                continue;
            }
            tsm.write_series(key, &ts[lo..hi], values.slice(lo..hi)).unwrap();
            let (sk, field) = split_composite_key(key);
            let (m, _) = parse_series_key(std::str::from_utf8(sk).unwrap());
            *expected
                .entry(m)
                .or_default()
                .entry(String::from_utf8_lossy(field).into_owned())
                .or_default() += (hi - lo) as u64;
        }
        let tsm = tsm.finish().unwrap();
        let name = manifest::shard_file_name(&stamp, shard);
        let opts = ArchiveOptions {
            gzip_file_name: Some(manifest::shard_tar_name(&stamp, shard)),
            ..Default::default()
        };
        let mut w = ShardArchiveWriter::new(
            fs::File::create(backup.path().join(&name)).unwrap(),
            db,
            rp,
            shard,
            opts,
        );
        w.append_file("000000001-000000001.tsm", tsm.len() as u64, &tsm[..]).unwrap();
        let (_, size) = w.finish().unwrap();
        files.push(ManifestFile {
            database: db.into(),
            policy: rp.into(),
            shard_id: shard,
            file_name: name,
            size: size as i64,
            last_modified: 0,
        });
    }
    let m = Manifest {
        meta: MetaEntry { file_name: manifest::meta_file_name(&stamp), size: meta_size },
        files,
        ..Default::default()
    };
    m.save(&backup.path().join(manifest::manifest_file_name(&stamp))).unwrap();

    let out = run_bounded(
        Command::new(influxd())
            .args(["restore", "-portable", "-host", &format!("127.0.0.1:{}", server.rpc)])
            .arg(backup.path()),
        60,
    );
    assert!(
        out.status.success(),
        "influxd restore failed: {}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    // The restore client gets no acknowledgement: the server installs the
    // shards after the upload, so poll (bounded) until they are enabled.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = server.counts(db, rp);
    while got != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        got = server.counts(db, rp);
    }
    assert_eq!(got, expected, "restore output: {}", String::from_utf8_lossy(&out.stdout));
}

/// (b) This crate reads a backup the real server just made.
#[test]
fn this_crate_reads_a_backup_made_by_real_influxd() {
    let server = Server::start();
    server.query("", "CREATE DATABASE src");
    server.query(
        "",
        "CREATE RETENTION POLICY short ON src DURATION 2d REPLICATION 1 SHARD DURATION 1h",
    );
    let mut lines = String::new();
    let mut expected: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for i in 0..4000i64 {
        let t = T0 + i * 37 * NS + i % 7;
        lines.push_str(&format!("cpu,host=h{} usage={} {t}\n", i % 3, i as f64 / 8.0));
        lines.push_str(&format!(
            "http\\ requests,path=/a\\,b code={}i,msg=\"x \\\"{i}\\\"\",ok={} {t}\n",
            i % 500,
            i % 2 == 0
        ));
    }
    *expected.entry("cpu".into()).or_default().entry("usage".into()).or_default() = 4000;
    for f in ["code", "msg", "ok"] {
        expected.entry("http requests".into()).or_default().insert(f.into(), 4000);
    }
    for chunk in lines.lines().collect::<Vec<_>>().chunks(2000) {
        server.write("src", &(chunk.join("\n") + "\n"));
    }
    let before = server.counts("src", "autogen");
    assert_eq!(before, expected);

    let backup = server.dir.join("backup");
    let out = run_bounded(
        Command::new(influxd())
            .args([
                "backup",
                "-portable",
                "-host",
                &format!("127.0.0.1:{}", server.rpc),
                "-db",
                "src",
            ])
            .arg(&backup),
        60,
    );
    assert!(
        out.status.success(),
        "influxd backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let inc = manifest::load_incremental(&backup).unwrap();
    assert_eq!(inc.manifests.len(), 1);
    // The manifest we parse re-serializes to the server's exact bytes.
    let raw = fs::read(backup.join(&inc.manifests[0])).unwrap();
    assert_eq!(Manifest::from_json("m", &raw).unwrap().to_json().as_bytes(), raw.as_slice());
    let meta = meta_file::load_portable(&inc.meta_path()).unwrap();
    assert_eq!(meta.raw.len() as i64, inc.meta.size);
    assert_eq!(meta_file::encode_portable(&meta.data).0, fs::read(inc.meta_path()).unwrap());
    let src = meta.data.databases.iter().find(|d| d.name == "src").unwrap();
    let short = src.retention_policies.iter().find(|r| r.name == "short").unwrap();
    assert_eq!((short.duration, short.shard_group_duration), (2 * 24 * 3600 * NS, 3600 * NS));

    // The duration-keeping export DDL (a deliberate improvement) is valid
    // InfluxQL for the real server and recreates the RPs exactly.
    let rps: Vec<RetentionPolicyDdl> = src
        .retention_policies
        .iter()
        .map(|r| RetentionPolicyDdl {
            database: "copy of src".into(),
            policy: r.name.clone(),
            duration: r.duration,
            shard_group_duration: r.shard_group_duration,
            replica_n: r.replica_n,
            is_default: r.name == src.default_retention_policy,
        })
        .collect();
    for q in ddl_lines(&rps, DdlStyle::KeepDurations) {
        let v = server.query("", &q);
        assert!(v["results"][0]["error"].is_null(), "{q}: {v}");
    }
    let shown = server.query("", "SHOW RETENTION POLICIES ON \"copy of src\"");
    let rows = shown["results"][0]["series"][0]["values"].as_array().unwrap().clone();
    let mut seen: Vec<(String, String, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().into(),
                r[1].as_str().unwrap().into(),
                r[2].as_str().unwrap().into(),
                r[4].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("autogen".into(), "0s".into(), "168h0m0s".into(), true),
            ("short".into(), "48h0m0s".into(), "1h0m0s".into(), false),
        ]
    );

    let mut got: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for f in &inc.files {
        assert_eq!(f.database, "src");
        let shard =
            read_shard_archive(&f.file_name, fs::File::open(inc.file_path(f)).unwrap(), true)
                .unwrap();
        for (key, (ts, _)) in &shard.points {
            let (sk, field) = split_composite_key(key);
            let (m, _) = parse_series_key(std::str::from_utf8(sk).unwrap());
            *got.entry(m)
                .or_default()
                .entry(String::from_utf8_lossy(field).into_owned())
                .or_default() += ts.len() as u64;
        }
    }
    assert_eq!(got, expected);
}
