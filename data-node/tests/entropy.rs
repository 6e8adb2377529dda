//! Anti-entropy end to end on real testbed clusters (1 meta node, 2 data
//! nodes, RF 2, check-interval 1s, cold after 1s):
//!
//! - a shard deleted from a data node's disk while the node is down comes
//!   back by itself after the restart, with the same points;
//! - two owners made to differ (a point written into each owner's copy
//!   only, through `WriteShard`) → `ctl entropy show` lists the shard as
//!   `diff`; `ctl entropy repair` → both copies hold the union;
//! - with anti-entropy disabled nothing is repaired and `ctl entropy`
//!   refuses.
//!
//! Needs the binaries: `cargo build -p meta-node -p data-node -p ctl`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proto::cluster::{self, data_client::DataClient};
use testkit::{Cluster, ClusterSpec};

const DEADLINE: Duration = Duration::from_secs(40);

fn cluster(ae: bool) -> Cluster {
    let mut overrides = BTreeMap::new();
    for n in ["data1", "data2"] {
        overrides.insert(
            n.to_string(),
            vec![
                ("anti-entropy.enabled".to_string(), ae.to_string()),
                ("anti-entropy.check-interval".to_string(), "\"1s\"".to_string()),
                ("data.cache-snapshot-write-cold-duration".to_string(), "\"1s\"".to_string()),
                // Writes that miss an owner must not reach it later.
                ("hinted-handoff.enabled".to_string(), "false".to_string()),
            ],
        );
    }
    Cluster::start(ClusterSpec { meta: 1, data: 2, rf: Some(2), overrides, ..Default::default() })
        .expect("cluster starts")
}

fn http(c: &Cluster, node: &str) -> String {
    c.node_info(node).unwrap().addrs.http.unwrap()
}

fn tcp(c: &Cluster, node: &str) -> String {
    c.node_info(node).unwrap().addrs.tcp.unwrap()
}

fn data_client(addr: &str) -> DataClient<tonic::transport::Channel> {
    DataClient::new(proto::net::channel(addr, None).unwrap()).max_decoding_message_size(256 << 20)
}

