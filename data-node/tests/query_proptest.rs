//! Property test: any query text, valid or garbled, run against in-memory
//! shards, gives one result per parsed statement and JSON that parses —
//! never a panic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use data_node::http::query::parse_form;
use data_node::influxql::parse_query;
use data_node::query::memory::MemoryBackend;
use data_node::query::{Epoch, JsonOptions, QueryOptions, encode_response, execute};
use meta_node::state::MetaState;
use portable::lineproto::{self, Precision};
use proptest::prelude::*;
use proto::cluster::{self, command::Cmd};

fn backend() -> MemoryBackend {
    let state = Arc::new(Mutex::new(MetaState::new()));
    let shared = state.clone();
    let index = Arc::new(AtomicU64::new(1));
    let apply = move |cmd: &Cmd| -> Result<proto::meta::Data, String> {
        let mut cmd = cmd.clone();
        if let Cmd::CreateDatabase(c) = &mut cmd
            && c.default_replica_n == 0
        {
            c.default_replica_n = 1;
        }
        let mut st = state.lock().unwrap();
        let i = index.fetch_add(1, Ordering::SeqCst);
        st.apply(i, 1, "", &cluster::Command { cmd: Some(cmd) }).map_err(|e| e.to_string())?;
        Ok(st.data.clone())
    };
    for n in 1..=2 {
        apply(&Cmd::CreateDataNode(cluster::CreateDataNode {
            http_addr: format!("n{n}:8086"),
            tcp_addr: format!("n{n}:8088"),
            passive: false,
        }))
        .unwrap();
    }
    apply(&Cmd::CreateDatabase(cluster::CreateDatabase {
        name: "db".into(),
        retention_policy: None,
        default_replica_n: 1,
        skip_default_rp: false,
    }))
    .unwrap();
    let data = shared.lock().unwrap().data.clone();
    let b = MemoryBackend::new(1, data, Box::new(apply));
    let lines = "cpu,host=a,region=us value=1,idle=10i,s=\"x\",ok=true 0\n\
                 cpu,host=b value=3.5,idle=-2i 10000000000\n\
                 cpu,host=a,region=us value=2 3600000000000\n\
                 mem,host=a used=5u 0\n\
                 \"odd name\",t\\ k=v\\,1 f=1e-9 5\n";
    let (points, _) = lineproto::parse_lines(lines.as_bytes(), Precision::Nanosecond, 0);
    b.write_sync("db", "", points).unwrap();
    b
}

const TOKENS: &[&str] = &[
    "SELECT",
    "*",
    "FROM",
    "cpu",
    "mem",
    "\"odd name\"",
    "WHERE",
    "time",
    ">",
    "<",
    ">=",
    "=",
    "!=",
    "=~",
    "!~",
    "/a/",
    "/^.*$/",
    "now()",
    "-",
    "+",
    "*",
    "/",
    "%",
    "1h",
    "10s",
    "0",
    "1",
    "-1",
    "1.5",
    "'a'",
    "'2026-01-01T00:00:00Z'",
    "value",
    "idle",
    "s",
    "ok",
    "host",
    "region",
    "t k",
    "GROUP BY",
    "time(1h)",
    "time(10s, 5s)",
    "fill(null)",
    "fill(none)",
    "fill(previous)",
    "fill(linear)",
    "fill(0)",
    "count(",
    "sum(",
    "mean(",
    "max(",
    "min(",
    "first(",
    "last(",
    "distinct(",
    "median(",
    "spread(",
    "stddev(",
    "mode(",
    "percentile(",
    "top(",
    "bottom(",
    "derivative(",
    "difference(",
    "cumulative_sum(",
    "moving_average(",
    "elapsed(",
    ")",
    ",",
    "AS",
    "x",
    "ORDER BY time DESC",
    "LIMIT",
    "OFFSET",
    "SLIMIT",
    "SOFFSET",
    "2",
    ";",
    "AND",
    "OR",
    "(",
    "INTO",
    "db..:MEASUREMENT",
    "db.autogen.copy",
    "::field",
    "::tag",
    "::integer",
    "SHOW",
    "MEASUREMENTS",
    "SERIES",
    "TAG",
    "KEYS",
    "VALUES",
    "WITH KEY",
    "FIELD",
    "DATABASES",
    "RETENTION POLICIES",
    "SHARDS",
    "SHARD GROUPS",
    "USERS",
    "CARDINALITY",
    "EXACT",
    "DELETE",
    "DROP",
    "MEASUREMENT",
    "CREATE",
    "DATABASE",
    "x1",
    "RETENTION POLICY",
    "ON",
    "db",
    "DURATION",
    "REPLICATION",
    "DEFAULT",
    "USER",
    "PASSWORD",
    "GRANT",
    "REVOKE",
    "ALL",
    "READ",
    "TO",
    "CONTINUOUS QUERY",
    "BEGIN",
    "END",
    "\"",
    "'",
    "\\",
    "9223372036854775807",
    "1e308",
];

