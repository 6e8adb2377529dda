//! Interop with the real InfluxDB 1.6 (Debian's `influxd`): a `ctl backup`
//! directory restores into it with `influxd restore -portable`, with equal
//! counts.

use std::process::Command;

use testkit::influxd::{Influxd, binary, run_bounded};

use crate::util::*;

#[test]
fn ctl_backup_restores_into_real_influxd() {
    let c = cluster(1, 2);
    ok(ctl(&c, &["restore", &fixtures().join("full").display().to_string()]));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    ok(ctl(&c, &["backup", "-strategy", "full", d]));
    let server = Influxd::start();
    let out = run_bounded(
        Command::new(binary("influxd")).args([
            "restore",
            "-portable",
            "-host",
            &server.rpc_addr(),
            d,
        ]),
        60,
    );
    assert!(
        out.status.success(),
        "influxd restore failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let exp = expected_counts();
    for (db, rps) in exp["server_state_at_full_backup"]["databases"].as_object().unwrap() {
        let want = expected(rps);
        for (rp, measurements) in want {
            let got = testkit::http::settle(
                &server.http_addr(),
                db,
                &rp,
                &measurements,
                std::time::Duration::from_secs(30),
            )
            .unwrap();
            assert_eq!(got, measurements, "{db}.{rp} in the real influxd");
        }
    }
}
