//! `check lost-writes`: every point the cluster acknowledged is readable,
//! and none is returned twice.
//!
//! Per measurement, one of two methods:
//! - **exact** (up to [`EXACT_LIMIT`] acknowledged points, all with
//!   timestamps): `SELECT * … GROUP BY *` with `epoch=ns`; every returned
//!   (tags, time) is matched with the oracle. Lost = acknowledged but not
//!   returned; duplicated = returned more than once (overlapping shards,
//!   B#12); phantom = returned but never written.
//! - **count**: `SELECT count(*)`, the point count being the largest field
//!   count. Lost = acknowledged − found; duplicated = found − (acknowledged +
//!   points of failed requests, which may have landed).

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::http::{Http, statements};
use crate::lineproto::quote_ident;
use crate::oracle::{Measurement, Oracle, point_hash};

/// Largest number of acknowledged points checked point by point.
pub const EXACT_LIMIT: u64 = 10_000;

/// How to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exact when small enough, else counts.
    Auto,
    /// Counts only.
    Count,
    /// Point by point whenever every point has a timestamp.
    Exact,
}

impl std::str::FromStr for Mode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Mode> {
        Ok(match s {
            "auto" => Mode::Auto,
            "count" => Mode::Count,
            "exact" => Mode::Exact,
            _ => anyhow::bail!("mode must be auto, count or exact"),
        })
    }
}

/// Differences found for one measurement.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Points returned.
    pub found: u64,
    /// Acknowledged points not returned.
    pub lost: u64,
    /// Extra copies returned.
    pub duplicated: u64,
    /// Points returned that were never written.
    pub phantom: u64,
}

/// `FROM` clause for a measurement in an RP ("" = default RP).
pub fn from_clause(rp: &str, measurement: &str) -> String {
    if rp.is_empty() {
        quote_ident(measurement)
    } else {
        format!("{}.{}", quote_ident(rp), quote_ident(measurement))
    }
}

/// Runs the check against the data node at `addr`.
pub fn check(http: &Http, addr: &str, oracle: &Oracle, mode: Mode) -> Result<String> {
    let mut details = String::new();
    let mut total = Tally::default();
    let (mut points, mut measurements) = (0, 0);
    for ((db, rp), ms) in &oracle.targets {
        for (name, m) in ms {
            measurements += 1;
            points += m.acked_count();
            let timed = m.acked_untimed == 0 && m.maybe_untimed == 0;
            let exact = match mode {
                Mode::Auto => timed && m.acked_count() <= EXACT_LIMIT,
                Mode::Exact => timed,
                Mode::Count => false,
            };
            let from = from_clause(rp, name);
            let t = if exact {
                let v = http.query(
                    addr,
                    Some(db),
                    &format!("SELECT * FROM {from} GROUP BY *"),
                    Some("ns"),
                )?;
                exact_tally(m, &v).with_context(|| format!("reading {db}.{from}"))?
            } else {
                let v =
                    http.query(addr, Some(db), &format!("SELECT count(*) FROM {from}"), None)?;
                let found = max_count(&v).with_context(|| format!("counting {db}.{from}"))?;
                count_tally(m, found)
            };
            if t.lost + t.duplicated + t.phantom > 0 {
                let rp = if rp.is_empty() { "(default)" } else { rp.as_str() };
                let _ = write!(
                    details,
                    "{db}.{rp}.{name}: acked={} found={} lost={} duplicated={}",
                    m.acked_count(),
                    t.found,
                    t.lost,
                    t.duplicated
                );
                if t.phantom > 0 {
                    let _ = write!(details, " phantom={}", t.phantom);
                }
                details.push('\n');
            }
            total.lost += t.lost;
            total.duplicated += t.duplicated;
            total.phantom += t.phantom;
        }
    }
    let mut out = format!(
        "checked {points} acknowledged points in {measurements} measurement{}\n",
        if measurements == 1 { "" } else { "s" }
    );
    out.push_str(&details);
    let _ = write!(out, "lost={} duplicated={}", total.lost, total.duplicated);
    if total.phantom > 0 {
        let _ = write!(out, " phantom={}", total.phantom);
    }
    out.push('\n');
    Ok(out)
}

