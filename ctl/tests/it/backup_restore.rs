//! `ctl backup` / `ctl restore` against real clusters: the fixture backups
//! made by real InfluxDB 1.6, the Enterprise doc examples, and failures.

use std::collections::BTreeMap;

use crate::util::*;

/// Maps an `influxd restore -portable -host H [flags] DIR` command of
/// expected-counts.json to ctl restore arguments (the flags are the same).
fn restore_args(command: &str, fixture_dir: &str) -> Vec<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut out = vec!["restore".to_string()];
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            "-db" | "-newdb" | "-rp" | "-newrp" | "-shard" => {
                out.push(words[i].to_string());
                out.push(words[i + 1].to_string());
                i += 2;
            }
            _ => i += 1,
        }
    }
    out.push(fixtures().join(fixture_dir).display().to_string());
    out
}

#[test]
fn every_fixture_backup_restores_with_the_expected_counts() {
    let exp = expected_counts();
    for (name, b) in exp["backups"].as_object().unwrap() {
        let Some(restores) = b["restores"].as_array() else { continue };
        let c = cluster(1, 2);
        for r in restores {
            let cmd = r["command"].as_str().unwrap();
            let args = restore_args(cmd, b["fixture_dir"].as_str().unwrap());
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = ok(ctl(&c, &argv));
            assert!(out.contains("Restoring meta data... Done."), "{name}: {out}");
            // One database (`result_database`), or every database of a
            // complete restore (counts keyed by database).
            let per_db: Vec<(String, &serde_json::Value)> = match r["result_database"].as_str() {
                Some(db) => vec![(db.to_string(), &r["counts"])],
                None => {
                    r["counts"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v)).collect()
                }
            };
            for (db, counts) in per_db {
                let got = counts_in_cluster(&c, &db);
                assert_eq!(got, expected(counts), "fixture {name}, `{cmd}` → {db}");
            }
        }
    }
}

#[test]
fn restore_into_existing_database_fails_then_newdb_works() {
    let c = cluster(1, 1);
    let full = fixtures().join("full").display().to_string();
    ok(ctl(&c, &["restore", "-db", "telegraf", &full]));
    let o = ctl(&c, &["restore", "-db", "telegraf", &full]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).ends_with("Restoring meta data... Error.\n"), "{}", stdout(&o));
    assert_eq!(
        stderr(&o),
        "restore: operation exited with error: problem setting snapshot: database already exists\n"
    );
    let out = ok(ctl(&c, &["restore", "-db", "telegraf", "-newdb", "restored_telegraf", &full]));
    assert!(out.contains("Restoring db telegraf, rp autogen, shard 1 to shard "), "{out}");
    assert_eq!(counts_in_cluster(&c, "restored_telegraf"), counts_in_cluster(&c, "telegraf"));
}

#[test]
fn newrf_is_capped_at_the_number_of_data_nodes() {
    let c = cluster(1, 2);
    let full = fixtures().join("full").display().to_string();
    ok(ctl(&c, &["restore", "-db", "telegraf", "-newdb", "rf3", "-newrf", "3", &full]));
    let data = meta_data(&c);
    let db = data.databases.iter().find(|d| d.name == "rf3").unwrap();
    assert_eq!(db.retention_policies[0].replica_n, 2);
    let mut shards = 0;
    for g in &db.retention_policies[0].shard_groups {
        assert!(!g.shards.is_empty(), "a shard group without shards");
        for s in &g.shards {
            assert_eq!(s.owners.len(), 2, "owners = min(newrf, data nodes)");
            shards += 1;
        }
    }
    assert_eq!(shards, 3);
    // Every copy holds the data: back up from each node in turn.
    let want = counts_in_cluster(&c, "rf3");
    for n in data.data_nodes.iter() {
        let dir = tempfile::tempdir().unwrap();
        let from = n.tcp_host.clone().unwrap();
        ok(ctl(
            &c,
            &[
                "backup",
                "-strategy",
                "full",
                "-db",
                "rf3",
                "-from",
                &from,
                dir.path().to_str().unwrap(),
            ],
        ));
        assert_eq!(counts_in_backup(dir.path(), "rf3"), want, "copy on {from}");
    }
}

