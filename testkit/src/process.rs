//! One node process: spawn, readiness, signals.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Environment variable that makes a node exit when its parent dies, so no
/// node outlives the test or supervisor that started it.
pub const WATCH_PARENT_ENV: &str = "TESTBED_WATCH_PARENT";

/// A running (or stopped) child process.
pub struct Process {
    child: Option<Child>,
    pid: Option<u32>,
}

impl Process {
    /// Spawns `bin args…` with stdout and stderr appended to `log`.
    pub fn spawn(bin: &Path, args: &[String], log: &Path) -> Result<Process> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening log {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(bin)
            .args(args)
            .env(WATCH_PARENT_ENV, "1")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        Ok(Process { child: Some(child), pid: Some(pid) })
    }

    /// The process ID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The exit status, if the process has exited.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Sends a signal by PID.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        let pid = self.pid.context("process is not running")?;
        kill(Pid::from_raw(pid as i32), sig).with_context(|| format!("signal {sig} to {pid}"))
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Resume first: a stopped process still dies on SIGKILL, but
            // SIGCONT keeps ptrace-less tooling happy.
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGCONT);
            let _ = c.kill();
            let _ = c.wait();
        }
        self.pid = None;
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        if let Some(c) = self.child.as_mut() {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGCONT);
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    self.child = None;
                    self.pid = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `file` exists and parses as JSON, while `proc` stays alive.
pub fn wait_ready_file(
    proc: &mut Process,
    file: &Path,
    log: &Path,
    deadline: Duration,
) -> Result<serde_json::Value> {
    let until = Instant::now() + deadline;
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            return Ok(v);
        }
        if !proc.alive() {
            bail!(
                "node exited before it was ready ({}); last log lines:\n{}",
                proc.exit_status().map_or("unknown status".into(), |s| s.to_string()),
                tail(log, 20)
            );
        }
        if Instant::now() > until {
            bail!("node not ready after {:?}; last log lines:\n{}", deadline, tail(log, 20));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The last `n` lines of a file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Finds a workspace binary: `$TESTBED_BIN_DIR/<name>`, else next to the
/// running executable or one level up (target/<profile>/ for tests, whose
/// executables live in target/<profile>/deps/).
pub fn find_binary(name: &str) -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("TESTBED_BIN_DIR") {
        let p = PathBuf::from(dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
        bail!("{name} not found in TESTBED_BIN_DIR={}", p.display());
    }
    let exe = std::env::current_exe().context("locating the current executable")?;
    let mut dir = exe.parent().map(Path::to_path_buf);
    for _ in 0..3 {
        let Some(d) = dir else { break };
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    bail!(
        "the {name} binary was not found near {}: build the workspace first \
         (`cargo build --workspace`) or set TESTBED_BIN_DIR",
        exe.display()
    )
}
