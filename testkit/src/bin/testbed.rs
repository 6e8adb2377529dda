//! `testbed`: start, inspect, fault and stop local testbed clusters.
//!
//! ```text
//! testbed up --meta 3 --data 3 --rf 2 --dir DIR   start in the background, wait until ready
//! testbed status --dir DIR                        print DIR/cluster.json
//! testbed crash|restart|pause|resume|stop NODE --dir DIR
//! testbed partition A B --dir DIR / testbed heal --dir DIR
//! testbed down --dir DIR                          stop every node
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use testkit::{ClusterInfo, ClusterSpec, supervisor};

#[derive(Parser)]
#[command(name = "testbed", about = "Local InfluxDB Enterprise testbed clusters")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start a cluster in the background and wait until it is ready.
    Up {
        #[arg(long, default_value_t = 3)]
        meta: usize,
        #[arg(long, default_value_t = 0)]
        data: usize,
        /// Default replication factor of new databases.
        #[arg(long)]
        rf: Option<u32>,
        #[arg(long)]
        dir: PathBuf,
        /// Seconds to wait for the cluster.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Run the supervisor in the foreground (what `up` starts).
    #[command(hide = true)]
    Supervise {
        #[arg(long)]
        meta: usize,
        #[arg(long)]
        data: usize,
        #[arg(long)]
        rf: Option<u32>,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Print the cluster description (cluster.json).
    Status {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Stop every node and the supervisor.
    Down {
        #[arg(long)]
        dir: PathBuf,
    },
    /// SIGKILL a node.
    Crash {
        node: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Start a node again.
    Restart {
        node: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// SIGSTOP a node.
    Pause {
        node: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// SIGCONT a node.
    Resume {
        node: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Stop a node gracefully.
    Stop {
        node: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Cut the links between two nodes.
    Partition {
        a: String,
        b: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Restore every link.
    Heal {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Benchmark the testbed side by side with a real InfluxDB 1.6.
    Bench {
        /// Fixture dataset copies.
        #[arg(long, default_value_t = 10)]
        scale: u32,
        /// Runs per measurement (medians are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the markdown table here (e.g. docs/benchmarks.md).
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Do not run the real influxd even when installed.
        #[arg(long)]
        no_influxd: bool,
    },
    /// Set `section.key=value` in a node's config (applies at restart).
    Config {
        node: String,
        setting: String,
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(proto::goflags::normalize(std::env::args_os()));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testbed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Up { meta, data, rf, dir, timeout } => up(meta, data, rf, dir, timeout),
        Cmd::Supervise { meta, data, rf, dir } => {
            let spec = ClusterSpec { meta, data, rf, dir: Some(dir), ..Default::default() };
            supervisor::run(spec)
        }
        Cmd::Status { dir } => {
            let info = ClusterInfo::load(&dir)?;
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(())
        }
        Cmd::Down { dir } => down(&dir),
        Cmd::Bench { scale, runs, json, markdown, no_influxd } => {
            let opts = testkit::bench::Options { scale, runs, json, markdown, no_influxd };
            testkit::bench::run(&opts).map(|_| ())
        }
        Cmd::Crash { node, dir } => supervisor::send(&dir, &format!("crash {node}")),
        Cmd::Restart { node, dir } => supervisor::send(&dir, &format!("restart {node}")),
        Cmd::Pause { node, dir } => supervisor::send(&dir, &format!("pause {node}")),
        Cmd::Resume { node, dir } => supervisor::send(&dir, &format!("resume {node}")),
        Cmd::Stop { node, dir } => supervisor::send(&dir, &format!("stop {node}")),
        Cmd::Partition { a, b, dir } => supervisor::send(&dir, &format!("partition {a} {b}")),
        Cmd::Heal { dir } => supervisor::send(&dir, "heal"),
        Cmd::Config { node, setting, dir } => {
            supervisor::send(&dir, &format!("config {node} {setting}"))
        }
    }
}

fn up(meta: usize, data: usize, rf: Option<u32>, dir: PathBuf, timeout: u64) -> Result<()> {
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    if dir.join(supervisor::CONTROL_SOCKET).exists() && supervisor::send(&dir, "status").is_ok() {
        bail!("a testbed is already running in {}", dir.display());
    }
    let _ = std::fs::remove_file(dir.join("cluster.json"));
    let _ = std::fs::remove_file(dir.join(supervisor::START_ERROR_FILE));
    let exe = std::env::current_exe()?;
    let log = std::fs::File::create(dir.join("supervisor.log"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("supervise")
        .arg("--meta")
        .arg(meta.to_string())
        .arg("--data")
        .arg(data.to_string())
        .arg("--dir")
        .arg(&dir);
    if let Some(rf) = rf {
        cmd.arg("--rf").arg(rf.to_string());
    }
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting the testbed supervisor")?;
    let until = Instant::now() + Duration::from_secs(timeout);
    loop {
        if let Ok(info) = ClusterInfo::load(&dir)
            && info.control.is_some()
        {
            eprintln!("testbed: cluster ready in {}", dir.display());
            for n in &info.nodes {
                let a = &n.addrs;
                let addrs = [&a.api, &a.raft, &a.http, &a.tcp]
                    .iter()
                    .filter_map(|x| x.as_deref())
                    .collect::<Vec<_>>()
                    .join(" ");
                println!("{:<7} id={:<3} pid={:<8} {addrs}", n.name, n.id, n.pid.unwrap_or(0));
            }
            return Ok(());
        }
        if let Ok(e) = std::fs::read_to_string(dir.join(supervisor::START_ERROR_FILE)) {
            let _ = child.wait();
            bail!("the cluster failed to start: {e}");
        }
        if let Ok(Some(st)) = child.try_wait() {
            bail!("the supervisor exited ({st}); see {}", dir.join("supervisor.log").display());
        }
        if Instant::now() > until {
            let _ = child.kill();
            bail!("the cluster was not ready after {timeout}s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn down(dir: &std::path::Path) -> Result<()> {
    match supervisor::send(dir, "down") {
        Ok(()) => {}
        Err(e) => {
            // No supervisor: kill whatever cluster.json still lists, by PID.
            let info = ClusterInfo::load(dir).context(e)?;
            for n in info.nodes.iter().filter_map(|n| n.pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(n as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = std::fs::remove_file(dir.join("cluster.json"));
        }
    }
    eprintln!("testbed: stopped {}", dir.display());
    Ok(())
}
