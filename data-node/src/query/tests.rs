//! Engine tests on in-memory shards, with the meta node's own state
//! machine as the metastore.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use meta_node::state::MetaState;
use portable::lineproto::{self, Precision};
use proto::cluster::{self, command::Cmd};

use super::memory::MemoryBackend;
use super::*;
use crate::influxql::parse_query;

/// A cluster of `nodes` data nodes with default RF `rf`, seen from node 1.
fn cluster(nodes: u64, rf: u32) -> MemoryBackend {
    let state = Arc::new(Mutex::new(MetaState::new()));
    let index = Arc::new(AtomicU64::new(1));
    let apply = {
        let state = state.clone();
        let index = index.clone();
        move |cmd: &Cmd| -> std::result::Result<proto::meta::Data, String> {
            let mut cmd = cmd.clone();
            if let Cmd::CreateDatabase(c) = &mut cmd
                && c.default_replica_n == 0
            {
                c.default_replica_n = rf;
            }
            let mut st = state.lock().unwrap();
            let i = index.fetch_add(1, Ordering::SeqCst);
            st.apply(i, 1, "", &cluster::Command { cmd: Some(cmd) }).map_err(|e| e.to_string())?;
            Ok(st.data.clone())
        }
    };
    for n in 1..=nodes {
        apply(&Cmd::CreateDataNode(cluster::CreateDataNode {
            http_addr: format!("node{n}:8086"),
            tcp_addr: format!("node{n}:8088"),
            passive: false,
        }))
        .unwrap();
    }
    let data = state.lock().unwrap().data.clone();
    MemoryBackend::new(1, data, Box::new(apply))
}

