//! Runs the real `ctl` binary, bounded in time, and renders what it did:
//! its stdout, then its stderr with every line prefixed `stderr: `, then
//! `exit: N` when the exit code is not 0.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What one `ctl` run produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtlRun {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// Whether the runner killed it at the timeout.
    pub timed_out: bool,
}

/// Whether ctl arguments already name a meta node (`-bind`, `--bind=…`).
pub fn has_bind(args: &[String]) -> bool {
    args.iter().any(|a| {
        let flag = a.trim_start_matches('-');
        a.starts_with('-') && (flag == "bind" || flag.starts_with("bind="))
    })
}

/// Runs `bin args…`; kills it (by PID, it is our child) after `timeout`.
pub fn run(bin: &Path, args: &[String], timeout: Duration) -> Result<CtlRun> {
    let mut child = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut out = child.stdout.take().context("ctl stdout")?;
    let mut err = child.stderr.take().context("ctl stderr")?;
    // Readers send what they read; a grandchild that kept a pipe open
    // cannot hold the runner past the timeout (see `collect`).
    let (out_tx, out_rx) = std::sync::mpsc::channel();
    let (err_tx, err_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        let _ = out_tx.send(s);
    });
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        let _ = err_tx.send(s);
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().context("waiting for ctl")? {
            break st;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().context("reaping ctl")?;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let collect = |rx: std::sync::mpsc::Receiver<Vec<u8>>| {
        let bytes = rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let stdout = collect(out_rx);
    let stderr = collect(err_rx);
    Ok(CtlRun { stdout, stderr, code: status.code(), timed_out })
}

/// Renders a run for an expected block.
pub fn render(r: &CtlRun) -> String {
    let mut s = r.stdout.clone();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    for l in r.stderr.lines() {
        s.push_str("stderr: ");
        s.push_str(l);
        s.push('\n');
    }
    if r.timed_out {
        s.push_str("killed: ctl did not exit before the scenario timeout\n");
    } else {
        match r.code {
            Some(0) => {}
            Some(n) => s.push_str(&format!("exit: {n}\n")),
            None => s.push_str("exit: killed by a signal\n"),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bind_detection() {
        assert!(has_bind(&strings(&["-bind", "x", "show"])));
        assert!(has_bind(&strings(&["--bind=x", "show"])));
        assert!(!has_bind(&strings(&["-bind-tls", "show"])));
        assert!(!has_bind(&strings(&["show", "bind"])));
    }

    #[test]
    fn renders_stdout_stderr_and_exit() {
        let r = CtlRun {
            stdout: "a\nb".into(),
            stderr: "show: no leader\n".into(),
            code: Some(1),
            timed_out: false,
        };
        assert_eq!(render(&r), "a\nb\nstderr: show: no leader\nexit: 1\n");
        let ok = CtlRun { stdout: "x\n".into(), code: Some(0), ..Default::default() };
        assert_eq!(render(&ok), "x\n");
    }

    #[test]
    fn runs_and_times_out() {
        let sh = Path::new("/bin/sh");
        let r =
            run(sh, &strings(&["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(5))
                .unwrap();
        assert_eq!(render(&r), "out\nstderr: err\nexit: 3\n");
        let started = Instant::now();
        let r = run(sh, &strings(&["-c", "exec sleep 5"]), Duration::from_millis(200)).unwrap();
        assert!(r.timed_out);
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
