//! The export writer reproduces the real `influx_inspect export` files byte
//! for byte from the TSM files of the fixture backups (this is the Go float
//! formatting test: every float row of the real files), and the import
//! reader reads them as `influx -import` does.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use portable::archive::ShardArchiveReader;
use portable::export::{
    ExportOptions, ExportWriter, ImportBatch, ImportBatches, ImportOptions, ImportReader,
    RetentionPolicyDdl,
};
use portable::gotime::parse_rfc3339;
use portable::manifest;
use portable::tsm::TsmReader;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6")
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

/// TSM files of a backup per (db, rp), keyed by the data-dir path the real
/// export sorts by: `<db>/<rp>/<shard>/<file>`.
fn tsm_files(dir: &str) -> BTreeMap<(String, String), BTreeMap<String, Vec<u8>>> {
    let inc = manifest::load_incremental(&fixtures().join(dir)).unwrap();
    let mut out: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for f in &inc.files {
        let mut a =
            ShardArchiveReader::new(f.file_name.clone(), fs::File::open(inc.file_path(f)).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let data = e.read_to_vec().unwrap();
            out.entry((f.database.clone(), f.policy.clone()))
                .or_default()
                .insert(e.path.clone(), data);
        }
    }
    out
}

fn export(dir: &str, db: &str, opts: ExportOptions) -> Vec<u8> {
    let files = tsm_files(dir);
    let mut w = ExportWriter::new(Vec::new(), opts);
    w.write_header(&[RetentionPolicyDdl::new(db, "autogen")]).unwrap();
    w.begin_context(db, "autogen").unwrap();
    w.begin_tsm_data().unwrap();
    for (path, data) in &files[&(db.to_string(), "autogen".to_string())] {
        let mut r = TsmReader::from_bytes(path.clone(), data).unwrap();
        w.write_tsm_file(&mut r).unwrap();
    }
    w.begin_wal_data().unwrap();
    w.finish().unwrap()
}

fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let g: Vec<&[u8]> = got.split(|&b| b == b'\n').collect();
    let w: Vec<&[u8]> = want.split(|&b| b == b'\n').collect();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{what}: first difference at line {}",
            i + 1
        );
    }
    panic!("{what}: {} lines, expected {}", g.len(), w.len());
}

#[test]
fn telegraf_export_is_byte_identical() {
    let want = gunzip(&fixtures().join("export/telegraf.export.lp.gz"));
    let got = export("db-telegraf", "telegraf", ExportOptions::default());
    assert_same(&got, &want, "telegraf.export.lp");
}

#[test]
fn window_export_is_byte_identical() {
    let want = gunzip(&fixtures().join("export/telegraf.window.export.lp.gz"));
    let opts = ExportOptions {
        start: parse_rfc3339("2026-11-10T00:00:00Z").unwrap(),
        end: parse_rfc3339("2026-11-12T00:00:00Z").unwrap(),
        ..Default::default()
    };
    let got = export("db-telegraf", "telegraf", opts);
    assert_same(&got, &want, "telegraf.window.export.lp");
}

#[test]
fn import_reads_the_real_export_like_influx_import() {
    let path = fixtures().join("export/telegraf.export.lp.gz");
    let reader = ImportReader::open(&path, ImportOptions::default()).unwrap();
    let mut queries = Vec::new();
    let mut lines = 0u64;
    let mut batches = 0u64;
    for b in ImportBatches::new(reader) {
        match b.unwrap() {
            ImportBatch::Query { text, .. } => queries.push(text),
            ImportBatch::Write { database, retention_policy, lines: l, .. } => {
                assert_eq!((database.as_str(), retention_policy.as_str()), ("telegraf", "autogen"));
                assert!(l.len() <= 5000);
                lines += l.len() as u64;
                batches += 1;
            }
        }
    }
    // `Processed 1 commands` / `Processed 567857 inserts`.
    assert_eq!(queries, ["CREATE DATABASE telegraf WITH NAME autogen"]);
    assert_eq!(lines, 567_857);
    assert_eq!(batches, 567_857u64.div_ceil(5000));
}

#[test]
fn all_export_has_three_commands_and_every_row() {
    let path = fixtures().join("export/all.export.lp.gz");
    let mut queries = 0;
    let mut rows = 0u64;
    let mut contexts = Vec::new();
    let mut db = String::new();
    for item in ImportReader::open(&path, ImportOptions::default()).unwrap() {
        match item.unwrap() {
            portable::export::ImportItem::Query { .. } => queries += 1,
            portable::export::ImportItem::Database { name, .. } => db = name,
            portable::export::ImportItem::RetentionPolicy { name, .. } => {
                contexts.push(format!("{db}.{name}"))
            }
            portable::export::ImportItem::Data { .. } => rows += 1,
        }
    }
    assert_eq!(queries, 3);
    assert_eq!(rows, 696_721);
    assert_eq!(contexts, ["metrics.autogen", "metrics.oneday", "telegraf.autogen"]);
}