#[test]
fn complete_restore_drops_internal_and_never_restores_it() {
    let c = cluster(1, 1);
    let full = fixtures().join("full").display().to_string();
    // Give the target an `_internal` with data.
    ok(ctl(&c, &["restore", "-db", "metrics", "-newdb", "_internal", &full]));
    // A backup that holds `_internal` and `metrics`, from another cluster.
    let c0 = cluster(1, 1);
    ok(ctl(&c0, &["restore", "-db", "metrics", "-newdb", "_internal", &full]));
    ok(ctl(&c0, &["restore", "-db", "metrics", &full]));
    let with_internal = tempfile::tempdir().unwrap();
    ok(ctl(&c0, &["backup", "-strategy", "full", with_internal.path().to_str().unwrap()]));
    assert!(!counts_in_backup(with_internal.path(), "_internal").is_empty());
    // A complete restore into it drops `_internal` (metadata and shards).
    let out = ok(ctl(&c, &["restore", &full]));
    assert!(out.contains("8 shards mapped"), "{out}");
    let data = meta_data(&c);
    assert!(data.databases.iter().all(|d| d.name != "_internal"), "_internal still there");
    // A complete restore of a backup that holds `_internal` leaves it out.
    let c2 = cluster(1, 1);
    ok(ctl(&c2, &["restore", with_internal.path().to_str().unwrap()]));
    let names: Vec<String> = meta_data(&c2).databases.iter().map(|d| d.name.clone()).collect();
    assert!(!names.contains(&"_internal".to_string()), "{names:?}");
    assert!(names.contains(&"metrics".to_string()));
}

#[test]
fn failed_restore_leaves_the_target_as_it_was_and_a_retry_succeeds() {
    let mut c = cluster(1, 2);
    let full = fixtures().join("full").display().to_string();
    let before = meta_data(&c).databases.len();
    // An owner is down: copies to it fail and the restore is rolled back.
    c.crash("data2").unwrap();
    let o = ctl(&c, &["-timeout", "3s", "restore", "-db", "telegraf", "-newrf", "2", &full]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("restore failed"), "{}", stderr(&o));
    assert_eq!(meta_data(&c).databases.len(), before, "the failed restore left metadata");
    c.restart("data2").unwrap();
    // The retry succeeds and holds everything.
    ok(ctl(&c, &["restore", "-db", "telegraf", "-newrf", "2", &full]));
    let got = counts_in_cluster(&c, "telegraf");
    let want = expected(&expected_counts()["server_state_at_full_backup"]["databases"]["telegraf"]);
    assert_eq!(got, want);
}

