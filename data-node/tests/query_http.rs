//! `/query` end to end on a real testbed cluster (1 meta node, 2 data
//! nodes, RF 2): the fixture dataset written over `/write` (gzip line
//! protocol, 5000-line batches), then `SELECT count(*)` per measurement
//! and field checked against the counts real InfluxDB 1.6 gave
//! (`expected-counts.json`, `server_state_at_full_backup`), reads that
//! survive a data node crash, InfluxDB's status codes and texts, the auth
//! rules, and the real `influx` CLI against the testbed.
//!
//! Needs the binaries: `cargo build -p meta-node -p data-node`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::http::{query, request, urlencode};
use testkit::{Cluster, ClusterSpec};

fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6");
    assert!(p.is_dir(), "fixtures missing at {}", p.display());
    p
}

fn post_query(addr: &str, db: &str, q: &str) -> Value {
    let (status, v) = query(addr, db, q).expect("query request");
    assert_eq!(status, 200, "{q}: {v}");
    v
}

fn ok_statement(v: &Value) {
    assert!(v["results"][0].get("error").is_none(), "{v}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes a `.lp.gz` file in 5000-line gzip batches.
fn write_file(addr: &str, path: &Path, db: &str, rp: &str) -> usize {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for batch in lines.chunks(5000) {
        let body = gzip((batch.join("\n") + "\n").as_bytes());
        let path = format!("/write?db={}&rp={}&precision=ns", urlencode(db), urlencode(rp));
        let (status, resp) = request(
            addr,
            "POST",
            &path,
            &[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
            &body,
        )
        .unwrap();
        assert_eq!(status, 204, "{}: {resp}", path);
    }
    lines.len()
}

/// measurement → field → count, from one `SELECT count(*) FROM db.rp./.*/`.
fn counts(addr: &str, db: &str, rp: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let v = post_query(addr, db, &format!("SELECT count(*) FROM \"{db}\".\"{rp}\"./.*/"));
    ok_statement(&v);
    let mut out = BTreeMap::new();
    for s in v["results"][0]["series"].as_array().cloned().unwrap_or_default() {
        let cols = s["columns"].as_array().unwrap();
        let row = s["values"][0].as_array().unwrap();
        assert_eq!(row[0], "1970-01-01T00:00:00Z", "{s}");
        let mut fields = BTreeMap::new();
        for (c, n) in cols.iter().zip(row).skip(1) {
            if let Some(n) = n.as_u64() {
                let c = c.as_str().unwrap();
                fields.insert(c.strip_prefix("count_").unwrap_or(c).to_string(), n);
            }
        }
        out.insert(s["name"].as_str().unwrap().to_string(), fields);
    }
    out
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected-counts.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["server_state_at_full_backup"]["databases"].clone()
}

fn influx_cli() -> PathBuf {
    let p = PathBuf::from("/usr/bin/influx");
    assert!(
        p.is_file(),
        "the influx CLI is missing at /usr/bin/influx: install Debian's influxdb-client (apt-get install influxdb-client)"
    );
    p
}

fn run_influx(addr: &str, args: &[&str]) -> String {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = std::process::Command::new(influx_cli())
        .args(["-host", host, "-port", port])
        .args(args)
        .output()
        .expect("influx runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "influx {args:?} failed: {text}");
    text
}

#[test]
fn fixture_dataset_counts_and_cli() {
    let mut c = Cluster::start(ClusterSpec { meta: 1, data: 2, rf: Some(2), ..Default::default() })
        .expect("cluster starts (build the binaries first: cargo build -p meta-node -p data-node)");
    let http = c.data_http();
    let (d1, d2) = (http[0].clone(), http[1].clone());

    // Schema over /query, as schema.iql does. The `oneday` data is dated
    // 2026-11-21 10:00-14:36 UTC: with DURATION 1d it would be dropped as
    // beyond retention once that is more than a day ago, so the policy
    // gets an infinite duration when the clock says so (counts are what
    // this test checks, not the policy).
    let oneday_start = 1_795_255_200i64; // 2026-11-21T10:00:00Z
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let duration = if now - oneday_start < 20 * 3600 { "1d" } else { "INF" };
    for q in [
        "CREATE DATABASE telegraf".to_string(),
        "CREATE DATABASE metrics".to_string(),
        format!(
            "CREATE RETENTION POLICY oneday ON metrics DURATION {duration} REPLICATION 1 SHARD DURATION 2h"
        ),
    ] {
        ok_statement(&post_query(&d1, "", &q));
    }
    let v = post_query(&d2, "", "SHOW DATABASES");
    assert_eq!(
        v["results"][0]["series"][0]["values"],
        serde_json::json!([["telegraf"], ["metrics"]])
    );

    let t = Instant::now();
    let mut lines = 0;
    for (file, db, rp) in [
        ("telegraf.autogen.lp.gz", "telegraf", "autogen"),
        ("metrics.autogen.lp.gz", "metrics", "autogen"),
        ("metrics.oneday.lp.gz", "metrics", "oneday"),
    ] {
        lines += write_file(&d1, &fixtures().join("dataset").join(file), db, rp);
    }
    eprintln!("wrote {lines} lines in {:?}", t.elapsed());

    let want = expected();
    for (db, rp) in [("telegraf", "autogen"), ("metrics", "autogen"), ("metrics", "oneday")] {
        let t = Instant::now();
        let got = counts(&d2, db, rp);
        eprintln!("SELECT count(*) FROM {db}.{rp}./.*/ in {:?}", t.elapsed());
        let exp = &want[db][rp]["measurements"];
        let exp_names: Vec<&String> = exp.as_object().unwrap().keys().collect();
        assert_eq!(got.keys().collect::<Vec<_>>(), exp_names, "{db}.{rp}");
        for (m, fields) in &got {
            let ef: BTreeMap<String, u64> = exp[m]["fields"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect();
            assert_eq!(fields, &ef, "{db}.{rp}.{m}");
            assert_eq!(fields.values().max().copied(), exp[m]["points"].as_u64(), "{db}.{rp}.{m}");
        }
    }

    // Per-measurement counts exactly as the CLI transcript shows them.
    let v = post_query(&d1, "telegraf", "SELECT count(*) FROM syslog");
    assert_eq!(
        v["results"][0]["series"][0],
        serde_json::json!({
            "name": "syslog",
            "columns": ["time", "count_extra", "count_facility_code", "count_message", "count_ok", "count_severity_code", "count_version"],
            "values": [["1970-01-01T00:00:00Z", 2232, 22308, 22308, 22308, 22308, 3189]]
        })
    );
    let v = post_query(&d1, "telegraf", "SHOW TAG VALUES FROM \"http requests\" WITH KEY = host");
    ok_statement(&v);
    let v = post_query(
        &d1,
        "telegraf",
        "SELECT count(\"read only\") FROM disk WHERE time >= '2026-11-14T00:00:00Z' GROUP BY time(1d) fill(none) LIMIT 2",
    );
    assert_eq!(v["results"][0]["series"][0]["values"].as_array().map(Vec::len), Some(2), "{v}");

    // Status codes and texts.
    let (s, body) = request(&d1, "GET", "/query?db=telegraf", &[], b"").unwrap();
    assert_eq!((s, body.trim()), (400, r#"{"error":"missing required parameter \"q\""}"#));
    let (s, body) =
        request(&d1, "GET", &format!("/query?q={}", urlencode("SELEC 1")), &[], b"").unwrap();
    assert_eq!(s, 400);
    assert!(
        body.starts_with(r#"{"error":"error parsing query: found SELEC, expected SELECT"#),
        "{body}"
    );
    let (s, body) = request(
        &d1,
        "GET",
        &format!("/query?db=telegraf&epoch=s&q={}", urlencode("SELECT last(usage_idle) FROM cpu WHERE host = 'web 01' OR host =~ /./; SELECT * FROM nodb..cpu")),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["results"][0]["series"][0]["values"][0][0].is_i64(), "{v}");
    assert_eq!(v["results"][1]["error"], "database not found: nodb");

    // A data node down: every autogen shard has a replica on the other.
    c.crash("data2").unwrap();
    let got = counts(&d1, "telegraf", "autogen");
    assert_eq!(got["cpu"]["usage_idle"], 28704);
    c.restart("data2").unwrap();

    // The real influx CLI.
    let out = run_influx(&d1, &["-execute", "SHOW DATABASES"]);
    assert!(out.contains("telegraf") && out.contains("metrics"), "{out}");
    let out = run_influx(&d2, &["-database", "telegraf", "-execute", "SELECT count(*) FROM cpu"]);
    assert!(out.contains("count_usage_guest") && out.contains("28704"), "{out}");
    let out = run_influx(
        &d1,
        &["-database", "metrics", "-format", "json", "-execute", "SHOW RETENTION POLICIES"],
    );
    assert!(out.contains("oneday"), "{out}");

    // Timings of bigger answers.
    for q in [
        "SELECT * FROM cpu",
        "SELECT mean(usage_idle), max(usage_user) FROM cpu WHERE time >= '2026-11-05T00:00:00Z' GROUP BY time(1h), *",
        "SELECT count(*) FROM /.*/ GROUP BY time(1d)",
    ] {
        let t = Instant::now();
        let v = post_query(&d2, "telegraf", q);
        ok_statement(&v);
        let rows: usize = v["results"][0]["series"]
            .as_array()
            .map(|a| a.iter().map(|s| s["values"].as_array().map_or(0, Vec::len)).sum())
            .unwrap_or(0);
        eprintln!("{q}: {rows} rows in {:?}", t.elapsed());
    }

    // SELECT INTO, the merge example of the backup/restore docs: tags stay
    // tags with GROUP BY *.
    ok_statement(&post_query(&d1, "", "CREATE DATABASE merged"));
    let v = post_query(&d1, "metrics", "SELECT * INTO merged..:MEASUREMENT FROM /.*/ GROUP BY *");
    assert_eq!(v["results"][0]["series"][0]["name"], "result", "{v}");
    assert_eq!(
        v["results"][0]["series"][0]["values"],
        serde_json::json!([["1970-01-01T00:00:00Z", 33208]])
    );
    // data2 restarted just before: d1's first write to it can fail on the
    // old connection, and then that shard's writes to data2 go through
    // hinted handoff (allow-out-of-order-writes is off) until it drains.
    let want = counts(&d2, "metrics", "autogen");
    let got = testkit::http::settle(&d2, "merged", "autogen", &want, Duration::from_secs(30));
    assert_eq!(got.unwrap(), want);
    let a = post_query(&d1, "merged", "SHOW SERIES");
    let b = post_query(&d1, "metrics", "SHOW SERIES");
    assert_eq!(a, b);

    // Deletes reach both replicas: each node reads its own copy (RF 2).
    let before = counts(&d1, "telegraf", "autogen")["mem"]["used"];
    ok_statement(&post_query(
        &d1,
        "telegraf",
        "DELETE FROM mem WHERE time < '2026-11-12T00:00:00Z'",
    ));
    let c1 = counts(&d1, "telegraf", "autogen")["mem"]["used"];
    let c2 = counts(&d2, "telegraf", "autogen")["mem"]["used"];
    assert!(c1 < before && c1 > 0, "{before} -> {c1}");
    assert_eq!(c1, c2);
    ok_statement(&post_query(&d2, "telegraf", "DROP MEASUREMENT net"));
    for d in [&d1, &d2] {
        let v = post_query(d, "telegraf", "SHOW MEASUREMENTS");
        assert!(!v.to_string().contains("\"net\""), "{v}");
        assert!(!counts(d, "telegraf", "autogen").contains_key("net"));
    }
    let _ = Duration::from_secs(0);
}

#[test]
fn authentication_and_authorization() {
    let mut spec = ClusterSpec { meta: 1, data: 1, ..Default::default() };
    spec.overrides.insert("data1".into(), vec![("http.auth-enabled".into(), "true".into())]);
    let c = Cluster::start(spec).expect("cluster starts");
    let d = c.data_http()[0].clone();
    let get = |q: &str, auth: &str| {
        request(&d, "GET", &format!("/query?q={}{auth}", urlencode(q)), &[], b"").unwrap()
    };
    // No users: only an admin may be created.
    let (s, body) = get("SHOW DATABASES", "");
    assert_eq!(
        (s, body.trim()),
        (
            403,
            r#"{"error":"error authorizing query: create admin user first or disable authentication"}"#
        )
    );
    let (s, _) = get("CREATE USER admin WITH PASSWORD 'Adm1n' WITH ALL PRIVILEGES", "");
    assert_eq!(s, 200);
    // Now credentials are required.
    let (s, body) = get("SHOW DATABASES", "");
    assert_eq!(
        (s, body.trim()),
        (401, r#"{"error":"unable to parse authentication credentials"}"#)
    );
    let (s, body) = get("SHOW DATABASES", "&u=admin&p=wrong");
    assert_eq!((s, body.trim()), (401, r#"{"error":"authorization failed"}"#));
    let admin = "&u=admin&p=Adm1n";
    for q in [
        "CREATE DATABASE a",
        "CREATE DATABASE b",
        "CREATE USER reader WITH PASSWORD 'r'",
        "GRANT READ ON a TO reader",
    ] {
        let (s, body) =
            request(&d, "POST", &format!("/query?q={}{admin}", urlencode(q)), &[], b"").unwrap();
        assert_eq!(s, 200, "{q}: {body}");
        assert!(!body.contains("error"), "{q}: {body}");
    }
    let reader = "&u=reader&p=r";
    let (s, body) = get("SHOW DATABASES", reader);
    assert_eq!(s, 200);
    assert!(body.contains(r#""values":[["a"]]"#), "{body}");
    let (s, body) = get("CREATE DATABASE c", reader);
    assert_eq!(
        (s, body.trim()),
        (
            403,
            r#"{"error":"error authorizing query: reader not authorized to execute statement 'CREATE DATABASE c', requires admin privilege"}"#
        )
    );
    let (s, body) = request(
        &d,
        "GET",
        &format!("/query?db=b&q={}{reader}", urlencode("SELECT * FROM m")),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(
        (s, body.trim()),
        (
            403,
            r#"{"error":"error authorizing query: reader not authorized to execute statement 'SELECT * FROM m', requires READ on b"}"#
        )
    );
    let (s, _) = request(
        &d,
        "GET",
        &format!("/query?db=a&q={}{reader}", urlencode("SELECT * FROM m")),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(s, 200);
    // Basic auth works too.
    let (s, body) = request(
        &d,
        "GET",
        &format!("/query?q={}", urlencode("SHOW USERS")),
        &[("Authorization", "Basic YWRtaW46QWRtMW4=")],
        b"",
    )
    .unwrap();
    assert_eq!(s, 200, "{body}");
    assert!(body.contains(r#"["admin",true]"#), "{body}");
}
