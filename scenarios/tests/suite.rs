//! End to end: the meta scenarios against real meta-node and ctl processes,
//! and the `scenarios` binary's report and exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use scenarios::runner::{Options, Status, run_all};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binaries the scenarios start. A missing one fails the test: the
/// suite must never pass by skipping.
fn require_binaries() {
    for name in ["meta-node", "ctl"] {
        if let Err(e) = testkit::process::find_binary(name) {
            panic!(
                "{e:#}\nrun `cargo build --workspace` first: the scenarios need the {name} binary"
            );
        }
    }
}

#[test]
fn meta_scenarios_pass() {
    require_binaries();
    let dir = manifest_dir().join("meta");
    let (jobs, skipped) = scenarios::discover(std::slice::from_ref(&dir), false, None).unwrap();
    assert!(jobs.len() >= 5, "expected the meta scenarios in {}, found {jobs:?}", dir.display());
    assert_eq!(skipped, 0);
    let opts = Options {
        fixtures: scenarios::find_fixtures(&dir),
        timeout: Duration::from_secs(120),
        ..Options::default()
    };
    let outcomes = run_all(&jobs, &opts, |_| {});
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != Status::Pass)
        .map(|o| format!("{} {:?} {:?}\n{}", o.name, o.status, o.error, o.diff))
        .collect();
    assert!(failed.is_empty(), "failing scenarios:\n{}", failed.join("\n"));
}

fn scenarios_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scenarios"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn cli_exit_codes_and_reports() {
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "good.scn", "sleep 1ms\n---\nok\n");
    let bad = write(d.path(), "bad.scn", "sleep 1ms\n---\nsomething else\n");

    let out = scenarios_bin().arg("run").arg(&good).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("PASS good "), "{stdout}");
    assert!(stdout.ends_with("1 passed, 0 failed\n"), "{stdout}");

    let out = scenarios_bin().arg("run").arg(&good).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("-something else\n+ok"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("1 passed, 1 failed\n"));

    let out = scenarios_bin().args(["run", "--json"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed"], 1);
    assert_eq!(v["scenarios"][0]["status"], "fail");

    let out = scenarios_bin().args(["run", "--update"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "sleep 1ms\n---\nok\n");

    let out = scenarios_bin().args(["run", "--nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = scenarios_bin().arg("run").arg(d.path().join("missing")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