#[test]
fn corrupt_and_missing_files_fail_cleanly() {
    let c = cluster(1, 1);
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixtures().join("full")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let d = dir.path().to_str().unwrap();
    // A shard archive cut in half: the copy fails, nothing is left.
    let s3 = dir.path().join("20261121T143720Z.s3.tar.gz");
    let bytes = std::fs::read(&s3).unwrap();
    std::fs::write(&s3, &bytes[..bytes.len() / 2]).unwrap();
    let o = ctl(&c, &["restore", "-db", "telegraf", d]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(meta_data(&c).databases.is_empty(), "a failed restore left a database");
    // A garbled manifest.
    let m = dir.path().join("20261121T143720Z.manifest");
    std::fs::write(&m, b"{ not json").unwrap();
    let o = ctl(&c, &["restore", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("manifest"), "{}", stderr(&o));
    // A manifest naming a missing file, with -full.
    std::fs::copy(fixtures().join("full/20261121T143720Z.manifest"), &m).unwrap();
    std::fs::remove_file(dir.path().join("20261121T143720Z.s1.tar.gz")).unwrap();
    let o = ctl(&c, &["restore", "-full", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("s1.tar.gz"), "{}", stderr(&o));
    // A directory that does not exist; conflicting flags.
    let o = ctl(&c, &["restore", "/nonexistent/backup"]);
    assert_eq!(o.status.code(), Some(1));
    let o = ctl(&c, &["restore", "-newdb", "x", d]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(1), "restore: -newdb requires -db\n".into()));
    assert!(meta_data(&c).databases.is_empty());
}

#[test]
fn doc_examples_backup_all_rps_one_rp_only_meta_full_and_incremental() {
    let c = cluster(1, 2);
    let full = fixtures().join("full").display().to_string();
    ok(ctl(&c, &["restore", &full]));
    let all = counts_in_cluster(&c, "metrics");
    // A database with all its RPs.
    let d1 = tempfile::tempdir().unwrap();
    let out = ok(ctl(&c, &["backup", "-db", "metrics", d1.path().to_str().unwrap()]));
    assert!(out.starts_with("Backing up meta data... Done. "), "{out}");
    assert_eq!(counts_in_backup(d1.path(), "metrics"), all);
    // One RP.
    let d2 = tempfile::tempdir().unwrap();
    ok(ctl(&c, &["backup", "-db", "metrics", "-rp", "oneday", d2.path().to_str().unwrap()]));
    let one = counts_in_backup(d2.path(), "metrics");
    assert_eq!(one.keys().collect::<Vec<_>>(), vec!["oneday"]);
    // Only the metastore.
    let d3 = tempfile::tempdir().unwrap();
    let out = ok(ctl(&c, &["backup", "-strategy", "only-meta", d3.path().to_str().unwrap()]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let names: Vec<String> = std::fs::read_dir(d3.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Restoring the metadata backup into a fresh cluster creates the
    // databases without data.
    let c2 = cluster(1, 1);
    let out = ok(ctl(&c2, &["restore", d3.path().to_str().unwrap()]));
    assert!(out.contains("Restoring meta data... Done."), "{out}");
    assert!(!out.contains("Restoring db"), "{out}");
    assert_eq!(meta_data(&c2).databases.len(), 2);
    // Incremental: a second run with nothing changed backs up no shard.
    let d4 = tempfile::tempdir().unwrap();
    let p4 = d4.path().to_str().unwrap();
    let first = ok(ctl(&c, &["backup", p4]));
    assert_eq!(first.matches("Backing up node").count(), 8, "{first}");
    let second = ok(ctl(&c, &["backup", p4]));
    assert_eq!(second.matches("Backing up node").count(), 0, "{second}");
    // A write into one shard: the next incremental holds just that shard.
    let http = c.data_http()[0].clone();
    let (status, body) = testkit::http::write(
        &http,
        "telegraf",
        "",
        b"cpu,cpu=cpu-total,host=server01 usage_idle=1 1795271000000000000\n",
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    let third = ok(ctl(&c, &["backup", p4]));
    assert_eq!(third.matches("Backing up node").count(), 1, "{third}");
    assert!(third.contains("shard 3..."), "{third}");
    // Restoring the incremental directory gives the state of the last backup.
    let c3 = cluster(1, 1);
    ok(ctl(&c3, &["restore", p4]));
    let mut want = counts_in_cluster(&c, "telegraf");
    assert_eq!(counts_in_cluster(&c3, "telegraf"), want);
    // ... which is the fixture plus the one point.
    let base = expected(&expected_counts()["server_state_at_full_backup"]["databases"]["telegraf"]);
    *want.get_mut("autogen").unwrap().get_mut("cpu").unwrap().get_mut("usage_idle").unwrap() -= 1;
    assert_eq!(want, base);
    // -full restores one manifest.
    let c4 = cluster(1, 1);
    let manifest = std::fs::read_dir(d1.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "manifest"))
        .unwrap();
    let out = ok(ctl(&c4, &["restore", "-full", manifest.to_str().unwrap()]));
    assert!(out.starts_with(&format!("Using manifest: {}\n", manifest.display())), "{out}");
    assert_eq!(counts_in_cluster(&c4, "metrics"), all);
}

#[test]
fn time_range_backup_is_point_exact() {
    let c = cluster(1, 1);
    ok(ctl(&c, &["restore", &fixtures().join("db-telegraf").display().to_string()]));
    let d = tempfile::tempdir().unwrap();
    ok(ctl(
        &c,
        &[
            "backup",
            "-db",
            "telegraf",
            "-start",
            "2026-11-10T00:00:00Z",
            "-end",
            "2026-11-12T00:00:00Z",
            d.path().to_str().unwrap(),
        ],
    ));
    let got = counts_in_backup(d.path(), "telegraf");
    let want = &expected_counts()["backups"]["window"]["exact_points_in_window_inclusive"]["telegraf.autogen"];
    let mut points: BTreeMap<String, u64> = BTreeMap::new();
    for (m, fields) in &got["autogen"] {
        points.insert(m.clone(), *fields.values().max().unwrap());
    }
    for (m, n) in want.as_object().unwrap() {
        if m != "total" {
            assert_eq!(points.get(m).copied().unwrap_or(0), n.as_u64().unwrap(), "{m}");
        }
    }
    // Conflicting flags.
    let o = ctl(
        &c,
        &[
            "backup",
            "-strategy",
            "full",
            "-start",
            "2026-11-10T00:00:00Z",
            d.path().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = ctl(&c, &["backup", "-rp", "autogen", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let o = ctl(&c, &["backup", "/nonexistent/dir"]);
    assert_eq!(o.status.code(), Some(1));
    let o = ctl(&c, &["backup", "-from", "127.0.0.9:1", d.path().to_str().unwrap()]);
    assert_eq!(stderr(&o), "backup: data node \"127.0.0.9:1\" does not exist\n");
}

#[test]
fn meta_only_overwrite_force_restores_the_metastore() {
    let c = cluster(1, 1);
    ok(ctl(&c, &["restore", &fixtures().join("full").display().to_string()]));
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_str().unwrap();
    ok(ctl(&c, &["backup", "-strategy", "only-meta", p]));
    let before = meta_data(&c);
    // Damage the metastore: drop a database's metadata.
    c.block_on(async {
        let ch = proto::net::channel(&c.meta_api().unwrap(), None).unwrap();
        let mut m = proto::cluster::meta_client::MetaClient::new(ch);
        m.execute(proto::cluster::ExecuteRequest {
            request_id: "drop-metrics".into(),
            command: Some(proto::cluster::Command {
                cmd: Some(proto::cluster::command::Cmd::DropDatabase(
                    proto::cluster::DropDatabase { name: "metrics".into() },
                )),
            }),
        })
        .await
        .unwrap();
    });
    assert_eq!(meta_data(&c).databases.len(), 1);
    let out = ok(ctl(&c, &["restore", "-meta-only-overwrite-force", p]));
    assert!(out.contains("Restoring meta data... Done."), "{out}");
    let after = meta_data(&c);
    assert_eq!(after.databases, before.databases);
}
