//! Hinted handoff under faults, on real processes (testkit, loopback):
//! an owner SIGKILLed under load gets every acknowledged point after the
//! drain; a partition fills a queue that drains after heal; a small
//! `max-size` gives `queue is full`; `max-age` purges and counts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proto::cluster::{self, command::Cmd, data_client::DataClient, meta_client::MetaClient};
use testkit::{Cluster, ClusterSpec};

fn start(overrides: &[(&str, &str, &str)]) -> Cluster {
    let mut ov: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (node, k, v) in overrides {
        ov.entry(node.to_string()).or_default().push((k.to_string(), v.to_string()));
    }
    Cluster::start(ClusterSpec {
        meta: 1,
        data: 3,
        rf: Some(2),
        overrides: ov,
        ..Default::default()
    })
    .expect("cluster starts")
}

fn execute(c: &Cluster, cmd: Cmd) -> cluster::ExecuteResponse {
    let api = c.meta_api().unwrap();
    c.block_on(async {
        let mut m = MetaClient::new(proto::net::channel(&api, None).unwrap());
        m.execute(cluster::ExecuteRequest {
            request_id: format!("t-{:?}", Instant::now()),
            command: Some(cluster::Command { cmd: Some(cmd) }),
        })
        .await
        .unwrap()
        .into_inner()
    })
}

