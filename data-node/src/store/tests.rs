//! Shard and store unit tests.

use std::io::Cursor as IoCursor;
use std::sync::Arc;

use portable::{FieldType, FieldValue, Point};

use super::*;

fn pt(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>, t: i64) -> Point {
    Point {
        measurement: m.to_string(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        time: t,
    }
}

fn f(v: f64) -> FieldValue {
    FieldValue::Float(v)
}

fn all(s: &Shard, ckey: &str) -> Vec<(i64, FieldValue)> {
    s.read(ckey.as_bytes(), i64::MIN, i64::MAX).unwrap().map(Result::unwrap).collect()
}

fn range(s: &Shard, ckey: &str, min: i64, max: i64) -> Vec<(i64, FieldValue)> {
    s.read(ckey.as_bytes(), min, max).unwrap().map(Result::unwrap).collect()
}

fn cfg(points: usize) -> StoreConfig {
    StoreConfig { cache_max_points: points, ..StoreConfig::default() }
}

fn floats(n: i64, key_t: impl Fn(i64) -> i64) -> Vec<Point> {
    (0..n).map(|i| pt("cpu", &[("host", "a")], vec![("v", f(i as f64))], key_t(i))).collect()
}

#[test]
fn write_read_overwrite_flush_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
        let s = store.create_shard(1, "db", "rp").unwrap();
        let r = s.write(&floats(2500, |i| i * 10)).unwrap();
        assert_eq!(r.written, 2500);
        assert!(r.rejected.is_empty());
        // Overwrite some, in the cache.
        s.write(&[pt("cpu", &[("host", "a")], vec![("v", f(-1.0))], 100)]).unwrap();
        let got = all(&s, "cpu,host=a#!~#v");
        assert_eq!(got.len(), 2500);
        assert_eq!(got[10], (100, f(-1.0)));
        let fs = s.flush().unwrap();
        assert_eq!(fs.keys, 1);
        assert_eq!(fs.blocks_written, 3);
        assert_eq!(s.cached_values(), 0);
        assert_eq!(s.point_count(), 2500);
        // Overwrite again, now over blocks.
        s.write(&[pt("cpu", &[("host", "a")], vec![("v", f(-2.0))], 100)]).unwrap();
        assert_eq!(all(&s, "cpu,host=a#!~#v")[10], (100, f(-2.0)));
        assert_eq!(
            range(&s, "cpu,host=a#!~#v", 95, 125),
            vec![(100, f(-2.0)), (110, f(11.0)), (120, f(12.0))]
        );
        // Unflushed write must survive reopen.
        s.write(&[pt("cpu", &[("host", "b")], vec![("v", f(7.0))], 5)]).unwrap();
    }
    let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
    assert_eq!(
        store.shards(),
        vec![ShardInfo { id: 1, database: "db".into(), retention_policy: "rp".into() }]
    );
    let s = store.shard(1).unwrap();
    assert_eq!(all(&s, "cpu,host=b#!~#v"), vec![(5, f(7.0))]);
    let got = all(&s, "cpu,host=a#!~#v");
    assert_eq!(got.len(), 2500);
    assert_eq!(got[10], (100, f(-2.0)));
    assert_eq!(s.series_keys("cpu"), vec!["cpu,host=a", "cpu,host=b"]);
    s.flush().unwrap();
    assert_eq!(s.point_count(), 2501);
    assert!(s.last_modified() > 0);
}

#[test]
fn blocks_stay_full_when_appending_in_small_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    for round in 0..10 {
        s.write(&floats(300, |i| round * 1000 + i)).unwrap();
        s.flush().unwrap();
    }
    let ki = s.tree.get(layout::keyinfo_key(b"cpu,host=a#!~#v")).unwrap().unwrap();
    let ki = layout::KeyInfo::decode(&ki).unwrap();
    assert_eq!(ki.points, 3000);
    assert_eq!(ki.blocks, 3);
}

