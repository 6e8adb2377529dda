//! The official Python `influxdb` client (PyPI; `.ci/run` installs it)
//! against a testbed cluster: writes (JSON and line protocol), queries,
//! errors. Fails loudly when python3 or the module is missing.

use std::process::Command;

use testkit::{Cluster, ClusterSpec};

#[test]
fn python_influxdb_client_writes_and_queries() {
    let probe = Command::new("python3").args(["-c", "import influxdb"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "python3 with the `influxdb` module is required (pip install influxdb; .ci/run does)"
        ),
    }
    let c = Cluster::start(ClusterSpec { meta: 1, data: 2, rf: Some(2), ..Default::default() })
        .expect("cluster starts");
    let http = c.data_http()[0].clone();
    let (host, port) = http.rsplit_once(':').unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_check.py");
    let out =
        testkit::influxd::run_bounded(Command::new("python3").args([script, host, port]), 120);
    assert!(
        out.status.success(),
        "python client check failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
