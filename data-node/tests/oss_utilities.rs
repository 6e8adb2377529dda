//! `data-node backup` / `data-node restore` (InfluxDB OSS's `influxd
//! backup` / `influxd restore`) against a testbed data node: every example
//! of the OSS backup-and-restore page, legacy ones included, with the
//! fixture's console text where the fixture has the same command; the flag
//! rules; and bad input (a wrong port, unknown request types, cut streams)
//! on both sides.
//!
//! Needs the binaries (`cargo build -p meta-node -p data-node -p ctl`).

mod oss_util;

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use oss_util::*;

const AT_FULL: &str = "server_state_at_full_backup";

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs a fixture transcript's command with `data-node` and checks it.
fn replay(w: &Path, name: &str, host: &str) {
    let t = transcript(name);
    let o = data_node(w, &strs(&t.args(host)));
    t.check(&o, &format!("data-node {name}"));
}

fn all_counts_in_backup(dir: &Path) -> [(String, Counts); 3] {
    let tg = counts_in_backup(dir, "telegraf");
    let m = counts_in_backup(dir, "metrics");
    [
        ("telegraf.autogen".into(), tg.get("autogen").cloned().unwrap_or_default()),
        ("metrics.autogen".into(), m.get("autogen").cloned().unwrap_or_default()),
        ("metrics.oneday".into(), m.get("oneday").cloned().unwrap_or_default()),
    ]
}

fn fixture_counts() -> [(String, Counts); 3] {
    [
        ("telegraf.autogen".into(), expected(AT_FULL, "telegraf", "autogen")),
        ("metrics.autogen".into(), expected(AT_FULL, "metrics", "autogen")),
        ("metrics.oneday".into(), expected(AT_FULL, "metrics", "oneday")),
    ]
}

fn query(http: &str, db: &str, q: &str) -> serde_json::Value {
    testkit::http::query(http, db, q).expect("query").1
}