#[test]
fn field_type_conflicts_reject_points_keep_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    s.write(&[pt("cpu", &[], vec![("value", f(1.0))], 1)]).unwrap();
    let r = s
        .write(&[
            pt("cpu", &[("host", "x")], vec![("value", FieldValue::Integer(1))], 2),
            pt("cpu", &[], vec![("value", f(2.0))], 2),
            pt("mem", &[], vec![("free", FieldValue::Boolean(true))], 2),
            pt("mem", &[("h", "1")], vec![("free", FieldValue::String("x".into()))], 3),
            pt("disk", &[], vec![("a", f(1.0)), ("a", FieldValue::Integer(1))], 3),
        ])
        .unwrap();
    assert_eq!(r.written, 2);
    let errs: Vec<(usize, String)> =
        r.rejected.iter().map(|x| (x.index, x.error.to_string())).collect();
    assert_eq!(errs, vec![
        (
            0,
            "field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float"
                .to_string()
        ),
        (
            3,
            "field type conflict: input field \"free\" on measurement \"mem\" is type string, already exists as type boolean"
                .to_string()
        ),
        (
            4,
            "field type conflict: input field \"a\" on measurement \"disk\" is type integer, already exists as type float"
                .to_string()
        ),
    ]);
    assert_eq!(
        r.partial_write_message().unwrap(),
        "partial write: field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float dropped=3"
    );
    assert_eq!(s.measurements(), vec!["cpu", "mem"]);
    assert_eq!(s.series_keys("cpu"), vec!["cpu"]);
    // Conflict against flushed data, and after reopen.
    s.flush().unwrap();
    let r = s.write(&[pt("cpu", &[], vec![("value", FieldValue::String("s".into()))], 9)]).unwrap();
    assert_eq!(r.written, 0);
    drop((s, store));
    let store = Store::open(dir.path()).unwrap();
    let s = store.shard(1).unwrap();
    let r = s.write(&[pt("cpu", &[], vec![("value", FieldValue::Unsigned(1))], 9)]).unwrap();
    assert!(matches!(
        r.rejected[0].error,
        StoreError::FieldTypeConflict { new: FieldType::Unsigned, existing: FieldType::Float, .. }
    ));
}

#[test]
fn invalid_points_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    let r = s
        .write(&[
            pt("c\0pu", &[], vec![("v", f(1.0))], 1),
            pt("cpu", &[("h", "a\0")], vec![("v", f(1.0))], 1),
            pt("cpu", &[], vec![("v\0", f(1.0))], 1),
            pt("cpu", &[], vec![("v", f(f64::NAN))], 1),
            pt("cpu", &[], vec![], 1),
            pt("", &[], vec![("v", f(1.0))], 1),
            pt(&"x".repeat(70_000), &[], vec![("v", f(1.0))], 1),
            pt("cpu", &[], vec![("v", f(f64::INFINITY))], 1),
        ])
        .unwrap();
    assert_eq!(r.written, 1);
    assert_eq!(r.rejected.len(), 7);
    assert!(r.rejected.iter().all(|x| matches!(x.error, StoreError::InvalidPoint(_))));
    s.flush().unwrap();
    assert_eq!(all(&s, "cpu#!~#v"), vec![(1, f(f64::INFINITY))]);
}

#[test]
fn all_types_round_trip_through_cache_blocks_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let fields = || {
        vec![
            ("f", f(1.5)),
            ("i", FieldValue::Integer(-7)),
            ("u", FieldValue::Unsigned(u64::MAX)),
            ("b", FieldValue::Boolean(true)),
            ("s", FieldValue::String("hé \"llo\"".into())),
        ]
    };
    {
        let store = Store::open(dir.path()).unwrap();
        let s = store.create_shard(3, "db", "rp").unwrap();
        s.write(&[pt("m", &[("t", "1")], fields(), 10)]).unwrap();
        s.flush().unwrap();
        s.write(&[pt("m", &[("t", "1")], fields(), 20)]).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let s = store.shard(3).unwrap();
    for (name, v) in fields() {
        assert_eq!(all(&s, &format!("m,t=1#!~#{name}")), vec![(10, v.clone()), (20, v)]);
    }
    assert_eq!(
        s.field_keys("m"),
        vec![
            ("b".to_string(), FieldType::Boolean),
            ("f".to_string(), FieldType::Float),
            ("i".to_string(), FieldType::Integer),
            ("s".to_string(), FieldType::String),
            ("u".to_string(), FieldType::Unsigned),
        ]
    );
}

