//! Property tests: random series, field types, timestamps and values
//! survive TSM write → read, through every block encoding.

use std::collections::{BTreeMap, BTreeSet};

use portable::key::{composite_key, series_key};
use portable::tsm::{self, TsmReader, TsmWriter, ValueSlice, Values};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        "[a-z ,=\\\\\"]{1,6}",
        "\\PC{1,5}",
        Just("web 01".to_string()),
        Just("rack,row=3".to_string()),
    ]
}

fn timestamps() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        // Regular series (RLE), sometimes with a big step.
        (any::<i64>(), 1i64..1_000_000_000_000, 1usize..2500).prop_map(|(start, step, n)| {
            (0..n as i64)
                .map(|i| start.saturating_add(i.saturating_mul(step)))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        }),
        // Arbitrary, extremes included.
        prop::collection::btree_set(
            prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0i64)],
            1..300
        )
        .prop_map(|s| s.into_iter().collect()),
        // Jittered seconds (simple8b with divisors).
        (0i64..1 << 40, prop::collection::vec(1i64..5000, 1..1500)).prop_map(|(start, gaps)| {
            let mut t = start;
            gaps.into_iter()
                .map(|g| {
                    t += g * 1_000_000;
                    t
                })
                .collect()
        }),
    ]
}

fn values(n: usize) -> impl Strategy<Value = Values> {
    let f = prop_oneof![
        any::<f64>().prop_filter("NaN cannot be stored", |v| !v.is_nan()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(1.5),
    ];
    let i = prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), -5i64..5];
    let u = prop_oneof![any::<u64>(), Just(u64::MAX), Just(0u64), 0u64..10];
    prop_oneof![
        prop::collection::vec(f, n).prop_map(Values::Float),
        prop::collection::vec(i, n).prop_map(Values::Integer),
        prop::collection::vec(u, n).prop_map(Values::Unsigned),
        prop::collection::vec(any::<bool>(), n).prop_map(Values::Boolean),
        prop::collection::vec(
            prop_oneof![Just(String::new()), "\\PC{0,20}", "[a\"\\\\ ,=]{0,5}"],
            n
        )
        .prop_map(Values::String),
        // Constant runs (RLE integers, repeated floats).
        (any::<i64>(), Just(n)).prop_map(|(v, n)| Values::Integer(vec![v; n])),
        (any::<i32>(), Just(n)).prop_map(|(v, n)| Values::Float(vec![f64::from(v); n])),
    ]
}

fn series() -> impl Strategy<Value = (Vec<u8>, Vec<i64>, Values)> {
    (name(), prop::collection::vec((name(), name()), 0..3), name(), timestamps()).prop_flat_map(
        |(m, tags, field, ts)| {
            let mut tags: Vec<(String, String)> =
                tags.into_iter().collect::<BTreeMap<_, _>>().into_iter().collect();
            tags.retain(|(_, v)| !v.is_empty());
            let key = composite_key(series_key(&m, &tags).as_bytes(), field.as_bytes());
            let n = ts.len();
            (Just(key), Just(ts), values(n))
        },
    )
}

fn same(a: &Values, b: &Values) -> bool {
    match (a, b) {
        (Values::Float(x), Values::Float(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn write_then_read_gives_the_same_points(
        all in prop::collection::vec(series(), 1..6),
        per_block in prop_oneof![Just(1000usize), 1usize..1200],
    ) {
        // Keys must be unique and ascending.
        let mut by_key: BTreeMap<Vec<u8>, (Vec<i64>, Values)> = BTreeMap::new();
        for (k, t, v) in all {
            by_key.entry(k).or_insert((t, v));
        }
        let mut w = TsmWriter::new("prop", Vec::new()).with_points_per_block(per_block);
        for (k, (t, v)) in &by_key {
            w.write_series(k, t, v.as_slice()).unwrap();
        }
        let bytes = w.finish().unwrap();
        let mut r = TsmReader::from_bytes("prop", &bytes).unwrap();
        prop_assert_eq!(r.key_count(), by_key.len());
        let total: usize = by_key.values().map(|(t, _)| t.len()).sum();
        prop_assert_eq!(r.verify().unwrap(), total as u64);
        let read = tsm::read_all("prop", &bytes).unwrap();
        for (s, (k, (t, v))) in read.iter().zip(&by_key) {
            prop_assert_eq!(&s.key, k);
            prop_assert_eq!(&s.timestamps, t);
            prop_assert!(same(&s.values, v));
            prop_assert!(r.find(k).is_some());
        }
        for k in r.keys() {
            prop_assert!(k.entries.iter().all(|e| e.max_time >= e.min_time));
        }
    }

    #[test]
    fn single_blocks_round_trip((_, ts, vs) in series()) {
        let mut b = Vec::new();
        tsm::encode_block(&ts, vs.as_slice(), &mut b).unwrap();
        let (t2, v2) = tsm::decode_block(&b).unwrap();
        prop_assert_eq!(t2, ts);
        prop_assert!(same(&v2, &vs));
    }

    #[test]
    fn nan_is_rejected_like_influxdb(mut v in prop::collection::vec(any::<f64>(), 1..50), at in any::<prop::sample::Index>()) {
        let i = at.index(v.len());
        v[i] = f64::NAN;
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let mut w = TsmWriter::new("nan", Vec::new());
        prop_assert!(w.write_series(b"m#!~#f", &ts, ValueSlice::Float(&v)).is_err());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = tsm::decode_block(&data);
        let _ = TsmReader::from_bytes("junk", &data).map(|mut r| r.verify());
        let mut with_header = vec![0x16, 0xD1, 0x16, 0xD1, 0x01];
        with_header.extend_from_slice(&data);
        if let Ok(mut r) = TsmReader::from_bytes("junk", &with_header) {
            let _ = r.verify();
        }
    }
}
