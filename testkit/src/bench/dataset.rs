//! The benchmark dataset: the fixture dataset (`shared/fixtures/influxdb-1.6/
//! dataset/*.lp.gz`, 186,150 points) replayed `scale` times with timestamps
//! shifted so it ends now (retention never drops it) and each copy a
//! millisecond apart (no copy overwrites another).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The fixture dataset's end (2026-11-21T14:36:00Z), ns.
pub const FIXTURE_END: i64 = 1_795_271_760_000_000_000;

/// The fixture's database, RP and file of each part.
pub const PARTS: [(&str, &str); 3] =
    [("telegraf", "autogen"), ("metrics", "autogen"), ("metrics", "oneday")];

/// The schema statements the fixture server ran (config/schema.iql), data part.
pub const SCHEMA: [&str; 3] = [
    "CREATE DATABASE telegraf",
    "CREATE DATABASE metrics",
    "CREATE RETENTION POLICY oneday ON metrics DURATION 1d REPLICATION 1 SHARD DURATION 2h",
];

/// Lines of one database/RP.
pub struct Part {
    /// Database.
    pub db: &'static str,
    /// Retention policy.
    pub rp: &'static str,
    /// Line protocol lines (no newline).
    pub lines: Vec<String>,
}

/// The fixtures directory beside the repository (`../shared/...`).
pub fn fixtures_dir() -> Result<PathBuf> {
    let candidates = [
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6"),
        PathBuf::from("../shared/fixtures/influxdb-1.6"),
    ];
    candidates.into_iter().find(|p| p.is_dir()).context(
        "fixtures not found: ../shared/fixtures/influxdb-1.6 must sit beside the repository",
    )
}

/// The dataset ×`scale`.
pub fn build(scale: u32) -> Result<Vec<Part>> {
    let dir = fixtures_dir()?.join("dataset");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as i64;
    let hour = 3_600_000_000_000;
    let shift = now / hour * hour - FIXTURE_END;
    let mut out = Vec::new();
    for (db, rp) in PARTS {
        let text = read_gz(&dir.join(format!("{db}.{rp}.lp.gz")))?;
        let mut lines = Vec::new();
        for k in 0..scale as i64 {
            for l in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
                let (head, ts) = l.rsplit_once(' ').context("a fixture line without time")?;
                let t: i64 = ts.parse().context("a fixture timestamp")?;
                lines.push(format!("{head} {}", t + shift - k * 1_000_000));
            }
        }
        out.push(Part { db, rp, lines });
    }
    Ok(out)
}

fn read_gz(p: &Path) -> Result<String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(
        std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
    )
    .read_to_string(&mut text)?;
    Ok(text)
}

/// Total points (one per line).
pub fn points(parts: &[Part]) -> u64 {
    parts.iter().map(|p| p.lines.len() as u64).sum()
}

/// The write batches: (db, rp, body of up to 5000 lines).
pub fn batches(parts: &[Part]) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    for p in parts {
        for chunk in p.lines.chunks(5000) {
            out.push((p.db.to_string(), p.rp.to_string(), (chunk.join("\n") + "\n").into_bytes()));
        }
    }
    out
}
