//! The side-by-side benchmark: the same operations against a testbed cluster
//! and, when installed, a real InfluxDB 1.6 (`influxd`, `influx`) started on
//! loopback, plus testbed-only figures. Medians of `runs` runs. Not a test:
//! nothing here passes or fails on speed.
//!
//! Operations (dataset: the fixture dataset × scale, see [`dataset`]):
//! HTTP ingest (5000-line batches, 2 in flight) into 1 data node and into
//! 3 data nodes at RF 2; full backup; restore; export; import; meta
//! commands/s; failover; hinted-handoff drain; 3+3 cluster start-up; peak
//! RSS per node and idle data-node RSS.

pub mod dataset;
pub mod ops;
pub mod report;

use std::path::PathBuf;

use anyhow::Result;

pub use report::{Report, Row};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fixture dataset copies.
    pub scale: u32,
    /// Runs per measurement (the median is reported).
    pub runs: usize,
    /// Where the JSON goes.
    pub json: Option<PathBuf>,
    /// Where the markdown table goes (e.g. docs/benchmarks.md).
    pub markdown: Option<PathBuf>,
    /// Skip the real influxd even when installed.
    pub no_influxd: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { scale: 10, runs: 3, json: None, markdown: None, no_influxd: false }
    }
}

/// Runs everything; progress on stderr, the table on stdout.
pub fn run(opts: &Options) -> Result<Report> {
    let parts = dataset::build(opts.scale)?;
    let points = dataset::points(&parts);
    eprintln!("bench: dataset {points} points (fixture x{}), {} runs each", opts.scale, opts.runs);
    let influxd = !opts.no_influxd
        && std::path::Path::new("/usr/bin/influxd").exists()
        && std::path::Path::new("/usr/bin/influx").exists();
    if !influxd {
        eprintln!(
            "bench: real influxd/influx not installed (Debian influxdb, influxdb-client): testbed only"
        );
    }
    let mut report = Report::new(opts.scale, points);
    ops::data_ops(&parts, opts.runs, influxd, &mut report)?;
    ops::cluster_ops(opts.runs, &mut report)?;
    print!("{}", report.table());
    if let Some(p) = &opts.json {
        std::fs::write(p, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("bench: wrote {}", p.display());
    }
    if let Some(p) = &opts.markdown {
        std::fs::write(p, report.markdown())?;
        eprintln!("bench: wrote {}", p.display());
    }
    Ok(report)
}

/// Median of durations in seconds.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}