fn run(b: &MemoryBackend, text: &str) {
    let Ok(stmts) = parse_query(text) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // A `now()` just after the data keeps GROUP BY time() ranges small.
    let opts = QueryOptions {
        database: "db".into(),
        now: Some(3 * 3_600_000_000_000),
        ..Default::default()
    };
    let results = rt.block_on(execute(b, &stmts, &opts));
    assert_eq!(results.len(), stmts.len(), "{text}");
    for epoch in ["", "ms"] {
        for pretty in [false, true] {
            let body =
                encode_response(&results, None, JsonOptions { pretty, epoch: Epoch::parse(epoch) });
            let v: Result<serde_json::Value, _> = serde_json::from_str(&body);
            assert!(v.is_ok(), "{text}: invalid JSON {body}");
        }
    }
}

const FIELDS: &[&str] = &[
    "*",
    "value",
    "idle",
    "s",
    "ok",
    "host",
    "value * 2",
    "idle / 0",
    "count(value)",
    "sum(idle)",
    "mean(*)",
    "max(value)",
    "min(idle), host",
    "first(s)",
    "last(ok)",
    "distinct(host)",
    "median(value)",
    "spread(idle)",
    "stddev(value)",
    "mode(s)",
    "percentile(value, 50)",
    "top(value, 2)",
    "bottom(idle, host, 1)",
    "count(distinct(s))",
    "derivative(value)",
    "difference(idle)",
    "cumulative_sum(value)",
    "moving_average(value, 2)",
    "elapsed(value, 1s)",
    "abs(idle)",
    "sqrt(value)",
    "/v/",
    "*::tag",
    "used",
    "f",
];
const AGG_FIELDS: &[&str] = &[
    "count(value)",
    "mean(value)",
    "max(idle)",
    "sum(*)",
    "derivative(mean(value))",
    "non_negative_derivative(max(idle), 1s)",
    "cumulative_sum(count(value))",
    "moving_average(mean(value), 2)",
    "difference(min(idle))",
    "first(value), last(value)",
];
const SOURCES: &[&str] = &[
    "cpu",
    "mem",
    "/.*/",
    "\"odd name\"",
    "db..cpu",
    "db.autogen./c/",
    "cpu, mem",
    "(SELECT value, host FROM cpu)",
    "(SELECT mean(value) AS value FROM cpu GROUP BY host)",
];
const CONDS: &[&str] = &[
    "",
    "WHERE host = 'a'",
    "WHERE value > 1",
    "WHERE time > now() - 1h",
    "WHERE time >= 0 AND time < 2h",
    "WHERE host =~ /a|b/ OR idle < 0",
    "WHERE region = ''",
    "WHERE s = 'x' AND ok = true",
    "WHERE time = 10s",
];
const TAILS: &[&str] = &[
    "",
    "GROUP BY host",
    "GROUP BY *",
    "ORDER BY time DESC",
    "LIMIT 1",
    "LIMIT 2 OFFSET 1",
    "SLIMIT 1",
    "GROUP BY host SLIMIT 1 SOFFSET 1",
];
const INTERVAL_TAILS: &[&str] = &[
    "GROUP BY time(1h)",
    "GROUP BY time(10s) fill(0)",
    "GROUP BY time(30m), host fill(previous)",
    "GROUP BY time(1h, 15m) fill(linear)",
    "GROUP BY time(20m) fill(none) ORDER BY time DESC",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn structured_selects_never_panic(
        f in 0..FIELDS.len(), a in 0..AGG_FIELDS.len(), src in 0..SOURCES.len(),
        c in 0..CONDS.len(), t in 0..TAILS.len(), it in 0..INTERVAL_TAILS.len(), agg in any::<bool>(),
    ) {
        let b = backend();
        let text = if agg {
            format!("SELECT {} FROM {} {} {}", AGG_FIELDS[a], SOURCES[src], CONDS[c], INTERVAL_TAILS[it])
        } else {
            format!("SELECT {} FROM {} {} {}", FIELDS[f], SOURCES[src], CONDS[c], TAILS[t])
        };
        prop_assert!(parse_query(&text).is_ok() || text.contains("fill"), "{}", text);
        run(&b, &text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(idx in proptest::collection::vec(0..TOKENS.len(), 1..14)) {
        let b = backend();
        let text: Vec<&str> = idx.iter().map(|i| TOKENS[*i]).collect();
        run(&b, &text.join(" "));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,60}") {
        let b = backend();
        run(&b, &text);
        let _ = parse_form(&text);
    }
}
