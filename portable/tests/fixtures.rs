//! Acceptance: every real InfluxDB 1.6 backup under the shared fixtures
//! decodes fully (manifest, `.meta`, every TSM block with its CRC), and the
//! per-measurement / per-field counts equal `expected-counts.json`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use portable::key::{parse_series_key, split_composite_key};
use portable::manifest::{self, Manifest};
use portable::meta_file;
use portable::shard::read_shard_archive;
use portable::tsm::{self, TsmReader};
use prost::Message;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/influxdb-1.6")
}

fn expected() -> Value {
    serde_json::from_slice(&fs::read(fixtures().join("expected-counts.json")).unwrap()).unwrap()
}

/// db → rp → measurement → field → count.
type Counts = BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>>;

/// Reads a whole backup directory; `only_shard` restricts to one shard.
fn read_backup(dir: &Path, only_shard: Option<u64>) -> Counts {
    let inc = manifest::load_incremental(dir).unwrap();
    let mut counts = Counts::new();
    for f in &inc.files {
        if only_shard.is_some_and(|s| s != f.shard_id) {
            continue;
        }
        let path = inc.file_path(f);
        let shard =
            read_shard_archive(&path.display().to_string(), fs::File::open(&path).unwrap(), true)
                .unwrap();
        for (key, (ts, _)) in &shard.points {
            let (series, field) = split_composite_key(key);
            let (measurement, _) = parse_series_key(std::str::from_utf8(series).unwrap());
            *counts
                .entry(f.database.clone())
                .or_default()
                .entry(f.policy.clone())
                .or_default()
                .entry(measurement)
                .or_default()
                .entry(String::from_utf8(field.to_vec()).unwrap())
                .or_default() += ts.len() as u64;
        }
    }
    counts
}

/// Compares one RP's counts with an expected `{measurements: {m: {fields, points}}, points}`.
fn check_rp(what: &str, got: &BTreeMap<String, BTreeMap<String, u64>>, want: &Value) {
    let want_ms = want["measurements"].as_object().unwrap();
    let mut total = 0;
    for (m, wm) in want_ms {
        let gm = got.get(m).unwrap_or_else(|| panic!("{what}: measurement {m} missing"));
        let wf = wm["fields"].as_object().unwrap();
        for (f, n) in wf {
            assert_eq!(gm.get(f).copied().unwrap_or(0), n.as_u64().unwrap(), "{what}: {m}.{f}");
        }
        assert_eq!(gm.len(), wf.len(), "{what}: fields of {m}");
        let points = gm.values().copied().max().unwrap_or(0);
        assert_eq!(points, wm["points"].as_u64().unwrap(), "{what}: points of {m}");
        total += points;
    }
    assert_eq!(got.len(), want_ms.len(), "{what}: measurements");
    assert_eq!(total, want["points"].as_u64().unwrap(), "{what}: total");
}

fn flag<'a>(cmd: &'a str, name: &str) -> Option<&'a str> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    words.iter().position(|w| *w == name).and_then(|i| words.get(i + 1).copied())
}

#[test]
fn every_backup_matches_the_expected_restore_counts() {
    let exp = expected();
    let mut checked = 0;
    for (name, b) in exp["backups"].as_object().unwrap() {
        let dir = fixtures().join(b["fixture_dir"].as_str().unwrap());
        for r in b["restores"].as_array().into_iter().flatten() {
            let cmd = r["command"].as_str().unwrap();
            let shard = flag(cmd, "-shard").map(|s| s.parse().unwrap());
            let counts = read_backup(&dir, shard);
            match flag(cmd, "-db") {
                None => {
                    for (db, rps) in r["counts"].as_object().unwrap() {
                        for (rp, want) in rps.as_object().unwrap() {
                            check_rp(&format!("{name} {db}.{rp}"), &counts[db][rp], want);
                        }
                    }
                }
                Some(db) => {
                    let rp_filter = flag(cmd, "-rp");
                    for (rp, want) in r["counts"].as_object().unwrap() {
                        let src_rp = rp_filter.unwrap_or(rp);
                        check_rp(&format!("{name}: {cmd}"), &counts[db][src_rp], want);
                    }
                }
            }
            checked += 1;
        }
        if let Some(n) = b.get("points_in_shard") {
            let id: u64 = flag(b["command"].as_str().unwrap(), "-shard").unwrap().parse().unwrap();
            let counts = read_backup(&dir, Some(id));
            let total: u64 = counts
                .values()
                .flat_map(|rps| rps.values())
                .flat_map(|ms| ms.values())
                .map(|fs| fs.values().copied().max().unwrap_or(0))
                .sum();
            assert_eq!(total, n.as_u64().unwrap(), "{name}: points in shard {id}");
            checked += 1;
        }
    }
    assert!(checked >= 11, "only {checked} checks ran");
}