#[test]
fn oss_page_examples() {
    let mut c = cluster(1);
    // Restores read the fixture through w/backups/full; backups write into
    // b/backups (never into a fixture link).
    let work = workdir(&["full"]);
    let w = work.path();
    let bwork = workdir(&[]);
    let b = bwork.path();
    let tcp = tcp(&c, "data1");
    let http = http(&c, "data1");

    // restore -portable PATH: everything (the client waits for each shard).
    let o = data_node(w, &["restore", "-portable", "-host", &tcp, "backups/full"]);
    let lines = ok("restore -portable", &o);
    assert_eq!(lines.lines().count(), 8, "{lines}");
    for (db, rp) in [("telegraf", "autogen"), ("metrics", "autogen"), ("metrics", "oneday")] {
        assert_eq!(counts(&http, db, rp), expected(AT_FULL, db, rp), "{db}.{rp}");
    }

    // Configuring remote connections: backup -portable -database X -host H PATH.
    replay(b, "backup_db_telegraf", &tcp);
    let db = counts_in_backup(&b.join("backups/db-telegraf"), "");
    assert_eq!(db.len(), 1);
    assert_eq!(db["autogen"], expected(AT_FULL, "telegraf", "autogen"));
    // backup -portable PATH: everything.
    replay(b, "backup_full", &tcp);
    assert_eq!(all_counts_in_backup(&b.join("backups/full")), fixture_counts());
    // backup -portable -start T PATH (recently changed data): InfluxDB keeps
    // the blocks starting at or before T; all of the fixture's data here.
    replay(b, "backup_incr_start", &tcp);
    assert_eq!(all_counts_in_backup(&b.join("backups/incr")), fixture_counts());
    // backup -portable -database X -start T1 -end T2 PATH: whole blocks
    // touching the window.
    let o = data_node(
        b,
        &[
            "backup",
            "-portable",
            "-database",
            "telegraf",
            "-host",
            &tcp,
            "-start",
            "2026-11-10T00:00:00Z",
            "-end",
            "2026-11-12T00:00:00Z",
            "backups/window",
        ],
    );
    let s = ok("backup window", &o);
    assert!(s.contains("with boundaries start=2026-11-10T00:00:00Z, end=2026-11-12T00:00:00Z"));
    let n = points(&counts_in_backup(&b.join("backups/window"), "telegraf")["autogen"]);
    assert!((16_243..134_726).contains(&n), "window backup holds {n} points");

    // restore -portable -db X -newdb Y, -rp/-newrp, -shard.
    replay(w, "restore_db_newdb", &tcp);
    assert_eq!(
        counts(&http, "telegraf_restored", "autogen"),
        expected(AT_FULL, "telegraf", "autogen")
    );
    replay(w, "restore_rp_newrp", &tcp);
    assert_eq!(counts(&http, "metrics_newrp", "day1"), expected(AT_FULL, "metrics", "oneday"));
    let rps = query(&http, "metrics_newrp", "SHOW RETENTION POLICIES ON metrics_newrp");
    let rows = rps["results"][0]["series"][0]["values"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rps}");
    assert_eq!(rows[0][0], "day1");
    assert_eq!(rows[0].as_array().unwrap().last().unwrap(), true, "day1 is the default: {rps}");
    replay(w, "restore_shard2", &tcp);
    assert_eq!(points(&counts(&http, "telegraf_shard2", "autogen")), 56778);
    // A backup of ours restores too.
    let o = data_node(
        b,
        &[
            "restore",
            "-portable",
            "-host",
            &tcp,
            "-db",
            "telegraf",
            "-newdb",
            "telegraf_mine",
            "backups/db-telegraf",
        ],
    );
    ok("restore own backup", &o);
    assert_eq!(counts(&http, "telegraf_mine", "autogen"), expected(AT_FULL, "telegraf", "autogen"));

    // Legacy: backing up the metastore, then a database.
    replay(b, "backup_legacy_full", &tcp);
    assert_eq!(ls(&b.join("backups/legacy-full")), ["meta.00"]);
    replay(b, "backup_legacy_db", &tcp);
    assert_eq!(
        ls(&b.join("backups/legacy-db-telegraf")),
        [
            "meta.00",
            "telegraf.autogen.00001.00",
            "telegraf.autogen.00002.00",
            "telegraf.autogen.00003.00"
        ]
    );
    // The page's real-world example: -retention and -since; meta.01 and
    // .01 files next to the first backup.
    let o = data_node(
        b,
        &[
            "backup",
            "-database",
            "telegraf",
            "-retention",
            "autogen",
            "-since",
            "2016-02-01T00:00:00Z",
            "-host",
            &tcp,
            "backups/legacy-db-telegraf",
        ],
    );
    let got = mask(&ok("legacy -since backup", &o));
    let dir = "backups/legacy-db-telegraf";
    let mut want = format!(
        "TS backing up metastore to {dir}/meta.01\nTS backing up rp=autogen since 2016-02-01T00:00:00Z\n"
    );
    for id in 1..=3 {
        want.push_str(&format!(
            "TS backing up db=telegraf rp=autogen shard={id} to {dir}/telegraf.autogen.0000{id}.01 since 2016-02-01T00:00:00Z\n"
        ));
    }
    want.push_str(&format!("TS backup complete:\nTS \t{dir}/{dir}/meta.01\n"));
    for id in 1..=3 {
        want.push_str(&format!("TS \t{dir}/{dir}/telegraf.autogen.0000{id}.01\n"));
    }
    assert_eq!(got, want);

    // restore -online: the legacy format through the snapshotter.
    let o = data_node(
        b,
        &[
            "restore",
            "-online",
            "-host",
            &tcp,
            "-db",
            "telegraf",
            "-newdb",
            "telegraf_online",
            "backups/legacy-db-telegraf",
        ],
    );
    assert_eq!(
        mask(&ok("restore -online", &o)),
        format!(
            "TS Using metastore snapshot: {dir}/meta.01\nTS Restoring live from backup {dir}/telegraf.*\n"
        )
    );
    assert_eq!(
        counts(&http, "telegraf_online", "autogen"),
        expected(AT_FULL, "telegraf", "autogen")
    );

    // Offline legacy restore. Refused while the data node runs.
    let datadir = node_dir(&c, "data1").join("data").display().to_string();
    let metadir = node_dir(&c, "data1").join("meta").display().to_string();
    let o = data_node(b, &["restore", "-database", "telegraf", "-datadir", &datadir, dir]);
    assert_eq!(code(&o), 1);
    assert!(
        err(&o).contains(
            "is locked by a running data node: an offline restore needs the data node stopped"
        ),
        "{}",
        err(&o)
    );
    // Lose the database, stop the node, restore the metastore then the data.
    query(&http, "", "DROP DATABASE telegraf");
    c.stop("data1").unwrap();
    let o = data_node(b, &["restore", "-metadir", &metadir, dir]);
    assert_eq!(ok("restore -metadir", &o), format!("Using metastore snapshot: {dir}/meta.01\n"));
    let o = data_node(b, &["restore", "-database", "telegraf", "-datadir", &datadir, dir]);
    assert_eq!(
        mask(&ok("restore -datadir", &o)),
        format!("TS Restoring offline from backup {dir}/telegraf.*\n")
    );
    c.restart("data1").unwrap();
    let http = oss_util::http(&c, "data1");
    assert_eq!(counts(&http, "telegraf", "autogen"), expected(AT_FULL, "telegraf", "autogen"));
    let dbs = query(&http, "", "SHOW DATABASES").to_string();
    for db in ["telegraf", "metrics", "telegraf_restored"] {
        assert!(dbs.contains(&format!("\"{db}\"")), "{db} missing: {dbs}");
    }
}

