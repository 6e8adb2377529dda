//! Differential test: the shard store against a BTreeMap model over random
//! sequences of writes (overlapping times, overwrites, type conflicts),
//! flushes, deletes, measurement drops, reopens and export/import.

use std::collections::BTreeMap;
use std::io::Cursor;

use data_node::store::{Shard, Store, StoreConfig, TimeRange};
use portable::{FieldType, FieldValue, Point};
use proptest::prelude::*;

/// (series key, field) → time → value.
type Model = BTreeMap<(String, String), BTreeMap<i64, FieldValue>>;

const SERIES: [(&str, &[(&str, &str)]); 4] = [
    ("m", &[("host", "a")]),
    ("m", &[("host", "b")]),
    ("m", &[("host", "c"), ("zone", "z 1")]),
    ("n", &[]),
];
const FIELDS: [&str; 3] = ["a", "b", "c"];

/// A point: series index, time, (field index, value) list.
type ModelPoint = (usize, i64, Vec<(usize, FieldValue)>);

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<ModelPoint>),
    Flush,
    Delete(Vec<usize>, i64, i64),
    Drop(usize),
    Reopen,
    ExportImport(Option<(i64, i64)>),
    /// Export everything into a new shard, which replaces the current one
    /// (with segment files on, later operations then meet runs).
    Move,
}

fn value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        8 => (-100i64..100).prop_map(|x| FieldValue::Float(x as f64 / 4.0)),
        2 => (-5i64..5).prop_map(FieldValue::Integer),
        1 => "[a-z]{0,3}".prop_map(FieldValue::String),
        1 => any::<bool>().prop_map(FieldValue::Boolean),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let point =
        (0..SERIES.len(), -20i64..3000, prop::collection::vec((0..FIELDS.len(), value()), 1..3));
    prop_oneof![
        10 => prop::collection::vec(point, 1..60).prop_map(Op::Write),
        2 => Just(Op::Flush),
        2 => (prop::collection::vec(0..SERIES.len(), 1..3), -20i64..3000, 0i64..1500)
            .prop_map(|(s, a, l)| Op::Delete(s, a, a + l)),
        1 => (0..2usize).prop_map(Op::Drop),
        1 => Just(Op::Reopen),
        1 => prop::option::of((-20i64..3000, 0i64..2000).prop_map(|(a, l)| (a, a + l)))
            .prop_map(Op::ExportImport),
        1 => Just(Op::Move),
    ]
}

fn series_key(i: usize) -> String {
    let (m, tags) = SERIES[i];
    let tags: Vec<(String, String)> =
        tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    portable::key::series_key(m, &tags)
}

