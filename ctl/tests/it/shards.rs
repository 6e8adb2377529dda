//! Shard management against a real cluster (1 meta node, 2 data nodes,
//! RF 1, so each shard of a group lives on one node): `show-shards`,
//! `copy-shard`, `copy-shard-status`, `remove-shard`, `truncate-shards`,
//! their outputs, effects and errors.

use proto::cluster::{self, data_client::DataClient};
use testkit::{Cluster, ClusterSpec};

use crate::util::*;

fn data_client(addr: &str) -> DataClient<tonic::transport::Channel> {
    DataClient::new(proto::net::channel(addr, None).unwrap()).max_decoding_message_size(256 << 20)
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

/// (shard, owner node IDs) of `db`, by shard ID.
fn shards(c: &Cluster, db: &str) -> Vec<(u64, Vec<u64>)> {
    let data = meta_data(c);
    let mut out: Vec<(u64, Vec<u64>)> = data
        .databases
        .iter()
        .filter(|d| d.name == db)
        .flat_map(|d| &d.retention_policies)
        .flat_map(|r| &r.shard_groups)
        .flat_map(|g| &g.shards)
        .map(|s| (s.id, s.owners.iter().map(|o| o.node_id).collect()))
        .collect();
    out.sort();
    out
}

fn row(table: &str, shard: u64) -> &str {
    table.lines().find(|l| l.starts_with(&format!("{shard} "))).unwrap_or_else(|| {
        panic!("no row for shard {shard} in\n{table}");
    })
}

#[test]
fn show_copy_remove_and_truncate_shards() {
    let c = Cluster::start(ClusterSpec { meta: 1, data: 2, rf: Some(1), ..Default::default() })
        .expect("cluster starts");
    let info = c.info();
    let addr_of = |id: u64| {
        info.nodes
            .iter()
            .find(|n| n.name.starts_with("data") && n.id == id)
            .unwrap()
            .addrs
            .tcp
            .clone()
            .unwrap()
    };
    let http = c.data_http()[0].clone();
    let (status, _) = testkit::http::query(&http, "", "CREATE DATABASE telegraf").unwrap();
    assert_eq!(status, 200);
    let base = 1_700_000_000_000_000_000i64;
    let lines: String = (0..64)
        .map(|i| format!("cpu,host=h{} v={i} {}\n", i % 16, base + i as i64 * 1_000_000_000))
        .collect();
    let (status, body) = testkit::http::write(&http, "telegraf", "", lines.as_bytes()).unwrap();
    assert_eq!(status, 204, "{body}");
    let before = shards(&c, "telegraf");
    assert_eq!(before.len(), 2, "2 data nodes / RF 1 = 2 shards per group: {before:?}");

    // show-shards: the table of influxd-ctl.
    let table = ok(ctl(&c, &["show-shards"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(&lines[..2], ["Shards", "=========="], "{table}");
    assert!(
        lines[2].starts_with(
            "ID  Database  Retention Policy  Desired Replicas  Shard Group  Start                 End                   Expires  Owners"
        ),
        "{table}"
    );
    for (id, owners) in &before {
        let r = row(&table, *id);
        let cells: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(&cells[1..4], ["telegraf", "autogen", "1"], "{r}");
        assert_eq!(cells[5], "2023-11-13T00:00:00Z", "the 7-day group starts on a Monday: {r}");
        assert_eq!(cells[6], "2023-11-20T00:00:00Z", "{r}");
        assert!(r.ends_with(&format!("[{{{} {}}}]", owners[0], addr_of(owners[0]))), "{r}");
    }

    // copy-shard: the data and the ownership.
    let (shard, owners) = before[0].clone();
    let (src_id, dst_id) = (owners[0], before[1].1[0]);
    assert_ne!(src_id, dst_id, "the two shards live on different nodes: {before:?}");
    let (src, dst) = (addr_of(src_id), addr_of(dst_id));
    let id = shard.to_string();
    let o = ok(ctl(&c, &["copy-shard", &src, &dst, &id]));
    assert_eq!(o, format!("Copied shard {shard} from {src} to {dst}\n"));
    assert_eq!(shards(&c, "telegraf")[0], (shard, vec![src_id, dst_id]));
    let (a, b) = (digest(&c, &src, shard), digest(&c, &dst, shard));
    assert!(b.exists && a.digest == b.digest && a.points == b.points && a.points > 0);
    let table = ok(ctl(&c, &["show-shards"]));
    assert!(
        row(&table, shard).ends_with(&format!("[{{{src_id} {src}}} {{{dst_id} {dst}}}]")),
        "{table}"
    );
    let table = ok(ctl(&c, &["show-shards", "-v"]));
    assert!(
        row(&table, shard).contains(&format!("{{ID:{dst_id} TCPAddr:{dst} State:ok LastModified:")),
        "{table}"
    );
    let table = ok(ctl(&c, &["show-shards", "-m"]));
    assert_eq!(table.lines().count(), 3, "nothing inconsistent:\n{table}");
    assert_eq!(
        ok(ctl(&c, &["copy-shard-status"])),
        "Source  Dest  Database  Policy  ShardID  TotalSize  CurrentSize  StartedAt\n"
    );

    // remove-shard: ownership and data gone from the source.
    let o = ok(ctl(&c, &["remove-shard", &src, &id]));
    assert_eq!(o, format!("Removed shard {shard} from {src}\n"));
    assert_eq!(shards(&c, "telegraf")[0], (shard, vec![dst_id]));
    assert!(!digest(&c, &src, shard).exists);
    assert_eq!(digest(&c, &dst, shard).digest, a.digest);

    // truncate-shards: the open group ends now + delay, shown with a `*`.
    let o = ok(ctl(&c, &["truncate-shards", "-delay", "1s"]));
    assert_eq!(o, "Truncated shards.\n");
    // The group of 2023 is not open now: untouched.
    let table = ok(ctl(&c, &["show-shards"]));
    assert!(row(&table, shard).split_whitespace().nth(6).unwrap() == "2023-11-20T00:00:00Z");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now_line = format!("cpu,host=now v=1 {}\n", now.as_nanos());
    let (status, body) = testkit::http::write(&http, "telegraf", "", now_line.as_bytes()).unwrap();
    assert_eq!(status, 204, "{body}");
    ok(ctl(&c, &["truncate-shards", "-delay", "1s"]));
    let table = ok(ctl(&c, &["show-shards"]));
    let truncated: Vec<&str> = table.lines().filter(|l| l.contains("Z* ")).collect();
    assert_eq!(truncated.len(), 2, "the current group's 2 shards end with *:\n{table}");

    // Errors: `<command>: <message>` on stderr, exit 1.
    let o = ctl(&c, &["copy-shard", &src, &src, &id]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "copy-shard: destAddr and srcAddr are the same\n".to_string())
    );
    let o = ctl(&c, &["copy-shard", &src, &dst, "999"]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "copy-shard: operation exited with error: shard 999 not found\n".to_string())
    );
    let o = ctl(&c, &["copy-shard", &src, &dst, &id]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "copy-shard: operation exited with error: shard {shard} is already owned by {dst}\n"
        )
    );
    let o = ctl(&c, &["remove-shard", &src, "abc"]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "remove-shard: error converting shardID to int: abc\n".to_string())
    );
    let o = ctl(&c, &["remove-shard", &src, &id]);
    assert_eq!(
        stderr(&o),
        format!("remove-shard: operation exited with error: shard {shard} not found on {src}\n")
    );
}
