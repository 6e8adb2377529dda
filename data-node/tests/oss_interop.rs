//! The real InfluxDB 1.6 `influxd backup -portable` / `influxd restore
//! -portable` (Debian's `influxdb`) against a testbed data node's cluster
//! port (the snapshotter protocol):
//!
//! - the fixture's full backup restores into a 2-data-node testbed through
//!   one data node, with the fixture's counts; the shards land on both
//!   nodes (the node forwards to the owners);
//! - the fixture's failing restores (existing database, no such database or
//!   RP, `-newdb` taken, `-rp` into an existing database) give the real
//!   server's text and exit code, byte for byte but the timestamps;
//! - `influxd backup -portable` of the testbed (asked of the data node that
//!   holds half the shards) prints what it printed against the real server
//!   and restores with equal counts both into a fresh testbed (`ctl
//!   restore`) and into a real influxd.
//!
//! Needs the binaries (`cargo build -p meta-node -p data-node -p ctl`) and
//! Debian's `influxdb` package.

mod oss_util;

use oss_util::*;

const DBS: [(&str, &str); 3] =
    [("telegraf", "autogen"), ("metrics", "autogen"), ("metrics", "oneday")];
const AT_FULL: &str = "server_state_at_full_backup";

fn assert_fixture_counts(http: &str, what: &str) {
    for (db, rp) in DBS {
        let want = expected(AT_FULL, db, rp);
        assert_eq!(settle(http, db, rp, &want), want, "{what}: {db}.{rp}");
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn real_influxd_backup_and_restore_against_a_data_node() {
    let c = cluster(2);
    let work = workdir(&["full", "rp-oneday"]);
    let w = work.path();
    let data1 = tcp(&c, "data1");

    // The full fixture, through data1.
    let t = transcript("restore_full");
    let o = influxd(w, &strs(&t.args(&data1)));
    let stdout = ok("influxd restore -portable (full)", &o);
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(mask).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&stdout), sorted(&t.stdout), "restore stdout");
    assert_eq!(err(&o), "");
    assert_fixture_counts(&http(&c, "data2"), "fixture restored through data1");
    let log1 = node_log(&c, "data1");
    assert!(log1.contains("shard forwarded"), "data1 forwarded nothing:\n{log1}");

    // influxd backup -portable of the testbed, asked of data2: the same
    // lines as against the real server the fixture was taken from.
    let o = influxd(w, &["backup", "-portable", "-host", &tcp(&c, "data2"), "backups/mine"]);
    let got = mask(&ok("influxd backup -portable", &o)).replace("backups/mine", "backups/full");
    assert_eq!(got, mask(&transcript("backup_full").stdout), "backup stdout");
    let mine = w.join("backups/mine");
    assert_eq!(ls(&mine).len(), 10, "{:?}", ls(&mine));
    // Into a fresh testbed with ctl restore.
    let c2 = cluster(1);
    ok("ctl restore", &ctl(&c2, &["restore", &mine.display().to_string()]));
    assert_fixture_counts(&http(&c2, "data1"), "testbed backup restored with ctl");
    drop(c2);
    // Into a real influxd with influxd restore.
    let real = testkit::influxd::Influxd::start();
    let o = influxd(w, &["restore", "-portable", "-host", &real.rpc_addr(), "backups/mine"]);
    ok("influxd restore -portable into influxd", &o);
    assert_fixture_counts(&real.http_addr(), "testbed backup restored into influxd");
    drop(real);

    // The failing restores: the real server's text and exit code.
    let o = influxd(w, &strs(&transcript("restore_db_newdb").args(&data1)));
    ok("restore -db telegraf -newdb telegraf_restored", &o);
    let want = expected(AT_FULL, "telegraf", "autogen");
    assert_eq!(settle(&http(&c, "data1"), "telegraf_restored", "autogen", &want), want);
    let run_dir = w.display().to_string();
    for name in [
        "restore_db_conflict",
        "restore_full_conflict",
        "restore_nosuchdb",
        "restore_nosuchrp",
        "restore_newdb_exists",
        "restore_rp_existing_db",
        "restore_portable_emptydir",
        "restore_nonportable_dir",
    ] {
        let mut t = transcript(name);
        t.cmd = t.cmd.replace("${RUN_DIR}", &run_dir);
        t.stderr = t.stderr.replace("${RUN_DIR}", &run_dir);
        let o = influxd(w, &strs(&t.args(&data1)));
        t.check(&o, name);
        // Our own client says the same.
        let o = data_node(w, &strs(&t.args(&data1)));
        t.check(&o, &format!("data-node {name}"));
    }
    // The node says why in its log.
    let log1 = node_log(&c, "data1");
    for why in [
        "database already exists",
        "imported metadata does not have database named nosuchdb",
        "retention policy not found in meta backup: metrics.nosuchrp",
    ] {
        assert!(log1.contains(why), "data1's log lacks {why:?}");
    }
}

#[test]
fn real_influxd_partial_backups_of_a_data_node() {
    let c = cluster(2);
    let work = workdir(&["full"]);
    let w = work.path();
    let data1 = tcp(&c, "data1");
    ok("restore", &influxd(w, &["restore", "-portable", "-host", &data1, "backups/full"]));
    assert_fixture_counts(&http(&c, "data1"), "fixture restored");
    // The fixture's partial backups, same command lines, same output.
    for name in ["backup_db_telegraf", "backup_rp_oneday", "backup_shard2"] {
        let t = transcript(name);
        let o = influxd(w, &strs(&t.args(&data1)));
        t.check(&o, name);
    }
    for (name, db, rp) in
        [("db-telegraf", "telegraf", "autogen"), ("rp-oneday", "metrics", "oneday")]
    {
        let got = counts_in_backup(&w.join("backups").join(name), db);
        assert_eq!(got.keys().collect::<Vec<_>>(), vec![rp], "{name}");
        assert_eq!(got[rp], expected(AT_FULL, db, rp), "{name}");
    }
    let shard2 = counts_in_backup(&w.join("backups/shard2"), "telegraf");
    assert_eq!(points(&shard2["autogen"]), 56778);
    // A database that does not exist: EOF, as from the real server.
    for name in ["backup_nosuchdb", "backup_nosuchrp"] {
        let t = transcript(name);
        let o = influxd(w, &strs(&t.args(&data1)));
        t.check(&o, name);
    }
    // The legacy format: the same lines as from the real server, and the
    // online restore of it.
    let t = transcript("backup_legacy_db");
    let o = influxd(w, &strs(&t.args(&data1)));
    t.check(&o, "backup_legacy_db");
    let o = influxd(
        w,
        &[
            "restore",
            "-online",
            "-host",
            &data1,
            "-db",
            "telegraf",
            "-newdb",
            "telegraf_legacy",
            "backups/legacy-db-telegraf",
        ],
    );
    ok("influxd restore -online", &o);
    let want = expected(AT_FULL, "telegraf", "autogen");
    assert_eq!(settle(&http(&c, "data2"), "telegraf_legacy", "autogen", &want), want);
    // A time window: whole blocks that touch it, as InfluxDB exports.
    let o = influxd(
        w,
        &[
            "backup",
            "-portable",
            "-host",
            &data1,
            "-start",
            "2026-11-10T00:00:00Z",
            "-end",
            "2026-11-12T00:00:00Z",
            "backups/win",
        ],
    );
    ok("backup window", &o);
    let win = counts_in_backup(&w.join("backups/win"), "telegraf");
    let n = points(&win["autogen"]);
    assert!((16_243..134_726).contains(&n), "window backup holds {n} points");
}