fn run_opts(b: &MemoryBackend, text: &str, opts: &QueryOptions, epoch: &str) -> String {
    let stmts = match parse_query(text) {
        Ok(s) => s,
        Err(e) => return format!("parse error: {e}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let results = rt.block_on(execute(b, &stmts, opts));
    encode_response(&results, None, JsonOptions { pretty: false, epoch: Epoch::parse(epoch) })
        .trim_end()
        .to_string()
}

/// Runs a query against database `db`, timestamps in seconds.
fn q(b: &MemoryBackend, db: &str, text: &str) -> String {
    let opts =
        QueryOptions { database: db.into(), now: Some(100_000_000_000), ..Default::default() };
    run_opts(b, text, &opts, "s")
}

/// The `values` of the first series of the first result.
fn vals(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|_| panic!("{json}"));
    v["results"][0]["series"][0]["values"].to_string()
}

fn ok(json: &str) -> bool {
    json == r#"{"results":[{"statement_id":0}]}"#
}

const DATA: &str = "cpu,host=a,region=us value=1,idle=10i 0
cpu,host=a,region=us value=2,idle=20i 10
cpu,host=b,region=eu value=3,idle=30i 10
cpu,host=b,region=eu value=4 20
cpu,host=b,region=eu value=8 40
mem,host=a used=100i,free=5.5 0
http\\ requests,path=/write\\,db code=204i 5
";

fn load(b: &MemoryBackend, db: &str) {
    assert!(ok(&q(b, "", &format!("CREATE DATABASE {db}"))));
    let (points, errors) = lineproto::parse_lines(DATA.as_bytes(), Precision::Second, 0);
    assert!(errors.is_empty(), "{errors:?}");
    b.write_sync(db, "", points).unwrap();
}

#[test]
fn raw_selects() {
    let b = cluster(2, 2);
    load(&b, "db");
    assert_eq!(
        q(&b, "db", "SELECT * FROM cpu"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","host","idle","region","value"],"values":[[0,"a",10,"us",1],[10,"a",20,"us",2],[10,"b",30,"eu",3],[20,"b",null,"eu",4],[40,"b",null,"eu",8]]}]}]}"#
    );
    assert_eq!(
        vals(&q(&b, "db", "SELECT value FROM cpu WHERE host = 'b' ORDER BY time DESC LIMIT 2")),
        "[[40,8],[20,4]]"
    );
    assert_eq!(
        vals(&q(&b, "db", "SELECT value FROM cpu WHERE host =~ /^a/ OR value > 3.5")),
        "[[0,1],[10,2],[20,4],[40,8]]"
    );
    assert_eq!(
        vals(&q(&b, "db", "SELECT value FROM cpu WHERE host != 'a' AND time >= 20s")),
        "[[20,4],[40,8]]"
    );
    assert_eq!(
        vals(&q(&b, "db", "SELECT value FROM cpu WHERE host !~ /a/ LIMIT 1 OFFSET 1")),
        "[[20,4]]"
    );
    assert_eq!(
        vals(&q(&b, "db", "SELECT value * 2 + idle AS x FROM cpu WHERE idle > 10")),
        "[[10,24],[10,36]]"
    );
    assert_eq!(
        vals(&q(&b, "db", "SELECT value FROM db.autogen.cpu WHERE time > now() - 70s")),
        "[[40,8]]"
    );
    assert_eq!(
        vals(&q(&b, "", "SELECT value FROM db..cpu WHERE time = '1970-01-01T00:00:20Z'")),
        "[[20,4]]"
    );
    // Escaped measurement, tag value with a comma.
    assert_eq!(
        q(&b, "db", "SELECT * FROM \"http requests\""),
        r#"{"results":[{"statement_id":0,"series":[{"name":"http requests","columns":["time","code","path"],"values":[[5,204,"/write,db"]]}]}]}"#
    );
    // RFC3339 times by default.
    let opts = QueryOptions { database: "db".into(), ..Default::default() };
    assert!(
        run_opts(&b, "SELECT value FROM cpu LIMIT 1", &opts, "")
            .contains(r#"[["1970-01-01T00:00:00Z",1]]"#)
    );
    // Unknown measurement or field: an empty result.
    assert!(ok(&q(&b, "db", "SELECT value FROM nope")));
    assert!(ok(&q(&b, "db", "SELECT nope FROM cpu")));
    // GROUP BY tags, SLIMIT, raw GROUP BY *.
    let j = q(&b, "db", "SELECT value FROM cpu GROUP BY host SLIMIT 1 SOFFSET 1");
    assert!(j.contains(r#""tags":{"host":"b"}"#) && !j.contains(r#""host":"a""#), "{j}");
    let j = q(&b, "db", "SELECT * FROM cpu GROUP BY *");
    assert!(
        j.contains(r#""tags":{"host":"a","region":"us"},"columns":["time","idle","value"]"#),
        "{j}"
    );
}

#[test]
fn aggregates() {
    let b = cluster(2, 1);
    load(&b, "db");
    assert_eq!(
        q(
            &b,
            "db",
            "SELECT count(value), sum(value), mean(value), min(value), max(value) FROM cpu"
        ),
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count","sum","mean","min","max"],"values":[[0,5,18,3.6,1,8]]}]}]}"#
    );
    assert_eq!(vals(&q(&b, "db", "SELECT max(value) FROM cpu")), "[[40,8]]");
    assert_eq!(vals(&q(&b, "db", "SELECT max(value), host FROM cpu")), "[[40,8,\"b\"]]");
    assert_eq!(vals(&q(&b, "db", "SELECT first(value), last(value) FROM cpu")), "[[0,1,8]]");
    assert_eq!(vals(&q(&b, "db", "SELECT first(idle) FROM cpu WHERE time >= 5s")), "[[10,30]]");
    assert_eq!(
        vals(&q(&b, "db", "SELECT spread(value), median(value), count(distinct(host)) FROM cpu")),
        "[[0,7,3,null]]"
    );
    assert_eq!(vals(&q(&b, "db", "SELECT distinct(idle) FROM cpu")), "[[0,10],[0,20],[0,30]]");
    assert_eq!(
        vals(&q(&b, "db", "SELECT mean(value) * 10 FROM cpu WHERE time >= 10s")),
        "[[10,42.5]]"
    );
    assert_eq!(
        vals(&q(
            &b,
            "db",
            "SELECT count(value) FROM cpu WHERE time >= 0 AND time < 50s GROUP BY time(10s)"
        )),
        "[[0,1],[10,2],[20,1],[30,0],[40,1]]"
    );
    let f = |fill: &str| {
        vals(&q(
            &b,
            "db",
            &format!(
                "SELECT mean(value) FROM cpu WHERE host = 'b' AND time >= 0 AND time < 60s GROUP BY time(10s) fill({fill})"
            ),
        ))
    };
    assert_eq!(f("null"), "[[0,null],[10,3],[20,4],[30,null],[40,8],[50,null]]");
    assert_eq!(f("none"), "[[10,3],[20,4],[40,8]]");
    assert_eq!(f("previous"), "[[0,null],[10,3],[20,4],[30,4],[40,8],[50,8]]");
    assert_eq!(f("linear"), "[[0,null],[10,3],[20,4],[30,6],[40,8],[50,null]]");
    assert_eq!(f("-1"), "[[0,-1],[10,3],[20,4],[30,-1],[40,8],[50,-1]]");
    assert_eq!(
        vals(&q(
            &b,
            "db",
            "SELECT sum(value) FROM cpu WHERE time >= 0 AND time < 30s GROUP BY time(10s) ORDER BY time DESC"
        )),
        "[[20,4],[10,5],[0,1]]"
    );
    // GROUP BY time without a lower bound: from the first point to now().
    let j = q(&b, "db", "SELECT count(value) FROM cpu GROUP BY time(30s)");
    assert_eq!(vals(&j), "[[0,4],[30,1],[60,0],[90,0]]");
    // GROUP BY host, DESC reverses the series.
    let j = q(&b, "db", "SELECT count(value) FROM cpu GROUP BY host ORDER BY time DESC");
    let b_pos = j.find(r#""host":"b""#).unwrap();
    let a_pos = j.find(r#""host":"a""#).unwrap();
    assert!(b_pos < a_pos, "{j}");
    // Wildcards in calls: count_<field> columns, union over measurements.
    assert_eq!(
        q(&b, "db", "SELECT count(*) FROM /.*/"),
        concat!(
            r#"{"results":[{"statement_id":0,"series":["#,
            r#"{"name":"cpu","columns":["time","count_code","count_free","count_idle","count_used","count_value"],"values":[[0,null,null,3,null,5]]},"#,
            r#"{"name":"http requests","columns":["time","count_code","count_free","count_idle","count_used","count_value"],"values":[[0,1,null,null,null,null]]},"#,
            r#"{"name":"mem","columns":["time","count_code","count_free","count_idle","count_used","count_value"],"values":[[0,null,1,null,1,null]]}"#,
            r#"]}]}"#
        )
    );
    assert_eq!(vals(&q(&b, "db", "SELECT mean(*) FROM cpu WHERE time > 1s")), "[[1,25,4.25]]");
    assert_eq!(vals(&q(&b, "db", "SELECT count(/val/) FROM cpu")), "[[0,5]]");
}

#[test]
fn select_errors() {
    let b = cluster(1, 1);
    load(&b, "db");
    let e = |text: &str| {
        let j = q(&b, "db", text);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        v["results"][0]["error"].as_str().unwrap_or_else(|| panic!("no error: {j}")).to_string()
    };
    assert_eq!(
        e("SELECT value, count(value) FROM cpu"),
        "mixing aggregate and non-aggregate queries is not supported"
    );
    assert_eq!(
        e("SELECT value FROM cpu GROUP BY time(1m)"),
        "GROUP BY requires at least one aggregate function"
    );
    assert_eq!(e("SELECT foo(value) FROM cpu"), "undefined function foo()");
    assert_eq!(
        e("SELECT count(value, idle) FROM cpu"),
        "invalid number of arguments for count, expected 1, got 2"
    );
    assert_eq!(e("SELECT value FROM cpu fill(none)"), "fill(none) must be used with a function");
    assert_eq!(e("SELECT value FROM nodb..cpu"), "database not found: nodb");
    assert_eq!(e("SELECT value FROM db.nope.cpu"), "retention policy not found: nope");
    assert_eq!(e("SELECT time FROM cpu"), "at least 1 non-time field must be queried");
    assert_eq!(
        e("SELECT distinct(value), count(value) FROM cpu"),
        "aggregate function distinct() cannot be combined with other functions or fields"
    );
    let j = q(&b, "", "SELECT value FROM cpu");
    assert_eq!(j, r#"{"results":[{"statement_id":0,"error":"database name required"}]}"#);
    let j = q(&b, "db", "SELECT value FROM nodb..cpu; SHOW DATABASES");
    assert_eq!(
        j,
        r#"{"results":[{"statement_id":0,"error":"database not found: nodb"},{"statement_id":1,"error":"not executed"}]}"#
    );
}

#[test]
fn show_statements() {
    let b = cluster(2, 2);
    load(&b, "db");
    assert_eq!(
        q(&b, "db", "SHOW MEASUREMENTS"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"],["http requests"],["mem"]]}]}]}"#
    );
    assert_eq!(
        vals(&q(&b, "db", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /e/ LIMIT 1")),
        r#"[["http requests"]]"#
    );
    assert_eq!(vals(&q(&b, "db", "SHOW MEASUREMENTS WHERE host = 'a'")), r#"[["cpu"],["mem"]]"#);
    assert_eq!(
        q(&b, "db", "SHOW SERIES"),
        r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["cpu,host=a,region=us"],["cpu,host=b,region=eu"],["http\\ requests,path=/write\\,db"],["mem,host=a"]]}]}]}"#
    );
    assert_eq!(
        vals(&q(&b, "db", "SHOW SERIES FROM cpu WHERE region = 'eu'")),
        r#"[["cpu,host=b,region=eu"]]"#
    );
    assert_eq!(vals(&q(&b, "db", "SHOW SERIES WHERE time > 30s")), r#"[["cpu,host=b,region=eu"]]"#);
    assert_eq!(
        q(&b, "db", "SHOW TAG KEYS FROM cpu"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["tagKey"],"values":[["host"],["region"]]}]}]}"#
    );
    let j = q(&b, "db", "SHOW TAG VALUES WITH KEY = host");
    assert_eq!(
        j,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","a"],["host","b"]]},{"name":"mem","columns":["key","value"],"values":[["host","a"]]}]}]}"#
    );
    assert_eq!(
        vals(&q(&b, "db", "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region) WHERE host = 'b'")),
        r#"[["host","b"],["region","eu"]]"#
    );
    assert_eq!(
        q(&b, "db", "SHOW FIELD KEYS FROM cpu"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["idle","integer"],["value","float"]]}]}]}"#
    );
    assert_eq!(vals(&q(&b, "db", "SHOW SERIES CARDINALITY")), "[[4]]");
    assert_eq!(vals(&q(&b, "db", "SHOW TAG KEY CARDINALITY FROM cpu")), "[[2]]");
    assert_eq!(vals(&q(&b, "db", "SHOW MEASUREMENT CARDINALITY")), "[[3]]");
    assert!(ok(&q(&b, "db", "SHOW MEASUREMENTS WITH MEASUREMENT = nope")));
    assert_eq!(
        q(&b, "", "SHOW MEASUREMENTS"),
        r#"{"results":[{"statement_id":0,"error":"database name required"}]}"#
    );
    // SHOW SHARDS / SHARD GROUPS.
    let j = q(&b, "", "SHOW SHARDS");
    assert!(
        j.contains(r#"{"name":"db","columns":["id","database","retention_policy","shard_group","start_time","end_time","expiry_time","owners"],"values":[[1,"db","autogen",1,"1969-12-29T00:00:00Z","1970-01-05T00:00:00Z","","#),
        "{j}"
    );
    assert!(j.contains(r#""1,2"]]"#) || j.contains(r#""2,1"]]"#), "{j}");
    assert_eq!(
        q(&b, "", "SHOW SHARD GROUPS"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"shard groups","columns":["id","database","retention_policy","start_time","end_time","expiry_time"],"values":[[1,"db","autogen","1969-12-29T00:00:00Z","1970-01-05T00:00:00Z","1970-01-05T00:00:00Z"]]}]}]}"#
    );
}

