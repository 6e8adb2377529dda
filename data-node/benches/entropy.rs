//! Anti-entropy repair time of a missing 100k-point shard, on a real
//! testbed cluster (1 meta node, 2 data nodes, RF 2, AE on both with a
//! 100ms check interval): the shard is deleted from data2's disk while
//! data2 is stopped, then data2 is restarted and the clock runs until its
//! copy has the same digest as data1's. Also times the copy alone (the
//! `CopyShard` RPC that `ctl copy-shard` and AE use) onto a third node.
//!
//! A plain `harness = false` bench that prints figures. It needs release
//! binaries next to it:
//! `cargo build --release -p meta-node -p data-node && cargo bench -p data-node --bench entropy`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proto::cluster::{self, data_client::DataClient};
use testkit::{Cluster, ClusterSpec};

const SERIES: usize = 10;
const POINTS_PER_SERIES: usize = 10_000;
const BATCH: usize = 5000;

fn client(addr: &str) -> DataClient<tonic::transport::Channel> {
    DataClient::new(proto::net::channel(addr, None).unwrap()).max_decoding_message_size(256 << 20)
}

fn digest(c: &Cluster, addr: &str, shard: u64) -> cluster::ShardDigestResponse {
    c.block_on(async {
        client(addr)
            .shard_digest(cluster::ShardDigestRequest { shard_id: shard, keys: false })
            .await
            .unwrap()
            .into_inner()
    })
}

fn main() {
    let mut overrides = BTreeMap::new();
    for n in ["data1", "data2", "data3"] {
        let ae = if n == "data3" { "false" } else { "true" };
        overrides.insert(
            n.to_string(),
            vec![
                ("anti-entropy.enabled".to_string(), ae.to_string()),
                ("anti-entropy.check-interval".to_string(), "\"100ms\"".to_string()),
                ("data.cache-snapshot-write-cold-duration".to_string(), "\"1s\"".to_string()),
            ],
        );
    }
    let mut c = Cluster::start(ClusterSpec {
        meta: 1,
        data: 3,
        rf: Some(2),
        overrides,
        ..Default::default()
    })
    .expect("cluster starts (release binaries built?)");
    let http = c.node_info("data1").unwrap().addrs.http.unwrap();
    testkit::http::query(&http, "", "CREATE DATABASE ae").unwrap();
    // One RP with RF 2 on 3 nodes: one shard per group, on two nodes.
    let base = 1_700_000_000_000_000_000i64;
    // Values from a small LCG, so the shard does not compress to nothing.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        x >> 11
    };
    let mut lines = Vec::with_capacity(SERIES * POINTS_PER_SERIES);
    for i in 0..POINTS_PER_SERIES {
        for s in 0..SERIES {
            let usage = (next() % 1_000_000) as f64 / 10_000.0;
            let n = next() % 100_000;
            let t = base + i as i64 * 10_000_000;
            lines.push(format!("cpu,host=h{s} usage={usage},n={n}i {t}"));
        }
    }
    let t = Instant::now();
    for batch in lines.chunks(BATCH) {
        let body = batch.join("\n") + "\n";
        let (status, resp) =
            testkit::http::write(&http, "ae", "&consistency=all", body.as_bytes()).unwrap();
        assert_eq!(status, 204, "{resp}");
    }
    println!("wrote {} points ({} values) in {:?}", lines.len(), lines.len() * 2, t.elapsed());

    let api = c.meta_api().unwrap();
    let data: proto::meta::Data = c.block_on(async {
        let mut m =
            proto::cluster::meta_client::MetaClient::new(proto::net::channel(&api, None).unwrap())
                .max_decoding_message_size(256 << 20);
        let r = m.read(cluster::ReadRequest {}).await.unwrap().into_inner();
        prost::Message::decode(r.data.as_slice()).unwrap()
    });
    let shard = data.databases.iter().find(|d| d.name == "ae").unwrap().retention_policies[0]
        .shard_groups[0]
        .shards[0]
        .clone();
    let name_of = |id: u64| {
        let tcp = data.data_nodes.iter().find(|n| n.id == id).unwrap().tcp_host.clone().unwrap();
        let info = c.info();
        info.nodes.into_iter().find(|n| n.addrs.tcp.as_deref() == Some(tcp.as_str())).unwrap()
    };
    let (a, b) = (name_of(shard.owners[0].node_id), name_of(shard.owners[1].node_id));
    let other = c
        .info()
        .nodes
        .into_iter()
        .find(|n| n.name.starts_with("data") && n.name != a.name && n.name != b.name)
        .unwrap();
    let a_tcp = a.addrs.tcp.clone().unwrap();
    let want = digest(&c, &a_tcp, shard.id);
    println!(
        "shard {} on {} and {}: {} points, {} keys",
        shard.id, a.name, b.name, want.points, want.keys
    );

    // The copy alone, onto the node that does not own it.
    let other_tcp = other.addrs.tcp.clone().unwrap();
    let t = Instant::now();
    let r = c.block_on(async {
        client(&other_tcp)
            .copy_shard(cluster::CopyShardRequest { shard_id: shard.id, source: a_tcp.clone() })
            .await
            .unwrap()
            .into_inner()
    });
    let copy = t.elapsed();
    assert_eq!(digest(&c, &other_tcp, shard.id).digest, want.digest);
    println!("CopyShard of {} points ({} archive bytes): {copy:?}", r.points, r.bytes);

    // AE: delete on the second owner while it is down, restart, wait.
    c.stop(&b.name).unwrap();
    let store = data_node::store::Store::open(b.dir.join("data")).unwrap();
    assert!(store.delete_shard(shard.id).unwrap());
    drop(store);
    let t = Instant::now();
    c.restart(&b.name).unwrap();
    let ready = t.elapsed();
    let b_tcp = b.addrs.tcp.clone().unwrap();
    loop {
        let d = digest(&c, &b_tcp, shard.id);
        if d.exists && d.digest == want.digest {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "AE did not repair the shard");
        std::thread::sleep(Duration::from_millis(20));
    }
    let total = t.elapsed();
    let log = std::fs::read_to_string(&b.log).unwrap_or_default();
    let copy_ms = log
        .lines()
        .rev()
        .filter(|l| l.contains("copied shard"))
        .filter_map(|l| l.split("elapsed_ms=").nth(1))
        .find_map(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    println!(
        "AE repair of the missing shard: {total:?} from restart (node ready after {ready:?}; \
         check interval 100ms; the copy itself {} ms)",
        copy_ms.map_or("?".to_string(), |m| m.to_string())
    );
}