#[test]
fn flag_rules_and_client_errors() {
    let work = workdir(&["full"]);
    let w = work.path();
    let host = "127.0.0.1:1";
    for name in ["backup_start_after_end", "backup_since_and_start", "restore_nonportable_dir"] {
        replay(w, name, host);
    }
    let mut t = transcript("restore_portable_emptydir");
    let run_dir = w.display().to_string();
    t.cmd = t.cmd.replace("${RUN_DIR}", &run_dir);
    t.stderr = t.stderr.replace("${RUN_DIR}", &run_dir);
    let o = data_node(w, &strs(&t.args(host)));
    t.check(&o, "restore_portable_emptydir");
    // -help: the usage on stdout, `flag: help requested`, exit 1.
    for (cmd, file) in [("backup", "backup_help.txt"), ("restore", "restore_help.txt")] {
        let o = data_node(w, &[cmd, "-help"]);
        let want = std::fs::read_to_string(fixtures().join("console").join(file)).unwrap();
        let usage = want.split(&format!("{cmd}: flag: help requested")).next().unwrap();
        assert_eq!(out(&o), usage, "{cmd} -help");
        assert_eq!(err(&o), format!("{cmd}: flag: help requested\n"));
        assert_eq!(code(&o), 1);
    }
    for (args, want) in [
        (vec!["backup", "-portable"], "backup: Exactly one backup path is required.\n"),
        (vec!["backup", "a", "b"], "backup: Exactly one backup path is required.\n"),
        (
            vec!["backup", "-since", "yesterday", "x"],
            "backup: parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\"\n",
        ),
        (vec!["restore", "-portable"], "restore: path with backup files required\n"),
        (
            vec!["restore", "-portable", "-newdb", "x", "backups/full"],
            "restore: must specify a database to be restored into new database x\n",
        ),
        (
            vec!["restore", "-portable", "-metadir", "m", "backups/full"],
            "restore: offline parameter metadir found, not compatible with -portable\n",
        ),
        (
            vec!["restore", "-online", "-datadir", "d", "backups/full"],
            "restore: offline parameter datadir found, not compatible with -portable\n",
        ),
        (vec!["restore", "backups/full"], "restore: -metadir or -newdb are required to restore\n"),
        (vec!["restore", "-portable", "."], "restore: No manifest files found in: .\n\n"),
        (
            vec!["restore", "-shard", "x", "backups/full"],
            "restore: invalid value \"x\" for flag -shard: parse error\n",
        ),
    ] {
        let o = data_node(w, &args);
        assert_eq!(err(&o), want, "{args:?}");
        assert_eq!(code(&o), 1, "{args:?}");
    }
    // An unknown flag: Go's line and the usage.
    let o = data_node(w, &["backup", "-nope", "x"]);
    assert_eq!(
        err(&o),
        "flag provided but not defined: -nope\nbackup: flag provided but not defined: -nope\n"
    );
    assert!(out(&o).contains("Usage: influxd backup [options] PATH"));
    // Nothing listens: Go's dial error, two retries, and a hint.
    let o = data_node(w, &["backup", "-portable", "-host", host, "backups/refused"]);
    assert_eq!(code(&o), 1);
    let e = mask(&err(&o));
    assert!(
        e.starts_with(
            "TS Download shard 0 failed dial tcp 127.0.0.1:1: connect: connection refused.  Waiting 2s and retrying (0)...\n"
        ),
        "{e}"
    );
    assert!(e.ends_with("backup: dial tcp 127.0.0.1:1: connect: connection refused (is a data node listening there? -host takes its TCP bind address, default port 8088)\n"), "{e}");
}

/// A fake snapshotter: answers every request with `answer(type)`.
fn fake_server(answer: fn(u8) -> Vec<u8>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut head = [0u8; 2];
            if conn.read_exact(&mut head).is_err() {
                continue;
            }
            let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = conn.write_all(&answer(head[1]));
        }
    });
    addr
}

fn cut_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(1000);
    h.set_mode(0o644);
    b.append_data(&mut h, "db/rp/1/000000001-000000001.tsm", &[7u8; 1000][..]).unwrap();
    let mut v = b.into_inner().unwrap();
    v.truncate(512 + 100);
    v
}

