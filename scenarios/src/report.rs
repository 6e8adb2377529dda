//! What `scenarios run` prints: one line per scenario as it finishes, a
//! summary table, and a closing `N passed, N failed` line; or, with
//! `--json`, one JSON document.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::runner::{Outcome, Status};

/// Formats a duration as seconds with one decimal (`3.2s`).
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The line printed when a scenario finishes: `PASS meta/show 3.2s`.
pub fn line(o: &Outcome) -> String {
    let mut s = format!("{} {} {}", o.status.word(), o.name, secs(o.duration));
    if let Some(e) = &o.error {
        let _ = write!(s, ": {}", e.lines().next().unwrap_or_default());
    }
    s
}

/// Totals of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Passed (including updated).
    pub passed: usize,
    /// Failed or errored.
    pub failed: usize,
    /// Rewritten by `--update`.
    pub updated: usize,
    /// Pending scenarios not run.
    pub skipped: usize,
}

/// Counts outcomes.
pub fn totals(outcomes: &[Outcome], skipped: usize) -> Totals {
    let mut t = Totals { skipped, ..Totals::default() };
    for o in outcomes {
        if o.status.failed() {
            t.failed += 1;
        } else {
            t.passed += 1;
        }
        if o.status == Status::Updated {
            t.updated += 1;
        }
    }
    t
}

/// The summary table and closing line.
pub fn summary(outcomes: &[Outcome], skipped: usize, total: Duration) -> String {
    let width = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0).max("scenario".len());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<width$}  {:<7}  {:>7}  {:>6}  failed blocks (line)",
        "scenario", "result", "time", "blocks"
    );
    for o in outcomes {
        let lines: Vec<String> = o.failed_blocks.iter().map(usize::to_string).collect();
        let row = format!(
            "{:<width$}  {:<7}  {:>7}  {:>6}  {}",
            o.name,
            o.status.word(),
            secs(o.duration),
            o.blocks,
            lines.join(" ")
        );
        let _ = writeln!(s, "{}", row.trim_end());
    }
    let t = totals(outcomes, skipped);
    let mut notes = vec![format!("total {}", secs(total))];
    if t.updated > 0 {
        notes.push(format!("{} updated", t.updated));
    }
    if skipped > 0 {
        notes.push(format!("{skipped} pending not run (--pending runs them)"));
    }
    let _ = writeln!(s, "{}", notes.join("; "));
    let _ = write!(s, "{} passed, {} failed", t.passed, t.failed);
    if skipped > 0 {
        let _ = write!(s, ", {skipped} skipped");
    }
    s.push('\n');
    s
}

/// The `--json` report.
pub fn json(outcomes: &[Outcome], skipped: usize, total: Duration) -> Value {
    let t = totals(outcomes, skipped);
    json!({
        "passed": t.passed,
        "failed": t.failed,
        "updated": t.updated,
        "skipped": t.skipped,
        "duration": (total.as_secs_f64() * 1000.0).round() / 1000.0,
        "scenarios": outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn outcome(name: &str, status: Status, failed_blocks: Vec<usize>) -> Outcome {
        Outcome {
            name: name.into(),
            path: PathBuf::from(format!("scenarios/{name}.scn")),
            status,
            duration: Duration::from_millis(3240),
            blocks: 4,
            failed_blocks,
            diff: String::new(),
            error: None,
            kept_tmp: None,
        }
    }

    #[test]
    fn lines_and_summary() {
        let os = vec![
            outcome("meta/show", Status::Pass, vec![]),
            outcome("meta/quorum", Status::Fail, vec![7, 12]),
        ];
        assert_eq!(line(&os[0]), "PASS meta/show 3.2s");
        let mut e = outcome("x", Status::Error, vec![]);
        e.error = Some("line 1: unterminated \" quote\nmore".into());
        assert_eq!(line(&e), "ERROR x 3.2s: line 1: unterminated \" quote");
        let s = summary(&os, 2, Duration::from_secs(7));
        assert_eq!(
            s,
            "scenario     result      time  blocks  failed blocks (line)\n\
             meta/show    PASS        3.2s       4\n\
             meta/quorum  FAIL        3.2s       4  7 12\n\
             total 7.0s; 2 pending not run (--pending runs them)\n\
             1 passed, 1 failed, 2 skipped\n"
        );
    }

    #[test]
    fn json_report() {
        let os = vec![outcome("a", Status::Updated, vec![1])];
        let v = json(&os, 0, Duration::from_millis(1500));
        assert_eq!(v["passed"], 1);
        assert_eq!(v["updated"], 1);
        assert_eq!(v["duration"], 1.5);
        assert_eq!(v["scenarios"][0]["status"], "updated");
        assert_eq!(v["scenarios"][0]["duration"], 3.24);
        assert_eq!(v["scenarios"][0]["failed_blocks"][0], 1);
    }
}
