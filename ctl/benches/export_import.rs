//! `ctl export` / `ctl import` throughput (a benchmark, not a timed test) on
//! the fixture dataset ×10: the 186,150 points of `dataset/*.lp.gz`, each
//! line written ten times with timestamps shifted by k ms (k = 0..9), the
//! whole set moved so that it ends at the current hour (metrics.oneday has
//! a 1-day retention). Against a 1-data-node testbed of release binaries:
//!
//! ```text
//! cargo build --release -p meta-node -p data-node
//! cargo bench -p ctl --bench export_import
//! ```
//!
//! Prints points/s (source points, as the real tools' figures:
//! `influx_inspect export` ≈ 0.9M points/s, `influx -import` ≈ 88k
//! points/s on this class of machine) and rows/s, for: the load through
//! `/write`, `ctl export` (plain and `-compress`), `ctl import` into an
//! empty cluster (merged lines, the default, and `-merge=false`, the
//! file's lines as they are), and `influx -import` of the same file into a real
//! influxd 1.6 when it is installed. Then where import time goes: reading
//! and batching the file alone, the data node's line protocol parse of the
//! batches alone (`portable::lineproto::parse_lines`, one thread), and the
//! same batches POSTed by one client straight to `/write` (sequentially and
//! two at a time).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{Cluster, ClusterSpec};

const COPIES: u32 = 10;

fn dataset() -> Vec<testkit::bench::dataset::Part> {
    testkit::bench::dataset::build(COPIES).expect("the fixture dataset")
}

