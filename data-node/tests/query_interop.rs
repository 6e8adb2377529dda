//! Differential test: the same dataset written to a real InfluxDB 1.x
//! (Debian's `influxd`) and to a testbed cluster (1 meta, 2 data nodes,
//! RF 1, so queries cross nodes), then the same queries sent to both; the
//! JSON answers must be identical. Statements whose output InfluxDB
//! changed after 1.6 (SHOW RETENTION POLICIES columns, SHOW SHARDS) are
//! not compared here.
//!
//! Needs `/usr/bin/influxd` (Debian `influxdb`) and the testbed binaries
//! (`cargo build -p meta-node -p data-node`).

use testkit::http::{request, urlencode};
use testkit::influxd::Influxd;
use testkit::{Cluster, ClusterSpec};

/// 2026-11-02T00:00:00Z (a Monday), ns.
const BASE: i64 = 1_793_577_600_000_000_000;
const MIN: i64 = 60_000_000_000;

fn dataset() -> String {
    let mut out = String::new();
    let mut seed: u64 = 42;
    let mut rnd = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let hosts = ["a", "b", "web 01", "rack,1=x"];
    for i in 0..300i64 {
        let t = BASE + i * 97 * MIN + rnd(1000) as i64 * 1_000_000;
        let h = hosts[(i % 4) as usize].replace(' ', "\\ ").replace(',', "\\,").replace('=', "\\=");
        let usage = (rnd(10_000) as f64) / 100.0;
        let idle = rnd(100) as i64 - 20;
        let status = ["ok", "warn", "crit"][rnd(3) as usize];
        let region = if i % 3 == 0 {
            ",region=eu"
        } else if i % 3 == 1 {
            ",region=us"
        } else {
            ""
        };
        out.push_str(&format!(
            "cpu,host={h}{region} usage={usage},idle={idle}i,status=\"{status}\",up={} {t}\n",
            if rnd(2) == 0 { "true" } else { "false" }
        ));
        if i % 5 == 0 {
            out.push_str(&format!(
                "disk\\ space,path=/var read\\ only={},free={}i {t}\n",
                i % 2 == 0,
                rnd(1000)
            ));
        }
        if i % 7 == 0 {
            out.push_str(&format!("mem,host={h} used={}i {t}\n", rnd(1 << 20)));
        }
    }
    out
}

/// Whether two answers are equal, floats within a relative 1e-9 (sums and
/// means are added in another order than InfluxDB's per-shard, per-series
/// iterators add them).
fn same(a: &str, b: &str) -> bool {
    fn eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value::*;
        match (a, b) {
            (Number(x), Number(y)) if x.is_f64() || y.is_f64() => {
                let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
            }
            (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| eq(x, y)),
            (Object(x), Object(y)) => {
                x.len() == y.len()
                    && x.keys().zip(y.keys()).all(|(k1, k2)| k1 == k2)
                    && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| eq(v, w)))
            }
            (x, y) => x == y,
        }
    }
    if a == b {
        return true;
    }
    match (serde_json::from_str(a), serde_json::from_str(b)) {
        (Ok(x), Ok(y)) => eq(&x, &y),
        _ => false,
    }
}

fn get(addr: &str, db: &str, q: &str, extra: &str) -> (u16, String) {
    request(
        addr,
        "GET",
        &format!("/query?db={}&q={}{extra}", urlencode(db), urlencode(q)),
        &[],
        b"",
    )
    .expect("request")
}

