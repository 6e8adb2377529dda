//! Throughput of TSM encode/decode and shard-archive write/read on the
//! fixture dataset ×10 (every TSM block of the `full/` backup, replicated
//! ten times with shifted timestamps), and line-protocol parsing of the
//! fixture dataset. A plain `harness = false` bench that
//! prints figures: `cargo bench -p portable --bench throughput`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use portable::archive::{ArchiveOptions, ShardArchiveReader, ShardArchiveWriter};
use portable::lineproto::{ParseOptions, Parser, Precision, parse_lines};
use portable::manifest;
use portable::tsm::{TsmReader, TsmWriter, Values};

const COPIES: i64 = 10;

fn load() -> BTreeMap<Vec<u8>, (Vec<i64>, Values)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6/full");
    let inc = manifest::load_incremental(&dir).unwrap();
    let mut base: BTreeMap<Vec<u8>, (Vec<i64>, Values)> = BTreeMap::new();
    for f in &inc.files {
        let mut a =
            ShardArchiveReader::new(f.file_name.clone(), fs::File::open(inc.file_path(f)).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let data = e.read_to_vec().unwrap();
            let mut r = TsmReader::from_bytes(e.path.clone(), &data).unwrap();
            for s in r.series() {
                let s = s.unwrap();
                // Keys repeat across shards: prefix with the db/rp/shard.
                let mut key = format!("{}.{}.{}.", f.database, f.policy, f.shard_id).into_bytes();
                key.extend_from_slice(&s.key);
                base.insert(key, (s.timestamps, s.values));
            }
        }
    }
    let min = base.values().filter_map(|(t, _)| t.first()).min().copied().unwrap();
    let max = base.values().filter_map(|(t, _)| t.last()).max().copied().unwrap();
    let span = max - min + 1;
    base.into_iter()
        .map(|(k, (ts, vs))| {
            let mut all_ts = Vec::with_capacity(ts.len() * COPIES as usize);
            let mut all_vs = Values::new(vs.field_type());
            for c in 0..COPIES {
                all_ts.extend(ts.iter().map(|t| t + c * span));
                all_vs.extend_from(&vs, 0..vs.len()).unwrap();
            }
            (k, (all_ts, all_vs))
        })
        .collect()
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        out = Some(v);
    }
    (best, out.unwrap())
}

fn rate(n: f64, d: Duration) -> f64 {
    n / d.as_secs_f64()
}

fn main() {
    let data = load();
    let points: u64 = data.values().map(|(t, _)| t.len() as u64).sum();
    println!(
        "dataset: fixture full/ x{COPIES}: {} series keys, {points} points (field values)",
        data.len()
    );

    let (enc, tsm) = best_of(5, || {
        let mut w = TsmWriter::new("bench", Vec::with_capacity(64 << 20));
        for (k, (ts, vs)) in &data {
            w.write_series(k, ts, vs.as_slice()).unwrap();
        }
        w.finish().unwrap()
    });
    let mb = tsm.len() as f64 / 1e6;
    println!(
        "TSM encode: {:.0} ms, {:.2} M points/s, {:.1} MB/s of TSM output ({mb:.1} MB, {:.2} bytes/point)",
        enc.as_secs_f64() * 1e3,
        rate(points as f64, enc) / 1e6,
        rate(mb, enc),
        tsm.len() as f64 / points as f64
    );

    let (dec, decoded) = best_of(5, || {
        let mut r = TsmReader::from_bytes("bench", &tsm).unwrap();
        r.verify().unwrap()
    });
    assert_eq!(decoded, points);
    println!(
        "TSM decode (CRC checked): {:.0} ms, {:.2} M points/s, {:.1} MB/s of TSM input",
        dec.as_secs_f64() * 1e3,
        rate(points as f64, dec) / 1e6,
        rate(mb, dec)
    );

    let (dec2, n) = best_of(5, || {
        let mut r = TsmReader::from_bytes("bench", &tsm).unwrap();
        r.set_verify_crc(false);
        r.verify().unwrap()
    });
    assert_eq!(n, points);
    println!("TSM decode (no CRC): {:.2} M points/s", rate(points as f64, dec2) / 1e6);

    let (tw, (gz, tar_size)) = best_of(3, || {
        let mut w = ShardArchiveWriter::new(
            Vec::with_capacity(32 << 20),
            "db",
            "rp",
            1,
            ArchiveOptions::default(),
        );
        w.append_tsm("000000001-000000001.tsm", Cursor::new(&tsm)).unwrap();
        w.finish().unwrap()
    });
    let tar_mb = tar_size as f64 / 1e6;
    println!(
        "tar.gz write (zlib-rs, level 6): {:.0} ms, {:.1} MB/s of tar ({tar_mb:.1} MB -> {:.1} MB gz)",
        tw.as_secs_f64() * 1e3,
        rate(tar_mb, tw),
        gz.len() as f64 / 1e6
    );
    let (tr, read) = best_of(3, || {
        let mut r = ShardArchiveReader::new("bench", &gz[..]);
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        for e in r.entries().unwrap() {
            let mut e = e.unwrap();
            loop {
                let n = e.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
        }
        total
    });
    assert_eq!(read, tsm.len() as u64);
    println!("tar.gz read: {:.0} ms, {:.1} MB/s of tar", tr.as_secs_f64() * 1e3, rate(tar_mb, tr));
    line_protocol();
}

/// Line-protocol parsing of the fixture dataset: the scan alone
/// (`parse_raw`) and the owned `Point`s the write path builds.
fn line_protocol() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6/dataset");
    let mut body = Vec::new();
    for f in ["telegraf.autogen.lp.gz", "metrics.autogen.lp.gz", "metrics.oneday.lp.gz"] {
        let file = fs::File::open(dir.join(f)).unwrap();
        flate2::read::GzDecoder::new(file).read_to_end(&mut body).unwrap();
    }
    let lines = body.iter().filter(|&&c| c == b'\n').count();
    let opts = ParseOptions::new(Precision::Nanosecond, 0);
    let mut parser = Parser::new();
    let (raw, fields) = best_of(5, || {
        let mut fields = 0usize;
        for (_, line) in portable::lineproto::lines(&body) {
            let raw = parser.parse_raw(line, &opts).unwrap();
            raw.for_each_field_raw(|_, _| fields += 1);
        }
        fields
    });
    let (owned, _) = best_of(5, || {
        let (points, errors) = parse_lines(&body, Precision::Nanosecond, 0);
        assert!(errors.is_empty());
        points.len()
    });
    println!(
        "line protocol ({lines} lines, {fields} fields, {:.1} MB): scan {:.0} lines/s; owned Points {:.0} lines/s, {:.1} MB/s",
        body.len() as f64 / 1e6,
        rate(lines as f64, raw),
        rate(lines as f64, owned),
        rate(body.len() as f64 / 1e6, owned),
    );
}