fn ctl(c: &Cluster, args: &[&str]) -> std::process::Output {
    let bin = testkit::process::find_binary("ctl").expect("the ctl binary (cargo build -p ctl)");
    let bind = c.meta_api().unwrap();
    std::process::Command::new(bin).arg("-bind").arg(&bind).args(args).output().expect("ctl runs")
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Creates `db` and writes `n` points of `cpu,host=h<i%4> v=<i>` (consistency all).
fn write_points(c: &Cluster, db: &str, n: usize) {
    let addr = http(c, "data1");
    let (status, v) = testkit::http::query(&addr, db, &format!("CREATE DATABASE {db}")).unwrap();
    assert_eq!(status, 200, "{v}");
    let base = 1_700_000_000_000_000_000i64;
    let lines: String = (0..n)
        .map(|i| format!("cpu,host=h{} v={i} {}\n", i % 4, base + i as i64 * 1_000_000_000))
        .collect();
    let (status, body) =
        testkit::http::write(&addr, db, "&consistency=all", lines.as_bytes()).unwrap();
    assert_eq!(status, 204, "{body}");
}

/// The only shard of `db` and its owners' TCP addresses (owner order).
fn the_shard(c: &Cluster, db: &str) -> (u64, Vec<String>) {
    let api = c.meta_api().unwrap();
    let data: proto::meta::Data = c.block_on(async {
        let ch = proto::net::channel(&api, None).unwrap();
        let mut m =
            proto::cluster::meta_client::MetaClient::new(ch).max_decoding_message_size(256 << 20);
        let r = m.read(cluster::ReadRequest {}).await.unwrap().into_inner();
        prost::Message::decode(r.data.as_slice()).unwrap()
    });
    let db = data.databases.iter().find(|d| d.name == db).expect("database");
    let shards: Vec<_> = db
        .retention_policies
        .iter()
        .flat_map(|r| &r.shard_groups)
        .flat_map(|g| &g.shards)
        .collect();
    assert_eq!(shards.len(), 1, "one shard expected");
    let owners = shards[0]
        .owners
        .iter()
        .map(|o| {
            data.data_nodes.iter().find(|n| n.id == o.node_id).unwrap().tcp_host.clone().unwrap()
        })
        .collect();
    (shards[0].id, owners)
}

fn digest(c: &Cluster, addr: &str, shard: u64) -> cluster::ShardDigestResponse {
    c.block_on(async {
        data_client(addr)
            .shard_digest(cluster::ShardDigestRequest { shard_id: shard, keys: false })
            .await
            .unwrap()
            .into_inner()
    })
}

/// Every value of `cpu,host=<host>` field `v` on one owner.
fn read_host(c: &Cluster, addr: &str, shard: u64, host: &str) -> Vec<(i64, f64)> {
    c.block_on(async {
        let req = cluster::ReadShardRequest {
            shard_id: shard,
            keys: vec![cluster::ReadKey {
                series_key: format!("cpu,host={host}"),
                field: "v".into(),
            }],
            min: i64::MIN,
            max: i64::MAX,
        };
        let mut s = data_client(addr).read_shard(req).await.unwrap().into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = s.message().await.unwrap() {
            out.extend(chunk.times.iter().copied().zip(chunk.floats.iter().copied()));
        }
        out
    })
}

/// Writes one point into one owner's copy only.
fn write_one_owner(c: &Cluster, addr: &str, shard: u64, db: &str, host: &str, t: i64, v: f64) {
    c.block_on(async {
        let p = cluster::WirePoint {
            measurement: "cpu".into(),
            tags: vec![cluster::WireTag { key: "host".into(), value: host.into() }],
            fields: vec![cluster::WireField {
                name: "v".into(),
                value: Some(cluster::wire_field::Value::Float(v)),
            }],
            time: t,
        };
        data_client(addr)
            .write_shard(cluster::WriteShardRequest {
                shard_id: shard,
                database: db.into(),
                policy: "autogen".into(),
                points: vec![p],
            })
            .await
            .unwrap();
    });
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Deletes a shard from a stopped data node's store.
fn delete_on_disk(c: &Cluster, node: &str, shard: u64) {
    let dir = c.node_info(node).unwrap().dir.join("data");
    let store = data_node::store::Store::open(&dir).expect("store opens");
    assert!(store.delete_shard(shard).unwrap(), "shard {shard} was on {node}");
}

#[test]
fn a_shard_deleted_while_its_node_is_down_comes_back_with_the_same_points() {
    let mut c = cluster(true);
    write_points(&c, "ae", 1000);
    let (shard, owners) = the_shard(&c, "ae");
    let before = digest(&c, &owners[0], shard);
    assert!(before.exists && before.points == 1000, "{before:?}");
    assert_eq!(digest(&c, &owners[1], shard).digest, before.digest);

    c.stop("data2").unwrap();
    delete_on_disk(&c, "data2", shard);
    c.restart("data2").unwrap();
    let d2 = tcp(&c, "data2");
    wait_for("the missing shard to be copied back", || {
        let d = digest(&c, &d2, shard);
        d.exists && d.digest == before.digest
    });
    let after = digest(&c, &d2, shard);
    assert_eq!((after.points, after.keys), (before.points, before.keys));
    let log = std::fs::read_to_string(c.node_info("data2").unwrap().log).unwrap();
    assert!(log.contains("Checking status"), "AE logs its checks");
    assert!(log.contains("copied missing shard"), "{log}");
}

#[test]
fn owners_that_differ_are_flagged_diff_and_a_repair_converges_on_the_union() {
    let c = cluster(true);
    write_points(&c, "ae", 100);
    let (shard, owners) = the_shard(&c, "ae");
    let base = 1_700_000_000_000_000_000i64;
    // One point only on the first owner, one only on the second, and one
    // time with two values (the first owner's wins).
    write_one_owner(&c, &owners[0], shard, "ae", "only-first", base, 1.0);
    write_one_owner(&c, &owners[1], shard, "ae", "only-second", base, 2.0);
    write_one_owner(&c, &owners[0], shard, "ae", "both", base, 10.0);
    write_one_owner(&c, &owners[1], shard, "ae", "both", base, 20.0);
    assert_ne!(digest(&c, &owners[0], shard).digest, digest(&c, &owners[1], shard).digest);

    let mut shown = String::new();
    wait_for("entropy show to list the shard", || {
        let o = ctl(&c, &["entropy", "show"]);
        shown = out(&o);
        o.status.success() && shown.contains(&format!("\n{shard} ")) && shown.contains("diff")
    });
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(&lines[..2], ["Entropy", "=========="], "{shown}");
    assert!(lines[2].starts_with("ID  "), "{shown}");
    for col in ["Database", "Retention Policy", "Start", "End", "Expires", "Status"] {
        assert!(lines[2].contains(col), "{shown}");
    }
    let row = lines.iter().find(|l| l.starts_with(&format!("{shard} "))).unwrap();
    assert!(row.contains(" ae ") && row.contains("autogen") && row.ends_with("diff"), "{shown}");
    assert!(row.contains("+0000 UTC"), "Go time.String() times: {shown}");
    assert!(lines.last().unwrap().starts_with("Queued Shards: ["), "{shown}");

    // The same through the data node's HTTP API.
    let (status, body) = testkit::http::request(
        &http(&c, "data1"),
        "GET",
        "/shard-repair/status?local=true",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["shards"][0]["id"], shard.to_string(), "{body}");
    assert_eq!(v["shards"][0]["status"], "diff", "{body}");
    assert!(v["queued_shards"].is_array() && v["processing_shards"].is_array(), "{body}");
    let (status, body) =
        testkit::http::request(&http(&c, "data1"), "GET", "/shard-status", &[], b"").unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ae"]["autogen"]["replication_factor"], 2, "{body}");
    assert_eq!(v["ae"]["autogen"]["shards"][0]["id"], shard, "{body}");
    assert_eq!(v["ae"]["autogen"]["shards"][0]["state"], "healthy", "{body}");

    let o = ctl(&c, &["entropy", "repair", &shard.to_string()]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), format!("Repair Shard {shard} queued\n"));
    wait_for("the owners to converge", || {
        let (a, b) = (digest(&c, &owners[0], shard), digest(&c, &owners[1], shard));
        a.digest == b.digest
    });
    for addr in &owners {
        let d = digest(&c, addr, shard);
        assert_eq!(d.points, 103, "{addr}: 100 + only-first + only-second + both");
        assert_eq!(read_host(&c, addr, shard, "only-first"), [(base, 1.0)], "{addr}");
        assert_eq!(read_host(&c, addr, shard, "only-second"), [(base, 2.0)], "{addr}");
        assert_eq!(read_host(&c, addr, shard, "both"), [(base, 10.0)], "{addr}");
        assert_eq!(read_host(&c, addr, shard, "h1").len(), 25, "{addr}");
    }
    wait_for("entropy show to be clean", || {
        let o = ctl(&c, &["entropy", "show"]);
        o.status.success() && !out(&o).contains("diff")
    });
    // Unknown shards are refused.
    let o = ctl(&c, &["entropy", "repair", "999"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(err(&o), "entropy: shard 999 not found\n");
    let (status, _) =
        testkit::http::request(&http(&c, "data1"), "POST", "/shard-repair/repair?id=abc", &[], b"")
            .unwrap();
    assert_eq!(status, 400);
    let (status, _) = testkit::http::request(
        &http(&c, "data2"),
        "POST",
        &format!("/shard-repair/repair?id={shard}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(status, 204);
}

#[test]
fn with_anti_entropy_disabled_nothing_is_repaired() {
    let mut c = cluster(false);
    write_points(&c, "ae", 100);
    let (shard, _) = the_shard(&c, "ae");
    let base = 1_700_000_000_000_000_000i64;
    let d1 = tcp(&c, "data1");
    write_one_owner(&c, &d1, shard, "ae", "only-data1", base, 1.0);
    c.stop("data2").unwrap();
    delete_on_disk(&c, "data2", shard);
    c.restart("data2").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(!digest(&c, &tcp(&c, "data2"), shard).exists, "a missing shard stays missing");
    assert_eq!(digest(&c, &d1, shard).points, 101, "data1 keeps its extra point");

    let o = ctl(&c, &["entropy", "show"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(err(&o), "entropy: anti-entropy service is not enabled on any data node\n");
    let o = ctl(&c, &["entropy", "repair", &shard.to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        err(&o),
        format!(
            "entropy: anti-entropy service is not enabled on the data nodes owning shard {shard}\n"
        )
    );
    // The AE endpoints do not exist.
    let (status, _) =
        testkit::http::request(&http(&c, "data1"), "GET", "/shard-status", &[], b"").unwrap();
    assert_eq!(status, 404);
}
