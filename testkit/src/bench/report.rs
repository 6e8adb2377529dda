//! The benchmark report: rows of (operation, testbed, influxd, ratio), as a
//! text table, JSON and markdown with the machine it ran on.

use serde::Serialize;

/// One measured operation.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured.
    pub operation: String,
    /// Unit of the figures (`points/s`, `s`, `MB`, …).
    pub unit: String,
    /// The testbed's figure.
    pub testbed: f64,
    /// The real influxd's figure, when there is one.
    pub influxd: Option<f64>,
    /// Whether a higher figure is better (rates) or lower (times, memory).
    pub higher_is_better: bool,
    /// Free-form detail (medians of what, runs).
    pub note: String,
}

impl Row {
    /// testbed ÷ influxd for rates, influxd ÷ testbed for times: ≥ 1.0 means
    /// the testbed is at least as fast.
    pub fn ratio(&self) -> Option<f64> {
        let i = self.influxd?;
        if i == 0.0 || self.testbed == 0.0 {
            return None;
        }
        Some(if self.higher_is_better { self.testbed / i } else { i / self.testbed })
    }
}

/// All rows plus context.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Fixture copies.
    pub scale: u32,
    /// Points in the dataset.
    pub points: u64,
    /// `uname -a`-like machine description.
    pub machine: String,
    /// When (UTC, RFC3339).
    pub when: String,
    /// The rows.
    pub rows: Vec<Row>,
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb >> 20);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cpus} cores ({model}), {mem} GiB RAM, load average at start {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}

impl Report {
    /// An empty report.
    pub fn new(scale: u32, points: u64) -> Report {
        Report {
            scale,
            points,
            machine: machine(),
            when: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rows: vec![],
        }
    }

    /// Adds a row and prints it to stderr as progress.
    pub fn add(&mut self, row: Row) {
        eprintln!(
            "bench: {:<48} testbed {:>12} {}   influxd {}",
            row.operation,
            fmt(row.testbed),
            row.unit,
            row.influxd.map_or("-".into(), fmt)
        );
        self.rows.push(row);
    }

    /// The text table.
    pub fn table(&self) -> String {
        let mut rows = vec![vec![
            "operation".to_string(),
            "unit".into(),
            "testbed".into(),
            "influxd".into(),
            "ratio".into(),
        ]];
        for r in &self.rows {
            rows.push(vec![
                r.operation.clone(),
                r.unit.clone(),
                fmt(r.testbed),
                r.influxd.map_or("-".into(), fmt),
                r.ratio().map_or("-".into(), |x| format!("{x:.2}")),
            ]);
        }
        let widths: Vec<usize> =
            (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for r in rows {
            for (i, c) in r.iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                if i >= 2 {
                    out.push_str(&format!("{c:>w$}", w = widths[i]));
                } else {
                    out.push_str(&format!("{c:<w$}", w = widths[i]));
                }
            }
            out.push('\n');
        }
        out
    }

    /// The markdown document (docs/benchmarks.md).
    pub fn markdown(&self) -> String {
        let mut out = String::from("# Benchmarks\n\n");
        out.push_str(&format!(
            "Latest run of `make bench` ({} UTC) on {}.\nDataset: the fixture dataset ×{} = {} points. \
             Medians; ratio ≥ 1.0 means the testbed is at least as fast as the real InfluxDB 1.6.\n\n",
            self.when, self.machine, self.scale, self.points
        ));
        out.push_str("| operation | unit | testbed | influxd 1.6 | ratio | note |\n|---|---|---:|---:|---:|---|\n");
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.operation,
                r.unit,
                fmt(r.testbed),
                r.influxd.map_or("-".into(), fmt),
                r.ratio().map_or("-".into(), |x| format!("{x:.2}")),
                r.note
            ));
        }
        out
    }
}

fn fmt(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}