#[test]
fn index_queries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    s.write(&[
        pt("cpu", &[("host", "a"), ("region", "eu")], vec![("idle", f(1.0))], 1),
        pt("cpu", &[("host", "b"), ("region", "us")], vec![("idle", f(1.0)), ("busy", f(0.0))], 1),
        pt("my mem", &[("host", "a b")], vec![("free", FieldValue::Integer(1))], 1),
    ])
    .unwrap();
    assert_eq!(s.measurements(), vec!["cpu", "my mem"]);
    assert_eq!(s.tag_keys("cpu"), vec!["host", "region"]);
    assert_eq!(s.tag_values("cpu", "region"), vec!["eu", "us"]);
    assert_eq!(s.tag_values("my mem", "host"), vec!["a b"]);
    assert_eq!(s.series_keys("my mem"), vec![r"my\ mem,host=a\ b"]);
    let us = s.series_where("cpu", |tags| tags.iter().any(|(k, v)| k == "region" && v == "us"));
    assert_eq!(
        us,
        vec![SeriesInfo {
            key: "cpu,host=b,region=us".into(),
            measurement: "cpu".into(),
            tags: vec![("host".into(), "b".into()), ("region".into(), "us".into())],
            fields: vec![("busy".into(), FieldType::Float), ("idle".into(), FieldType::Float)],
        }]
    );
    assert_eq!(
        s.composite_keys(Some("cpu")),
        vec![
            b"cpu,host=a,region=eu#!~#idle".to_vec(),
            b"cpu,host=b,region=us#!~#busy".to_vec(),
            b"cpu,host=b,region=us#!~#idle".to_vec(),
        ]
    );
    assert_eq!(s.composite_keys(None).len(), 4);
    assert_eq!(s.field_type("my mem", "free"), Some(FieldType::Integer));
    assert_eq!(s.series_count(), 3);
    assert_eq!(all(&s, r"my\ mem,host=a\ b#!~#free"), vec![(1, FieldValue::Integer(1))]);
    // Unknown key, reversed range.
    assert!(all(&s, "nope#!~#x").is_empty());
    assert!(range(&s, "cpu,host=a,region=eu#!~#idle", 5, 1).is_empty());
    let c = s.read(b"cpu,host=a,region=eu#!~#idle", 0, 5).unwrap();
    assert_eq!(c.field_type(), Some(FieldType::Float));
}

#[test]
fn deletes_ranges_series_and_measurements() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
        let s = store.create_shard(1, "db", "rp").unwrap();
        s.write(&floats(3000, |i| i)).unwrap();
        s.write(&[pt("cpu", &[("host", "b")], vec![("v", f(1.0)), ("w", f(2.0))], 5)]).unwrap();
        s.write(&[pt("mem", &[], vec![("x", FieldValue::Integer(1))], 5)]).unwrap();
        s.flush().unwrap();
        // Cached points too.
        s.write(&floats(10, |i| 5000 + i)).unwrap();
        // Middle of block 2 and across the cache.
        let d = s.delete_series(&["cpu,host=a", "nope"], 1500, 5004).unwrap();
        assert_eq!(d.series, 1);
        assert_eq!(d.points_removed, 1500);
        assert_eq!(d.cached_removed, 5);
        let got = all(&s, "cpu,host=a#!~#v");
        assert_eq!(got.len(), 1500 + 5);
        assert_eq!(got[1499].0, 1499);
        assert_eq!(got[1500].0, 5005);
        // Whole series.
        let d = s.delete_series(&["cpu,host=b"], i64::MIN, i64::MAX).unwrap();
        assert_eq!(d.series_dropped, 1);
        assert_eq!(s.series_keys("cpu"), vec!["cpu,host=a"]);
        assert_eq!(s.tag_values("cpu", "host"), vec!["a"]);
        assert_eq!(s.field_keys("cpu"), vec![("v".to_string(), FieldType::Float)]);
        // Measurement.
        s.drop_measurement("mem").unwrap();
        assert_eq!(s.measurements(), vec!["cpu"]);
        // A dropped field's type can change afterwards.
        let r = s.write(&[pt("mem", &[], vec![("x", f(1.0))], 6)]).unwrap();
        assert_eq!(r.written, 1);
    }
    // Deletes are durable, including over the cache.
    let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
    let s = store.shard(1).unwrap();
    assert_eq!(all(&s, "cpu,host=a#!~#v").len(), 1505);
    assert!(all(&s, "cpu,host=b#!~#w").is_empty());
    assert_eq!(all(&s, "mem#!~#x"), vec![(6, f(1.0))]);
    assert_eq!(s.measurements(), vec!["cpu", "mem"]);
    s.flush().unwrap();
    assert_eq!(s.point_count(), 1506);
}