fn ctl(c: &Cluster, args: &[&str]) -> (Duration, String) {
    let bin = testkit::process::find_binary("ctl").unwrap();
    let t = Instant::now();
    let o = Command::new(bin).arg("-bind").arg(c.meta_api().unwrap()).args(args).output().unwrap();
    let el = t.elapsed();
    assert!(
        o.status.success(),
        "ctl {args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (el, String::from_utf8_lossy(&o.stdout).into_owned())
}

fn query(addr: &str, q: &str) {
    let (st, v) = testkit::http::query(addr, "", q).unwrap();
    assert_eq!(st, 200, "{q}: {v}");
}

fn rate(n: u64, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64();
    if r >= 1e6 { format!("{:.2}M", r / 1e6) } else { format!("{:.0}k", r / 1e3) }
}

fn report(what: &str, points: u64, rows: u64, d: Duration) {
    println!(
        "{what:<44} {:>7.2} s  {:>7} points/s  {:>7} rows/s",
        d.as_secs_f64(),
        rate(points, d),
        rate(rows, d)
    );
}

fn cluster() -> Cluster {
    Cluster::start(ClusterSpec { meta: 1, data: 1, ..Default::default() }).expect("cluster")
}

/// The export file's write batches: (db, rp, body).
fn batches(path: &Path) -> Vec<(String, String, Vec<u8>)> {
    let mut r = portable::export::ImportReader::open(path, Default::default()).unwrap();
    let mut out = Vec::new();
    let (mut db, mut rp) = (String::new(), String::new());
    let mut body = Vec::new();
    let mut n = 0;
    while let Some(item) = r.next_item().unwrap() {
        use portable::export::ImportItem::*;
        match item {
            Query { .. } => {}
            Database { name, .. } => {
                if n > 0 {
                    out.push((db.clone(), rp.clone(), std::mem::take(&mut body)));
                    n = 0;
                }
                db = name;
            }
            RetentionPolicy { name, .. } => {
                if n > 0 {
                    out.push((db.clone(), rp.clone(), std::mem::take(&mut body)));
                    n = 0;
                }
                rp = name;
            }
            Data { text, .. } => {
                body.extend_from_slice(text.as_bytes());
                body.push(b'\n');
                n += 1;
                if n == 5000 {
                    out.push((db.clone(), rp.clone(), std::mem::take(&mut body)));
                    n = 0;
                }
            }
        }
    }
    if n > 0 {
        out.push((db, rp, body));
    }
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let data = dataset();
    let points: u64 = data.iter().map(|t| t.lines.len() as u64).sum();
    println!("dataset: {points} points ({COPIES} copies of the fixture dataset)");
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let http = reqwest::Client::new();

    // Source cluster, loaded through /write (5000 lines a request).
    let src = cluster();
    let a = src.data_http()[0].clone();
    query(&a, "CREATE DATABASE telegraf");
    query(&a, "CREATE DATABASE metrics");
    query(
        &a,
        "CREATE RETENTION POLICY oneday ON metrics DURATION 1d REPLICATION 1 SHARD DURATION 2h",
    );
    let t = Instant::now();
    rt.block_on(async {
        for d in &data {
            for chunk in d.lines.chunks(5000) {
                let body = chunk.join("\n") + "\n";
                let r = http
                    .post(format!("http://{a}/write?db={}&rp={}&precision=ns", d.db, d.rp))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
            }
        }
    });
    report("load: /write (multi-field lines)", points, points, t.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("all.lp");
    let gz = dir.path().join("all.lp.gz");
    for db in ["telegraf", "metrics"] {
        let _ = ctl(&src, &["export", "-database", db, "-out", plain.to_str().unwrap()]);
    }
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let (d, _) =
            ctl(&src, &["export", "-database", "telegraf", "-out", plain.to_str().unwrap()]);
        best = best.min(d);
    }
    let tg_points = data[0].lines.len() as u64;
    let tg_rows = count_rows(&plain);
    report("ctl export -database telegraf (best of 3)", tg_points, tg_rows, best);
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let (d, _) = ctl(&src, &["export", "-out", plain.to_str().unwrap()]);
        best = best.min(d);
    }
    let rows = count_rows(&plain);
    report("ctl export (all databases, best of 3)", points, rows, best);
    let (d, _) = ctl(&src, &["export", "-compress", "-out", gz.to_str().unwrap()]);
    report("ctl export -compress", points, rows, d);
    println!(
        "  file: {} MB plain, {} MB gzip",
        std::fs::metadata(&plain).unwrap().len() >> 20,
        std::fs::metadata(&gz).unwrap().len() >> 20
    );

    // Import into an empty cluster.
    let dst = cluster();
    let (d, out) = ctl(&dst, &["import", "-path", plain.to_str().unwrap()]);
    assert!(out.contains(&format!("Processed {rows} inserts")), "{out}");
    report("ctl import (empty 1-data-node cluster)", points, rows, d);
    drop(dst);
    let dst = cluster();
    let (d, _) = ctl(&dst, &["import", "-path", gz.to_str().unwrap()]);
    report("ctl import (gzip file)", points, rows, d);
    drop(dst);
    let dst = cluster();
    let (d, out) = ctl(&dst, &["import", "-merge=false", "-path", plain.to_str().unwrap()]);
    assert!(out.contains(&format!("Processed {rows} inserts")), "{out}");
    report("ctl import -merge=false (lines as they are)", points, rows, d);
    drop(dst);

    // Where the import time goes.
    let t = Instant::now();
    let b = batches(&plain);
    report("  reading + batching the file only", points, rows, t.elapsed());
    let t = Instant::now();
    let mut parsed = 0;
    for (_, _, body) in &b {
        let (p, e) =
            portable::lineproto::parse_lines(body, portable::lineproto::Precision::Nanosecond, 0);
        assert!(e.is_empty());
        parsed += p.len() as u64;
    }
    assert_eq!(parsed, rows);
    report("  the server's line protocol parse alone", points, rows, t.elapsed());
    let t = Instant::now();
    for d in &data {
        for chunk in d.lines.chunks(5000) {
            let body = chunk.join("\n");
            let (p, e) = portable::lineproto::parse_lines(
                body.as_bytes(),
                portable::lineproto::Precision::Nanosecond,
                0,
            );
            assert!(e.is_empty() && p.len() == chunk.len());
        }
    }
    report("  the same parse, multi-field lines (merged)", points, rows, t.elapsed());
    let fresh = cluster();
    let f = fresh.data_http()[0].clone();
    query(&f, "CREATE DATABASE telegraf");
    query(&f, "CREATE DATABASE metrics");
    query(
        &f,
        "CREATE RETENTION POLICY oneday ON metrics DURATION 1d REPLICATION 1 SHARD DURATION 2h",
    );
    let post = |b: &[(String, String, Vec<u8>)], inflight: usize, addr: String| {
        let http = http.clone();
        let b: Vec<_> = b.to_vec();
        rt.block_on(async move {
            use futures::StreamExt;
            let t = Instant::now();
            futures::stream::iter(b.into_iter().map(|(db, rp, body)| {
                let http = http.clone();
                let addr = addr.clone();
                async move {
                    let r = http
                        .post(format!("http://{addr}/write?db={db}&rp={rp}&precision=ns"))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 204);
                }
            }))
            .buffer_unordered(inflight)
            .collect::<Vec<()>>()
            .await;
            t.elapsed()
        })
    };
    let d = post(&b, 1, f.clone());
    report("  the batches POSTed to /write, 1 in flight", points, rows, d);
    let fresh2 = cluster();
    let f2 = fresh2.data_http()[0].clone();
    query(&f2, "CREATE DATABASE telegraf");
    query(&f2, "CREATE DATABASE metrics");
    query(
        &f2,
        "CREATE RETENTION POLICY oneday ON metrics DURATION 1d REPLICATION 1 SHARD DURATION 2h",
    );
    let d = post(&b, 2, f2);
    report("  the batches POSTed to /write, 2 in flight", points, rows, d);
    let d = post(&b, 1, f.clone());
    report("  the same again (points overwritten)", points, rows, d);
    drop(fresh);
    drop(fresh2);

    // The real tools, when installed.
    if Path::new("/usr/bin/influxd").exists() && Path::new("/usr/bin/influx").exists() {
        let server = testkit::influxd::Influxd::start();
        let t = Instant::now();
        let o = testkit::influxd::run_bounded(
            Command::new("/usr/bin/influx").args([
                "-host",
                "127.0.0.1",
                "-port",
                &server.http.to_string(),
                "-import",
                "-path",
                plain.to_str().unwrap(),
                "-precision",
                "ns",
            ]),
            900,
        );
        let d = t.elapsed();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        report("influx -import into influxd 1.6 (real tools)", points, rows, d);
    } else {
        println!("influx -import: not installed, skipped");
    }
    println!("(influx_inspect export: not in Debian's package; its figure is ~0.9M points/s)");
}

fn count_rows(p: &Path) -> u64 {
    let f = std::fs::File::open(p).unwrap();
    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
    let mut n = 0;
    let mut line = Vec::new();
    use std::io::BufRead;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        if !line.starts_with(b"#") && !line.starts_with(b"CREATE") {
            n += 1;
        }
    }
    n
}