#[test]
fn per_shard_counts_match_the_source_server() {
    let exp = expected();
    // db-telegraf was taken after the extra points: shards 1..3.
    for (dir, state) in [
        ("db-telegraf", "server_state_after_extra_points"),
        ("full", "server_state_at_full_backup"),
    ] {
        let shards = exp["server_state_after_extra_points"]["shards"].as_array().unwrap();
        let inc = manifest::load_incremental(&fixtures().join(dir)).unwrap();
        for f in &inc.files {
            let want = shards.iter().find(|s| s["id"].as_u64() == Some(f.shard_id)).unwrap();
            if state == "server_state_at_full_backup" && f.shard_id == 3 {
                continue; // shard 3 grew after the full backup
            }
            let counts = read_backup(&fixtures().join(dir), Some(f.shard_id));
            for (m, n) in want["measurements"].as_object().unwrap() {
                let got = counts[&f.database][&f.policy][m].values().copied().max().unwrap();
                assert_eq!(got, n.as_u64().unwrap(), "{dir} shard {} {m}", f.shard_id);
            }
        }
    }
}

#[test]
fn manifests_and_meta_files_round_trip_byte_for_byte() {
    let mut n = 0;
    for entry in fs::read_dir(fixtures()).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(inc) = manifest::load_incremental(&dir) else { continue };
        for m in &inc.manifests {
            let bytes = fs::read(dir.join(m)).unwrap();
            let parsed = Manifest::from_json(m, &bytes).unwrap();
            assert_eq!(parsed.to_json().as_bytes(), bytes.as_slice(), "{}", dir.join(m).display());
            assert!(!parsed.limited);
            parsed.verify_files(m, &dir).unwrap();
            for f in &parsed.files {
                // size = the uncompressed tar length.
                let gz = fs::read(dir.join(&f.file_name)).unwrap();
                let mut raw = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::MultiGzDecoder::new(&gz[..]),
                    &mut raw,
                )
                .unwrap();
                assert_eq!(raw.len() as i64, f.size, "{}", f.file_name);
            }
        }
        let meta_bytes = fs::read(inc.meta_path()).unwrap();
        let meta = meta_file::decode_portable(&inc.meta.file_name, &meta_bytes).unwrap();
        assert_eq!(meta.raw.len() as i64, inc.meta.size);
        assert_eq!(meta.max_node_id, 0);
        let (again, size) = meta_file::encode_portable(&meta.data);
        assert_eq!(again, meta_bytes, "{}", inc.meta.file_name);
        assert_eq!(size, inc.meta.size);
        assert_eq!(meta.data.encode_to_vec(), meta.raw);
        n += 1;
    }
    assert_eq!(n, 8, "fixture backups found");
}

#[test]
fn meta_holds_what_the_fixture_readme_lists() {
    let inc = manifest::load_incremental(&fixtures().join("full")).unwrap();
    let d = meta_file::load_portable(&inc.meta_path()).unwrap().data;
    assert_eq!(
        (d.term, d.index, d.max_shard_group_id, d.max_shard_id, d.max_node_id),
        (0, 16, 8, 8, 0)
    );
    let names: Vec<&str> = d.databases.iter().map(|db| db.name.as_str()).collect();
    assert_eq!(names, ["telegraf", "metrics"]);
    let metrics = &d.databases[1];
    assert_eq!(metrics.default_retention_policy, "autogen");
    let oneday = metrics.retention_policies.iter().find(|rp| rp.name == "oneday").unwrap();
    assert_eq!(
        (oneday.duration, oneday.shard_group_duration, oneday.replica_n),
        (86_400_000_000_000, 7_200_000_000_000, 1)
    );
    assert_eq!(oneday.shard_groups.len(), 3);
    let autogen = &d.databases[0].retention_policies[0];
    assert_eq!(
        (autogen.name.as_str(), autogen.duration, autogen.shard_group_duration),
        ("autogen", 0, 604_800_000_000_000)
    );
    let sg: Vec<(u64, i64, i64)> =
        autogen.shard_groups.iter().map(|g| (g.id, g.start_time, g.end_time)).collect();
    assert_eq!(sg[0], (1, 1_793_577_600_000_000_000, 1_794_182_400_000_000_000));
    assert_eq!(autogen.shard_groups.iter().map(|g| g.shards[0].id).collect::<Vec<_>>(), [1, 2, 3]);
    let cq = &d.databases[0].continuous_queries[0];
    assert_eq!(cq.name, "cq_cpu_1h");
    assert!(cq.query.starts_with(
        "CREATE CONTINUOUS QUERY cq_cpu_1h ON telegraf BEGIN SELECT mean(usage_user)"
    ));
    let users: Vec<(&str, bool)> = d.users.iter().map(|u| (u.name.as_str(), u.admin)).collect();
    assert_eq!(users, [("admin", true), ("reader", false)]);
    assert!(d.users.iter().all(|u| u.hash.starts_with("$2a$10$") && u.hash.len() == 60));
    assert_eq!(d.users[1].privileges[0].database, "telegraf");
    assert_eq!(d.users[1].privileges[0].privilege, 1);
}