#[test]
fn automatic_flush_on_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), cfg(1000)).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    for k in 0..5 {
        let r = s.write(&floats(400, |i| k * 400 + i)).unwrap();
        assert!(r.flush_error.is_none());
    }
    // The background flusher catches up.
    let t = std::time::Instant::now();
    while s.cached_values() >= 1000 && t.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(s.cached_values() < 1000);
    assert!(s.last_flush_error().is_none());
    assert_eq!(all(&s, "cpu,host=a#!~#v").len(), 2000);
    // Far past the threshold, the writer flushes itself.
    let r = s.write(&floats(5000, |i| 10_000 + i)).unwrap();
    assert!(r.flush_error.is_none());
    assert!(s.cached_values() < 1000);
    assert_eq!(all(&s, "cpu,host=a#!~#v").len(), 7000);
}

#[test]
fn export_import_round_trip_and_digests() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
    let a = store.create_shard(1, "db", "rp").unwrap();
    let mut pts = Vec::new();
    for h in 0..20 {
        let host = format!("h{h}");
        for i in 0..1500i64 {
            pts.push(pt(
                "cpu",
                &[("host", &host)],
                vec![
                    ("v", f(i as f64 * 0.5)),
                    ("n", FieldValue::Integer(i)),
                    ("s", FieldValue::String(format!("x{}", i % 7))),
                ],
                i * 1000,
            ));
        }
    }
    a.write(&pts).unwrap();
    let mut tsm = Vec::new();
    let st = a.export_tsm(None, &mut tsm).unwrap();
    assert_eq!(st.files, 1);
    assert_eq!(st.points, 20 * 1500 * 3);
    assert_eq!(st.raw_blocks, st.blocks);
    assert_eq!(st.bytes, tsm.len() as u64);

    let b = store.create_shard(2, "db", "rp").unwrap();
    let is = b.import_tsm("a.tsm", IoCursor::new(&tsm)).unwrap();
    assert_eq!(is.points, st.points);
    assert_eq!(is.raw_blocks, st.blocks);
    assert_eq!(a.digest().unwrap(), b.digest().unwrap());
    assert_eq!(a.key_digests().unwrap(), b.key_digests().unwrap());
    assert_eq!(b.point_count(), 90_000);
    assert_eq!(b.series(("cpu").as_ref()).len(), 20);
    assert_eq!(all(&a, "cpu,host=h3#!~#s"), all(&b, "cpu,host=h3#!~#s"));

    // Importing the same file again changes nothing (merge path).
    let is = b.import_tsm("a.tsm", IoCursor::new(&tsm)).unwrap();
    assert_eq!(is.raw_blocks, 0);
    assert_eq!(a.digest().unwrap(), b.digest().unwrap());

    // Time-filtered export is point-granular.
    let mut part = Vec::new();
    let st = a.export_tsm(Some(TimeRange::new(100_500, 1_200_000)), &mut part).unwrap();
    assert_eq!(st.points, 20 * 3 * (1200 - 101 + 1));
    let c = store.create_shard(3, "db", "rp").unwrap();
    c.import_tsm("part.tsm", IoCursor::new(&part)).unwrap();
    let got = all(&c, "cpu,host=h0#!~#n");
    assert_eq!(got.first().unwrap().0, 101_000);
    assert_eq!(got.last().unwrap().0, 1_200_000);
    assert_eq!(got.len(), 1100);

    // Rolling files.
    let mut files = Vec::new();
    let st = a
        .export_tsm_files(None, 4_000, |f| {
            files.push(f);
            Ok(())
        })
        .unwrap();
    assert!(files.len() > 2, "{} files", files.len());
    assert_eq!(st.files, files.len());
    let d = store.create_shard(4, "db", "rp").unwrap();
    for (i, f) in files.iter().enumerate() {
        d.import_tsm(&format!("{i}.tsm"), IoCursor::new(f)).unwrap();
    }
    assert_eq!(a.digest().unwrap(), d.digest().unwrap());

    // A change shows in the digest and in exactly one key digest.
    d.write(&[pt("cpu", &[("host", "h5")], vec![("v", f(99.0))], 0)]).unwrap();
    assert_ne!(a.digest().unwrap(), d.digest().unwrap());
    let (ka, kd) = (a.key_digests().unwrap(), d.key_digests().unwrap());
    let diff: Vec<_> =
        ka.iter().zip(&kd).filter(|(x, y)| x != y).map(|(x, _)| x.key.clone()).collect();
    assert_eq!(diff, vec![b"cpu,host=h5#!~#v".to_vec()]);
    assert_eq!(digest_of(&ka), a.digest().unwrap());

    // Empty export writes nothing.
    let e = store.create_shard(5, "db", "rp").unwrap();
    let mut none = Vec::new();
    assert_eq!(e.export_tsm(None, &mut none).unwrap().files, 0);
    assert!(none.is_empty());
}