fn point(s: usize, t: i64, fields: &[(usize, FieldValue)]) -> Point {
    let (m, tags) = SERIES[s];
    Point {
        measurement: m.to_string(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        fields: fields.iter().map(|(f, v)| (FIELDS[*f].to_string(), v.clone())).collect(),
        time: t,
    }
}

/// The type the model has for `field` of the measurement of series `s`.
fn model_type(model: &Model, s: usize, field: &str) -> Option<FieldType> {
    let m = SERIES[s].0;
    model.iter().find_map(|((sk, f), pts)| {
        let sm = portable::key::parse_series_key(sk).0;
        (sm == m && f == field).then(|| pts.values().next().map(FieldValue::field_type)).flatten()
    })
}

fn check(shard: &Shard, model: &Model, ctx: &str) {
    let keys: Vec<Vec<u8>> = model
        .keys()
        .map(|(s, f)| portable::key::composite_key(s.as_bytes(), f.as_bytes()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(shard.composite_keys(None), sorted, "{ctx}: keys");
    for ((s, f), pts) in model {
        let got: Vec<(i64, FieldValue)> =
            shard.read_field(s, f, i64::MIN, i64::MAX).unwrap().map(Result::unwrap).collect();
        let want: Vec<(i64, FieldValue)> = pts.iter().map(|(t, v)| (*t, v.clone())).collect();
        assert_eq!(got, want, "{ctx}: {s} {f}");
        // A sub-range.
        let (lo, hi) = (500, 1700);
        let got: Vec<(i64, FieldValue)> =
            shard.read_field(s, f, lo, hi).unwrap().map(Result::unwrap).collect();
        let want: Vec<(i64, FieldValue)> =
            pts.range(lo..=hi).map(|(t, v)| (*t, v.clone())).collect();
        assert_eq!(got, want, "{ctx}: {s} {f} [{lo}, {hi}]");
    }
    let mut ms: Vec<String> =
        model.keys().map(|(s, _)| portable::key::parse_series_key(s).0).collect();
    ms.dedup();
    ms.sort();
    ms.dedup();
    assert_eq!(shard.measurements(), ms, "{ctx}: measurements");
    for m in &ms {
        let mut fields: Vec<(String, FieldType)> = model
            .iter()
            .filter(|((s, _), _)| &portable::key::parse_series_key(s).0 == m)
            .map(|((_, f), p)| (f.clone(), p.values().next().unwrap().field_type()))
            .collect();
        fields.sort();
        fields.dedup();
        assert_eq!(shard.field_keys(m), fields, "{ctx}: field keys of {m}");
    }
}

fn run(ops: Vec<Op>) {
    run_with(ops, StoreConfig { cache_max_points: 150, ..StoreConfig::default() });
}

/// Every import keeps its file as a segment file.
fn run_segments(ops: Vec<Op>) {
    run_with(
        ops,
        StoreConfig { cache_max_points: 150, segment_min_bytes: 0, ..StoreConfig::default() },
    );
}

fn run_with(ops: Vec<Op>, config: StoreConfig) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Some(Store::open_with(dir.path(), config).unwrap());
    let mut shard = store.as_ref().unwrap().create_shard(1, "db", "rp").unwrap();
    let mut model: Model = BTreeMap::new();
    let mut next_id = 100;
    let mut cur_id = 1;
    for (step, op) in ops.into_iter().enumerate() {
        let ctx = format!("step {step} {op:?}");
        match op {
            Op::Write(points) => {
                let batch: Vec<Point> = points.iter().map(|(s, t, fs)| point(*s, *t, fs)).collect();
                let mut accepted = 0;
                for (s, t, fs) in &points {
                    let ok = fs.iter().enumerate().all(|(j, (f, v))| {
                        let name = FIELDS[*f];
                        let earlier =
                            fs[..j].iter().find(|(g, _)| g == f).map(|x| x.1.field_type());
                        let t = model_type(&model, *s, name).or(earlier);
                        t.is_none_or(|t| t == v.field_type())
                    });
                    if ok {
                        accepted += 1;
                        for (f, v) in fs {
                            model
                                .entry((series_key(*s), FIELDS[*f].to_string()))
                                .or_default()
                                .insert(*t, v.clone());
                        }
                    }
                }
                let r = shard.write(&batch).unwrap();
                assert!(r.flush_error.is_none(), "{ctx}");
                assert_eq!(r.written, accepted, "{ctx}: {:?}", r.rejected);
                assert_eq!(r.rejected.len(), batch.len() - accepted, "{ctx}");
            }
            Op::Flush => {
                shard.flush().unwrap();
                let n: usize = model.values().map(BTreeMap::len).sum();
                assert_eq!(shard.point_count(), n as u64, "{ctx}");
            }
            Op::Delete(series, min, max) => {
                let keys: Vec<String> = series.iter().map(|&s| series_key(s)).collect();
                shard.delete_series(&keys, min, max).unwrap();
                for ((s, _), pts) in model.iter_mut() {
                    if keys.contains(s) {
                        pts.retain(|t, _| *t < min || *t > max);
                    }
                }
                model.retain(|_, p| !p.is_empty());
            }
            Op::Drop(m) => {
                let name = ["m", "n"][m];
                shard.drop_measurement(name).unwrap();
                model.retain(|(s, _), _| portable::key::parse_series_key(s).0 != name);
            }
            Op::Reopen => {
                drop(shard);
                drop(store.take());
                store = Some(Store::open_with(dir.path(), config).unwrap());
                shard = store.as_ref().unwrap().shard(cur_id).unwrap();
            }
            Op::Move => {
                let st = store.as_ref().unwrap();
                let mut tsm = Vec::new();
                let stats = shard.export_tsm(None, &mut tsm).unwrap();
                let copy = st.create_shard(next_id, "db", "rp").unwrap();
                if stats.files > 0 {
                    copy.import_tsm("move.tsm", Cursor::new(&tsm)).unwrap();
                }
                assert_eq!(copy.digest().unwrap(), shard.digest().unwrap(), "{ctx}");
                st.delete_shard(cur_id).unwrap();
                (shard, cur_id) = (copy, next_id);
                next_id += 1;
            }
            Op::ExportImport(range) => {
                let st = store.as_ref().unwrap();
                let mut tsm = Vec::new();
                let r = range.map(|(a, b)| TimeRange::new(a, b));
                let stats = shard.export_tsm(r, &mut tsm).unwrap();
                let copy = st.create_shard(next_id, "db", "rp").unwrap();
                if stats.files > 0 {
                    copy.import_tsm("x.tsm", Cursor::new(&tsm)).unwrap();
                }
                let mut sub = model.clone();
                if let Some((a, b)) = range {
                    for p in sub.values_mut() {
                        p.retain(|t, _| *t >= a && *t <= b);
                    }
                    sub.retain(|_, p| !p.is_empty());
                }
                check(&copy, &sub, &format!("{ctx} (copy)"));
                if range.is_none() {
                    assert_eq!(copy.digest().unwrap(), shard.digest().unwrap(), "{ctx}");
                    assert_eq!(copy.key_digests().unwrap(), shard.key_digests().unwrap());
                }
                // Import into the live shard changes nothing.
                if stats.files > 0 {
                    shard.import_tsm("self.tsm", Cursor::new(&tsm)).unwrap();
                }
                st.delete_shard(next_id).unwrap();
                next_id += 1;
            }
        }
        check(&shard, &model, &ctx);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }

    #[test]
    fn store_with_segment_files_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run_segments(ops);
    }
}

#[test]
fn model_smoke() {
    smoke(run);
    smoke(run_segments);
}

fn smoke(run: fn(Vec<Op>)) {
    run(vec![
        Op::Write(vec![(0, 5, vec![(0, FieldValue::Float(1.0))])]),
        Op::Flush,
        Op::Write(vec![
            (0, 5, vec![(0, FieldValue::Float(2.0))]),
            (3, 1, vec![(1, FieldValue::Integer(1))]),
        ]),
        Op::Reopen,
        Op::Delete(vec![0], 0, 10),
        Op::ExportImport(None),
        Op::Write(vec![(1, 5, vec![(0, FieldValue::Integer(3))])]),
        Op::Reopen,
        Op::ExportImport(Some((0, 3))),
        Op::Move,
        Op::Write(vec![(1, 4, vec![(0, FieldValue::Integer(4))])]),
        Op::Delete(vec![1], 5, 5),
        Op::Reopen,
        Op::Flush,
    ]);
}
