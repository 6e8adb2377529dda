//! The runner's write, query and check machinery against a real InfluxDB
//! 1.6 server (`influxd`, Debian's `influxdb` package, which `.ci/run`
//! installs): the data node serves the same HTTP API, so what passes here
//! is what data scenarios rely on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scenarios::runner::{Options, Status, run_file};

/// A real influxd on loopback, killed (by PID) on drop.
struct Influxd {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_influxd() -> Influxd {
    let bin = ["/usr/bin/influxd", "/usr/local/bin/influxd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("influxd not found: install Debian's influxdb package (as .ci/run does)")
        });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let (http, rpc) = (free_port(), free_port());
    let conf = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
         [meta]\n  dir = \"{d}/meta\"\n  logging-enabled = false\n\
         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  index-version = \"inmem\"\n  query-log-enabled = false\n\
         [monitor]\n  store-enabled = false\n\
         [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n\
         [continuous_queries]\n  enabled = false\n"
    );
    let conf_path = dir.path().join("influxd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log = std::fs::File::create(dir.path().join("influxd.log")).unwrap();
    let child = Command::new(bin)
        .arg("run")
        .arg("-config")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Influxd { child, addr: format!("127.0.0.1:{http}"), _dir: dir };
    let until = Instant::now() + Duration::from_secs(20);
    let client = reqwest::blocking::Client::builder().no_proxy().build().unwrap();
    while client.get(format!("http://{}/ping", server.addr)).send().is_err() {
        assert!(Instant::now() < until, "influxd did not answer /ping within 20s");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

const SCENARIO: &str = r#"# The runner against a real InfluxDB 1.6.
query addr=ADDR "CREATE DATABASE telegraf"
query addr=ADDR "CREATE DATABASE gen"
---
no results
no results

write db=telegraf rp=autogen addr=ADDR $fixtures/dataset/telegraf.autogen.lp.gz
check counts db=telegraf rp=autogen addr=ADDR expect=$fixtures/expected-counts.json
---
wrote 134726 points
counts match: 6 measurements, 134726 points

write db=gen addr=ADDR precision=s "gen:http x,series=2,points=2,interval=1m"
query db=gen addr=ADDR "SELECT * FROM \"http x\" GROUP BY *"
---
> wrote 4 points
> name: http x
> tags: series=s0
> time                 value
> ----                 -----
> 2026-11-01T00:00:00Z 0
> 2026-11-01T00:01:00Z 1
>
> name: http x
> tags: series=s1
> time                 value
> ----                 -----
> 2026-11-01T00:00:00Z 0
> 2026-11-01T00:01:00Z 1

check lost-writes addr=ADDR
---
checked 134730 acknowledged points in 7 measurements
lost=0 duplicated=0

query db=gen addr=ADDR "DELETE FROM \"http x\" WHERE \"series\"='s1'"
check lost-writes addr=ADDR
---
no results
checked 134730 acknowledged points in 7 measurements
gen.(default).http x: acked=4 found=2 lost=2 duplicated=0
lost=2 duplicated=0

write db=nosuchdb addr=ADDR gen:cpu,points=3
query db=gen addr=ADDR "SELECT FROM"
---
wrote 0 of 3 points; 1 of 1 requests failed
HTTP 404: database not found: "nosuchdb"
error: error parsing query: found FROM, expected identifier, string, number, bool at line 1, char 8

# The docs' merge of a restored database (SELECT … INTO goes as a POST).
query addr=ADDR "CREATE DATABASE merged"
query db=gen addr=ADDR "SELECT * INTO merged..:MEASUREMENT FROM /.*/ GROUP BY *"
check counts db=merged addr=ADDR
---
no results
name: result
time                 written
----                 -------
1970-01-01T00:00:00Z 2
http x=2
"#;

#[test]
fn runner_against_real_influxd() {
    let server = start_influxd();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("influxd.scn");
    std::fs::write(&path, SCENARIO.replace("ADDR", &server.addr)).unwrap();
    let opts = Options {
        fixtures: scenarios::find_fixtures(Path::new(env!("CARGO_MANIFEST_DIR"))),
        timeout: Duration::from_secs(120),
        ..Options::default()
    };
    assert!(opts.fixtures.is_some(), "../shared/fixtures/influxdb-1.6 not found");
    let o = run_file(&path, "influxd", &opts);
    assert_eq!(o.status, Status::Pass, "{:?}\n{}", o.error, o.diff);
}