#[test]
fn bad_input() {
    let c = cluster(1);
    let work = workdir(&["full"]);
    let w = work.path();
    let tcp = tcp(&c, "data1");
    let http = http(&c, "data1");
    ok(
        "restore",
        &data_node(w, &["restore", "-portable", "-host", &tcp, "-db", "telegraf", "backups/full"]),
    );

    // The HTTP port instead of the TCP one: a clear error here, the real
    // tool's confusion there, a log line on the node, which keeps serving.
    let o = data_node(w, &["backup", "-portable", "-host", &http, "backups/wrong"]);
    assert_eq!(code(&o), 1);
    let e = err(&o);
    assert!(e.contains("answered in HTTP (\"HTTP/1.1 400 Bad Request\"), not in the snapshotter protocol: -host takes a data node's TCP bind address (bind-address, port 8088 by default), not its HTTP address (port 8086)"), "{e}");
    let o = data_node(
        w,
        &["restore", "-portable", "-host", &http, "-db", "telegraf", "-newdb", "x", "backups/full"],
    );
    assert_eq!(code(&o), 1);
    assert!(
        err(&o).contains("error updating meta: ") && err(&o).contains("answered in HTTP"),
        "{}",
        err(&o)
    );
    let o = influxd(w, &["backup", "-portable", "-host", &http, "backups/wrong-real"]);
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("invalid metadata received"), "{}", err(&o));
    assert!(node_log(&c, "data1").contains("connected to the HTTP port"));

    // Unknown request types and garbage: closed without a byte, logged.
    for (bytes, logged) in [
        (&b"\x03\x09{}\n"[..], "request type unknown: 9"),
        (&b"\x03\x02{}\n"[..], "request type unknown: 2"),
        (&b"\x03\x01HELLO\n"[..], "invalid character 'H' looking for beginning of value"),
        (&b"\x03\x01{\"Type\":1"[..], "the JSON request ends after 9 bytes"),
        (
            &b"\x03\x06{\"BackupDatabase\":\"x\",\"UploadSize\":100}\nabc"[..],
            "the connection closed before the 100 bytes of metadata",
        ),
    ] {
        let mut s = TcpStream::connect(&tcp).unwrap();
        s.write_all(bytes).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        assert!(answer.is_empty(), "{logged}: {answer:?}");
        wait_log(&c, logged);
    }
    // A shard upload cut short: refused with a reason, nothing installed.
    let before = counts(&http, "telegraf", "autogen");
    let mut s = TcpStream::connect(&tcp).unwrap();
    s.write_all(&[3, 7]).unwrap();
    s.write_all(&1u64.to_be_bytes()).unwrap();
    s.write_all(&cut_tar()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("ERR truncated tar stream"), "{answer}");
    wait_log(&c, "truncated tar stream");
    assert_eq!(counts(&http, "telegraf", "autogen"), before);
    // A cut archive in a backup directory: the restore says which.
    let cut = w.join("backups/cut");
    std::fs::create_dir(&cut).unwrap();
    for f in ls(&fixtures().join("full")) {
        std::fs::copy(fixtures().join("full").join(&f), cut.join(&f)).unwrap();
    }
    let s1 = cut.join("20261121T143720Z.s1.tar.gz");
    let len = std::fs::metadata(&s1).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&s1).unwrap().set_len(len / 2).unwrap();
    let o = data_node(
        w,
        &["restore", "-portable", "-host", &tcp, "-db", "telegraf", "-newdb", "cut", "backups/cut"],
    );
    assert_eq!(code(&o), 1);
    let e = err(&o);
    assert!(
        e.contains("error updating shards: backups/cut/20261121T143720Z.s1.tar.gz: ")
            && e.contains("truncated"),
        "{e}"
    );
    // The node kept serving through all of it.
    let o =
        data_node(w, &["backup", "-portable", "-host", &tcp, "-db", "telegraf", "backups/after"]);
    ok("backup after bad input", &o);
    assert_eq!(
        counts_in_backup(&w.join("backups/after"), "")["autogen"],
        expected(AT_FULL, "telegraf", "autogen")
    );

    // Cut answers from a (fake) server: errors, not short backups.
    let fake = fake_server(|t| match t {
        1 => portable::meta_file::encode_snapshot_blob(b"", b"{\"ID\":0}\n"),
        3 => b"{\"Paths\":[\"db/rp/1\"]}\n".to_vec(),
        _ => cut_tar(),
    });
    let o = data_node(w, &["backup", "-portable", "-host", &fake, "backups/cut-download"]);
    assert_eq!(code(&o), 1);
    assert!(
        err(&o).contains("shard 1 from ") && err(&o).contains("truncated tar stream"),
        "{}",
        err(&o)
    );
    let fake = fake_server(|_| {
        let mut b = portable::meta_file::encode_snapshot_blob(&[1u8; 100], b"{\"ID\":0}\n");
        b.truncate(40);
        b
    });
    let o = data_node(w, &["backup", "-host", &fake, "backups/cut-meta"]);
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("backup: invalid metadata received: "), "{}", err(&o));
}

fn wait_log(c: &testkit::Cluster, text: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !node_log(c, "data1").contains(text) {
        assert!(std::time::Instant::now() < deadline, "the node did not log {text:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
