//! Running scenario files: one file against fresh clusters ([`run_file`]),
//! and many files on a few worker threads, each bounded by a timeout
//! ([`run_all`]).
//!
//! Every cluster a scenario starts is owned by its [`Session`]; the session
//! is dropped when the scenario ends, fails or panics (the panic is caught
//! and reported), and dropping a testkit cluster kills its nodes by PID. A
//! scenario that overruns its deadline has its remaining commands skipped;
//! one that hangs inside a command anyway is reported as failed after a
//! grace period, and its nodes exit with this process (testkit nodes watch
//! their parent).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::diff;
use crate::script::{self, Script};
use crate::session::Session;

/// How long past its timeout a hung scenario is waited for.
pub const HANG_GRACE: Duration = Duration::from_secs(30);

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rewrite expected blocks with the actual output.
    pub update: bool,
    /// Per-scenario timeout.
    pub timeout: Duration,
    /// `$fixtures`.
    pub fixtures: Option<PathBuf>,
    /// Print every command to stderr as it runs.
    pub verbose: bool,
    /// Keep `$tmp` of every scenario.
    pub keep: bool,
    /// Worker threads.
    pub jobs: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            update: false,
            timeout: Duration::from_secs(120),
            fixtures: None,
            verbose: false,
            keep: false,
            jobs: 1,
        }
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Output matched.
    Pass,
    /// Output differed.
    Fail,
    /// Output differed and the file was rewritten (`--update`).
    Updated,
    /// The file could not be parsed, the runner panicked, or it hung.
    Error,
}

impl Status {
    /// The word printed for it.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Updated => "UPDATED",
            Status::Error => "ERROR",
        }
    }

    /// Whether the run counts as a failure.
    pub fn failed(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

/// The result of one scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// Name (path under `scenarios/`, without extension).
    pub name: String,
    /// File.
    pub path: PathBuf,
    /// Result.
    pub status: Status,
    /// Wall time.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Number of blocks.
    pub blocks: usize,
    /// Line numbers of the blocks whose output differed.
    pub failed_blocks: Vec<usize>,
    /// Unified diff of the file, expected → actual (empty when equal).
    pub diff: String,
    /// Why the scenario errored.
    pub error: Option<String>,
    /// `$tmp`, when kept.
    pub kept_tmp: Option<PathBuf>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl Outcome {
    fn error(name: &str, path: &Path, duration: Duration, msg: String) -> Outcome {
        Outcome {
            name: name.to_string(),
            path: path.to_path_buf(),
            status: Status::Error,
            duration,
            blocks: 0,
            failed_blocks: Vec::new(),
            diff: String::new(),
            error: Some(msg),
            kept_tmp: None,
        }
    }
}

/// Runs one scenario file.
pub fn run_file(path: &Path, name: &str, opts: &Options) -> Outcome {
    let started = Instant::now();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Outcome::error(
                name,
                path,
                started.elapsed(),
                format!("reading {}: {e}", path.display()),
            );
        }
    };
    let script = match script::parse(&text) {
        Ok(s) => s,
        Err(e) => return Outcome::error(name, path, started.elapsed(), format!("{e:#}")),
    };
    let mut session = match Session::new(opts.fixtures.clone(), started + opts.timeout) {
        Ok(s) => s,
        Err(e) => return Outcome::error(name, path, started.elapsed(), format!("{e:#}")),
    };
    let outputs = run_blocks(&mut session, &script, name, opts.verbose);
    let kept_tmp = if opts.keep { Some(session.keep_tmp()) } else { None };
    // (Without --keep the session, its clusters and $tmp are dropped here.)
    let failed_blocks: Vec<usize> = script
        .blocks
        .iter()
        .zip(&outputs)
        .filter(|(b, out)| {
            b.expected.as_deref().map(script::canonical) != Some(script::canonical(out))
        })
        .map(|(b, _)| b.line)
        .collect();
    let rendered = script::render(&script, &outputs);
    let mut status = if failed_blocks.is_empty() { Status::Pass } else { Status::Fail };
    let mut error = None;
    if opts.update && rendered != text {
        match std::fs::write(path, &rendered) {
            Ok(()) if status == Status::Fail => status = Status::Updated,
            Ok(()) => {}
            Err(e) => error = Some(format!("writing {}: {e}", path.display())),
        }
    }
    let diff = if status == Status::Fail {
        diff::unified(&text, &rendered, &path.display().to_string(), 3)
    } else {
        String::new()
    };
    Outcome {
        name: name.to_string(),
        path: path.to_path_buf(),
        status: if error.is_some() { Status::Error } else { status },
        duration: started.elapsed(),
        blocks: script.blocks.len(),
        failed_blocks,
        diff,
        error,
        kept_tmp,
    }
}

