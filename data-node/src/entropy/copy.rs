//! Copying a shard from another data node onto this one: the source's
//! `BackupShard` stream (a portable `.tar.gz`) imported here as a restore
//! imports it. Used by `ctl copy-shard` (through the `CopyShard` RPC) and
//! by anti-entropy for missing shards. Running copies are listed by
//! `copy-shard-status` and can be stopped by `kill-copy-shard`; a copy that
//! fails or is killed deletes the shard it created.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use proto::cluster;
use tracing::{info, warn};

use super::error::{EntropyError, Result};
use super::{Service, now_ns, peer};
use crate::node::Node;

/// A copy in progress, as `copy-shard-status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyTask {
    /// Source TCP address.
    pub source: String,
    /// Database.
    pub database: String,
    /// Retention policy.
    pub policy: String,
    /// Shard.
    pub shard_id: u64,
    /// Size of the shard on the source, bytes.
    pub total_size: u64,
    /// Archive bytes received so far.
    pub current_size: u64,
    /// Wall-clock ns.
    pub started_at: i64,
}

#[derive(Debug)]
struct Running {
    task: CopyTask,
    current: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
}

/// The copies running onto one node.
#[derive(Debug, Default)]
pub(super) struct Copies {
    running: Mutex<Vec<Running>>,
}

/// Unregisters a copy when dropped.
struct Registration<'a> {
    copies: &'a Copies,
    shard: u64,
    current: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.copies.lock().retain(|r| r.task.shard_id != self.shard);
    }
}

impl Copies {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, task: CopyTask) -> Result<Registration<'_>> {
        let mut running = self.lock();
        if running.iter().any(|r| r.task.shard_id == task.shard_id) {
            return Err(EntropyError::CopyInProgress(task.shard_id));
        }
        let current = Arc::new(AtomicU64::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let shard = task.shard_id;
        running.push(Running { task, current: current.clone(), cancel: cancel.clone() });
        Ok(Registration { copies: self, shard, current, cancel })
    }

    /// The copies in progress.
    pub(super) fn list(&self) -> Vec<CopyTask> {
        self.lock()
            .iter()
            .map(|r| CopyTask { current_size: r.current.load(Ordering::Relaxed), ..r.task.clone() })
            .collect()
    }

    /// Asks the copy of `shard` from `source` to stop.
    pub(super) fn kill(&self, source: &str, shard: u64) -> bool {
        let running = self.lock();
        let mut found = false;
        for r in running.iter().filter(|r| r.task.shard_id == shard && r.task.source == source) {
            r.cancel.store(true, Ordering::SeqCst);
            found = true;
        }
        found
    }
}

/// What a copy brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyStats {
    /// Points imported.
    pub points: u64,
    /// Archive bytes received.
    pub bytes: u64,
}

/// Copies shard `shard` from the data node at `source` onto this node.
pub async fn copy_shard(
    node: &Arc<Node>,
    svc: &Service,
    shard: u64,
    source: &str,
) -> Result<CopyStats> {
    let list = peer::local_shards(node, source).await?;
    let info = list
        .shards
        .into_iter()
        .find(|s| s.id == shard)
        .ok_or_else(|| EntropyError::NotOnSource { shard, node: source.to_string() })?;
    let reg = svc.copies.register(CopyTask {
        source: source.to_string(),
        database: info.database.clone(),
        policy: info.policy.clone(),
        shard_id: shard,
        total_size: info.size,
        current_size: 0,
        started_at: now_ns(),
    })?;
    let existed = node.store.shard(shard).is_some();
    let started = std::time::Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let job = {
        let (node, db, rp) = (node.clone(), info.database.clone(), info.policy.clone());
        tokio::task::spawn_blocking(move || {
            crate::server::shard_stream::restore(node, shard, db, rp, rx)
        })
    };
    let received = receive(node, &reg, shard, source, tx).await;
    let imported = job.await.map_err(EntropyError::from).and_then(|r| {
        r.map_err(|message| EntropyError::Internal(format!("importing shard {shard}: {message}")))
    });
    match (received, imported) {
        (Ok(bytes), Ok(r)) => {
            let elapsed_ms = started.elapsed().as_millis() as u64;
            info!(shard, source, points = r.points, bytes, elapsed_ms, "copied shard");
            Ok(CopyStats { points: r.points, bytes })
        }
        (Err(e), _) | (Ok(_), Err(e)) => {
            if !existed {
                let store = node.store.clone();
                let _ = tokio::task::spawn_blocking(move || store.delete_shard(shard)).await;
            }
            warn!(shard, source, error = %e, "copying shard failed");
            Err(e)
        }
    }
}

/// Streams the source's backup of `shard` into `tx`; returns the bytes.
async fn receive(
    node: &Node,
    reg: &Registration<'_>,
    shard: u64,
    source: &str,
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<u64> {
    let mut c = peer::client(node, source)?;
    let req = cluster::BackupShardRequest { shard_id: shard, level: 1, ..Default::default() };
    let mut stream = match tokio::time::timeout(peer::CALL_TIMEOUT, c.backup_shard(req)).await {
        Ok(Ok(r)) => r.into_inner(),
        Ok(Err(s)) if s.code() == tonic::Code::NotFound => {
            return Err(EntropyError::NotOnSource { shard, node: source.to_string() });
        }
        Ok(Err(s)) => return Err(EntropyError::peer(source, &s)),
        Err(_) => {
            return Err(EntropyError::Peer {
                addr: source.to_string(),
                message: "timed out".into(),
            });
        }
    };
    let mut bytes = 0u64;
    loop {
        if reg.cancel.load(Ordering::SeqCst) {
            return Err(EntropyError::Killed(shard));
        }
        let chunk = match tokio::time::timeout(peer::CALL_TIMEOUT, stream.message()).await {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => break,
            Ok(Err(s)) => return Err(EntropyError::peer(source, &s)),
            Err(_) => {
                return Err(EntropyError::Peer {
                    addr: source.to_string(),
                    message: "backup stream timed out".into(),
                });
            }
        };
        bytes += chunk.data.len() as u64;
        reg.current.store(bytes, Ordering::Relaxed);
        // A closed channel: the importer stopped; its error is reported.
        if !chunk.data.is_empty() && tx.send(chunk.data).await.is_err() {
            break;
        }
        if chunk.done {
            break;
        }
    }
    Ok(bytes)
}