fn post(addr: &str, db: &str, q: &str) -> (u16, String) {
    let body = format!("db={}&q={}", urlencode(db), urlencode(q));
    request(
        addr,
        "POST",
        "/query",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .expect("request")
}

const QUERIES: &[&str] = &[
    "SELECT * FROM cpu",
    "SELECT * FROM cpu GROUP BY *",
    "SELECT * FROM cpu GROUP BY host",
    "SELECT usage, host FROM cpu WHERE host = 'a' ORDER BY time DESC LIMIT 5",
    "SELECT usage FROM cpu WHERE host =~ /web/ AND usage > 50 LIMIT 10 OFFSET 2",
    "SELECT usage, status FROM cpu WHERE status = 'crit' OR idle < 0",
    "SELECT usage FROM cpu WHERE region = '' LIMIT 5",
    "SELECT usage FROM cpu WHERE region != 'eu' AND host !~ /^a/ LIMIT 5",
    "SELECT usage FROM cpu WHERE up = true LIMIT 5",
    "SELECT usage * 2, usage / idle, idle % 7, -idle FROM cpu LIMIT 5",
    "SELECT usage FROM cpu WHERE time >= '2026-11-05T00:00:00Z' AND time < '2026-11-06T00:00:00Z'",
    "SELECT count(*) FROM /.*/",
    "SELECT count(*) FROM cpu GROUP BY *",
    "SELECT mean(usage), max(usage), min(usage), sum(usage), count(usage) FROM cpu GROUP BY host",
    "SELECT sum(idle), min(idle), max(idle), spread(idle), mean(idle) FROM cpu",
    "SELECT first(*), last(*) FROM cpu",
    "SELECT max(usage) FROM cpu",
    "SELECT min(usage), host, status FROM cpu",
    "SELECT first(status) FROM cpu GROUP BY host",
    "SELECT last(up) FROM cpu",
    "SELECT median(usage), spread(usage), stddev(usage), mode(status) FROM cpu",
    "SELECT percentile(usage, 90), percentile(usage, 5) FROM cpu",
    "SELECT percentile(usage, 50) FROM cpu GROUP BY host",
    "SELECT distinct(status) FROM cpu",
    "SELECT count(distinct(status)) FROM cpu GROUP BY host",
    "SELECT mode(idle), median(idle) FROM cpu",
    "SELECT count(usage) FROM cpu WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(1d)",
    "SELECT mean(usage) FROM cpu WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(1d), host fill(none)",
    "SELECT mean(usage) FROM cpu WHERE host = 'a' AND time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(6h) fill(previous)",
    "SELECT mean(usage) FROM cpu WHERE host = 'a' AND time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(6h) fill(linear)",
    "SELECT max(idle) FROM cpu WHERE host = 'a' AND time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(6h) fill(linear)",
    "SELECT mean(usage) FROM cpu WHERE host = 'b' AND time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(6h) fill(-1)",
    "SELECT sum(idle) FROM cpu WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(3d, 1d) fill(0) ORDER BY time DESC",
    "SELECT count(usage), mean(idle) FROM cpu WHERE time > '2026-11-03T00:00:00Z' AND time < '2026-11-12T00:00:00Z' GROUP BY time(12h) fill(null)",
    "SELECT max(usage), host FROM cpu WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d)",
    "SELECT first(usage) FROM cpu WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(1w), host",
    "SELECT last(usage) FROM cpu GROUP BY host ORDER BY time DESC",
    "SELECT count(usage) FROM cpu GROUP BY host SLIMIT 2 SOFFSET 1",
    "SELECT usage FROM cpu GROUP BY host SLIMIT 1 LIMIT 3",
    "SELECT usage FROM cpu ORDER BY time DESC LIMIT 3",
    "SELECT mean(usage) * 100 AS pct, max(usage) - min(usage) FROM cpu",
    "SELECT \"read only\", free FROM \"disk space\"",
    "SELECT count(\"read only\") FROM \"disk space\" WHERE \"read only\" = true",
    "SELECT * FROM cpu, mem WHERE host = 'a' LIMIT 3",
    "SELECT used FROM mem WHERE host = 'rack,1=x'",
    "SELECT * FROM /^(mem|disk.*)$/",
    "SELECT /u/ FROM cpu LIMIT 3",
    "SELECT *::field FROM cpu LIMIT 2",
    "SELECT *::tag, usage FROM cpu LIMIT 2",
    "SELECT usage::integer FROM cpu LIMIT 2",
    "SELECT max(*) FROM cpu",
    "SELECT mean(/^u/) FROM cpu",
    "SELECT time AS ts, usage FROM cpu LIMIT 2",
    "SELECT nope FROM cpu",
    "SELECT usage FROM nope",
    "SELECT usage FROM cpu WHERE time > now()",
    "SELECT top(usage, 3) FROM cpu",
    "SELECT bottom(usage, 2) FROM cpu GROUP BY host",
    "SELECT top(usage, host, 2) FROM cpu",
    "SELECT bottom(idle, host, region, 3) FROM cpu",
    "SELECT top(usage, 2), status FROM cpu",
    "SELECT top(idle, 2) FROM cpu WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d)",
    "SELECT derivative(usage) FROM cpu WHERE host = 'a' LIMIT 5",
    "SELECT derivative(usage, 1m) FROM cpu WHERE host = 'a' LIMIT 5",
    "SELECT non_negative_derivative(mean(usage), 1h) FROM cpu WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-06T00:00:00Z' GROUP BY time(6h)",
    "SELECT derivative(max(idle)) FROM cpu WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d), host",
    "SELECT difference(idle), non_negative_difference(idle) FROM cpu WHERE host = 'b' LIMIT 5",
    "SELECT cumulative_sum(idle) FROM cpu WHERE host = 'b' LIMIT 5",
    "SELECT cumulative_sum(sum(idle)) FROM cpu WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d)",
    "SELECT moving_average(usage, 3) FROM cpu WHERE host = 'a' LIMIT 5",
    "SELECT moving_average(mean(usage), 2) FROM cpu WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d)",
    "SELECT elapsed(usage, 1s) FROM cpu WHERE host = 'a' LIMIT 5",
    "SELECT mean(usage), derivative(mean(usage)) FROM cpu WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d)",
    "SELECT difference(max(idle)) FROM cpu WHERE time >= '2026-11-03T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d) fill(0)",
    "SELECT derivative(usage) FROM cpu GROUP BY time(1h)",
    "SELECT derivative(mean(usage)) FROM cpu",
    "SELECT top(usage, 2), max(usage) FROM cpu",
    "SELECT top(usage) FROM cpu",
    "SELECT top(usage, 0) FROM cpu",
    "SELECT moving_average(usage, 1) FROM cpu",
    "SELECT derivative(usage, 10) FROM cpu",
    "SELECT non_negative_derivative(usage) FROM cpu WHERE host = 'web 01' ORDER BY time DESC LIMIT 4",
    "SELECT mean(max_usage) FROM (SELECT max(usage) AS max_usage FROM cpu GROUP BY time(1d), host)",
    "SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY host)",
    "SELECT max(mean) FROM (SELECT mean(usage) FROM cpu GROUP BY host) GROUP BY host",
    "SELECT * FROM (SELECT usage, host FROM cpu WHERE usage > 90)",
    "SELECT sum(c) FROM (SELECT count(usage) AS c FROM cpu GROUP BY time(1d), host) WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(2d)",
    "SELECT mean(usage) FROM (SELECT usage FROM cpu WHERE host = 'a') WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-09T00:00:00Z' GROUP BY time(1d) fill(none)",
    "SELECT max(usage) FROM (SELECT mean(usage) AS usage FROM cpu) WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-05T00:00:00Z' GROUP BY time(1d)",
    "SELECT top(u, 2) FROM (SELECT usage AS u FROM cpu)",
    "SELECT u FROM (SELECT usage AS u, idle FROM cpu WHERE host = 'b') WHERE idle > 50 LIMIT 3",
    "CREATE DATABASE bad WITH DURATION 30m",
    "CREATE DATABASE \"a/b\"",
    "CREATE DATABASE db WITH DURATION 1d",
    "CREATE RETENTION POLICY r1 ON db DURATION 2d REPLICATION 1 SHARD DURATION 1h",
    "CREATE RETENTION POLICY r1 ON db DURATION 2d REPLICATION 1 SHARD DURATION 1h",
    "CREATE RETENTION POLICY r1 ON db DURATION 3d REPLICATION 1",
    "CREATE RETENTION POLICY r1 ON db DURATION 2d REPLICATION 1 SHARD DURATION 1h DEFAULT",
    "CREATE RETENTION POLICY r2 ON nodb DURATION 2d REPLICATION 1",
    "CREATE RETENTION POLICY r2 ON db DURATION 1h REPLICATION 1 SHARD DURATION 2h",
    "ALTER RETENTION POLICY nope ON db DURATION 2d",
    "ALTER RETENTION POLICY r1 ON nodb DURATION 2d",
    "DROP RETENTION POLICY nope ON db",
    "DROP RETENTION POLICY r1 ON nodb",
    "DROP RETENTION POLICY r1 ON db",
    "CREATE USER u WITH PASSWORD 'p'",
    "CREATE USER u WITH PASSWORD 'p'",
    "CREATE USER u WITH PASSWORD 'q'",
    "GRANT READ ON db TO u",
    "GRANT WRITE ON nodb TO u",
    "GRANT READ ON db TO nobody",
    "SHOW GRANTS FOR u",
    "SHOW GRANTS FOR nobody",
    "REVOKE ALL PRIVILEGES FROM u",
    "GRANT ALL ON db TO u",
    "REVOKE WRITE ON db FROM u",
    "SHOW GRANTS FOR u",
    // InfluxDB keeps a revoked privilege as `NO PRIVILEGES` in SHOW GRANTS;
    // the testbed's metastore drops the entry (meta-node SetPrivilege).
    "REVOKE READ ON db FROM u",
    "SET PASSWORD FOR nobody = 'x'",
    "DROP USER nobody",
    "SHOW USERS",
    "DROP USER u",
    "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(usage) INTO cpu_1h FROM cpu GROUP BY time(1h), * END",
    "CREATE CONTINUOUS QUERY cq2 ON db BEGIN SELECT count(usage) INTO db.norp.x FROM cpu GROUP BY time(1h) END",
    "CREATE CONTINUOUS QUERY cq3 ON nodb BEGIN SELECT count(usage) INTO x FROM cpu GROUP BY time(1h) END",
    "SHOW CONTINUOUS QUERIES",
    "DROP CONTINUOUS QUERY nope ON db",
    "DROP CONTINUOUS QUERY cq ON db",
    "SHOW CONTINUOUS QUERIES",
    "DROP DATABASE nodb",
    "SHOW MEASUREMENTS",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /m/",
    "SHOW MEASUREMENTS WHERE host = 'a'",
    "SHOW MEASUREMENTS LIMIT 1 OFFSET 1",
    "SHOW SERIES",
    "SHOW SERIES FROM cpu WHERE region = 'eu'",
    "SHOW SERIES LIMIT 2 OFFSET 1",
    "SHOW TAG KEYS",
    "SHOW TAG KEYS FROM cpu",
    "SHOW TAG VALUES WITH KEY = host",
    "SHOW TAG VALUES FROM cpu WITH KEY =~ /o/",
    "SHOW TAG VALUES FROM cpu WITH KEY IN (region) WHERE host = 'a'",
    "SHOW FIELD KEYS",
    "SHOW FIELD KEYS FROM cpu",
    "SHOW DATABASES",
    "SHOW USERS",
    "SHOW CONTINUOUS QUERIES",
    "SELECT usage, count(usage) FROM cpu",
    "SELECT usage FROM cpu GROUP BY time(1h)",
    "SELECT count(usage) FROM cpu GROUP BY time",
    "SELECT foo(usage) FROM cpu",
    "SELECT count() FROM cpu",
    "SELECT distinct(usage), mean(usage) FROM cpu",
    "SELECT min(usage), max(usage), host FROM cpu",
    "SELECT usage FROM cpu fill(none)",
    "SELECT count(usage) FROM cpu GROUP BY time(1h), time(2h)",
    "SELECT usage FROM nodb..cpu",
    "SELECT usage FROM db.norp.cpu",
    "SELECT 1 FROM cpu",
    "SELECT count(*) FROM cpu WHERE count(usage) > 1",
    "SHOW TAG VALUES WITH KEY = host; SELECT count(usage) FROM cpu; SHOW DATABASES",
    "DELETE FROM cpu WHERE time < '2026-11-03T00:00:00Z'",
    "SELECT count(usage) FROM cpu",
    "DELETE FROM cpu WHERE host = 'b' AND time < '2026-11-10T00:00:00Z'",
    "SELECT count(usage) FROM cpu GROUP BY host",
    "DROP SERIES FROM mem WHERE host = 'a'",
    "SHOW SERIES FROM mem",
    "DROP SERIES WHERE region = 'us'",
    "SHOW SERIES",
    "DROP MEASUREMENT \"disk space\"",
    "SHOW MEASUREMENTS",
    "SELECT count(*) FROM /.*/",
    "CREATE DATABASE copy",
    "SELECT * INTO copy..:MEASUREMENT FROM /.*/ GROUP BY *",
    "SELECT mean(usage) INTO copy.autogen.cpu_daily FROM cpu WHERE time >= '2026-11-02T00:00:00Z' AND time < '2026-11-30T00:00:00Z' GROUP BY time(1d), host",
];

const COPY_QUERIES: &[&str] = &[
    "SELECT * FROM cpu GROUP BY *",
    "SHOW SERIES",
    "SHOW FIELD KEYS",
    "SELECT * FROM cpu_daily GROUP BY *",
];

#[test]
fn same_answers_as_influxd() {
    let real = Influxd::start();
    let c = Cluster::start(ClusterSpec { meta: 1, data: 2, rf: Some(1), ..Default::default() })
        .expect("cluster starts (build the binaries first: cargo build -p meta-node -p data-node)");
    let ours = c.data_http()[1].clone();
    let theirs = real.http_addr();
    let data = dataset();
    for addr in [&ours, &theirs] {
        let (s, b) = post(addr, "", "CREATE DATABASE db");
        assert_eq!(s, 200, "{b}");
        let (s, b) = request(addr, "POST", "/write?db=db", &[], data.as_bytes()).unwrap();
        assert_eq!(s, 204, "{b}");
    }
    let mut diffs = Vec::new();
    let mut compare = |db: &str, q: &str, extra: &str| {
        let write = q.starts_with("DELETE")
            || q.starts_with("DROP")
            || q.starts_with("CREATE")
            || q.contains(" INTO ");
        let (a, b) = if write {
            (post(&ours, db, q), post(&theirs, db, q))
        } else {
            (get(&ours, db, q, extra), get(&theirs, db, q, extra))
        };
        if a.0 != b.0 || !same(&a.1, &b.1) {
            diffs.push(format!(
                "{q} [{extra}]\n  ours:   {} {}\n  influx: {} {}",
                a.0,
                a.1.trim(),
                b.0,
                b.1.trim()
            ));
        }
    };
    for q in QUERIES {
        compare("db", q, "");
    }
    for q in ["SELECT * FROM cpu LIMIT 3", "SELECT count(usage) FROM cpu GROUP BY host"] {
        for epoch in ["ns", "u", "ms", "s", "m", "h"] {
            compare("db", q, &format!("&epoch={epoch}"));
        }
        compare("db", q, "&pretty=true");
    }
    for q in COPY_QUERIES {
        compare("copy", q, "");
    }
    // Chunked answers: one JSON document per chunk.
    for q in [
        "SELECT * FROM cpu WHERE time < '2026-11-04T00:00:00Z'",
        "SELECT usage FROM cpu GROUP BY host LIMIT 7",
        "SHOW DATABASES; SELECT count(usage) FROM cpu GROUP BY host; SELECT nope FROM cpu",
    ] {
        compare("db", q, "&chunked=true&chunk_size=5");
        compare("db", q, "&chunked=true");
    }
    // Errors before execution and odd parameters.
    for q in [
        "SELEC * FROM cpu",
        "SELECT * FROM",
        "SELECT * FROM cpu WHERE time > 'yesterday'",
        "SHOW",
        "SELECT usage FROM cpu WHERE time > now() - 1h GROUP BY time(1h",
        "SELECT \"usage\" FROM \"cpu\" LIMIT 1; ",
        ";",
    ] {
        compare("db", q, "");
        compare("db", q, "&pretty=true");
    }
    compare("db", "SELECT usage FROM cpu LIMIT 2", "&rp=autogen");
    compare("db", "SELECT usage FROM cpu LIMIT 2", "&rp=nope");
    compare("", "SELECT usage FROM cpu LIMIT 2", "");
    compare("nodb", "SELECT usage FROM cpu LIMIT 2", "");
    compare("db", "SELECT max(usage) FROM cpu GROUP BY host", "&epoch=ms&pretty=true");
    // CSV answers (Accept: application/csv).
    for (q, extra) in [
        ("SELECT * FROM cpu LIMIT 4", ""),
        ("SELECT * FROM cpu LIMIT 4", "&epoch=s"),
        ("SELECT count(usage), mean(idle) FROM cpu GROUP BY host, region", ""),
        (
            "SHOW DATABASES; SHOW MEASUREMENTS; SELECT nope FROM cpu; SHOW TAG VALUES WITH KEY = host",
            "",
        ),
        ("SELECT usage FROM nodb..cpu", ""),
        ("SELEC x", ""),
        ("SELECT * FROM \"disk space\" LIMIT 2", ""),
    ] {
        let path = format!("/query?db=db&q={}{extra}", urlencode(q));
        let hdr = [("Accept", "application/csv")];
        let a = request(&ours, "GET", &path, &hdr, b"").unwrap();
        let b = request(&theirs, "GET", &path, &hdr, b"").unwrap();
        if a != b {
            diffs.push(format!("CSV {q} [{extra}]\n  ours:   {a:?}\n  influx: {b:?}"));
        }
    }
    for path in ["/query", "/query?db=db", "/query?q=", "/query?q=%20%20"] {
        let a = request(&ours, "GET", path, &[], b"").unwrap();
        let b = request(&theirs, "GET", path, &[], b"").unwrap();
        if a != b {
            diffs.push(format!("GET {path}\n  ours:   {a:?}\n  influx: {b:?}"));
        }
    }
    assert!(diffs.is_empty(), "{} of the answers differ:\n{}", diffs.len(), diffs.join("\n"));
}
