//! `check counts db=X [rp=Y] [expect=…] [state=…]`: point counts per
//! measurement (`SHOW MEASUREMENTS`, then `SELECT count(*)` for each, the
//! largest field count being the point count) against an expectation:
//!
//! - `expect=FILE.json`: the fixture's `expected-counts.json` shape,
//!   `<state>.databases.<db>.<rp>.measurements.<name>.points`, with `state`
//!   defaulting to `server_state_at_full_backup` and `rp` to `autogen`;
//! - `expect="cpu=100 mem=20"`: an inline list;
//! - no `expect`: the counts are printed, one `name=count` a line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::checks::lost_writes::{from_clause, max_count};
use crate::http::{Http, cell, statements};

/// Default top-level key of `expected-counts.json`.
pub const DEFAULT_STATE: &str = "server_state_at_full_backup";

/// Point counts per measurement of `db` (and `rp`, "" = default RP).
pub fn observed(http: &Http, addr: &str, db: &str, rp: &str) -> Result<BTreeMap<String, u64>> {
    let v = http.query(addr, Some(db), "SHOW MEASUREMENTS", None)?;
    let mut names = Vec::new();
    for s in statements(&v)?.iter().flatten() {
        for row in &s.values {
            if let Some(n) = row.first() {
                names.push(cell(n));
            }
        }
    }
    let mut out = BTreeMap::new();
    for name in names {
        let q = format!("SELECT count(*) FROM {}", from_clause(rp, &name));
        let n = max_count(&http.query(addr, Some(db), &q, None)?)
            .with_context(|| format!("counting {name}"))?;
        if n > 0 {
            out.insert(name, n);
        }
    }
    Ok(out)
}

/// Reads the expectation of an `expected-counts.json`-shaped file.
pub fn expected_from_json(
    path: &Path,
    state: &str,
    db: &str,
    rp: &str,
) -> Result<BTreeMap<String, u64>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    expected_from_value(&v, state, db, rp).with_context(|| format!("in {}", path.display()))
}

/// The expectation inside a parsed `expected-counts.json`.
pub fn expected_from_value(
    v: &Value,
    state: &str,
    db: &str,
    rp: &str,
) -> Result<BTreeMap<String, u64>> {
    let rp = if rp.is_empty() { "autogen" } else { rp };
    let ms = v
        .get(state)
        .with_context(|| format!("no {state:?}"))?
        .get("databases")
        .and_then(|d| d.get(db))
        .with_context(|| format!("no database {db:?} in {state:?}"))?
        .get(rp)
        .and_then(|r| r.get("measurements"))
        .and_then(Value::as_object)
        .with_context(|| format!("no retention policy {rp:?} in {db:?}"))?;
    ms.iter()
        .map(|(name, m)| {
            let n = m
                .get("points")
                .and_then(Value::as_u64)
                .with_context(|| format!("{name}: no points"))?;
            Ok((name.clone(), n))
        })
        .collect()
}

/// Parses an inline expectation: `cpu=100 mem=20` (spaces or commas).
pub fn expected_inline(s: &str) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for item in s.split([' ', ',']).filter(|i| !i.is_empty()) {
        let Some((k, v)) = item.rsplit_once('=') else {
            bail!("expected name=count, got {item:?}")
        };
        out.insert(k.to_string(), v.parse().with_context(|| format!("count of {k}"))?);
    }
    Ok(out)
}

/// Compares observed with expected counts.
pub fn compare(observed: &BTreeMap<String, u64>, expected: &BTreeMap<String, u64>) -> String {
    let mut out = String::new();
    let mut bad = 0;
    for (name, want) in expected {
        match observed.get(name) {
            Some(got) if got == want => {}
            Some(got) => {
                bad += 1;
                let _ = writeln!(out, "{name}: got {got}, expected {want}");
            }
            None => {
                bad += 1;
                let _ = writeln!(out, "{name}: missing, expected {want}");
            }
        }
    }
    for (name, got) in observed {
        if !expected.contains_key(name) {
            bad += 1;
            let _ = writeln!(out, "{name}: got {got}, expected none");
        }
    }
    if bad == 0 {
        let points: u64 = observed.values().sum();
        let _ = writeln!(out, "counts match: {} measurements, {points} points", observed.len());
    } else {
        let _ = writeln!(out, "counts differ: {bad} measurements");
    }
    out
}

/// Lists counts, one `name=count` a line.
pub fn list(observed: &BTreeMap<String, u64>) -> String {
    if observed.is_empty() {
        return "no points\n".to_string();
    }
    observed.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_fixture_shape() {
        let v = json!({"server_state_at_full_backup":{"databases":{"telegraf":{"autogen":{"measurements":{
            "cpu":{"points":28704,"fields":{}},"http requests":{"points":19136}}}}}}});
        let e = expected_from_value(&v, DEFAULT_STATE, "telegraf", "").unwrap();
        assert_eq!(e.get("http requests"), Some(&19136));
        assert!(expected_from_value(&v, DEFAULT_STATE, "nope", "").is_err());
        assert!(expected_from_value(&v, "other", "telegraf", "").is_err());
    }

    #[test]
    fn fixture_file_has_every_database() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/influxdb-1.6/expected-counts.json");
        assert!(path.exists(), "fixtures missing: {} (../shared beside the repo)", path.display());
        let e = expected_from_json(&path, DEFAULT_STATE, "telegraf", "autogen").unwrap();
        assert_eq!(e.get("cpu"), Some(&28704));
        let e = expected_from_json(&path, DEFAULT_STATE, "metrics", "oneday").unwrap();
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn inline_and_compare() {
        let e = expected_inline("cpu=3, mem=2").unwrap();
        let mut o = BTreeMap::new();
        o.insert("cpu".to_string(), 3);
        o.insert("mem".to_string(), 2);
        assert_eq!(compare(&o, &e), "counts match: 2 measurements, 5 points\n");
        o.insert("cpu".to_string(), 4);
        o.remove("mem");
        o.insert("disk".to_string(), 1);
        assert_eq!(
            compare(&o, &e),
            "cpu: got 4, expected 3\nmem: missing, expected 2\ndisk: got 1, expected none\ncounts differ: 3 measurements\n"
        );
        assert_eq!(list(&o), "cpu=4\ndisk=1\n");
        assert!(expected_inline("cpu").is_err());
    }
}