fn create_db(c: &Cluster, name: &str) {
    let r = execute(
        c,
        Cmd::CreateDatabase(cluster::CreateDatabase {
            name: name.into(),
            retention_policy: Some(cluster::RetentionPolicySpec {
                name: "autogen".into(),
                replica_n: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        }),
    );
    assert!(r.error.is_empty(), "{}", r.error);
}

fn meta(c: &Cluster) -> proto::meta::Data {
    let api = c.meta_api().unwrap();
    c.block_on(async {
        let mut m = MetaClient::new(proto::net::channel(&api, None).unwrap())
            .max_decoding_message_size(256 << 20);
        let r = m.read(cluster::ReadRequest {}).await.unwrap().into_inner();
        prost::Message::decode(r.data.as_slice()).unwrap()
    })
}

fn data_client(addr: &str) -> DataClient<tonic::transport::Channel> {
    DataClient::new(proto::net::channel(addr, Some(Duration::from_secs(10))).unwrap())
        .max_decoding_message_size(256 << 20)
}

fn hh_status(c: &Cluster, node: &str) -> cluster::HintedHandoffStatusResponse {
    let tcp = c.node_info(node).unwrap().addrs.tcp.unwrap();
    c.block_on(async {
        data_client(&tcp)
            .hinted_handoff_status(cluster::HintedHandoffStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    })
}

fn queued_bytes(c: &Cluster) -> u64 {
    ["data1", "data2", "data3"]
        .iter()
        .filter(|n| c.node_info(n).unwrap().pid.is_some())
        .map(|n| hh_status(c, n).queues.iter().map(|q| q.bytes).sum::<u64>())
        .sum()
}

fn wait_drained(c: &Cluster, within: Duration) {
    let until = Instant::now() + within;
    while queued_bytes(c) > 0 {
        assert!(Instant::now() < until, "hinted handoff did not drain within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The (series key, time) pairs of field `v` stored in a shard on one node.
fn points_on(c: &Cluster, tcp: &str, shard: u64) -> BTreeSet<(String, i64)> {
    c.block_on(async {
        let mut dc = data_client(tcp);
        let series = dc
            .shard_series(cluster::ShardSeriesRequest {
                shard_id: shard,
                measurement: String::new(),
            })
            .await;
        let Ok(series) = series else { return BTreeSet::new() };
        let series = series.into_inner();
        if !series.exists {
            return BTreeSet::new();
        }
        let keys: Vec<cluster::ReadKey> = series
            .series
            .iter()
            .map(|s| cluster::ReadKey { series_key: s.key.clone(), field: "v".into() })
            .collect();
        let mut out = BTreeSet::new();
        let mut stream = dc
            .read_shard(cluster::ReadShardRequest {
                shard_id: shard,
                keys: keys.clone(),
                min: i64::MIN + 2,
                max: i64::MAX - 1,
            })
            .await
            .unwrap()
            .into_inner();
        while let Some(chunk) = stream.message().await.unwrap() {
            let key = &keys[chunk.key as usize].series_key;
            for t in chunk.times {
                out.insert((key.clone(), t));
            }
        }
        out
    })
}

fn write(c: &Cluster, node: &str, db: &str, consistency: &str, lines: &str) -> (u16, String) {
    let http = c.node_info(node).unwrap().addrs.http.unwrap();
    testkit::http::write(&http, db, &format!("&consistency={consistency}"), lines.as_bytes())
        .unwrap()
}

#[test]
fn owner_killed_under_load_gets_every_acknowledged_point() {
    let mut c = start(&[]);
    create_db(&c, "hh");
    let base = 1_795_000_000_000_000_000i64;
    assert_eq!(write(&c, "data1", "hh", "all", &format!("load,s=s0 v=0 {}\n", base - 1)).0, 204);
    // Write through the node that does not own the shard; kill an owner.
    let (owners, outsider) = owners_and_outsider(&c);
    let http = c.node_info(&outsider).unwrap().addrs.http.unwrap();
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) && i < 400 {
                let mut lines = String::new();
                let mut batch = Vec::new();
                for j in 0..50 {
                    let series = format!("load,s=s{}", j % 10);
                    let t = base + i * 1_000_000 + j;
                    lines.push_str(&format!("{series} v={i} {t}\n"));
                    batch.push((series, t));
                }
                if let Ok((204, _)) =
                    testkit::http::write(&http, "hh", "&consistency=one", lines.as_bytes())
                {
                    acked.lock().unwrap().extend(batch);
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    c.crash(&owners[1]).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    c.restart(&owners[1]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    wait_drained(&c, Duration::from_secs(30));
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 1000, "too few acknowledged points: {}", acked.len());
    // Every acknowledged point is on every owner of its shard.
    let data = meta(&c);
    let mut lost = 0usize;
    let mut unexpected = 0usize;
    let written: BTreeSet<(String, i64)> = acked.iter().cloned().collect();
    let all_sent_max = acked.iter().map(|p| p.1).max().unwrap();
    let mut checked_owners = 0;
    for db in data.databases.iter().filter(|d| d.name == "hh") {
        for g in &db.retention_policies[0].shard_groups {
            for s in &g.shards {
                for o in &s.owners {
                    let tcp = data.data_nodes.iter().find(|n| n.id == o.node_id).unwrap();
                    let have = points_on(&c, tcp.tcp_host.as_deref().unwrap(), s.id);
                    checked_owners += 1;
                    lost += written.iter().filter(|p| !have.contains(*p)).count();
                    unexpected += have.iter().filter(|p| p.1 > all_sent_max + 50).count();
                }
            }
        }
    }
    assert_eq!(checked_owners, 2);
    eprintln!("acked={} lost={lost} duplicated/unexpected={unexpected}", acked.len());
    assert_eq!(lost, 0, "acknowledged points missing on an owner after the drain");
    assert_eq!(unexpected, 0);
}

/// The owners of the (single) shard of db `hh`, and the node that is not one.
fn owners_and_outsider(c: &Cluster) -> (Vec<String>, String) {
    let data = meta(c);
    let db = data.databases.iter().find(|d| d.name == "hh").unwrap();
    let shard = &db.retention_policies[0].shard_groups[0].shards[0];
    let name =
        |id: u64| format!("data{}", data.data_nodes.iter().position(|n| n.id == id).unwrap() + 1);
    let owners: Vec<String> = shard.owners.iter().map(|o| name(o.node_id)).collect();
    let outsider = ["data1", "data2", "data3"]
        .iter()
        .find(|n| !owners.contains(&n.to_string()))
        .unwrap()
        .to_string();
    (owners, outsider)
}

#[test]
fn partition_fills_the_queue_heal_drains_it_and_max_size_and_max_age_hold() {
    let small = [
        ("data1", "hinted-handoff.max-size", "3000"),
        ("data2", "hinted-handoff.max-size", "3000"),
        ("data3", "hinted-handoff.max-size", "3000"),
        ("data1", "hinted-handoff.retry-interval", "\"100ms\""),
        ("data2", "hinted-handoff.retry-interval", "\"100ms\""),
        ("data3", "hinted-handoff.retry-interval", "\"100ms\""),
        ("data1", "hinted-handoff.retry-max-interval", "\"200ms\""),
        ("data2", "hinted-handoff.retry-max-interval", "\"200ms\""),
        ("data3", "hinted-handoff.retry-max-interval", "\"200ms\""),
    ];
    let mut c = start(&small);
    create_db(&c, "hh");
    let t0 = 1_795_100_000_000_000_000i64;
    let (s, _) = write(&c, "data1", "hh", "all", &format!("m,s=a v=1 {t0}\n"));
    assert_eq!(s, 204);
    let (owners, outsider) = owners_and_outsider(&c);
    // The coordinator (not an owner) loses one owner: writes still succeed
    // with consistency=one and queue up for it.
    c.partition(&outsider, &owners[1]).unwrap();
    for i in 1..=5 {
        let (s, body) = write(&c, &outsider, "hh", "one", &format!("m,s=a v={i} {}\n", t0 + i));
        assert_eq!(s, 204, "{body}");
    }
    let st = hh_status(&c, &outsider);
    let q = st.queues.iter().find(|q| q.writes > 0).expect("a queue grew");
    assert_eq!(q.writes, 5);
    // consistency=all fails while the queue is not empty.
    let (s, _) = write(&c, &outsider, "hh", "all", &format!("m,s=a v=9 {}\n", t0 + 9));
    assert_eq!(s, 500);
    // A full queue refuses writes with `queue is full`: with both owners
    // cut off, a write fails once their queues are full.
    c.partition(&outsider, &owners[0]).unwrap();
    let big: String = (0..60).map(|i| format!("m,s=big{i} v={i} {}\n", t0 + 100 + i)).collect();
    let mut full = None;
    for _ in 0..20 {
        let (s, body) = write(&c, &outsider, "hh", "one", &big);
        if body.contains("queue is full") {
            full = Some(s);
            break;
        }
    }
    assert_eq!(full, Some(500), "no write saw `queue is full`");
    assert!(hh_status(&c, &outsider).queues.iter().any(|q| q.rejected_full > 0));
    // Heal: the queue drains and the owner has the points.
    c.heal();
    wait_drained(&c, Duration::from_secs(20));
    let info = c.node_info(&owners[1]).unwrap();
    let data = meta(&c);
    let shard = data.databases.iter().find(|d| d.name == "hh").unwrap().retention_policies[0]
        .shard_groups[0]
        .shards[0]
        .id;
    let have = points_on(&c, &info.addrs.tcp.unwrap(), shard);
    for i in 1..=5 {
        assert!(have.contains(&("m,s=a".to_string(), t0 + i)), "point {i} not replayed");
    }

    // max-age: queued writes older than it are purged and counted.
    c.set_config(&outsider, "hinted-handoff.max-age", "\"1s\"").unwrap();
    c.set_config(&outsider, "hinted-handoff.purge-interval", "\"200ms\"").unwrap();
    c.restart(&outsider).unwrap();
    c.partition(&outsider, &owners[1]).unwrap();
    let (s, body) = write(&c, &outsider, "hh", "one", &format!("m,s=old v=1 {}\n", t0 + 500));
    assert_eq!(s, 204, "{body}");
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let st = hh_status(&c, &outsider);
        if st.queues.iter().all(|q| q.writes == 0) && st.queues.iter().any(|q| q.dropped > 0) {
            break;
        }
        assert!(Instant::now() < until, "max-age purge did not happen: {st:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    c.heal();
}

#[test]
fn queues_survive_a_coordinator_restart() {
    let mut c = start(&[]);
    create_db(&c, "hh");
    let t0 = 1_795_200_000_000_000_000i64;
    assert_eq!(write(&c, "data1", "hh", "all", &format!("m,s=a v=0 {t0}\n")).0, 204);
    let (owners, outsider) = owners_and_outsider(&c);
    c.crash(&owners[1]).unwrap();
    for i in 1..=3 {
        assert_eq!(write(&c, &outsider, "hh", "one", &format!("m,s=a v={i} {}\n", t0 + i)).0, 204);
    }
    c.crash(&outsider).unwrap();
    c.restart(&outsider).unwrap();
    let st = hh_status(&c, &outsider);
    assert_eq!(st.queues.iter().map(|q| q.writes).sum::<u64>(), 3, "queue lost in the restart");
    c.restart(&owners[1]).unwrap();
    wait_drained(&c, Duration::from_secs(30));
    let data = meta(&c);
    let shard = data.databases.iter().find(|d| d.name == "hh").unwrap().retention_policies[0]
        .shard_groups[0]
        .shards[0]
        .id;
    let have = points_on(&c, &c.node_info(&owners[1]).unwrap().addrs.tcp.unwrap(), shard);
    assert_eq!(have.len(), 4, "{have:?}");
}
