//! Property tests: `write_point` output parses back to the same point, and
//! no input makes the parser panic.

use portable::lineproto::{Precision, parse_lines, write_point, write_points};
use portable::{FieldValue, Point};
use proptest::prelude::*;

/// Characters that exercise every escaping rule.
const ALPHABET: &[char] =
    &['a', 'b', 'Z', '0', '9', ' ', ',', '=', '"', '\\', '\t', '#', '.', '-', 'é', '✓', 'i', 'u'];

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 1..8)
        .prop_map(|v| v.into_iter().collect::<String>())
        // What line protocol cannot carry (InfluxDB has the same limits): a
        // trailing backslash escapes the separator after it; a backslash
        // before an escaped character makes the line splitter see an
        // unescaped one; a leading tab is skipped as blank.
        .prop_filter("unrepresentable", |s| {
            let b = s.as_bytes();
            !s.ends_with('\\')
                && !s.starts_with('\t')
                && !b.windows(2).any(|w| w[0] == b'\\' && matches!(w[1], b',' | b'=' | b' ' | b'"'))
        })
}

fn measurement() -> impl Strategy<Value = String> {
    name().prop_filter("comment", |s| !s.starts_with('#'))
}

fn field_key() -> impl Strategy<Value = String> {
    name()
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(1e-9),
        Just(1.5e10),
    ]
}

fn value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        float().prop_map(FieldValue::Float),
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)].prop_map(FieldValue::Integer),
        prop_oneof![any::<u64>(), Just(u64::MAX)].prop_map(FieldValue::Unsigned),
        any::<bool>().prop_map(FieldValue::Boolean),
        prop_oneof![
            any::<String>(),
            prop::collection::vec(
                prop::sample::select(&['"', '\\', '\n', '\r', ' ', ',', '=', 'x'][..]),
                0..10
            )
            .prop_map(|v| v.into_iter().collect())
        ]
        .prop_map(FieldValue::String),
    ]
}

fn point() -> impl Strategy<Value = Point> {
    (
        measurement(),
        prop::collection::btree_map(name(), name(), 0..4),
        prop::collection::vec((field_key(), value()), 1..5),
        prop_oneof![
            portable::lineproto::MIN_NANO_TIME..=portable::lineproto::MAX_NANO_TIME,
            Just(portable::lineproto::MIN_NANO_TIME),
            Just(portable::lineproto::MAX_NANO_TIME),
            Just(0i64),
        ],
    )
        .prop_map(|(measurement, tags, fields, time)| {
            let mut tags: Vec<(String, String)> = tags.into_iter().collect();
            // InfluxDB orders tags by their escaped bytes.
            tags.sort_by_cached_key(|(k, _)| {
                let mut e = String::new();
                portable::key::escape_tag(k, &mut e);
                e
            });
            Point { measurement, tags, fields, time }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn write_then_parse_round_trips(points in prop::collection::vec(point(), 1..4)) {
        let mut body = String::new();
        write_points(&points, &mut body);
        let (parsed, errors) = parse_lines(body.as_bytes(), Precision::Nanosecond, 0);
        prop_assert!(errors.is_empty(), "{:?}\n{}", errors, body);
        prop_assert_eq!(parsed.len(), points.len());
        for (got, want) in parsed.iter().zip(&points) {
            prop_assert_eq!(got, want, "{}", body);
            prop_assert_eq!(got.series_key(), want.series_key());
            for ((_, a), (_, b)) in got.fields.iter().zip(&want.fields) {
                if let (FieldValue::Float(a), FieldValue::Float(b)) = (a, b) {
                    prop_assert_eq!(a.to_bits(), b.to_bits());
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_lines(&body, Precision::Nanosecond, 0);
        let _ = parse_lines(&body, Precision::Hour, i64::MAX);
    }

    #[test]
    fn random_line_protocol_like_text_never_panics(
        body in prop::collection::vec(
            prop::sample::select(&[
                b'a', b'1', b'0', b'9', b'-', b'.', b'e', b'E', b'+', b'i', b'u', b't', b'f',
                b'T', b'F', b'N', b'n', b' ', b',', b'=', b'"', b'\\', b'\n', b'\t', b'#', 0,
                b'\r',
            ][..]),
            0..120,
        )
    ) {
        let (points, _) = parse_lines(&body, Precision::Nanosecond, 0);
        // Whatever parses can be written out again.
        for p in &points {
            let mut s = String::new();
            write_point(p, &mut s);
        }
    }
}