/// Point counts by the count method.
pub fn count_tally(m: &Measurement, found: u64) -> Tally {
    Tally {
        found,
        lost: m.acked_count().saturating_sub(found),
        duplicated: found.saturating_sub(m.acked_count() + m.maybe_count()),
        phantom: 0,
    }
}

/// The largest count of a `SELECT count(*)` answer (0 when no series).
pub fn max_count(v: &Value) -> Result<u64> {
    let mut max = 0;
    for s in statements(v)?.iter().flatten() {
        for row in &s.values {
            for (col, val) in s.columns.iter().zip(row) {
                if col != "time" {
                    max = max.max(val.as_u64().unwrap_or(0));
                }
            }
        }
    }
    Ok(max)
}

/// Point-by-point comparison of a `SELECT * … GROUP BY *` (epoch=ns) answer.
pub fn exact_tally(m: &Measurement, v: &Value) -> Result<Tally> {
    let mut seen: HashMap<u64, u64> = HashMap::new();
    for s in statements(v)?.iter().flatten() {
        let tags = s.tags.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
        let ti = s.columns.iter().position(|c| c == "time").context("no time column")?;
        for row in &s.values {
            let t = row.get(ti).and_then(Value::as_i64).context("time is not an integer")?;
            *seen.entry(point_hash(&tags, t)).or_default() += 1;
        }
    }
    let mut t = Tally { found: seen.values().sum(), ..Tally::default() };
    t.lost = m.acked.iter().filter(|h| !seen.contains_key(h)).count() as u64;
    for (h, n) in &seen {
        t.duplicated += n - 1;
        if !m.acked.contains(h) && !m.maybe.contains(h) {
            t.phantom += 1;
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::point_key;
    use serde_json::json;

    fn measurement(acked: &[&str], maybe: &[&str]) -> Measurement {
        let mut o = Oracle::default();
        let t = ("db".to_string(), String::new());
        let a: Vec<_> = acked.iter().map(|l| point_key(l, 1).unwrap()).collect();
        let b: Vec<_> = maybe.iter().map(|l| point_key(l, 1).unwrap()).collect();
        o.record(&t, &b, false);
        o.record(&t, &a, true);
        o.targets[&t]["m"].clone()
    }

    #[test]
    fn exact_finds_lost_duplicated_and_phantom() {
        let m = measurement(&["m,h=a v=1 1", "m,h=a v=1 2", "m,h=b v=1 1"], &["m,h=b v=1 9"]);
        let v = json!({"results":[{"series":[
            {"name":"m","tags":{"h":"a"},"columns":["time","v"],"values":[[1,1],[1,1],[5,1]]},
            {"name":"m","tags":{"h":"b"},"columns":["time","v"],"values":[[1,1],[9,1]]}]}]});
        let t = exact_tally(&m, &v).unwrap();
        assert_eq!(t, Tally { found: 5, lost: 1, duplicated: 1, phantom: 1 });
    }

    #[test]
    fn counts_allow_points_of_failed_requests() {
        let m = measurement(&["m v=1 1", "m v=1 2"], &["m v=1 3"]);
        assert_eq!(count_tally(&m, 2), Tally { found: 2, ..Tally::default() });
        assert_eq!(count_tally(&m, 3), Tally { found: 3, ..Tally::default() });
        assert_eq!(count_tally(&m, 4).duplicated, 1);
        assert_eq!(count_tally(&m, 1).lost, 1);
    }

    #[test]
    fn max_count_over_fields() {
        let v = json!({"results":[{"series":[{"name":"syslog","columns":["time","count_extra","count_ok"],"values":[[0,2232,22308]]}]}]});
        assert_eq!(max_count(&v).unwrap(), 22308);
        assert_eq!(max_count(&json!({"results":[{}]})).unwrap(), 0);
        assert_eq!(from_clause("", "http requests"), "\"http requests\"");
        assert_eq!(from_clause("autogen", "cpu"), "\"autogen\".\"cpu\"");
    }
}