fn run_blocks(session: &mut Session, script: &Script, name: &str, verbose: bool) -> Vec<String> {
    let mut outputs = Vec::with_capacity(script.blocks.len());
    for b in &script.blocks {
        let mut out = String::new();
        for c in &b.commands {
            if verbose {
                eprintln!("  {name}:{} {}", c.line, c.text);
            }
            let t = session.exec(c);
            if verbose {
                for l in t.lines() {
                    eprintln!("  | {l}");
                }
            }
            out.push_str(&t);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
        }
        outputs.push(out);
    }
    outputs
}

/// Runs `run_file` on a thread, catching panics and giving up after the
/// timeout plus [`HANG_GRACE`].
pub fn run_guarded(path: &Path, name: &str, opts: &Options) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let (p, n, o) = (path.to_path_buf(), name.to_string(), opts.clone());
    let started = Instant::now();
    let spawned = std::thread::Builder::new().name(format!("scenario {name}")).spawn(move || {
        let res = std::panic::catch_unwind(AssertUnwindSafe(|| run_file(&p, &n, &o)));
        let _ = tx.send(res);
    });
    if let Err(e) = spawned {
        return Outcome::error(name, path, started.elapsed(), format!("starting a thread: {e}"));
    }
    match rx.recv_timeout(opts.timeout + HANG_GRACE) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::error(name, path, started.elapsed(), format!("runner panicked: {msg}"))
        }
        Err(_) => Outcome::error(
            name,
            path,
            started.elapsed(),
            format!("hung: still running {}s after its timeout", HANG_GRACE.as_secs()),
        ),
    }
}

/// A scenario to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Display name.
    pub name: String,
    /// File.
    pub path: PathBuf,
}

/// Runs every job on `opts.jobs` threads. `on_done` sees each outcome as it
/// finishes (for progress); the result is in job order.
pub fn run_all(jobs: &[Job], opts: &Options, mut on_done: impl FnMut(&Outcome)) -> Vec<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let jobs_arc: Arc<Vec<Job>> = Arc::new(jobs.to_vec());
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let workers = opts.jobs.clamp(1, jobs.len().max(1));
    for _ in 0..workers {
        let (next, jobs, tx, opts) = (next.clone(), jobs_arc.clone(), tx.clone(), opts.clone());
        std::thread::spawn(move || {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                if opts.verbose || jobs.len() > 1 {
                    eprintln!("[{}/{}] {}", i + 1, jobs.len(), job.name);
                }
                let o = run_guarded(&job.path, &job.name, &opts);
                if tx.send((i, o)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut results: Vec<Option<Outcome>> = vec![None; jobs.len()];
    for (i, o) in rx {
        on_done(&o);
        results[i] = Some(o);
    }
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn opts() -> Options {
        Options { timeout: Duration::from_secs(20), ..Options::default() }
    }

    #[test]
    fn passes_fails_and_updates_without_clusters() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), "good.scn", "# no cluster needed\nsleep 1ms\n---\nok\n");
        let o = run_file(&good, "good", &opts());
        assert_eq!(o.status, Status::Pass, "{o:?}");

        let bad = write(dir.path(), "bad.scn", "frob\n---\nok\n\nsleep 1ms\n---\nok\n");
        let o = run_file(&bad, "bad", &opts());
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.failed_blocks, vec![1]);
        assert!(o.diff.contains("+error: unknown command \"frob\""), "{}", o.diff);

        let o = run_file(&bad, "bad", &Options { update: true, ..opts() });
        assert_eq!(o.status, Status::Updated);
        let rewritten = std::fs::read_to_string(&bad).unwrap();
        assert!(rewritten.starts_with("frob\n---\nerror: unknown command"), "{rewritten}");
        assert_eq!(run_file(&bad, "bad", &opts()).status, Status::Pass);
    }

    #[test]
    fn parse_errors_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "p.scn", "query \"unterminated\n---\nok\n");
        let o = run_file(&p, "p", &opts());
        assert_eq!(o.status, Status::Error);
        assert!(o.error.unwrap().contains("line 1"));
        let o = run_file(&dir.path().join("missing.scn"), "m", &opts());
        assert_eq!(o.status, Status::Error);
    }

    #[test]
    fn timeout_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.scn", "sleep 2s\n---\nok\n\nsleep 1ms\n---\nok\n");
        let o = run_guarded(&p, "t", &Options { timeout: Duration::from_millis(300), ..opts() });
        assert_eq!(o.status, Status::Fail);
        assert!(o.diff.contains("+skipped: the scenario timeout was reached"), "{}", o.diff);
    }

    #[test]
    fn run_all_keeps_job_order() {
        let dir = tempfile::tempdir().unwrap();
        let jobs: Vec<Job> = (0..4)
            .map(|i| Job {
                name: format!("s{i}"),
                path: write(dir.path(), &format!("s{i}.scn"), "sleep 1ms\n---\nok\n"),
            })
            .collect();
        let mut seen = 0;
        let out = run_all(&jobs, &Options { jobs: 2, ..opts() }, |_| seen += 1);
        assert_eq!(seen, 4);
        let names: Vec<&str> = out.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, vec!["s0", "s1", "s2", "s3"]);
        assert!(out.iter().all(|o| o.status == Status::Pass));
    }
}