#[test]
fn metastore_statements() {
    let b = cluster(2, 2);
    assert!(ok(&q(&b, "", "CREATE DATABASE db1")));
    assert!(ok(&q(&b, "", "CREATE DATABASE db1")));
    assert!(ok(&q(
        &b,
        "",
        "CREATE DATABASE db2 WITH DURATION 3d REPLICATION 1 SHARD DURATION 1h NAME short"
    )));
    assert_eq!(
        q(&b, "", "SHOW DATABASES"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db1"],["db2"]]}]}]}"#
    );
    assert_eq!(
        q(&b, "", "SHOW RETENTION POLICIES ON db2"),
        r#"{"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","futureWriteLimit","pastWriteLimit","default"],"values":[["short","72h0m0s","1h0m0s",1,"0s","0s",true]]}]}]}"#
    );
    assert!(ok(&q(
        &b,
        "",
        "CREATE RETENTION POLICY oneday ON db1 DURATION 1d REPLICATION 1 SHARD DURATION 2h"
    )));
    assert!(ok(&q(
        &b,
        "",
        "CREATE RETENTION POLICY oneday ON db1 DURATION 1d REPLICATION 1 SHARD DURATION 2h"
    )));
    assert_eq!(
        vals(&q(&b, "", "SHOW RETENTION POLICIES ON db1")),
        r#"[["autogen","0s","168h0m0s",2,"0s","0s",true],["oneday","24h0m0s","2h0m0s",1,"0s","0s",false]]"#
    );
    let err = |j: String| {
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        v["results"][0]["error"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(
        err(q(&b, "", "CREATE RETENTION POLICY oneday ON db1 DURATION 2d REPLICATION 1")),
        "retention policy already exists"
    );
    assert_eq!(
        err(q(&b, "", "CREATE RETENTION POLICY x ON nodb DURATION 2d REPLICATION 1")),
        "database not found: nodb"
    );
    assert_eq!(
        err(q(&b, "", "CREATE RETENTION POLICY x ON db1 DURATION 30m REPLICATION 1")),
        "retention policy duration must be at least 1h0m0s"
    );
    assert!(ok(&q(&b, "", "ALTER RETENTION POLICY oneday ON db1 DURATION 2d DEFAULT")));
    assert_eq!(
        vals(&q(&b, "", "SHOW RETENTION POLICIES ON db1")),
        r#"[["autogen","0s","168h0m0s",2,"0s","0s",false],["oneday","48h0m0s","2h0m0s",1,"0s","0s",true]]"#
    );
    assert_eq!(
        err(q(&b, "", "ALTER RETENTION POLICY nope ON db1 DURATION 2d")),
        "retention policy not found: nope"
    );
    assert!(ok(&q(&b, "", "DROP RETENTION POLICY nope ON db1")));
    assert!(ok(&q(&b, "", "DROP RETENTION POLICY autogen ON db1")));
    assert_eq!(err(q(&b, "", "SHOW RETENTION POLICIES ON nodb")), "database not found: nodb");
    assert_eq!(err(q(&b, "", "SHOW RETENTION POLICIES")), "database name required");
    assert_eq!(err(q(&b, "", "CREATE DATABASE \"a/b\"")), "invalid name");
    // Users and privileges.
    assert!(ok(&q(&b, "", "CREATE USER admin WITH PASSWORD 'Adm1n' WITH ALL PRIVILEGES")));
    assert!(ok(&q(&b, "", "CREATE USER admin WITH PASSWORD 'Adm1n' WITH ALL PRIVILEGES")));
    assert_eq!(err(q(&b, "", "CREATE USER admin WITH PASSWORD 'other'")), "user already exists");
    assert!(ok(&q(&b, "", "CREATE USER reader WITH PASSWORD 'r3ader'")));
    assert!(ok(&q(&b, "", "GRANT ALL ON db1 TO reader")));
    assert!(ok(&q(&b, "", "REVOKE WRITE ON db1 FROM reader")));
    assert_eq!(
        q(&b, "", "SHOW GRANTS FOR reader"),
        r#"{"results":[{"statement_id":0,"series":[{"columns":["database","privilege"],"values":[["db1","READ"]]}]}]}"#
    );
    assert_eq!(
        q(&b, "", "SHOW USERS"),
        r#"{"results":[{"statement_id":0,"series":[{"columns":["user","admin"],"values":[["admin",true],["reader",false]]}]}]}"#
    );
    assert_eq!(err(q(&b, "", "GRANT READ ON nodb TO reader")), "database not found: nodb");
    assert_eq!(err(q(&b, "", "GRANT READ ON db1 TO nobody")), "user not found");
    assert!(ok(&q(&b, "", "SET PASSWORD FOR reader = 'new'")));
    assert!(bcrypt::verify("new", &b.view().user("reader").unwrap().hash).unwrap());
    assert!(ok(&q(&b, "", "GRANT ALL PRIVILEGES TO reader")));
    assert!(b.view().user("reader").unwrap().admin);
    assert!(ok(&q(&b, "", "REVOKE ALL PRIVILEGES FROM reader")));
    assert!(ok(&q(&b, "", "DROP USER reader")));
    assert_eq!(err(q(&b, "", "DROP USER reader")), "user not found");
    // Continuous queries: stored with qualified measurements.
    assert!(ok(&q(
        &b,
        "",
        "CREATE CONTINUOUS QUERY cq ON db2 BEGIN SELECT mean(v) INTO m_1h FROM m GROUP BY time(1h), * END"
    )));
    assert_eq!(
        q(&b, "", "SHOW CONTINUOUS QUERIES"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"db1","columns":["name","query"]},{"name":"db2","columns":["name","query"],"values":[["cq","CREATE CONTINUOUS QUERY cq ON db2 BEGIN SELECT mean(v) INTO db2.short.m_1h FROM db2.short.m GROUP BY time(1h), * END"]]}]}]}"#
    );
    assert!(ok(&q(&b, "", "DROP CONTINUOUS QUERY cq ON db2")));
    assert!(ok(&q(&b, "", "DROP CONTINUOUS QUERY cq ON db2")));
    assert!(ok(&q(&b, "", "DROP DATABASE db2")));
    assert!(ok(&q(&b, "", "DROP DATABASE db2")));
    assert_eq!(vals(&q(&b, "", "SHOW DATABASES")), r#"[["db1"]]"#);
    // GET: write statements carry InfluxDB's deprecation warning.
    let opts = QueryOptions { read_only: true, ..Default::default() };
    assert_eq!(
        run_opts(&b, "CREATE DATABASE db3", &opts, ""),
        r#"{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"deprecated use of 'CREATE DATABASE db3' in a read only context, please use a POST request instead"}]}]}"#
    );
}

