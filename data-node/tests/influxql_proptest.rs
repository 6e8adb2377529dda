//! Property tests of the InfluxQL parser: no input makes it panic, and
//! what it parses renders (`Display`) to text that parses back to the same
//! tree.

use data_node::influxql::{Statement, condition_time_bounds, parse_query, parse_statement};
use proptest::prelude::*;

/// Parses `text` and checks the render/re-parse round trip.
fn check_round_trip(text: &str) -> Result<(), TestCaseError> {
    let Ok(stmts) = parse_query(text) else {
        return Ok(());
    };
    for s in stmts {
        let rendered = s.to_string();
        if rendered.contains("[REDACTED]") {
            continue;
        }
        let again = parse_statement(&rendered)
            .map_err(|e| TestCaseError::fail(format!("{text:?} -> {rendered:?}: {e}")))?;
        let (mut a, mut b) = (again.clone(), s.clone());
        for st in [&mut a, &mut b] {
            if let Statement::CreateContinuousQuery(cq) = st {
                cq.text.clear();
            }
        }
        // InfluxDB renders `x * -y` as `x * -1 * y`, which reads back as
        // `(x * -1) * y`: same value, other tree. Only the text is compared
        // then.
        let regrouped = ["* -", "/ -", "% -", "& -"].iter().any(|p| rendered.contains(p));
        if !regrouped {
            prop_assert_eq!(&a, &b, "{:?} -> {:?}", text, rendered);
        }
        prop_assert_eq!(again.to_string(), rendered);
        if let Statement::Select(sel) = &s {
            let _ = condition_time_bounds(sel.condition.as_ref(), 1_795_271_760_000_000_000);
        }
    }
    Ok(())
}

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "host",
            "value",
            "cpu",
            "time",
            "usage_user",
            "_x",
            "a1",
            "select",
            "from",
            "key",
        ])
        .prop_map(str::to_string),
        // Quoted identifiers with characters that need escaping.
        "[a-z \\-.,=\"\\\\\\n'é/]{1,8}".prop_map(|s| {
            let mut q = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => q.push_str("\\\""),
                    '\\' => q.push_str("\\\\"),
                    '\n' => q.push_str("\\n"),
                    c => q.push(c),
                }
            }
            q.push('"');
            q
        }),
    ]
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        (0u32..100_000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        prop::sample::select(vec![
            "1h", "30m", "1d", "1w", "10ms", "5u", "5µ", "7ns", "1h30m", "0s"
        ])
        .prop_map(str::to_string),
        "[a-z \\\\'\\n\"é]{0,8}".prop_map(|s| {
            let mut q = String::from("'");
            for c in s.chars() {
                match c {
                    '\'' => q.push_str("\\'"),
                    '\\' => q.push_str("\\\\"),
                    '\n' => q.push_str("\\n"),
                    c => q.push(c),
                }
            }
            q.push('\'');
            q
        }),
        Just("true".to_string()),
        Just("FALSE".to_string()),
        Just("now()".to_string()),
        Just("'2026-11-21T14:36:00Z'".to_string()),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        ident(),
        literal(),
        (ident(), prop::sample::select(vec!["float", "tag", "field", "integer"]))
            .prop_map(|(i, t)| format!("{i}::{t}"))
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "&", "|", "^", "AND", "OR", "=", "!=", "<>", "<",
                    "<=", ">", ">="
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (ident(), prop::sample::select(vec!["=~", "!~"]), "[a-z.*^$|()]{0,6}")
                .prop_map(|(a, op, r)| format!("{a} {op} /{r}/")),
            (
                prop::sample::select(vec!["mean", "COUNT", "max", "percentile", "top"]),
                prop::collection::vec(inner, 1..3)
            )
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
}

