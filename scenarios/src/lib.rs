//! scenarios: scripted cluster histories run against real testbed clusters.
//!
//! ```text
//! scenarios run [--update] [--json] [--filter TEXT] [--jobs N] [--timeout SECS]
//!               [--pending] [--keep] [-v] [--compose FILE] <FILES OR DIRS>...
//! ```
//!
//! Each `.scn` file (format: [`script`]) runs against clusters it starts
//! itself (commands: [`commands`]); its output, masked ([`mask`]), is
//! compared with the expected blocks in the file. `--update` rewrites the
//! blocks. Directories are searched recursively for `*.scn`; directories
//! named `pending` (scenarios for features still being built, to be
//! completed with `--update`) are skipped unless `--pending` is given or a
//! file in one is named on the command line.
//!
//! stdout gets one `PASS|FAIL|ERROR name time` line per scenario, then a
//! summary table ending in `N passed, N failed`; with `--json`, one JSON
//! document instead. Diffs of failing scenarios and progress go to stderr.
//! Exit code: 0 when every scenario passed, 1 when one failed, 2 on usage
//! errors.

pub mod backend;
pub mod checks;
pub mod commands;
pub mod compose;
pub mod ctl;
pub mod diff;
pub mod generator;
pub mod http;
pub mod lineproto;
pub mod mask;
pub mod meta;
pub mod oracle;
pub mod repeat;
pub mod report;
pub mod runner;
pub mod script;
pub mod session;
pub mod wait;

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::runner::{Job, Options};

/// Extension of scenario files.
pub const SCENARIO_EXT: &str = "scn";
/// Directories of scenarios that are not run by default.
pub const PENDING_DIR: &str = "pending";
/// Environment variable overriding `$fixtures`.
pub const FIXTURES_ENV: &str = "TESTBED_FIXTURES";

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "scenarios", about = "Scripted cluster histories against local testbed clusters")]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run scenario files (or every *.scn under directories).
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Rewrite the expected blocks with the actual output.
    #[arg(long)]
    update: bool,
    /// Print a JSON report on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Only run scenarios whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Scenarios run at once.
    #[arg(long, short = 'j', default_value_t = 1)]
    jobs: usize,
    /// Per-scenario timeout, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Also run scenarios under `pending/` directories.
    #[arg(long)]
    pending: bool,
    /// Keep each scenario's $tmp directory (printed on stderr).
    #[arg(long)]
    keep: bool,
    /// Print every command and its output on stderr.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Run `cluster` commands against this docker-compose file's cluster
    /// (docker/docker-compose.yml) instead of local processes; one at a time.
    #[arg(long, value_name = "FILE")]
    compose: Option<PathBuf>,
}

/// Entry point of the binary.
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.cmd {
        Cmd::Run(a) => match run(a) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("scenarios: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn run(a: RunArgs) -> Result<bool> {
    let (jobs, skipped) = discover(&a.paths, a.pending, a.filter.as_deref())?;
    if jobs.is_empty() {
        bail!("no scenario found in {:?}", a.paths);
    }
    let fixtures = find_fixtures(&a.paths[0]);
    let opts = Options {
        update: a.update,
        timeout: Duration::from_secs(a.timeout),
        fixtures,
        verbose: a.verbose,
        keep: a.keep,
        jobs: if a.compose.is_some() { 1 } else { a.jobs },
    };
    if let Some(f) = &a.compose {
        compose::set_file(f)?;
    }
    let started = Instant::now();
    let json = a.json;
    let outcomes = runner::run_all(&jobs, &opts, |o| {
        if !json {
            println!("{}", report::line(o));
        }
        if !o.diff.is_empty() {
            eprintln!("{}", o.diff);
        }
        if let Some(e) = &o.error {
            eprintln!("{}: {e}", o.name);
        }
        if let Some(t) = &o.kept_tmp {
            eprintln!("{}: kept $tmp at {}", o.name, t.display());
        }
    });
    let total = started.elapsed();
    if json {
        println!("{}", serde_json::to_string_pretty(&report::json(&outcomes, skipped, total))?);
    } else {
        print!("\n{}", report::summary(&outcomes, skipped, total));
    }
    Ok(!outcomes.iter().any(|o| o.status.failed()))
}

/// Finds the scenarios to run; also returns how many pending ones were
/// left out.
pub fn discover(
    paths: &[PathBuf],
    pending: bool,
    filter: Option<&str>,
) -> Result<(Vec<Job>, usize)> {
    let mut files = Vec::new();
    let mut skipped = 0;
    for p in paths {
        if p.is_dir() {
            walk(p, pending, &mut files, &mut skipped)?;
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            bail!("{} does not exist", p.display());
        }
    }
    let mut jobs: Vec<Job> = Vec::new();
    for path in files {
        let name = scenario_name(&path);
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        if !jobs.iter().any(|j| j.path == path) {
            jobs.push(Job { name, path });
        }
    }
    Ok((jobs, skipped))
}

fn walk(dir: &Path, pending: bool, files: &mut Vec<PathBuf>, skipped: &mut usize) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let file_name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if p.is_dir() {
            if file_name.starts_with('.') || file_name == "target" {
                continue;
            }
            if file_name == PENDING_DIR && !pending {
                let mut n = Vec::new();
                walk(&p, true, &mut n, &mut 0)?;
                *skipped += n.len();
                continue;
            }
            walk(&p, pending, files, skipped)?;
        } else if p.extension().is_some_and(|e| e == SCENARIO_EXT) {
            files.push(p);
        }
    }
    Ok(())
}