/// Every TSM file of the fixtures: all blocks verify, and re-encoding each
/// decoded block gives exactly the bytes Go wrote (every type, Snappy too).
#[test]
fn every_tsm_block_verifies_and_reencodes() {
    let mut blocks = 0u64;
    let mut identical = 0u64;
    let mut by_type: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let dir = fixtures().join("db-telegraf");
    let inc = manifest::load_incremental(&dir).unwrap();
    let full = manifest::load_incremental(&fixtures().join("full")).unwrap();
    for (base, f) in
        inc.files.iter().map(|f| (&dir, f)).chain(full.files.iter().map(|f| (&full.dir, f)))
    {
        let mut archive = portable::archive::ShardArchiveReader::new(
            f.file_name.clone(),
            fs::File::open(base.join(&f.file_name)).unwrap(),
        );
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let data = e.read_to_vec().unwrap();
            let mut r = TsmReader::from_bytes(e.path.clone(), &data).unwrap();
            r.verify().unwrap();
            let keys: Vec<(usize, Vec<tsm::IndexEntry>)> =
                r.keys().map(|k| (k.position, k.entries.to_vec())).collect();
            for (pos, entries) in keys {
                for entry in entries {
                    let payload = r.read_block_raw(pos, &entry).unwrap().to_vec();
                    let (ts, vs) = tsm::decode_block(&payload).unwrap();
                    let mut again = Vec::new();
                    tsm::encode_block(&ts, vs.as_slice(), &mut again).unwrap();
                    let t = vs.field_type().to_string();
                    let slot = by_type.entry(t).or_default();
                    slot.0 += 1;
                    blocks += 1;
                    if again == payload {
                        identical += 1;
                        slot.1 += 1;
                    }
                    assert_eq!(
                        again, payload,
                        "{}: block at {} re-encoded differently",
                        e.path, entry.offset
                    );
                }
            }
        }
    }
    eprintln!(
        "blocks {blocks}, byte-identical re-encodes {identical}, by type (blocks, identical): {by_type:?}"
    );
    assert!(blocks > 1000);
    assert_eq!(identical, blocks);
}

/// The point-granular time filter reproduces the exact in-window counts the
/// fixture README gives (InfluxDB's own -start/-end keeps whole blocks).
#[test]
fn point_filter_matches_exact_window_counts() {
    use portable::archive::{ArchiveOptions, ShardArchiveReader, ShardArchiveWriter};
    let exp = expected();
    let want = &exp["backups"]["window"]["exact_points_in_window_inclusive"];
    let start = portable::gotime::parse_rfc3339("2026-11-10T00:00:00Z").unwrap();
    let end = portable::gotime::parse_rfc3339("2026-11-12T00:00:00Z").unwrap();
    let inc = manifest::load_incremental(&fixtures().join("full")).unwrap();
    let mut per: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for f in &inc.files {
        let mut src =
            ShardArchiveReader::new(f.file_name.clone(), fs::File::open(inc.file_path(f)).unwrap());
        let opts = ArchiveOptions { time_range: Some((start, end)), ..Default::default() };
        let mut w = ShardArchiveWriter::new(Vec::new(), &f.database, &f.policy, f.shard_id, opts);
        for e in src.entries().unwrap() {
            let mut e = e.unwrap();
            let data = e.read_to_vec().unwrap();
            w.append_tsm(&e.file_name, std::io::Cursor::new(data)).unwrap();
        }
        let (gz, _) = w.finish().unwrap();
        let shard = read_shard_archive("filtered", &gz[..], false).unwrap();
        let mut fields: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (key, (ts, _)) in &shard.points {
            assert!(ts.iter().all(|&t| t >= start && t <= end));
            let (series, field) = split_composite_key(key);
            let (m, _) = parse_series_key(std::str::from_utf8(series).unwrap());
            *fields.entry((m, String::from_utf8_lossy(field).into_owned())).or_default() +=
                ts.len() as u64;
        }
        let ms = per.entry(format!("{}.{}", f.database, f.policy)).or_default();
        let mut best: BTreeMap<String, u64> = BTreeMap::new();
        for ((m, _), n) in fields {
            let b = best.entry(m).or_default();
            *b = (*b).max(n);
        }
        for (m, n) in best {
            *ms.entry(m).or_default() += n;
        }
    }
    for (dbrp, w) in want.as_object().unwrap() {
        let got = per.get(dbrp).cloned().unwrap_or_default();
        let total: u64 = got.values().sum();
        assert_eq!(total, w["total"].as_u64().unwrap(), "{dbrp} total");
        for (m, n) in w.as_object().unwrap() {
            if m != "total" {
                assert_eq!(got.get(m).copied().unwrap_or(0), n.as_u64().unwrap(), "{dbrp} {m}");
            }
        }
    }
}