fn select() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop_oneof![
                expr(),
                Just("*".to_string()),
                Just("count(*)".to_string()),
                Just("DISTINCT host".to_string())
            ],
            1..3,
        ),
        prop::option::of(prop::sample::select(vec![
            "x",
            "db..:MEASUREMENT",
            "db.rp.m",
            "\"a b\"..m",
        ])),
        prop::collection::vec(
            prop_oneof![
                ident(),
                Just("/c.*/".to_string()),
                Just("db..m".to_string()),
                Just("\"d\".\"r\".\"m\"".to_string())
            ],
            1..3,
        ),
        prop::option::of(expr()),
        prop::option::of(prop::sample::select(vec![
            "time(1h)",
            "time(1h, 15m), host",
            "*",
            "/h/",
            "host, \"rack id\"",
        ])),
        prop::option::of(prop::sample::select(vec![
            "fill(none)",
            "fill(0)",
            "fill(-1.5)",
            "fill(previous)",
            "fill(linear)",
        ])),
        prop::option::of(prop::sample::select(vec![
            " ORDER BY time DESC",
            " LIMIT 10",
            " LIMIT 1 OFFSET 2 SLIMIT 3 SOFFSET 4",
        ])),
    )
        .prop_map(|(fields, into, from, cond, group, fill, tail)| {
            let mut q = format!("SELECT {}", fields.join(", "));
            if let Some(i) = into {
                q.push_str(&format!(" INTO {i}"));
            }
            q.push_str(&format!(" FROM {}", from.join(", ")));
            if let Some(c) = cond {
                q.push_str(&format!(" WHERE {c}"));
            }
            if let Some(g) = group {
                q.push_str(&format!(" GROUP BY {g}"));
            }
            if let Some(f) = fill {
                q.push_str(&format!(" {f}"));
            }
            if let Some(t) = tail {
                q.push_str(t);
            }
            q
        })
}

fn other_statement() -> impl Strategy<Value = String> {
    (ident(), ident(), expr()).prop_flat_map(|(a, b, e)| {
        prop::sample::select(vec![
            // InfluxDB writes this database name unquoted: plain names only.
            format!("SHOW MEASUREMENTS ON db0 WITH MEASUREMENT =~ /x/ WHERE {e} LIMIT 2"),
            format!("SHOW SERIES ON {a} FROM {b} WHERE {e}"),
            format!("SHOW TAG KEYS ON {a} FROM {b}"),
            format!("SHOW TAG VALUES ON {a} FROM {b} WITH KEY IN ({a}, {b}) WHERE {e}"),
            format!("SHOW TAG VALUES WITH KEY = {a}"),
            format!("SHOW FIELD KEYS ON {a} FROM {b}"),
            format!("SHOW RETENTION POLICIES ON {a}"),
            format!("SHOW GRANTS FOR {a}"),
            format!("CREATE DATABASE {a} WITH DURATION 3d REPLICATION 2 SHARD DURATION 1h NAME {b}"),
            format!("DROP DATABASE {a}"),
            format!("CREATE RETENTION POLICY {a} ON {b} DURATION 1d REPLICATION 1 SHARD DURATION 2h DEFAULT"),
            format!("ALTER RETENTION POLICY {a} ON {b} DURATION 2d DEFAULT"),
            format!("DROP RETENTION POLICY {a} ON {b}"),
            format!("CREATE USER {a} WITH PASSWORD 'x' WITH ALL PRIVILEGES"),
            format!("GRANT READ ON {a} TO {b}"),
            format!("REVOKE ALL PRIVILEGES FROM {a}"),
            format!("DROP MEASUREMENT {a}"),
            format!("DROP SERIES FROM {a} WHERE {e}"),
            format!("DELETE FROM {a} WHERE {e}"),
            format!("CREATE CONTINUOUS QUERY {a} ON {b} BEGIN SELECT mean(v) INTO {a} FROM {b} GROUP BY time(1h) END"),
            format!("DROP CONTINUOUS QUERY {a} ON {b}"),
        ])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn selects_round_trip(q in select()) {
        check_round_trip(&q)?;
    }

    #[test]
    fn statements_round_trip(q in other_statement()) {
        check_round_trip(&q)?;
    }

    #[test]
    fn arbitrary_strings_never_panic(q in any::<String>()) {
        let _ = parse_query(&q);
    }

    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(vec![
        "SELECT", "FROM", "WHERE", "GROUP", "BY", "INTO", "ON", "WITH", "KEY", "SHOW", "CREATE",
        "DROP", "DATABASE", "RETENTION", "POLICY", "DURATION", "CONTINUOUS", "QUERY", "BEGIN",
        "END", "time", "now()", "(", ")", ",", ";", ".", "..", ":", "::", "*", "/", "/re/", "=~",
        "=", "<", ">=", "AND", "OR", "-", "+", "1h", "5", "1.5", "'s'", "\"q\"", "$p", "--",
        "/*", "*/", "\n", "fill(", "tz(", "LIMIT", "10", "EXACT", "CARDINALITY", "TAG", "VALUES",
        "MEASUREMENT", "FUTURE", "PAST", "'", "\"", "\\", "µ", "\0", "\r",
    ]), 0..40)) {
        let q = words.join(" ");
        let _ = parse_query(&q);
        check_round_trip(&q)?;
        let q = words.concat();
        let _ = parse_query(&q);
        check_round_trip(&q)?;
    }
}
