//! Shard store throughput on the fixture dataset ×10 (every line of
//! `dataset/*.lp.gz`, replicated ten times with shifted timestamps, one
//! shard per file as InfluxDB would have one per database/RP).
//! A plain `harness = false` bench that prints figures:
//! `cargo bench -p data-node --bench store`.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use data_node::store::{Shard, Store, StoreConfig, TimeRange};
use portable::Point;
use portable::lineproto::{Precision, parse_lines};

const COPIES: i64 = 10;
const BATCH: usize = 5000;

struct Set {
    name: String,
    points: Vec<Point>,
    values: usize,
    min: i64,
    max: i64,
}

fn load() -> Vec<Set> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6/dataset");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".lp.gz"))
        .collect();
    files.sort();
    let mut sets = Vec::new();
    for f in files {
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_end(&mut body)
            .unwrap();
        let (base, errors) = parse_lines(&body, Precision::Nanosecond, 0);
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
        let min = base.iter().map(|p| p.time).min().unwrap();
        let max = base.iter().map(|p| p.time).max().unwrap();
        let span = max - min + 1;
        let mut points = Vec::with_capacity(base.len() * COPIES as usize);
        for c in 0..COPIES {
            points.extend(base.iter().map(|p| Point { time: p.time + c * span, ..p.clone() }));
        }
        let values = points.iter().map(|p| p.fields.len()).sum();
        let name = f.file_name().unwrap().to_string_lossy().trim_end_matches(".lp.gz").to_string();
        sets.push(Set { name, points, values, min, max: max + (COPIES - 1) * span });
    }
    sets
}

fn rate(n: u64, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64();
    if r >= 1e6 { format!("{:.2} M/s", r / 1e6) } else { format!("{:.0} k/s", r / 1e3) }
}

fn mbs(bytes: u64, d: Duration) -> String {
    format!("{:.1} MB/s", bytes as f64 / 1e6 / d.as_secs_f64())
}

fn line(what: &str, d: Duration, points: u64, unit: &str, extra: String) {
    println!("{what:<44} {:>9.3} s  {:>12} {unit:<7} {extra}", d.as_secs_f64(), rate(points, d));
}

