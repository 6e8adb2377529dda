//! Hinted handoff: durable queues of the writes other owners did not take.
//!
//! BEHAVIOUR (enterprise-behaviour.md §A.7, §A.8):
//! - one queue per destination data node on each coordinator, on sled under
//!   `[hinted-handoff] dir`, surviving restarts;
//! - a write an owner fails (down, partitioned, timed out) is queued for it;
//!   only consistency `any` counts a queued write as an acknowledgement;
//! - while a node's queue is not empty, new writes for it go to the queue
//!   too (order kept: `allow-out-of-order-writes = false`);
//! - a queue past `max-size` bytes refuses writes with `queue is full`;
//! - items older than `max-age` (from when they were queued) are purged
//!   every `purge-interval` and counted as dropped;
//! - replay: oldest first, at most `batch-size` bytes per round, with
//!   exponential backoff from `retry-interval` up to `retry-max-interval`
//!   after a failure (reset after a success), and `retry-rate-limit` bytes/s;
//! - a node removed from the cluster has its queue deleted; writes for a
//!   shard that left the metastore are dropped.

pub mod queue;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portable::Point;
use proto::cluster::{self, HandoffItem, data_client::DataClient};
use tracing::{Instrument, debug, info, warn};

use crate::config::HintedHandoffSection;
use crate::node::Node;
pub use queue::{Queue, QueueError};

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// The node's hinted-handoff service.
pub struct HintedHandoff {
    cfg: HintedHandoffSection,
    db: Option<sled::Db>,
    queues: Mutex<HashMap<u64, Arc<Queue>>>,
}

impl HintedHandoff {
    /// Opens the queues under `[hinted-handoff] dir` (nothing when disabled).
    pub fn open(cfg: &HintedHandoffSection) -> Result<HintedHandoff, String> {
        let mut queues = HashMap::new();
        let db = if cfg.enabled {
            std::fs::create_dir_all(&cfg.dir)
                .map_err(|e| format!("creating {}: {e}", cfg.dir.display()))?;
            let db = proto::sled_open::open(
                &sled::Config::new().path(&cfg.dir).cache_capacity(16 << 20),
            )
            .map_err(|e| format!("opening hinted handoff in {}: {e}", cfg.dir.display()))?;
            for name in db.tree_names() {
                let name = String::from_utf8_lossy(&name).into_owned();
                if let Some(id) = name.strip_prefix("node-").and_then(|s| s.parse::<u64>().ok()) {
                    let q = Queue::open(&db, id, cfg.max_size).map_err(|e| e.to_string())?;
                    queues.insert(id, Arc::new(q));
                }
            }
            Some(db)
        } else {
            None
        };
        Ok(HintedHandoff { cfg: cfg.clone(), db, queues: Mutex::new(queues) })
    }