#[test]
fn import_later_file_wins_and_merges_partial_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    s.write(&floats(3000, |i| i * 2)).unwrap(); // even times 0..6000, v = i
    s.flush().unwrap();
    // A file with odd times 1001..1999 and some equal times, value -t.
    let ts: Vec<i64> = (1000..2000).chain(4000..4100).collect();
    let vs: Vec<f64> = ts.iter().map(|&t| -(t as f64)).collect();
    let file = portable::tsm::write_all([(
        &b"cpu,host=a#!~#v"[..],
        &ts[..],
        portable::tsm::ValueSlice::Float(&vs),
    )])
    .unwrap();
    let st = s.import_tsm("x.tsm", IoCursor::new(&file)).unwrap();
    assert_eq!(st.points, 1100);
    assert!(st.merged_blocks > 0);
    let got = all(&s, "cpu,host=a#!~#v");
    let mut want: std::collections::BTreeMap<i64, f64> =
        (0..3000).map(|i| (i * 2, i as f64)).collect();
    for (&t, &v) in ts.iter().zip(&vs) {
        want.insert(t, v);
    }
    let want: Vec<(i64, FieldValue)> = want.into_iter().map(|(t, v)| (t, f(v))).collect();
    assert_eq!(got, want);
    // Import conflicting types fails before storing anything.
    let file = portable::tsm::write_all([
        (&b"cpu,host=z#!~#v"[..], &[1i64][..], portable::tsm::ValueSlice::Integer(&[1])),
        (&b"new#!~#q"[..], &[1i64][..], portable::tsm::ValueSlice::Integer(&[1])),
    ])
    .unwrap();
    let e = s.import_tsm("y.tsm", IoCursor::new(&file)).unwrap_err();
    assert!(matches!(e, StoreError::FieldTypeConflict { .. }), "{e}");
    assert_eq!(s.measurements(), vec!["cpu"]);
    assert_eq!(s.series_keys("cpu"), vec!["cpu,host=a"]);
}

#[test]
fn corrupt_block_is_an_error_naming_shard_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = store.create_shard(9, "db", "rp").unwrap();
    s.write(&floats(10, |i| i)).unwrap();
    s.flush().unwrap();
    let (k, v) = s.tree.scan_prefix(b"b").next().unwrap().unwrap();
    let mut bad = v.to_vec();
    *bad.last_mut().unwrap() ^= 0xff;
    s.tree.insert(k, bad).unwrap();
    let e = s.read(b"cpu,host=a#!~#v", 0, 100).unwrap().next().unwrap().unwrap_err();
    assert!(e.to_string().starts_with("shard 9: corrupt block at key \"cpu,host=a#!~#v\""), "{e}");
    assert!(s.digest().is_err());
    assert!(s.export_tsm(None, Vec::new()).is_err());
}

#[test]
fn corrupt_wal_fails_open_with_named_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let s = store.create_shard(4, "db", "rp").unwrap();
        s.write(&floats(10, |i| i)).unwrap();
        let (k, v) = s.tree.scan_prefix(b"w").next().unwrap().unwrap();
        let mut bad = v.to_vec();
        bad[20] ^= 0xff;
        s.tree.insert(k, bad).unwrap();
        s.tree.flush().unwrap();
    }
    let e = Store::open(dir.path()).unwrap_err();
    assert!(e.to_string().starts_with("shard 4: corrupt WAL entry"), "{e}");
}