#[test]
fn deletes_reach_every_owner() {
    let b = cluster(2, 2);
    load(&b, "db");
    let shard = b.view().shards().next().unwrap().shard.id;
    let before = (b.value_count(1, shard), b.value_count(2, shard));
    assert_eq!(before.0, before.1);
    assert!(ok(&q(&b, "db", "DELETE FROM cpu WHERE time < 15s")));
    assert_eq!(vals(&q(&b, "db", "SELECT count(value) FROM cpu")), "[[0,2]]");
    assert_eq!(b.value_count(1, shard), b.value_count(2, shard));
    assert_eq!(b.value_count(1, shard), before.0 - 6);
    assert!(ok(&q(&b, "db", "DROP SERIES FROM cpu WHERE host = 'b'")));
    assert!(ok(&q(&b, "db", "SELECT * FROM cpu")));
    assert!(ok(&q(&b, "db", "DROP MEASUREMENT mem")));
    assert_eq!(vals(&q(&b, "db", "SHOW MEASUREMENTS")), r#"[["http requests"]]"#);
    assert_eq!(b.value_count(1, shard), 1);
    assert_eq!(b.value_count(2, shard), 1);
    let j = q(&b, "db", "DROP SERIES FROM cpu WHERE time > 0");
    assert!(j.contains("DROP SERIES doesn't support time in WHERE clause"), "{j}");
    let j = q(&b, "db", "DELETE FROM \"http requests\" WHERE code = 204");
    assert!(j.contains("fields not supported in WHERE clause during deletion"), "{j}");
    // An owner down: the delete reports it.
    b.set_down(2, true);
    let j = q(&b, "db", "DELETE FROM \"http requests\"");
    assert!(j.contains("node 2"), "{j}");
}

#[test]
fn select_into_keeps_tags_with_group_by_star() {
    let b = cluster(2, 1);
    load(&b, "src");
    assert!(ok(&q(&b, "", "CREATE DATABASE dst")));
    assert_eq!(
        q(&b, "src", "SELECT * INTO dst..:MEASUREMENT FROM /.*/ GROUP BY *"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[[0,7]]}]}]}"#
    );
    assert_eq!(q(&b, "dst", "SELECT * FROM cpu"), q(&b, "src", "SELECT * FROM cpu"));
    assert_eq!(q(&b, "dst", "SHOW SERIES"), q(&b, "src", "SHOW SERIES"));
    // Without GROUP BY *, tags become fields.
    assert!(ok(&q(&b, "", "CREATE DATABASE flat")));
    assert_eq!(vals(&q(&b, "src", "SELECT * INTO flat..cpu_copy FROM cpu")), "[[0,5]]");
    assert_eq!(
        vals(&q(&b, "flat", "SHOW FIELD KEYS")),
        r#"[["host","string"],["idle","integer"],["region","string"],["value","float"]]"#
    );
    // Aggregates into another measurement.
    assert_eq!(
        vals(&q(&b, "src", "SELECT mean(value) INTO dst.autogen.cpu_mean FROM cpu GROUP BY host")),
        "[[0,2]]"
    );
    assert_eq!(vals(&q(&b, "dst", "SELECT mean FROM cpu_mean WHERE host = 'b'")), "[[0,5]]");
    assert!(q(&b, "src", "SELECT * INTO nodb..x FROM cpu").contains("database not found: nodb"));
}