    /// Whether hinted handoff is on.
    pub fn enabled(&self) -> bool {
        self.db.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Queue>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue for `node`, created on first use.
    pub fn queue(&self, node: u64) -> Result<Arc<Queue>, QueueError> {
        let db = self.db.as_ref().ok_or_else(|| QueueError::Storage("disabled".into()))?;
        let mut qs = self.lock();
        if let Some(q) = qs.get(&node) {
            return Ok(q.clone());
        }
        let q = Arc::new(Queue::open(db, node, self.cfg.max_size)?);
        qs.insert(node, q.clone());
        Ok(q)
    }

    /// Whether writes for `node` must go through its queue (it is not empty).
    pub fn has_pending(&self, node: u64) -> bool {
        self.lock().get(&node).is_some_and(|q| !q.is_empty())
    }

    /// Queues a write for `node`.
    pub fn enqueue(
        &self,
        node: u64,
        shard_id: u64,
        db: &str,
        rp: &str,
        points: &[Point],
    ) -> Result<(), QueueError> {
        let item = HandoffItem {
            shard_id,
            database: db.to_string(),
            policy: rp.to_string(),
            enqueued_at: now_ns(),
            points: points.iter().map(crate::wire::to_wire).collect(),
        };
        self.queue(node)?.enqueue(&item)
    }

    /// Every queue.
    pub fn queues(&self) -> Vec<Arc<Queue>> {
        let mut v: Vec<_> = self.lock().values().cloned().collect();
        v.sort_by_key(|q| q.node);
        v
    }

    /// Total bytes queued.
    pub fn total_bytes(&self) -> u64 {
        self.lock().values().map(|q| q.size().0).sum()
    }

    /// Status for `ctl hinted-handoff`.
    pub fn status(&self, node: &Node) -> cluster::HintedHandoffStatusResponse {
        let view = node.meta.view();
        cluster::HintedHandoffStatusResponse {
            enabled: self.enabled(),
            queues: self
                .queues()
                .iter()
                .map(|q| {
                    let (bytes, writes) = q.size();
                    cluster::HandoffQueueStatus {
                        node_id: q.node,
                        node_addr: view.data_node_tcp(q.node).unwrap_or_default().to_string(),
                        bytes,
                        writes,
                        oldest: q.oldest().unwrap_or(0),
                        queued: q.counters.queued.load(Ordering::Relaxed),
                        replayed: q.counters.replayed.load(Ordering::Relaxed),
                        dropped: q.counters.dropped.load(Ordering::Relaxed),
                        rejected_full: q.counters.rejected_full.load(Ordering::Relaxed),
                        last_error: q.last_error.lock().map(|e| e.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
        }
    }
}

/// Starts the replay workers and the purge/cleanup loop.
pub fn spawn(node: Arc<Node>) {
    if !node.hh.enabled() {
        return;
    }
    tokio::spawn(supervise(node).in_current_span());
}

async fn supervise(node: Arc<Node>) {
    let mut running: HashMap<u64, tokio::task::JoinHandle<()>> = HashMap::new();
    let purge_every = node.config.hinted_handoff.purge_interval.max(Duration::from_millis(100));
    let mut last_purge = Instant::now();
    loop {
        let view = node.meta.view();
        for q in node.hh.queues() {
            // A node that left the cluster: its queue goes too.
            if view.index > 0 && view.data.data_nodes.iter().all(|n| n.id != q.node) {
                if let Some(h) = running.remove(&q.node) {
                    h.abort();
                }
                info!(node = q.node, "data node removed: deleting its hinted-handoff queue");
                q.destroy();
                node.hh.lock().remove(&q.node);
                continue;
            }
            if running.get(&q.node).is_none_or(|h| h.is_finished()) {
                let h = tokio::spawn(replay(node.clone(), q.clone()).in_current_span());
                running.insert(q.node, h);
            }
        }
        if last_purge.elapsed() >= purge_every {
            last_purge = Instant::now();
            let cutoff = now_ns() - node.config.hinted_handoff.max_age.as_nanos() as i64;
            for q in node.hh.queues() {
                let n = q.purge_older_than(cutoff);
                if n > 0 {
                    warn!(
                        node = q.node,
                        dropped = n,
                        "purged hinted-handoff writes older than max-age"
                    );
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Replays one queue to its destination, forever.
async fn replay(node: Arc<Node>, q: Arc<Queue>) {
    let cfg = node.config.hinted_handoff.clone();
    let mut backoff = cfg.retry_interval.max(Duration::from_millis(10));
    loop {
        if q.is_empty() {
            let _ = tokio::time::timeout(Duration::from_secs(1), q.notify.notified()).await;
            continue;
        }
        let batch = q.peek(cfg.batch_size.max(1));
        let view = node.meta.view();
        let mut failed = None;
        let mut sent_bytes = 0u64;
        let mut done = Vec::new();
        for (seq, item) in batch {
            if view.index > 0 && view.shard(item.shard_id).is_none() {
                // The shard was dropped: nothing to deliver it to.
                q.remove(&[seq]);
                q.counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Some(addr) = view.data_node_tcp(q.node) else {
                failed = Some(format!("data node {} not found", q.node));
                break;
            };
            let bytes = prost::Message::encoded_len(&item) as u64;
            match send(&node, addr, item).await {
                Ok(()) => {
                    done.push(seq);
                    q.counters.replayed.fetch_add(1, Ordering::Relaxed);
                    sent_bytes += bytes;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        q.remove(&done);
        match failed {
            Some(e) => {
                debug!(node = q.node, error = %e, ?backoff, "hinted-handoff replay failed");
                if let Ok(mut le) = q.last_error.lock() {
                    *le = e;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(cfg.retry_max_interval.max(cfg.retry_interval));
            }
            None => {
                backoff = cfg.retry_interval.max(Duration::from_millis(10));
                if cfg.retry_rate_limit > 0 && sent_bytes > 0 {
                    let secs = sent_bytes as f64 / cfg.retry_rate_limit as f64;
                    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                }
            }
        }
    }
}

async fn send(node: &Node, addr: &str, item: HandoffItem) -> Result<(), String> {
    let ch = node.peer_channel(addr)?;
    let mut c = DataClient::new(ch).max_encoding_message_size(crate::server::MAX_MESSAGE);
    let req = cluster::WriteShardRequest {
        shard_id: item.shard_id,
        database: item.database,
        policy: item.policy,
        points: item.points,
    };
    match tokio::time::timeout(node.config.cluster.write_timeout, c.write_shard(req)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(s)) => Err(s.message().to_string()),
        Err(_) => Err("timeout".into()),
    }
}