#[test]
fn shards_create_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let a = store.create_shard(1, "db", "autogen").unwrap();
        store.create_shard(2, "db2", "rp").unwrap();
        assert!(Arc::ptr_eq(&a, &store.create_shard(1, "db", "autogen").unwrap()));
        assert!(matches!(
            store.create_shard(1, "other", "autogen"),
            Err(StoreError::ShardExists { id: 1, .. })
        ));
        a.write(&floats(5, |i| i)).unwrap();
        assert!(store.delete_shard(1).unwrap());
        assert!(!store.delete_shard(1).unwrap());
        assert!(matches!(a.write(&floats(1, |i| i)), Err(StoreError::ShardDeleted(1))));
        assert!(store.shard(1).is_none());
        let again = store.create_shard(1, "db", "autogen").unwrap();
        assert!(all(&again, "cpu,host=a#!~#v").is_empty());
        store.delete_shard(1).unwrap();
        store.flush_all().unwrap();
        assert!(store.size_on_disk().unwrap() > 0);
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.shards(),
        vec![ShardInfo { id: 2, database: "db2".into(), retention_policy: "rp".into() }]
    );
}

#[test]
fn concurrent_writers_readers_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_with(dir.path(), cfg(5_000)).unwrap());
    let s = store.create_shard(1, "db", "rp").unwrap();
    let mut handles = Vec::new();
    for w in 0..4i64 {
        let s = s.clone();
        handles.push(std::thread::spawn(move || {
            let host = format!("w{w}");
            for batch in 0..20i64 {
                let pts: Vec<Point> = (0..500)
                    .map(|i| {
                        pt("cpu", &[("host", &host)], vec![("v", f(i as f64))], batch * 500 + i)
                    })
                    .collect();
                s.write(&pts).unwrap();
            }
        }));
    }
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || {
            for _ in 0..50 {
                for w in 0..4 {
                    let got: Vec<(i64, FieldValue)> = s
                        .read(format!("cpu,host=w{w}#!~#v").as_bytes(), i64::MIN, i64::MAX)
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    assert!(got.windows(2).all(|x| x[0].0 < x[1].0));
                }
                s.flush().unwrap();
            }
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    reader.join().unwrap();
    for w in 0..4 {
        let got = all(&s, &format!("cpu,host=w{w}#!~#v"));
        assert_eq!(got.len(), 10_000);
        assert!(got.iter().enumerate().all(|(i, (t, _))| *t == i as i64));
    }
    s.flush().unwrap();
    assert_eq!(s.point_count(), 40_000);
}

#[test]
fn cursor_chunks_merge_cache_between_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), cfg(1_000_000)).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    s.write(&floats(2000, |i| i * 10)).unwrap();
    s.flush().unwrap();
    // Cache points before, between and after blocks, and overwrites.
    s.write(&[
        pt("cpu", &[("host", "a")], vec![("v", f(-1.0))], -5),
        pt("cpu", &[("host", "a")], vec![("v", f(-2.0))], 9995),
        pt("cpu", &[("host", "a")], vec![("v", f(-3.0))], 50_000),
        pt("cpu", &[("host", "a")], vec![("v", f(-4.0))], 0),
    ])
    .unwrap();
    let mut c = s.read(b"cpu,host=a#!~#v", i64::MIN, i64::MAX).unwrap();
    let mut all_ts = Vec::new();
    let mut chunks = 0;
    while let Some((ts, vs)) = c.next_chunk().unwrap() {
        assert_eq!(ts.len(), vs.len());
        all_ts.extend(ts);
        chunks += 1;
    }
    assert!(chunks >= 2);
    assert_eq!(all_ts.len(), 2003);
    assert!(all_ts.windows(2).all(|w| w[0] < w[1]));
    let got = range(&s, "cpu,host=a#!~#v", -5, 0);
    assert_eq!(got, vec![(-5, f(-1.0)), (0, f(-4.0))]);
    let got = range(&s, "cpu,host=a#!~#v", 9990, 10_000);
    assert_eq!(got, vec![(9990, f(999.0)), (9995, f(-2.0)), (10_000, f(1000.0))]);
    let (ts, _) = s.read(b"cpu,host=a#!~#v", 19_990, i64::MAX).unwrap().collect_all().unwrap();
    assert_eq!(ts, vec![19_990, 50_000]);
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
    check::<Shard>();
    check::<Arc<Shard>>();
    check::<StoreError>();
    check::<super::Cursor>();
}

