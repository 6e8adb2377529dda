//! The process behind `testbed up`: it owns one cluster, keeps it running
//! after `testbed up` returns, and takes commands on `DIR/control.sock`, one
//! line each (`crash data2`, `partition meta1 meta2`, `heal`, `down`, …),
//! answering one JSON line.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cluster::{Cluster, ClusterSpec};

/// Name of the control socket inside the cluster directory.
pub const CONTROL_SOCKET: &str = "control.sock";
/// Written when the supervisor fails to start the cluster.
pub const START_ERROR_FILE: &str = "supervisor.err";

/// Starts the cluster described by `spec` (whose `dir` must be set) and
/// serves control commands until `down`.
pub fn run(spec: ClusterSpec) -> Result<()> {
    let dir = spec.dir.clone().context("supervisor needs a directory")?;
    std::fs::create_dir_all(&dir)?;
    let sock = dir.join(CONTROL_SOCKET);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(dir.join(START_ERROR_FILE));
    let mut cluster = match Cluster::start(spec) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::write(dir.join(START_ERROR_FILE), format!("{e:#}"));
            return Err(e);
        }
    };
    let listener =
        UnixListener::bind(&sock).with_context(|| format!("binding {}", sock.display()))?;
    cluster.set_control(sock.clone());
    cluster.write_info()?;
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut line = String::new();
        if BufReader::new(&conn).read_line(&mut line).is_err() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let (reply, down) = match handle(&mut cluster, &words) {
            Ok(down) => (serde_json::json!({"ok": true}), down),
            Err(e) => (serde_json::json!({"error": format!("{e:#}")}), false),
        };
        if down {
            // Stop everything before answering, so `testbed down` returns
            // only when no node is left.
            cluster.shutdown();
            let _ = std::fs::remove_file(&sock);
            let _ = std::fs::remove_file(dir.join("cluster.json"));
            let _ = writeln!(conn, "{reply}");
            return Ok(());
        }
        let _ = writeln!(conn, "{reply}");
    }
    cluster.shutdown();
    Ok(())
}

fn handle(c: &mut Cluster, words: &[&str]) -> Result<bool> {
    match words {
        ["down"] => return Ok(true),
        ["status"] => {}
        ["crash", n] => c.crash(n)?,
        ["stop", n] => c.stop(n)?,
        ["restart", n] => c.restart(n)?,
        ["pause", n] => c.pause(n)?,
        ["resume", n] => c.resume(n)?,
        ["partition", a, b] => c.partition(a, b)?,
        ["isolate", a] => c.isolate(a)?,
        ["heal"] => c.heal(),
        ["config", n, kv] => {
            let (k, v) = kv.split_once('=').context("config takes key=value")?;
            c.set_config(n, k, v)?;
        }
        _ => bail!("unknown command: {}", words.join(" ")),
    }
    c.write_info()?;
    Ok(false)
}

/// Sends one command to a supervisor and returns its answer.
pub fn send(dir: &Path, command: &str) -> Result<()> {
    let sock: PathBuf = dir.join(CONTROL_SOCKET);
    let mut conn = std::os::unix::net::UnixStream::connect(&sock)
        .with_context(|| format!("no testbed running in {} ({})", dir.display(), sock.display()))?;
    writeln!(conn, "{command}")?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line)?;
    let v: serde_json::Value =
        serde_json::from_str(line.trim()).context("bad answer from the testbed supervisor")?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("{e}");
    }
    Ok(())
}