fn main() {
    let t = Instant::now();
    let sets = load();
    let points: usize = sets.iter().map(|s| s.points.len()).sum();
    let values: usize = sets.iter().map(|s| s.values).sum();
    println!(
        "dataset: {} files x{COPIES}: {points} points, {values} values (loaded in {:.1} s)",
        sets.len(),
        t.elapsed().as_secs_f64()
    );
    for s in &sets {
        println!("  {:<28} {:>9} points {:>9} values", s.name, s.points.len(), s.values);
    }
    let tmp = tempfile::tempdir().unwrap();

    // 1. Ingest with the default config (automatic cache flushes).
    let store = Store::open(tmp.path().join("a")).unwrap();
    let shards: Vec<Arc<Shard>> = sets
        .iter()
        .enumerate()
        .map(|(i, s)| store.create_shard(i as u64 + 1, &s.name, "autogen").unwrap())
        .collect();
    let t = Instant::now();
    let mut rejected = 0;
    for (s, set) in shards.iter().zip(&sets) {
        for chunk in set.points.chunks(BATCH) {
            let r = s.write(chunk).unwrap();
            rejected += r.rejected.len();
            assert!(r.flush_error.is_none());
        }
    }
    let d = t.elapsed();
    line(
        "write (batches of 5000, auto flush)",
        d,
        points as u64,
        "points",
        format!("{} values, {rejected} rejected", rate(values as u64, d)),
    );
    let t = Instant::now();
    for s in &shards {
        s.flush().unwrap();
    }
    line("final flush", t.elapsed(), 0, "", String::new());
    let stored: u64 = shards.iter().map(|s| s.point_count()).sum();
    let bytes: u64 = shards.iter().map(|s| s.size_bytes()).sum();
    println!(
        "stored: {stored} values, {:.1} MB of blocks ({:.2} bytes/value), sled on disk {:.1} MB",
        bytes as f64 / 1e6,
        bytes as f64 / stored as f64,
        store.size_on_disk().unwrap() as f64 / 1e6
    );

    // 2. Full-range reads of every key.
    let t = Instant::now();
    let mut n = 0u64;
    for s in &shards {
        for k in s.composite_keys(None) {
            let mut c = s.read(&k, i64::MIN, i64::MAX).unwrap();
            while let Some((ts, _)) = c.next_chunk().unwrap() {
                n += ts.len() as u64;
            }
        }
    }
    assert_eq!(n, stored);
    line("read all keys, full range (chunks)", t.elapsed(), n, "values", String::new());

    // 3. Export (raw block copy) and import into empty shards (raw inserts).
    let t = Instant::now();
    let mut files = Vec::new();
    let mut tsm_bytes = 0u64;
    for s in &shards {
        let mut buf = Vec::new();
        let st = s.export_tsm(None, &mut buf).unwrap();
        assert_eq!(st.raw_blocks, st.blocks);
        tsm_bytes += buf.len() as u64;
        files.push(buf);
    }
    let d = t.elapsed();
    line("export (no time filter)", d, stored, "values", mbs(tsm_bytes, d));
    let t = Instant::now();
    let copies: Vec<Arc<Shard>> = shards
        .iter()
        .zip(&files)
        .map(|(s, f)| {
            let c = store.create_shard(100 + s.id(), s.database(), "autogen").unwrap();
            let st = c.import_tsm("x.tsm", Cursor::new(f)).unwrap();
            assert_eq!(st.merged_blocks, 0);
            c
        })
        .collect();
    let d = t.elapsed();
    line("import into empty shards", d, stored, "values", mbs(tsm_bytes, d));

    // 4. Digests (decode everything).
    let t = Instant::now();
    for (a, b) in shards.iter().zip(&copies) {
        assert_eq!(a.digest().unwrap(), b.digest().unwrap());
    }
    line("digest, original + copy", t.elapsed(), 2 * stored, "values", String::new());

    // 5. Time-filtered export (middle half of each shard).
    let t = Instant::now();
    let mut exported = 0;
    let mut fbytes = 0;
    for (s, set) in shards.iter().zip(&sets) {
        let q = (set.max - set.min) / 4;
        let mut buf = Vec::new();
        let st = s.export_tsm(Some(TimeRange::new(set.min + q, set.max - q)), &mut buf).unwrap();
        exported += st.points;
        fbytes += buf.len() as u64;
    }
    let d = t.elapsed();
    line("export, time filter (middle half)", d, exported, "values", mbs(fbytes, d));

    // 6. Re-import over identical data (every block decoded and merged).
    let t = Instant::now();
    for (c, f) in copies.iter().zip(&files) {
        c.import_tsm("x.tsm", Cursor::new(f)).unwrap();
    }
    let d = t.elapsed();
    line("import over identical data (merge)", d, stored, "values", mbs(tsm_bytes, d));
    drop((shards, copies));
    drop(store);

    // 7. Two writer threads into one shard (as concurrent HTTP writes are).
    let big = sets.iter().max_by_key(|s| s.points.len()).unwrap();
    let store = Store::open(tmp.path().join("c")).unwrap();
    let s = store.create_shard(1, &big.name, "autogen").unwrap();
    let t = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..2 {
            let s = &s;
            scope.spawn(move || {
                for chunk in big.points.chunks(BATCH).skip(k).step_by(2) {
                    s.write(chunk).unwrap();
                }
            });
        }
    });
    let d = t.elapsed();
    line(
        &format!("write {}, 2 writer threads, auto flush", big.name),
        d,
        big.points.len() as u64,
        "points",
        format!("{} values", rate(big.values as u64, d)),
    );
    s.flush().unwrap();
    assert_eq!(s.point_count(), big.values as u64);
    drop(s);
    drop(store);

    // 8. Cache-only write path, then reopen with WAL replay.
    let config = StoreConfig {
        cache_max_points: usize::MAX,
        cache_max_bytes: usize::MAX,
        ..StoreConfig::default()
    };
    let store = Store::open_with(tmp.path().join("b"), config).unwrap();
    let s = store.create_shard(1, &big.name, "autogen").unwrap();
    let t = Instant::now();
    for chunk in big.points.chunks(BATCH) {
        s.write(chunk).unwrap();
    }
    let d = t.elapsed();
    line(
        &format!("write {} (cache + WAL only)", big.name),
        d,
        big.points.len() as u64,
        "points",
        format!("{} values", rate(big.values as u64, d)),
    );
    drop(s);
    drop(store);
    let t = Instant::now();
    let store = Store::open_with(tmp.path().join("b"), config).unwrap();
    let d = t.elapsed();
    line("reopen, WAL replay", d, big.points.len() as u64, "points", String::new());
    let s = store.shard(1).unwrap();
    let t = Instant::now();
    let fs = s.flush().unwrap();
    line(
        &format!("flush {} values into empty shard", fs.values),
        t.elapsed(),
        fs.values as u64,
        "values",
        format!("{} blocks", fs.blocks_written),
    );
}