#[test]
fn series_keys_are_escaped_as_influxdb_escapes_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = store.create_shard(1, "db", "rp").unwrap();
    let p = pt("m,x y", &[("k=1", "a,b=c d"), ("z", "")], vec![("f g", f(1.0))], 1);
    s.write(std::slice::from_ref(&p)).unwrap();
    assert_eq!(s.series_keys("m,x y"), vec![p.series_key()]);
    assert_eq!(s.series_keys("m,x y"), vec![r"m\,x\ y,k\=1=a\,b\=c\ d"]);
    assert_eq!(s.tag_values("m,x y", "k=1"), vec!["a,b=c d"]);
    assert_eq!(s.read_field(&p.series_key(), "f g", 0, 1).unwrap().count(), 1);
}

fn segment_cfg() -> StoreConfig {
    StoreConfig { cache_max_points: 1_000_000, segment_min_bytes: 0, ..StoreConfig::default() }
}

fn hosts(n_hosts: usize, points: i64) -> Vec<Point> {
    let mut pts = Vec::new();
    for h in 0..n_hosts {
        let host = format!("h{h}");
        for i in 0..points {
            pts.push(pt(
                "cpu",
                &[("host", &host)],
                vec![("v", f(i as f64 * 0.5)), ("n", FieldValue::Integer(i))],
                i * 1000,
            ));
        }
    }
    pts
}

fn segment_files(dir: &std::path::Path, shard: u64) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("segments").join(shard.to_string()))
        .map(|es| es.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn imports_kept_as_segment_files_read_export_and_rewrite_like_inline_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with(dir.path(), segment_cfg()).unwrap();
    let a = store.create_shard(1, "db", "rp").unwrap();
    a.write(&hosts(4, 2500)).unwrap();
    let mut tsm = Vec::new();
    a.export_tsm(None, &mut tsm).unwrap();

    let b = store.create_shard(2, "db", "rp").unwrap();
    let is = b.import_tsm("a.tsm", IoCursor::new(&tsm)).unwrap();
    assert_eq!(is.points, 4 * 2500 * 2);
    assert_eq!(segment_files(dir.path(), 2), vec!["00000001.tsm"]);
    // One run entry (and one reference) per key, not one entry per block.
    assert_eq!(b.tree.scan_prefix(b"b").count(), 8);
    assert_eq!(b.tree.scan_prefix(b"r").count(), 8);
    assert_eq!(b.point_count(), a.point_count());
    assert_eq!(a.digest().unwrap(), b.digest().unwrap());
    assert_eq!(a.key_digests().unwrap(), b.key_digests().unwrap());
    for key in ["cpu,host=h0#!~#v", "cpu,host=h3#!~#n"] {
        assert_eq!(all(&a, key), all(&b, key));
        // Ranges inside one block, across blocks, before and after.
        for (lo, hi) in [(5_000, 7_000), (900_000, 1_100_500), (-10, 0), (2_499_000, i64::MAX)] {
            assert_eq!(range(&a, key, lo, hi), range(&b, key, lo, hi), "{key} {lo}..{hi}");
        }
    }
    // Exports are byte for byte the same, whole and cut.
    let mut again = Vec::new();
    b.export_tsm(None, &mut again).unwrap();
    assert_eq!(again, tsm);
    let r = Some(TimeRange::new(999_500, 2_000_000));
    let (mut x, mut y) = (Vec::new(), Vec::new());
    a.export_tsm(r, &mut x).unwrap();
    b.export_tsm(r, &mut y).unwrap();
    assert_eq!(x, y);
    // A copy of the segment-backed shard into another segment-backed one.
    let c = store.create_shard(3, "db", "rp").unwrap();
    c.import_tsm("again.tsm", IoCursor::new(&again)).unwrap();
    assert_eq!(c.digest().unwrap(), a.digest().unwrap());

    // Writes over a run, deletes cutting one, and re-importing the same
    // file (all merged: no new segment file) behave as on inline blocks.
    for s in [&a, &b] {
        s.write(&[pt("cpu", &[("host", "h1")], vec![("v", f(-1.0))], 1_234_000)]).unwrap();
        s.write(&[pt("cpu", &[("host", "h1")], vec![("v", f(-2.0))], 1_234_500)]).unwrap();
        s.flush().unwrap();
        s.delete_series(&["cpu,host=h2"], 100_000, 2_000_000).unwrap();
    }
    // One key written over and two cut by the delete: rewritten inline.
    assert_eq!(b.tree.scan_prefix(b"r").count(), 5);
    assert_eq!(all(&a, "cpu,host=h1#!~#v"), all(&b, "cpu,host=h1#!~#v"));
    assert_eq!(all(&a, "cpu,host=h2#!~#n"), all(&b, "cpu,host=h2#!~#n"));
    assert_eq!(a.digest().unwrap(), b.digest().unwrap());
    b.import_tsm("a.tsm", IoCursor::new(&tsm)).unwrap();
    a.import_tsm("a.tsm", IoCursor::new(&tsm)).unwrap();
    assert_eq!(a.digest().unwrap(), b.digest().unwrap());
    assert_eq!(a.point_count(), b.point_count());
    // Every key overlapped: all merged, no new file, no run left, but the
    // old file stays while the store is open (a cursor may be reading it).
    assert_eq!(b.tree.scan_prefix(b"r").count(), 0);
    assert_eq!(segment_files(dir.path(), 2), vec!["00000001.tsm"]);

    // Unused files and a crash's leftovers go at the next open; used
    // files stay.
    drop((a, b, c));
    drop(store);
    std::fs::write(dir.path().join("segments/2/00000009.tsm"), b"partial").unwrap();
    std::fs::write(dir.path().join("segments/3/00000009.tsm"), b"partial").unwrap();
    std::fs::create_dir_all(dir.path().join("segments/77")).unwrap();
    store = Store::open_with(dir.path(), segment_cfg()).unwrap();
    assert!(segment_files(dir.path(), 2).is_empty());
    assert_eq!(segment_files(dir.path(), 3), vec!["00000001.tsm"]);
    assert!(!dir.path().join("segments/77").exists());
    let (a, b, c) = (store.shard(1).unwrap(), store.shard(2).unwrap(), store.shard(3).unwrap());
    assert_eq!(a.digest().unwrap(), b.digest().unwrap());
    assert_eq!(all(&c, "cpu,host=h3#!~#n").len(), 2500);
    assert!(store.size_on_disk().unwrap() > tsm.len() as u64);
    drop((a, b, c));
    // Deleting a shard deletes its files.
    assert_eq!(segment_files(dir.path(), 3), vec!["00000001.tsm"]);
    assert!(store.delete_shard(3).unwrap());
    assert!(!dir.path().join("segments/3").exists());
}