#[test]
fn reads_fail_over_to_a_replica() {
    let b = cluster(2, 2);
    load(&b, "db");
    let all = q(&b, "db", "SELECT * FROM cpu");
    b.set_down(1, true);
    assert_eq!(q(&b, "db", "SELECT * FROM cpu"), all);
    b.set_down(1, false);
    b.set_down(2, true);
    assert_eq!(q(&b, "db", "SELECT * FROM cpu"), all);
    b.set_down(1, true);
    let j = q(&b, "db", "SELECT * FROM cpu");
    assert!(j.contains("no owner answered"), "{j}");
}

#[test]
fn shards_merge_and_rf1_placement() {
    // RF 1 on 2 nodes: 2 shards per group, series split between them; a
    // series in two groups (two weeks) is merged in time order.
    let b = cluster(2, 1);
    assert!(ok(&q(&b, "", "CREATE DATABASE db")));
    let week = 7 * 86_400;
    let text: String =
        (0..40).map(|i| format!("m,host=h{} v={i} {}\n", i % 4, i * week / 8)).collect();
    let (points, _) = lineproto::parse_lines(text.as_bytes(), Precision::Second, 0);
    b.write_sync("db", "", points).unwrap();
    assert!(b.view().shards().count() >= 4);
    let opts =
        QueryOptions { database: "db".into(), now: Some(i64::MAX / 2), ..Default::default() };
    let j = run_opts(&b, "SELECT count(v), sum(v) FROM m", &opts, "s");
    assert_eq!(vals(&j), "[[0,40,780]]");
    let j = run_opts(&b, "SELECT v FROM m WHERE host = 'h1'", &opts, "s");
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let rows = v["results"][0]["series"][0]["values"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 10);
    assert!(rows.windows(2).all(|w| w[0][0].as_i64() < w[1][0].as_i64()));
}

