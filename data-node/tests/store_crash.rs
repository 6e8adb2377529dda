//! Crash safety of the WAL: a child process writes batches, reports each
//! acknowledged one on stdout, and aborts (no destructor, no flush) while
//! writes and cache flushes are in flight. Reopening the directory must
//! give back every acknowledged point.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use data_node::store::{Store, StoreConfig};
use portable::{FieldValue, Point};

const CHILD_ENV: &str = "STORE_CRASH_CHILD_DIR";
const BATCH: i64 = 500;

fn batch(writer: i64, b: i64) -> Vec<Point> {
    (0..BATCH)
        .map(|i| Point {
            measurement: "cpu".into(),
            tags: vec![("w".into(), writer.to_string())],
            fields: vec![
                ("v".into(), FieldValue::Float((b * BATCH + i) as f64)),
                ("s".into(), FieldValue::String(format!("b{b}"))),
            ],
            time: b * BATCH + i,
        })
        .collect()
}

/// The child: runs only when spawned by `acknowledged_writes_survive_abort`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let abort_after: i64 = std::env::var("STORE_CRASH_ABORT_AFTER").unwrap().parse().unwrap();
    let config = StoreConfig { cache_max_points: 3_000, ..StoreConfig::default() };
    let store = std::sync::Arc::new(Store::open_with(&dir, config).unwrap());
    let shard = store.create_shard(1, "db", "rp").unwrap();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut handles = Vec::new();
    for w in 0..2i64 {
        let shard = shard.clone();
        let acked = acked.clone();
        handles.push(std::thread::spawn(move || {
            for b in 0.. {
                shard.write(&batch(w, b)).unwrap();
                println!("ack {w} {b}");
                if acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= abort_after {
                    std::process::abort();
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn acknowledged_writes_survive_abort() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    for abort_after in [1, 7, 23] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("STORE_CRASH_ABORT_AFTER", abort_after.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut acked: Vec<(i64, i64)> = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            // The harness may print "test crash_child ... " before the first ack.
            if let Some(i) = line.find("ack ") {
                let rest = &line[i + 4..];
                let (w, b) = rest.split_once(' ').unwrap();
                acked.push((w.parse().unwrap(), b.parse().unwrap()));
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child must have aborted");
        assert!(acked.len() as i64 >= abort_after, "{} acks", acked.len());

        let store = Store::open(dir.path()).unwrap();
        let shard = store.shard(1).unwrap();
        for (w, b) in acked {
            let got: Vec<(i64, FieldValue)> = shard
                .read_field(&format!("cpu,w={w}"), "v", b * BATCH, b * BATCH + BATCH - 1)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(got.len() as i64, BATCH, "writer {w} batch {b} (abort after {abort_after})");
            for (i, (t, v)) in got.into_iter().enumerate() {
                assert_eq!(t, b * BATCH + i as i64);
                assert_eq!(v, FieldValue::Float(t as f64));
            }
            let s: Vec<(i64, FieldValue)> = shard
                .read_field(&format!("cpu,w={w}"), "s", b * BATCH, b * BATCH)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(s, vec![(b * BATCH, FieldValue::String(format!("b{b}")))]);
        }
        // The reopened store keeps working.
        shard.flush().unwrap();
        let d = shard.digest().unwrap();
        assert_eq!(d.points, shard.point_count());
    }
}