/// Shard 1 with ten points, and its export.
fn ten_points_exported(store: &Store) -> (Arc<Shard>, Vec<u8>) {
    let a = store.create_shard(1, "db", "rp").unwrap();
    a.write(&floats(10, |i| i)).unwrap();
    let mut tsm = Vec::new();
    a.export_tsm(None, &mut tsm).unwrap();
    (a, tsm)
}

#[test]
fn a_damaged_segment_file_is_an_error_naming_shard_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), segment_cfg()).unwrap();
    let (_, tsm) = ten_points_exported(&store);
    let s = store.create_shard(9, "db", "rp").unwrap();
    s.import_tsm("a.tsm", IoCursor::new(&tsm)).unwrap();
    let path = dir.path().join("segments/9/00000001.tsm");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let e = s.read(b"cpu,host=a#!~#v", 0, 100).unwrap().next().unwrap().unwrap_err();
    assert!(e.to_string().starts_with("shard 9: corrupt block at key \"cpu,host=a#!~#v\""), "{e}");
    assert!(e.to_string().contains("CRC"), "{e}");
    assert!(s.digest().is_err());
    assert!(s.export_tsm(None, Vec::new()).is_err());
    std::fs::remove_file(&path).unwrap();
    let e = s.digest().unwrap_err();
    assert!(e.to_string().contains("00000001.tsm"), "{e}");
}

#[test]
fn small_imports_stay_inline() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (a, tsm) = ten_points_exported(&store);
    let s = store.create_shard(2, "db", "rp").unwrap();
    s.import_tsm("a.tsm", IoCursor::new(&tsm)).unwrap();
    assert!(segment_files(dir.path(), 2).is_empty());
    assert_eq!(s.tree.scan_prefix(b"r").count(), 0);
    assert_eq!(s.digest().unwrap(), a.digest().unwrap());
}