/// A scenario's name: its path below the last `scenarios` directory,
/// without extension (`meta/show`), else its file stem.
pub fn scenario_name(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        return path.display().to_string();
    }
    let start = parts.iter().rposition(|p| p == "scenarios").map_or(parts.len() - 1, |i| i + 1);
    let mut name = parts[start.min(parts.len() - 1)..].join("/");
    if let Some(stripped) = name.strip_suffix(&format!(".{SCENARIO_EXT}")) {
        name = stripped.to_string();
    }
    name
}

/// `$fixtures`: `$TESTBED_FIXTURES`, else `../shared/fixtures/influxdb-1.6`
/// beside the workspace that holds `near` (or the current directory), else
/// beside the workspace this binary was built from.
pub fn find_fixtures(near: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(FIXTURES_ENV) {
        return Some(PathBuf::from(p));
    }
    let rel = Path::new("../shared/fixtures/influxdb-1.6");
    let mut starts = Vec::new();
    if let Ok(p) = near.canonicalize() {
        starts.push(p);
    }
    if let Ok(p) = std::env::current_dir() {
        starts.push(p);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for s in starts {
        for dir in s.ancestors() {
            let manifest = dir.join("Cargo.toml");
            let is_root =
                std::fs::read_to_string(&manifest).is_ok_and(|t| t.contains("[workspace]"));
            if is_root {
                let f = dir.join(rel);
                if f.is_dir() {
                    return f.canonicalize().ok();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(scenario_name(Path::new("scenarios/meta/show.scn")), "meta/show");
        assert_eq!(scenario_name(Path::new("/work/main/scenarios/pending/b1.scn")), "pending/b1");
        assert_eq!(scenario_name(Path::new("/tmp/x/y.scn")), "y");
    }

    #[test]
    fn discovery_skips_pending_unless_asked() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("scenarios");
        std::fs::create_dir_all(root.join("meta")).unwrap();
        std::fs::create_dir_all(root.join("pending")).unwrap();
        std::fs::write(root.join("meta/b.scn"), "").unwrap();
        std::fs::write(root.join("meta/a.scn"), "").unwrap();
        std::fs::write(root.join("meta/notes.md"), "").unwrap();
        std::fs::write(root.join("pending/p.scn"), "").unwrap();
        let (jobs, skipped) = discover(std::slice::from_ref(&root), false, None).unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, vec!["meta/a", "meta/b"]);
        assert_eq!(skipped, 1);
        let (jobs, skipped) = discover(std::slice::from_ref(&root), true, Some("p")).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].name, "pending/p");
        assert_eq!(skipped, 0);
        // A pending file named explicitly runs.
        let (jobs, _) = discover(&[root.join("pending/p.scn")], false, None).unwrap();
        assert_eq!(jobs.len(), 1);
        assert!(discover(&[root.join("nope")], false, None).is_err());
    }

    #[test]
    fn fixtures_are_found_from_the_workspace() {
        let f = find_fixtures(Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(
            f.as_ref().is_some_and(|p| p.join("expected-counts.json").is_file()),
            "fixtures not found: {f:?} (../shared beside the repository)"
        );
    }
}
