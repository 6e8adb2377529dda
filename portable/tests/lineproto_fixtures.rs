//! Line protocol against the real InfluxDB 1.6 fixtures: the dataset parses
//! without errors into the counts the server reported, and the lines
//! `influx_inspect export` wrote are reproduced byte for byte by the writer.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use portable::lineproto::{Precision, parse_lines, write_point};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6")
}

fn gunzip(path: &Path) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(f).read_to_end(&mut out).unwrap();
    out
}

/// measurement -> (points, field -> count)
type Counts = BTreeMap<String, (u64, BTreeMap<String, u64>)>;

fn count(body: &[u8]) -> (Counts, usize) {
    let (points, errors) = parse_lines(body, Precision::Nanosecond, 0);
    assert!(errors.is_empty(), "first errors: {:?}", &errors[..errors.len().min(5)]);
    let mut counts = Counts::new();
    for p in &points {
        let e = counts.entry(p.measurement.clone()).or_default();
        e.0 += 1;
        for (k, _) in &p.fields {
            *e.1.entry(k.clone()).or_default() += 1;
        }
    }
    (counts, points.len())
}

fn expected(state: &serde_json::Value, db: &str, rp: &str) -> Counts {
    let ms = &state["databases"][db][rp]["measurements"];
    let mut out = Counts::new();
    for (m, v) in ms.as_object().expect("measurements") {
        let fields = v["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .collect();
        out.insert(m.clone(), (v["points"].as_u64().unwrap(), fields));
    }
    out
}

#[test]
fn dataset_parses_into_expected_counts() {
    let dir = fixtures();
    if !dir.exists() {
        eprintln!("fixtures missing, skipped");
        return;
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected-counts.json")).unwrap()).unwrap();
    let state = &json["server_state_at_full_backup"];
    for (file, db, rp, lines) in [
        ("telegraf.autogen.lp.gz", "telegraf", "autogen", 134_726),
        ("metrics.autogen.lp.gz", "metrics", "autogen", 33_208),
        ("metrics.oneday.lp.gz", "metrics", "oneday", 18_216),
    ] {
        let (counts, n) = count(&gunzip(&dir.join("dataset").join(file)));
        assert_eq!(n, lines, "{file}");
        assert_eq!(counts, expected(state, db, rp), "{file}");
    }
    let (counts, n) = count(&gunzip(&dir.join("dataset/extra.telegraf.autogen.lp.gz")));
    assert_eq!(n, 2340);
    assert_eq!(counts["deploys"].0, 180);
    assert_eq!(counts["cpu"].0, 2160);
}

#[test]
fn export_lines_are_rewritten_byte_for_byte() {
    let path = fixtures().join("export/telegraf.window.export.lp.gz");
    if !path.exists() {
        eprintln!("fixtures missing, skipped");
        return;
    }
    let body = gunzip(&path);
    let text = std::str::from_utf8(&body).unwrap();
    let mut rows = 0;
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with("CREATE ") || line.is_empty() {
            continue;
        }
        let (points, errors) = parse_lines(line.as_bytes(), Precision::Nanosecond, 0);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(points.len(), 1, "{line}");
        out.clear();
        write_point(&points[0], &mut out);
        assert_eq!(out, line);
        rows += 1;
    }
    assert_eq!(rows, 67_360);
}
