//! The measured operations.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use proto::cluster::{self, command::Cmd, meta_client::MetaClient};

use super::dataset::{self, Part};
use super::median;
use super::report::{Report, Row};
use crate::influxd::{Influxd, binary, run_bounded};
use crate::{Cluster, ClusterSpec};

fn cluster(meta: usize, data: usize, rf: Option<u32>) -> Result<Cluster> {
    Cluster::start(ClusterSpec { meta, data, rf, ..Default::default() })
}

/// POSTs every batch to `addr` with `inflight` requests at a time; returns
/// the elapsed time.
fn ingest(addr: &str, batches: &[(String, String, Vec<u8>)], inflight: usize) -> Result<Duration> {
    let next = Arc::new(AtomicU64::new(0));
    let batches = Arc::new(batches.to_vec());
    let t = Instant::now();
    let workers: Vec<_> = (0..inflight)
        .map(|_| {
            let (next, batches, addr) = (next.clone(), batches.clone(), addr.to_string());
            std::thread::spawn(move || -> Result<()> {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some((db, rp, body)) = batches.get(i) else { return Ok(()) };
                    let (s, text) = crate::http::write(&addr, db, &format!("&rp={rp}"), body)?;
                    ensure!(s == 204, "write to {addr}: {s} {text}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("ingest worker panicked"))??;
    }
    Ok(t.elapsed())
}

fn schema(addr: &str) -> Result<()> {
    for q in dataset::SCHEMA {
        let (s, v) = crate::http::query(addr, "", q)?;
        ensure!(s == 200 && v["results"][0]["error"].is_null(), "{q}: {v}");
    }
    Ok(())
}

fn ctl(c: &Cluster, args: &[&str]) -> Result<Duration> {
    let t = Instant::now();
    let out = crate::ctl::run(c, args)?;
    let d = t.elapsed();
    if !out.status.success() {
        bail!("ctl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(d)
}

fn timed(cmd: &mut Command, secs: u64) -> Result<Duration> {
    let t = Instant::now();
    let out = run_bounded(cmd, secs);
    let d = t.elapsed();
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(d)
}

/// Total size of the files in `dir`.
fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        n += e?.metadata()?.len();
    }
    Ok(n)
}

fn mb_per_s(bytes: u64, secs: &[f64]) -> f64 {
    bytes as f64 / 1e6 / median(secs.to_vec())
}

fn rate(points: u64, secs: f64) -> f64 {
    points as f64 / secs
}

/// Ingest, backup, restore, export and import on the testbed and influxd.
pub fn data_ops(parts: &[Part], runs: usize, influxd: bool, report: &mut Report) -> Result<()> {
    let points = dataset::points(parts);
    let batches = dataset::batches(parts);
    let work = tempfile::tempdir()?;
    let (mut ing1, mut ing3, mut backup, mut restore, mut export, mut import) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut backup3, mut restore3, mut backup_bytes) = (vec![], vec![], 0u64);
    let mut peak = (0u64, 0u64);
    for run in 0..runs {
        eprintln!("bench: testbed data run {}/{runs}", run + 1);
        // Ingest into 1 data node.
        let c = cluster(1, 1, Some(1))?;
        let a = c.data_http()[0].clone();
        schema(&a)?;
        ing1.push(ingest(&a, &batches, 2)?.as_secs_f64());
        peak = peak_rss(&c, peak);
        // Full backup.
        let bdir = work.path().join(format!("backup{run}"));
        std::fs::create_dir_all(&bdir)?;
        backup.push(
            ctl(&c, &["backup", "-strategy", "full", bdir.to_str().unwrap_or_default()])?
                .as_secs_f64(),
        );
        backup_bytes = dir_bytes(&bdir)?;
        // Export (all databases).
        let efile = work.path().join(format!("export{run}.lp"));
        export
            .push(ctl(&c, &["export", "-out", efile.to_str().unwrap_or_default()])?.as_secs_f64());
        drop(c);
        // Restore into a fresh cluster.
        let r = cluster(1, 1, Some(1))?;
        restore.push(ctl(&r, &["restore", bdir.to_str().unwrap_or_default()])?.as_secs_f64());
        drop(r);
        // Import into a fresh cluster.
        let i = cluster(1, 1, Some(1))?;
        import
            .push(ctl(&i, &["import", "-path", efile.to_str().unwrap_or_default()])?.as_secs_f64());
        drop(i);
        // Ingest into 3 data nodes at RF 2.
        let c3 = cluster(1, 3, Some(2))?;
        let a3 = c3.data_http()[0].clone();
        schema(&a3)?;
        ing3.push(ingest(&a3, &batches, 2)?.as_secs_f64());
        let bdir3 = work.path().join(format!("backup3-{run}"));
        std::fs::create_dir_all(&bdir3)?;
        backup3.push(
            ctl(&c3, &["backup", "-strategy", "full", bdir3.to_str().unwrap_or_default()])?
                .as_secs_f64(),
        );
        drop(c3);
        let r3 = cluster(1, 3, Some(2))?;
        restore3.push(ctl(&r3, &["restore", bdir3.to_str().unwrap_or_default()])?.as_secs_f64());
        drop(r3);
        let _ = std::fs::remove_dir_all(&bdir3);
        let _ = std::fs::remove_file(&efile);
    }
    let (mut i_ing, mut i_backup, mut i_restore, mut i_import) = (vec![], vec![], vec![], vec![]);
    if influxd {
        for run in 0..runs {
            eprintln!("bench: influxd run {}/{runs}", run + 1);
            let s = Influxd::start();
            schema(&s.http_addr())?;
            i_ing.push(ingest(&s.http_addr(), &batches, 2)?.as_secs_f64());
            let bdir = work.path().join(format!("ibackup{run}"));
            i_backup.push(
                timed(
                    Command::new(binary("influxd"))
                        .args(["backup", "-portable", "-host", &s.rpc_addr()])
                        .arg(&bdir),
                    600,
                )?
                .as_secs_f64(),
            );
            let t = Influxd::start();
            i_restore.push(
                timed(
                    Command::new(binary("influxd"))
                        .args(["restore", "-portable", "-host", &t.rpc_addr()])
                        .arg(&bdir),
                    600,
                )?
                .as_secs_f64(),
            );
            // The testbed's export file is what influx_inspect writes.
            let efile = work.path().join("iexport.lp");
            let c = cluster(1, 1, Some(1))?;
            schema(&c.data_http()[0])?;
            ingest(&c.data_http()[0], &batches, 2)?;
            ctl(&c, &["export", "-out", efile.to_str().unwrap_or_default()])?;
            drop(c);
            let u = Influxd::start();
            i_import.push(
                timed(
                    Command::new(binary("influx"))
                        .args([
                            "-host",
                            "127.0.0.1",
                            "-port",
                            &u.http.to_string(),
                            "-import",
                            "-precision",
                            "ns",
                            "-path",
                        ])
                        .arg(&efile),
                    1800,
                )?
                .as_secs_f64(),
            );
        }
    }
    let opt = |v: &Vec<f64>| (!v.is_empty()).then(|| rate(points, median(v.clone())));
    let n = format!("median of {runs}");
    let (ing3, backup3, restore3) =
        (rate(points, median(ing3)), rate(points, median(backup3)), rate(points, median(restore3)));
    // The 3-node rows have no real peer (an Enterprise cluster): a single
    // influxd's figure goes in the note, for scale, not in the ratio column.
    let single = |testbed: f64, v: &Vec<f64>| match opt(v) {
        Some(i) => {
            format!("no 3-node peer; a single influxd: {i:.0} points/s ({:.2}x); {n}", testbed / i)
        }
        None => format!("no 3-node peer; {n}"),
    };
    report.add(Row {
        operation: "HTTP ingest, 1 data node (RF 1)".into(),
        unit: "points/s".into(),
        testbed: rate(points, median(ing1)),
        influxd: opt(&i_ing),
        higher_is_better: true,
        note: format!("5000-line batches, 2 in flight; {n}"),
    });
    report.add(Row {
        operation: "HTTP ingest, 3 data nodes (RF 2)".into(),
        unit: "points/s".into(),
        testbed: ing3,
        influxd: None,
        higher_is_better: true,
        note: single(ing3, &i_ing),
    });
    report.add(Row {
        operation: "full backup (ctl backup / influxd backup -portable)".into(),
        unit: "points/s".into(),
        testbed: rate(points, median(backup.clone())),
        influxd: opt(&i_backup),
        higher_is_better: true,
        note: format!("{n}; {:.0} MB/s of backup files", mb_per_s(backup_bytes, &backup)),
    });
    report.add(Row {
        operation: "restore into an empty server".into(),
        unit: "points/s".into(),
        testbed: rate(points, median(restore.clone())),
        influxd: opt(&i_restore),
        higher_is_better: true,
        note: format!("{n}; {:.0} MB/s of backup files", mb_per_s(backup_bytes, &restore)),
    });
    report.add(Row {
        operation: "full backup, 3 data nodes (RF 2)".into(),
        unit: "points/s".into(),
        testbed: backup3,
        influxd: None,
        higher_is_better: true,
        note: single(backup3, &i_backup),
    });
    report.add(Row {
        operation: "restore into 3 data nodes (RF 2)".into(),
        unit: "points/s".into(),
        testbed: restore3,
        influxd: None,
        higher_is_better: true,
        note: format!("every shard to both owners; {}", single(restore3, &i_restore)),
    });
    report.add(Row {
        operation: "export (ctl export / influx_inspect export)".into(),
        unit: "points/s".into(),
        testbed: rate(points, median(export)),
        influxd: None,
        higher_is_better: true,
        note: "influx_inspect is not in Debian's package (issue figure: ~0.9M points/s)".into(),
    });
    report.add(Row {
        operation: "import (ctl import / influx -import)".into(),
        unit: "points/s".into(),
        testbed: rate(points, median(import)),
        influxd: opt(&i_import),
        higher_is_better: true,
        note: n.clone(),
    });
    report.add(Row {
        operation: "peak RSS, data node after ingest".into(),
        unit: "MB".into(),
        testbed: peak.1 as f64 / 1e6,
        influxd: None,
        higher_is_better: false,
        note: format!("meta node peak {:.1} MB", peak.0 as f64 / 1e6),
    });
    Ok(())
}

/// VmHWM of every running node: (max meta, max data) bytes.
fn peak_rss(c: &Cluster, prev: (u64, u64)) -> (u64, u64) {
    let mut out = prev;
    for n in c.names() {
        let Ok(info) = c.node_info(&n) else { continue };
        let Some(pid) = info.pid else { continue };
        let kb = proc_status_kb(pid, "VmHWM:");
        if n.starts_with("meta") {
            out.0 = out.0.max(kb * 1024);
        } else {
            out.1 = out.1.max(kb * 1024);
        }
    }
    out
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn meta_cmd(i: u64) -> cluster::ExecuteRequest {
    let name = format!("bench{}", i % 8);
    let c = if (i / 8).is_multiple_of(2) {
        Cmd::CreateDatabase(cluster::CreateDatabase { name, ..Default::default() })
    } else {
        Cmd::DropDatabase(cluster::DropDatabase { name })
    };
    cluster::ExecuteRequest {
        request_id: format!("bench-{i}-{}", std::process::id()),
        command: Some(cluster::Command { cmd: Some(c) }),
    }
}

async fn leader(addrs: &[String]) -> Option<(String, u64)> {
    for a in addrs {
        let Ok(ch) = proto::net::channel(a, Some(Duration::from_secs(1))) else { continue };
        if let Ok(s) = MetaClient::new(ch).status(cluster::StatusRequest {}).await {
            let s = s.into_inner();
            if s.leader_id != 0 {
                let l = s.peers.iter().find(|p| p.id == s.leader_id)?;
                return Some((l.http_addr.clone(), l.id));
            }
        }
    }
    None
}

/// Committed meta commands/s with 64 concurrent clients for `secs`.
pub fn meta_throughput(c: &Cluster, secs: u64) -> Result<f64> {
    let addrs: Vec<String> =
        c.names().iter().filter_map(|n| c.node_info(n).ok()?.addrs.api).collect();
    c.block_on(async {
        let (leader, _) = leader(&addrs).await.context("no meta leader")?;
        let n = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for w in 0..64u64 {
            let (leader, n) = (leader.clone(), n.clone());
            tasks.push(tokio::spawn(async move {
                let Ok(ch) = proto::net::channel(&leader, None) else { return };
                let mut c = MetaClient::new(ch);
                let mut i = w * 1_000_000;
                while Instant::now() < until {
                    if c.execute(meta_cmd(i)).await.is_ok() {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            }));
        }
        let start = Instant::now();
        for t in tasks {
            let _ = t.await;
        }
        Ok(n.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
    })
}

/// SIGKILL of the leader until a command commits again through a survivor.
pub fn failover(c: &mut Cluster) -> Result<Duration> {
    let addrs: Vec<String> =
        c.names().iter().filter_map(|n| c.node_info(n).ok()?.addrs.api).collect();
    let (_, id) = c.block_on(leader(&addrs)).context("no meta leader")?;
    let name = c
        .names()
        .into_iter()
        .find(|n| c.node_info(n).is_ok_and(|i| i.id == id))
        .context("leader not found")?;
    let survivors: Vec<String> = c
        .names()
        .into_iter()
        .filter(|n| *n != name && n.starts_with("meta"))
        .filter_map(|n| c.node_info(&n).ok()?.addrs.api)
        .collect();
    let killed = Instant::now();
    c.crash(&name)?;
    let took = c.block_on(async {
        let mut i = 0u64;
        loop {
            for a in &survivors {
                let Ok(ch) = proto::net::channel(a, Some(Duration::from_millis(300))) else {
                    continue;
                };
                i += 1;
                if let Ok(r) = MetaClient::new(ch).execute(meta_cmd(10_000_000 + i)).await
                    && r.into_inner().error.is_empty()
                {
                    return killed.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    c.restart(&name)?;
    std::thread::sleep(Duration::from_millis(1500));
    Ok(took)
}

/// Meta throughput, failover, start-up, idle RSS and hinted-handoff drain.
pub fn cluster_ops(runs: usize, report: &mut Report) -> Result<()> {
    // Start-up of 3 meta + 3 data nodes until every node is ready and joined.
    let mut startup = vec![];
    let mut idle_rss = vec![];
    for _ in 0..runs {
        let t = Instant::now();
        let c = cluster(3, 3, Some(2))?;
        startup.push(t.elapsed().as_secs_f64());
        std::thread::sleep(Duration::from_millis(500));
        for n in c.names().iter().filter(|n| n.starts_with("data")) {
            if let Some(pid) = c.node_info(n)?.pid {
                idle_rss.push(proc_status_kb(pid, "VmRSS:") as f64 / 1024.0);
            }
        }
    }
    report.add(Row {
        operation: "cluster start-up, 3 meta + 3 data ready".into(),
        unit: "s".into(),
        testbed: median(startup),
        influxd: None,
        higher_is_better: false,
        note: format!("median of {runs}; goal < 1.5 s"),
    });
    report.add(Row {
        operation: "idle data node RSS".into(),
        unit: "MB".into(),
        testbed: median(idle_rss),
        influxd: None,
        higher_is_better: false,
        note: "goal < 50 MB".into(),
    });
    // Meta commands and failover.
    let mut c = cluster(3, 0, None)?;
    let tp: Vec<f64> = (0..runs).map(|_| meta_throughput(&c, 3)).collect::<Result<_>>()?;
    report.add(Row {
        operation: "meta commands committed, 3 meta nodes".into(),
        unit: "commands/s".into(),
        testbed: median(tp),
        influxd: None,
        higher_is_better: true,
        note: format!("64 clients; median of {runs}; goal ≥ 2000"),
    });
    let fo: Vec<f64> = (0..runs.max(3))
        .map(|_| failover(&mut c).map(|d| d.as_secs_f64()))
        .collect::<Result<_>>()?;
    report.add(Row {
        operation: "meta failover (SIGKILL leader → next commit)".into(),
        unit: "s".into(),
        testbed: median(fo),
        influxd: None,
        higher_is_better: false,
        note: "default 1s election timeout; goal < 1 s".into(),
    });
    drop(c);
    // Hinted-handoff drain: an owner cut off while 50k points are written,
    // then healed; points/s from heal until every queue is empty.
    let mut drains = vec![];
    for _ in 0..runs {
        drains.push(hh_drain()?);
    }
    report.add(Row {
        operation: "hinted-handoff drain after an outage".into(),
        unit: "points/s".into(),
        testbed: median(drains),
        influxd: None,
        higher_is_better: true,
        note: format!(
            "50,000 points queued in 500-point writes, from the first replay; median of {runs}"
        ),
    });
    Ok(())
}

fn hh_drain() -> Result<f64> {
    let mut c = cluster(1, 2, Some(2))?;
    let a = c.data_http()[0].clone();
    let (s, v) = crate::http::query(&a, "", "CREATE DATABASE hh")?;
    ensure!(s == 200, "{v}");
    c.partition("data1", "data2")?;
    let total = 50_000u64;
    let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos()
        as i64
        - 3_600_000_000_000;
    for chunk in 0..(total / 500) {
        let mut body = String::new();
        for i in 0..500 {
            let n = chunk * 500 + i;
            body.push_str(&format!("drain,s=s{} v={n} {}\n", n % 50, base + n as i64));
        }
        let (s, t) = crate::http::write(&a, "hh", "&consistency=one", body.as_bytes())?;
        ensure!(s == 204, "{t}");
    }
    let tcp = c.node_info("data1")?.addrs.tcp.context("data1 tcp")?;
    let queued = |c: &Cluster| -> Result<u64> {
        c.block_on(async {
            let ch = proto::net::channel(&tcp, None)?;
            let r = proto::cluster::data_client::DataClient::new(ch)
                .hinted_handoff_status(cluster::HintedHandoffStatusRequest {})
                .await?
                .into_inner();
            Ok(r.queues.iter().map(|q| q.writes).sum())
        })
    };
    let initial = queued(&c)?;
    ensure!(initial > 0, "nothing was queued");
    let per_write = total as f64 / initial as f64;
    // The clock starts when the first queued write is replayed, so that the
    // retry backoff left over from the outage (up to retry-max-interval) is
    // not counted: this is the drain rate proper.
    let healed = Instant::now();
    c.heal();
    let (mut t0, mut w0) = (None, initial);
    loop {
        let w = queued(&c)?;
        if t0.is_none() && w < initial {
            (t0, w0) = (Some(Instant::now()), w);
        }
        if w == 0 {
            break;
        }
        ensure!(healed.elapsed() < Duration::from_secs(300), "the queue did not drain");
        std::thread::sleep(Duration::from_millis(2));
    }
    let t0 = t0.context("the queue emptied between two polls")?;
    Ok(w0 as f64 * per_write / t0.elapsed().as_secs_f64().max(1e-3))
}

/// Where `docs/benchmarks.md` lives relative to the repository.
pub fn docs_path() -> &'static Path {
    Path::new("docs/benchmarks.md")
}
