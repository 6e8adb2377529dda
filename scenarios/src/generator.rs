//! Deterministic point generators for `write … gen:…`.
//!
//! `gen:MEASUREMENT[,series=N][,points=N][,start=TIME][,interval=DUR][,tag=KEY]`
//! writes `points` points for each of `series` series (`KEY=s0`, `KEY=s1`,
//! …), one every `interval` from `start`, with one integer field `value`
//! holding the point's index within its series:
//!
//! ```text
//! cpu,series=s0 value=0i 1793491200000000000
//! cpu,series=s1 value=0i 1793491200000000000
//! cpu,series=s0 value=1i 1793491210000000000
//! ```
//!
//! `start` is RFC3339, or `now`, `now-1h`, `now+10m` (the time the write
//! runs: for data in the current shard group), or `now/1h-1h` (now
//! truncated to a multiple of 1h, then minus 1h: recent points that never
//! straddle two shard groups, whenever the scenario runs). Defaults: 1 series, 100
//! points, start 2026-11-01T00:00:00Z, interval 10s, tag `series`.

use anyhow::{Context, Result, bail};

use crate::lineproto::{escape_measurement, escape_tag};

/// A parsed generator spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generator {
    /// Measurement name.
    pub measurement: String,
    /// Number of series.
    pub series: usize,
    /// Points per series.
    pub points: usize,
    /// Time of the first point, ns since the epoch.
    pub start_ns: i64,
    /// Time between two points of a series, ns.
    pub interval_ns: i64,
    /// Tag key that tells the series apart.
    pub tag: String,
}

/// Default start: 2026-11-01T00:00:00Z.
pub const DEFAULT_START_NS: i64 = 1_793_491_200_000_000_000;

fn parse_duration_ns(s: &str) -> Result<i64> {
    let d = humantime::parse_duration(s).with_context(|| format!("bad duration {s:?}"))?;
    i64::try_from(d.as_nanos()).context("duration too large")
}

/// Parses a time: RFC3339, `now`, `now-DUR` or `now+DUR`; `now/DUR`
/// truncates now to a multiple of DUR since the epoch first, as InfluxDB
/// aligns shard groups (`now/1h-1h`: the start of the previous hour, so the
/// points stay in one 1h shard group whenever the scenario runs).
pub fn parse_time(s: &str, now_ns: i64) -> Result<i64> {
    if let Some(rest) = s.strip_prefix("now") {
        let (base, rest) = match rest.strip_prefix('/') {
            Some(r) => {
                let end = r.find(['+', '-']).unwrap_or(r.len());
                let unit = parse_duration_ns(&r[..end])?;
                if unit <= 0 {
                    bail!("bad time {s:?}: truncation to zero");
                }
                (now_ns - now_ns.rem_euclid(unit), &r[end..])
            }
            None => (now_ns, rest),
        };
        return Ok(match rest.chars().next() {
            None => base,
            Some('-') => base - parse_duration_ns(&rest[1..])?,
            Some('+') => base + parse_duration_ns(&rest[1..])?,
            _ => bail!("bad time {s:?}"),
        });
    }
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("bad time {s:?} (RFC3339, now, now-1h)"))?;
    t.timestamp_nanos_opt().context("time out of range")
}

impl Generator {
    /// Parses the part after `gen:`.
    pub fn parse(spec: &str, now_ns: i64) -> Result<Generator> {
        let mut parts = spec.split(',');
        let measurement = parts.next().unwrap_or_default().to_string();
        if measurement.is_empty() || measurement.contains('=') {
            bail!("generator {spec:?}: the measurement comes first (gen:cpu,series=2,...)");
        }
        let mut g = Generator {
            measurement,
            series: 1,
            points: 100,
            start_ns: DEFAULT_START_NS,
            interval_ns: 10_000_000_000,
            tag: "series".to_string(),
        };
        for p in parts {
            let (k, v) = p.split_once('=').with_context(|| format!("generator: bad {p:?}"))?;
            match k {
                "series" => g.series = v.parse().with_context(|| format!("series={v}"))?,
                "points" => g.points = v.parse().with_context(|| format!("points={v}"))?,
                "start" => g.start_ns = parse_time(v, now_ns)?,
                "interval" => g.interval_ns = parse_duration_ns(v)?,
                "tag" => g.tag = v.to_string(),
                _ => bail!(
                    "generator: unknown parameter {k:?} (series, points, start, interval, tag)"
                ),
            }
        }
        if g.series == 0 || g.interval_ns <= 0 {
            bail!("generator: series and interval must be positive");
        }
        Ok(g)
    }

    /// Total number of points.
    pub fn total(&self) -> usize {
        self.series * self.points
    }

    /// The lines, timestamps in units of `precision_ns`.
    pub fn lines(&self, precision_ns: i64) -> Vec<String> {
        let m = escape_measurement(&self.measurement);
        let tag = escape_tag(&self.tag);
        let mut out = Vec::with_capacity(self.total());
        for i in 0..self.points {
            let t = self.start_ns + i as i64 * self.interval_ns;
            for s in 0..self.series {
                out.push(format!("{m},{tag}=s{s} value={i}i {}", t / precision_ns));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_deterministic_lines() {
        let g =
            Generator::parse("cpu,series=2,points=2,start=2026-11-01T00:00:00Z,interval=10s", 0)
                .unwrap();
        assert_eq!(g.total(), 4);
        assert_eq!(
            g.lines(1),
            vec![
                "cpu,series=s0 value=0i 1793491200000000000",
                "cpu,series=s1 value=0i 1793491200000000000",
                "cpu,series=s0 value=1i 1793491210000000000",
                "cpu,series=s1 value=1i 1793491210000000000",
            ]
        );
        assert_eq!(g.lines(1_000_000_000)[2], "cpu,series=s0 value=1i 1793491210");
    }

    #[test]
    fn relative_start_and_errors() {
        let g = Generator::parse("m,start=now-1m,points=1", 120_000_000_000).unwrap();
        assert_eq!(g.start_ns, 60_000_000_000);
        let h = 3_600_000_000_000;
        assert_eq!(parse_time("now/1h", 5 * h + 7).unwrap(), 5 * h);
        assert_eq!(parse_time("now/1h-1h", 5 * h + 7).unwrap(), 4 * h);
        assert_eq!(parse_time("now/1h+30m", 5 * h).unwrap(), 5 * h + h / 2);
        assert!(parse_time("now/0s", 5).is_err());
        assert!(parse_time("now/x", 5).is_err());
        assert!(Generator::parse("series=2", 0).is_err());
        assert!(Generator::parse("m,bogus=1", 0).is_err());
        assert!(Generator::parse("m,start=yesterday", 0).is_err());
        assert!(Generator::parse("m,series=0", 0).is_err());
    }
}
