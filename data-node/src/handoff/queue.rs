//! One durable hinted-handoff queue: the writes a single destination node
//! did not take, in arrival order, in a sled tree of the coordinator.
//!
//! Keys are a sequence number (u64 BE); a value is the item's `enqueued_at`
//! (i64 BE) followed by a protobuf `HandoffItem`. Enqueue and removal flush
//! sled before returning (a write answered `any` may rest on the queue).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;
use proto::cluster::HandoffItem;
use tokio::sync::Notify;

/// Why an enqueue failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue holds `max-size` bytes (Enterprise's text).
    #[error("queue is full")]
    Full,
    /// sled failed.
    #[error("hinted handoff queue: {0}")]
    Storage(String),
}

#[derive(Debug, Default)]
struct State {
    next_seq: u64,
    bytes: u64,
    items: u64,
}

/// Counters of one queue since the node started.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Writes queued.
    pub queued: AtomicU64,
    /// Writes replayed to the destination.
    pub replayed: AtomicU64,
    /// Writes purged for age or lost to corruption.
    pub dropped: AtomicU64,
    /// Writes refused because the queue was full.
    pub rejected_full: AtomicU64,
}

/// A durable FIFO of writes for one destination node.
pub struct Queue {
    /// Destination node ID.
    pub node: u64,
    tree: sled::Tree,
    db: sled::Db,
    max_size: u64,
    state: Mutex<State>,
    /// Woken on every enqueue.
    pub notify: Notify,
    /// Counters.
    pub counters: QueueCounters,
    /// The last replay error, for status output.
    pub last_error: Mutex<String>,
}

fn encode(item: &HandoffItem) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + item.encoded_len());
    v.extend_from_slice(&item.enqueued_at.to_be_bytes());
    item.encode(&mut v).expect("Vec has room");
    v
}

fn enqueued_at(v: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

impl Queue {
    /// Opens the queue of `node` in `db`, rebuilding its size from disk.
    pub fn open(db: &sled::Db, node: u64, max_size: u64) -> Result<Queue, QueueError> {
        let tree =
            db.open_tree(format!("node-{node}")).map_err(|e| QueueError::Storage(e.to_string()))?;
        let mut st = State::default();
        for kv in tree.iter() {
            let (k, v) = kv.map_err(|e| QueueError::Storage(e.to_string()))?;
            let seq = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            st.next_seq = st.next_seq.max(seq + 1);
            st.bytes += v.len() as u64;
            st.items += 1;
        }
        Ok(Queue {
            node,
            tree,
            db: db.clone(),
            max_size,
            state: Mutex::new(st),
            notify: Notify::new(),
            counters: QueueCounters::default(),
            last_error: Mutex::new(String::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes and writes queued.
    pub fn size(&self) -> (u64, u64) {
        let st = self.lock();
        (st.bytes, st.items)
    }

    /// Whether anything is queued.
    pub fn is_empty(&self) -> bool {
        self.lock().items == 0
    }

    /// Appends a write, durably. Fails with `queue is full` past `max-size`.
    pub fn enqueue(&self, item: &HandoffItem) -> Result<(), QueueError> {
        let v = encode(item);
        {
            let mut st = self.lock();
            if self.max_size > 0 && st.bytes + v.len() as u64 > self.max_size {
                self.counters.rejected_full.fetch_add(1, Ordering::Relaxed);
                return Err(QueueError::Full);
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            self.tree
                .insert(seq.to_be_bytes(), v.as_slice())
                .map_err(|e| QueueError::Storage(e.to_string()))?;
            st.bytes += v.len() as u64;
            st.items += 1;
        }
        self.db.flush().map_err(|e| QueueError::Storage(e.to_string()))?;
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        self.notify.notify_one();
        Ok(())
    }

    /// The oldest items, up to `max_bytes` (at least one), with their keys.
    /// Undecodable items are dropped and counted.
    pub fn peek(&self, max_bytes: u64) -> Vec<(u64, HandoffItem)> {
        let mut out = Vec::new();
        let mut size = 0u64;
        for kv in self.tree.iter() {
            let Ok((k, v)) = kv else { break };
            let seq = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            match v.get(8..).and_then(|b| HandoffItem::decode(b).ok()) {
                Some(item) => {
                    size += v.len() as u64;
                    out.push((seq, item));
                    if size >= max_bytes {
                        break;
                    }
                }
                None => {
                    // A corrupt item is cut out, as Enterprise truncates a
                    // corrupt segment, and counted as dropped.
                    self.remove(&[seq]);
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        out
    }

    /// Removes items (replayed or purged), durably: replayed items coming
    /// back after a crash would be harmless, but would hold new writes in
    /// the queue until replayed again.
    pub fn remove(&self, seqs: &[u64]) {
        {
            let mut st = self.lock();
            for seq in seqs {
                if let Ok(Some(v)) = self.tree.remove(seq.to_be_bytes()) {
                    st.bytes = st.bytes.saturating_sub(v.len() as u64);
                    st.items = st.items.saturating_sub(1);
                }
            }
        }
        if !seqs.is_empty() {
            let _ = self.db.flush();
        }
    }

    /// Drops items queued before `cutoff` (wall-clock ns); returns how many.
    pub fn purge_older_than(&self, cutoff: i64) -> u64 {
        let mut old = Vec::new();
        for kv in self.tree.iter() {
            let Ok((k, v)) = kv else { break };
            match enqueued_at(&v) {
                Some(t) if t < cutoff => {
                    old.push(k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0))
                }
                // Items are in arrival order: the rest are newer.
                _ => break,
            }
        }
        self.remove(&old);
        let n = old.len() as u64;
        self.counters.dropped.fetch_add(n, Ordering::Relaxed);
        n
    }

    /// Wall-clock ns of the oldest item, if any.
    pub fn oldest(&self) -> Option<i64> {
        let (_, v) = self.tree.first().ok()??;
        enqueued_at(&v)
    }

    /// Deletes the whole queue (its node left the cluster).
    pub fn destroy(&self) {
        let _ = self.tree.clear();
        let _ = self.db.drop_tree(self.tree.name());
        *self.lock() = State::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(t: i64, n: usize) -> HandoffItem {
        HandoffItem {
            shard_id: 1,
            database: "db".into(),
            policy: "rp".into(),
            enqueued_at: t,
            points: (0..n)
                .map(|i| proto::cluster::WirePoint {
                    measurement: "m".into(),
                    time: i as i64,
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn fifo_survives_reopen_and_respects_max_size_and_age() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let q = Queue::open(&db, 7, 300).unwrap();
        q.enqueue(&item(10, 2)).unwrap();
        q.enqueue(&item(20, 2)).unwrap();
        let mut full = false;
        for i in 0..20 {
            if q.enqueue(&item(30 + i, 5)) == Err(QueueError::Full) {
                full = true;
                break;
            }
        }
        assert!(full, "max-size never reached");
        let (bytes, writes) = q.size();
        assert!(bytes <= 300 && writes >= 2);
        drop(q);
        let q = Queue::open(&db, 7, 300).unwrap();
        assert_eq!(q.size(), (bytes, writes));
        let first = q.peek(1);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1.enqueued_at, 10);
        assert_eq!(q.purge_older_than(25), 2);
        assert_eq!(q.oldest(), Some(30));
        let all: Vec<u64> = q.peek(u64::MAX).into_iter().map(|(s, _)| s).collect();
        q.remove(&all);
        assert!(q.is_empty());
    }
}