#[test]
fn garbage_never_panics() {
    let b = cluster(1, 1);
    load(&b, "db");
    let pieces = [
        "SELECT",
        "*",
        "FROM",
        "cpu",
        "WHERE",
        "time",
        ">",
        "now()",
        "-",
        "1h",
        "GROUP BY",
        "time(1m)",
        "fill(",
        ")",
        "count(",
        "value",
        "/.*/",
        "'x'",
        "\"",
        ",",
        ";",
        "ORDER BY",
        "DESC",
        "LIMIT",
        "0",
        "SHOW",
        "TAG",
        "VALUES",
        "WITH KEY",
        "=",
        "host",
        "INTO",
        "db..:MEASUREMENT",
        "AND",
        "OR",
        "DELETE",
        "DROP",
        "SERIES",
        "MEASUREMENT",
        "distinct(",
        "percentile(",
        "50",
        "mean(",
        "*)",
        "GROUP BY *",
        "SLIMIT",
        "1",
        "::tag",
        "::field",
        "=~",
        "/a/",
        "!~",
        "1e400",
        "-9223372036854775808",
    ];
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..400 {
        let n = (next() % 12) as usize + 1;
        let text: Vec<&str> =
            (0..n).map(|_| pieces[(next() % pieces.len() as u64) as usize]).collect();
        let text = text.join(" ");
        let j = q(&b, "db", &text);
        assert!(!j.is_empty());
    }
    // Valid but odd queries.
    for text in [
        "SELECT count(value) FROM cpu WHERE time >= 0 AND time < 1000000s GROUP BY time(1ns)",
        "SELECT value FROM cpu WHERE time > 9223372036854775806",
        "SELECT mean(value) FROM cpu GROUP BY time(1h, -30m) fill(linear)",
        "SELECT percentile(value, 200), percentile(value, -1) FROM cpu",
        "SELECT * FROM /[/",
        "SELECT value / 0, value % 0 FROM cpu",
    ] {
        let j = q(&b, "db", text);
        assert!(j.starts_with("{\"results\"") || j.starts_with("parse error"), "{text}: {j}");
    }
}
