//! A real InfluxDB 1.x server (Debian's `influxd`) started on free loopback
//! ports with its own temp dirs, for interop tests. It is killed by PID when
//! dropped. A missing binary is a test failure that says what to install.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `influxd` binary, or a panic naming the Debian package.
pub fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} not found: interop tests need the real InfluxDB 1.x tools. \
         Install Debian's `influxdb` and `influxdb-client` packages \
         (apt-get install influxdb influxdb-client); .ci/run does."
    );
}

/// Runs a command with a deadline; past it the child is killed and the
/// test fails.
pub fn run_bounded(cmd: &mut Command, secs: u64) -> std::process::Output {
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("command starts");
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} still running after {secs} s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running influxd.
pub struct Influxd {
    child: Child,
    /// HTTP port.
    pub http: u16,
    /// RPC (backup/restore) port.
    pub rpc: u16,
    dir: tempfile::TempDir,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Influxd {
    /// Starts a server and waits until `/ping` answers.
    pub fn start() -> Influxd {
        let bin = binary("influxd");
        let dir = tempfile::tempdir().expect("temp dir");
        let (http, rpc) = (free_port(), free_port());
        let d = dir.path().display();
        let conf = format!(
            r#"reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
  retention-autocreate = true
  logging-enabled = false
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  index-version = "inmem"
  query-log-enabled = false
[monitor]
  store-enabled = false
[retention]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
[continuous_queries]
  enabled = false
[ifql]
  enabled = false
"#
        );
        let conf_path = dir.path().join("influxd.conf");
        std::fs::write(&conf_path, conf).expect("config");
        let log = std::fs::File::create(dir.path().join("influxd.log")).expect("log");
        let child = Command::new(bin)
            .arg("run")
            .arg("-config")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("influxd starts");
        let mut s = Influxd { child, http, rpc, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("influxd exited early ({st}):\n{}", s.log());
            }
            if let Ok((204, _)) = crate::http::request(&s.http_addr(), "GET", "/ping", &[], b"") {
                break;
            }
            assert!(Instant::now() < deadline, "influxd did not answer /ping:\n{}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// `127.0.0.1:<http>`.
    pub fn http_addr(&self) -> String {
        format!("127.0.0.1:{}", self.http)
    }

    /// `127.0.0.1:<rpc>`, what `influxd backup/restore -host` take.
    pub fn rpc_addr(&self) -> String {
        format!("127.0.0.1:{}", self.rpc)
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }

    /// The server's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
