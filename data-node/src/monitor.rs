//! `_internal`: with `[monitor] store-enabled` (the default) each data node
//! writes its own statistics every `store-interval` (10s) into
//! `store-database` (`_internal`), RP `monitor` (7 days, 1-day shard groups),
//! creating them when missing, as InfluxDB does. Points carry the tags
//! `hostname` and `nodeID`.
//!
//! Measurements (a subset of InfluxDB's, same names): `httpd` (req,
//! writeReq, queryReq, pointsWrittenOK, pointsWrittenFail), `write`
//! (pointReq, pointReqRemote), `runtime` (Sys, HeapAlloc from RSS),
//! `shard` per local shard (diskBytes, pointCount; tags database,
//! retentionPolicy, id), `hh_processor` per hinted-handoff queue (queueBytes,
//! queueDepth, writeShardReq, writeShardReqReplayed, writeDropped,
//! writeBlocked; tag node).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use portable::{FieldValue, Point};
use proto::cluster::{self, command::Cmd};
use tracing::{Instrument, debug};

use crate::coordinator::{self, Consistency};
use crate::node::Node;
use crate::stats::Stats;

/// The monitor RP.
pub const MONITOR_RP: &str = "monitor";
const DAY_NS: i64 = 86_400_000_000_000;

/// Starts the monitor when `[monitor] store-enabled`.
pub fn spawn(node: Arc<Node>) {
    if !node.config.monitor.store_enabled {
        return;
    }
    tokio::spawn(
        async move {
            let every =
                node.config.monitor.store_interval.max(std::time::Duration::from_millis(100));
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if node.id() == 0 {
                    continue;
                }
                if let Err(e) = store(&node).await {
                    debug!(error = %e, "writing statistics to _internal");
                }
            }
        }
        .in_current_span(),
    );
}

async fn store(node: &Arc<Node>) -> Result<(), String> {
    let db = node.config.monitor.store_database.clone();
    let view = node.meta.view();
    if view.retention_policy(&db, MONITOR_RP).is_none() {
        node.meta
            .execute(Cmd::CreateDatabase(cluster::CreateDatabase {
                name: db.clone(),
                retention_policy: Some(cluster::RetentionPolicySpec {
                    name: MONITOR_RP.into(),
                    duration: Some(7 * DAY_NS),
                    shard_group_duration: Some(DAY_NS),
                    replica_n: Some(1),
                }),
                ..Default::default()
            }))
            .await
            .map_err(|e| e.to_string())?;
    }
    let points = collect(node);
    coordinator::write_points(node, &db, MONITOR_RP, Consistency::One, points)
        .await
        .map_err(|e| e.to_string())
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

fn point(m: &str, tags: Vec<(String, String)>, fields: Vec<(&str, FieldValue)>, t: i64) -> Point {
    let mut tags = tags;
    tags.sort();
    Point {
        measurement: m.to_string(),
        tags,
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        time: t,
    }
}

/// This node's statistics as points.
pub fn collect(node: &Node) -> Vec<Point> {
    let t = now_ns();
    let host = node.tcp_addr.split(':').next().unwrap_or_default().to_string();
    let base = vec![("hostname".to_string(), host), ("nodeID".to_string(), node.id().to_string())];
    let s = &node.stats;
    let int = |v: u64| FieldValue::Integer(v.min(i64::MAX as u64) as i64);
    let mut out = vec![
        point(
            "httpd",
            base.clone(),
            vec![
                ("req", int(Stats::get(&s.write_req) + Stats::get(&s.query_req))),
                ("writeReq", int(Stats::get(&s.write_req))),
                ("queryReq", int(Stats::get(&s.query_req))),
                ("pointsWrittenOK", int(Stats::get(&s.points_written))),
                ("pointsWrittenFail", int(Stats::get(&s.points_failed))),
            ],
            t,
        ),
        point(
            "write",
            base.clone(),
            vec![
                ("pointReq", int(Stats::get(&s.points_written) + Stats::get(&s.points_failed))),
                ("pointReqRemote", int(Stats::get(&s.remote_write_req))),
            ],
            t,
        ),
    ];
    let rss = rss_bytes();
    out.push(point("runtime", base.clone(), vec![("Sys", int(rss)), ("HeapAlloc", int(rss))], t));
    for info in node.store.shards() {
        let Some(sh) = node.store.shard(info.id) else { continue };
        let mut tags = base.clone();
        tags.push(("database".into(), info.database.clone()));
        tags.push(("retentionPolicy".into(), info.retention_policy.clone()));
        tags.push(("id".into(), info.id.to_string()));
        out.push(point(
            "shard",
            tags,
            vec![("diskBytes", int(sh.size_bytes())), ("pointCount", int(sh.point_count()))],
            t,
        ));
    }
    for q in node.hh.queues() {
        let (bytes, depth) = q.size();
        let mut tags = base.clone();
        tags.push(("node".into(), q.node.to_string()));
        out.push(point(
            "hh_processor",
            tags,
            vec![
                ("queueBytes", int(bytes)),
                ("queueDepth", int(depth)),
                ("writeShardReq", int(q.counters.queued.load(Ordering::Relaxed))),
                ("writeShardReqReplayed", int(q.counters.replayed.load(Ordering::Relaxed))),
                ("writeDropped", int(q.counters.dropped.load(Ordering::Relaxed))),
                ("writeBlocked", int(q.counters.rejected_full.load(Ordering::Relaxed))),
            ],
            t,
        ));
    }
    out
}

/// Resident set size from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}
