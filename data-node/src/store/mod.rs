//! The shard store of a data node: one sled database per node, one sled
//! tree per shard holding TSM-encoded blocks and a write-ahead log.
//!
//! - [`Store`] opens the directory, creates, lists and deletes shards.
//! - [`Shard`] writes points (durable on return), flushes its cache into
//!   blocks, reads time ranges, deletes series, answers the series index
//!   queries, exports/imports TSM files and computes content digests.
//!
//! The on-disk layout of a shard tree is described in `layout.rs`; the
//! shard registry lives in the default tree under `shard/<id u64 BE>`.
//! Imported TSM files of `StoreConfig::segment_min_bytes` or more are kept
//! whole in `segments/<shard id>/` beside sled (see `segments.rs`).

mod backup;
mod column;
mod digest;
mod error;
mod fxhash;
mod index;
mod layout;
mod read;
mod segments;
mod shard;
mod wal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

pub use backup::{ExportStats, ImportStats, TimeRange};
pub use digest::{KeyDigest, ShardDigest, StableHasher, digest_of};
pub use error::{Result, StoreError};
pub use read::{Cursor, SeriesInfo};
pub use shard::{DeleteStats, FlushStats, RejectedPoint, Shard, WriteReport};

/// Tuning knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// Flush a shard's cache into blocks once it holds this many values.
    pub cache_max_points: usize,
    /// ... or about this many bytes.
    pub cache_max_bytes: usize,
    /// Commit an import every this many block bytes.
    pub import_batch_bytes: usize,
    /// Imported TSM files of at least this many bytes are kept as segment
    /// files (their blocks referenced from sled); smaller ones are copied
    /// into sled block by block.
    pub segment_min_bytes: u64,
    /// sled's page cache size.
    pub sled_cache_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_max_points: 500_000,
            cache_max_bytes: 64 << 20,
            import_batch_bytes: 16 << 20,
            segment_min_bytes: 256 << 10,
            sled_cache_bytes: 256 << 20,
        }
    }
}

/// A shard as listed by [`Store::shards`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// Shard id.
    pub id: u64,
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
}

const REGISTRY_PREFIX: &[u8] = b"shard/";
const SEGMENT_SIZE: usize = 8 << 20;

fn registry_key(id: u64) -> Vec<u8> {
    let mut k = REGISTRY_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn tree_name(id: u64) -> String {
    format!("shard-{id}")
}

/// Where the segment files of all shards live, under the store directory.
const SEGMENTS_DIR: &str = "segments";

fn segments_dir(store: &Path, id: u64) -> PathBuf {
    store.join(SEGMENTS_DIR).join(id.to_string())
}

fn encode_registry(db: &str, rp: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + db.len() + rp.len());
    v.extend_from_slice(&(db.len() as u32).to_be_bytes());
    v.extend_from_slice(db.as_bytes());
    v.extend_from_slice(rp.as_bytes());
    v
}

fn decode_registry(v: &[u8]) -> Option<(String, String)> {
    let n = u32::from_be_bytes(v.get(..4)?.try_into().ok()?) as usize;
    let db = std::str::from_utf8(v.get(4..4 + n)?).ok()?;
    let rp = std::str::from_utf8(v.get(4 + n..)?).ok()?;
    Some((db.to_string(), rp.to_string()))
}

type ShardMap = Arc<RwLock<BTreeMap<u64, Arc<Shard>>>>;

/// All shards of one data node. Owns a background thread that flushes
/// shard caches past their threshold; dropping the store stops it.
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    config: StoreConfig,
    shards: ShardMap,
    flusher: Arc<shard::Flusher>,
    flush_thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.flusher.stop();
        if let Some(t) = self.flush_thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir` with the default config.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(dir, StoreConfig::default())
    }

    /// Opens (or creates) the store in `dir`: every registered shard is
    /// opened, its index rebuilt and its WAL replayed into its cache.
    pub fn open_with(dir: impl AsRef<Path>, config: StoreConfig) -> Result<Store> {
        // 8 MiB log segments: sled writes any page larger than a quarter
        // segment to a separate blob file, and a leaf of 16 WAL chunks or
        // blocks easily exceeds the 128 KiB of the default 512 KiB segment.
        // (sled keeps the segment size in its config file: it must not change.)
        let sled_config = sled::Config::new()
            .path(dir.as_ref())
            .cache_capacity(config.sled_cache_bytes)
            .segment_size(SEGMENT_SIZE);
        let db = proto::sled_open::open(&sled_config)?;
        let mut shards = BTreeMap::new();
        let flusher = Arc::new(shard::Flusher::default());
        for kv in db.scan_prefix(REGISTRY_PREFIX) {
            let (k, v) = kv?;
            let id = k
                .get(REGISTRY_PREFIX.len()..)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::corrupt(0, &k, "shard registry", "bad key"))?;
            let (database, policy) = decode_registry(&v)
                .ok_or_else(|| StoreError::corrupt(id, &k, "shard registry", "bad value"))?;
            let tree = db.open_tree(tree_name(id))?;
            let segs = segments_dir(dir.as_ref(), id);
            let shard =
                Shard::open(id, database, policy, tree, segs, config, Some(flusher.clone()))?;
            shards.insert(id, Arc::new(shard));
        }
        // Segment directories of shards deleted just before a crash.
        if let Ok(entries) = std::fs::read_dir(dir.as_ref().join(SEGMENTS_DIR)) {
            for e in entries.flatten() {
                let id = e.file_name().to_str().and_then(|n| n.parse::<u64>().ok());
                if id.is_none_or(|id| !shards.contains_key(&id)) {
                    tracing::info!(dir = %e.path().display(), "removing segments of no shard");
                    if let Err(err) = std::fs::remove_dir_all(e.path()) {
                        tracing::warn!(dir = %e.path().display(), %err, "cannot remove");
                    }
                }
            }
        }
        let shards: ShardMap = Arc::new(RwLock::new(shards));
        let flush_thread = {
            let (flusher, shards) = (flusher.clone(), shards.clone());
            std::thread::Builder::new()
                .name("store-flusher".into())
                .spawn(move || {
                    while let Some(ids) = flusher.next() {
                        for id in ids {
                            let s = shards
                                .read()
                                .unwrap_or_else(PoisonError::into_inner)
                                .get(&id)
                                .cloned();
                            if let Some(s) = s {
                                s.background_flush();
                            }
                        }
                    }
                })
                .map_err(StoreError::Io)?
        };
        Ok(Store {
            db,
            dir: dir.as_ref().to_path_buf(),
            config,
            shards,
            flusher,
            flush_thread: Some(flush_thread),
        })
    }

    /// The config in use.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Creates shard `id` of `database` / `policy`. Returns the existing
    /// shard if it exists with the same database and policy.
    pub fn create_shard(&self, id: u64, database: &str, policy: &str) -> Result<Arc<Shard>> {
        let mut shards = self.shards.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = shards.get(&id) {
            if s.database() == database && s.retention_policy() == policy {
                return Ok(s.clone());
            }
            return Err(StoreError::ShardExists {
                id,
                database: s.database().to_string(),
                policy: s.retention_policy().to_string(),
            });
        }
        let tree = self.db.open_tree(tree_name(id))?;
        let shard = Arc::new(Shard::open(
            id,
            database.to_string(),
            policy.to_string(),
            tree,
            segments_dir(&self.dir, id),
            self.config,
            Some(self.flusher.clone()),
        )?);
        self.db.insert(registry_key(id), encode_registry(database, policy))?;
        self.db.flush()?;
        shards.insert(id, shard.clone());
        Ok(shard)
    }

    /// Shard `id`, if it exists.
    pub fn shard(&self, id: u64) -> Option<Arc<Shard>> {
        self.shards.read().unwrap_or_else(PoisonError::into_inner).get(&id).cloned()
    }

    /// Deletes shard `id` and all its data. False if it did not exist.
    /// Handles still held fail with [`StoreError::ShardDeleted`] afterwards.
    pub fn delete_shard(&self, id: u64) -> Result<bool> {
        let Some(shard) = self.shards.write().unwrap_or_else(PoisonError::into_inner).remove(&id)
        else {
            return Ok(false);
        };
        shard.mark_dropped();
        // Wait for a running flush / import / export of the shard.
        let _g = shard.lock_flush();
        self.db.remove(registry_key(id))?;
        self.db.drop_tree(tree_name(id))?;
        self.db.flush()?;
        // After the registry entry: a crash in between leaves a directory
        // that the next open removes.
        shard.segments.remove_all()?;
        Ok(true)
    }

    /// Every shard, by id.
    pub fn shards(&self) -> Vec<ShardInfo> {
        self.shards
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|s| ShardInfo {
                id: s.id(),
                database: s.database().to_string(),
                retention_policy: s.retention_policy().to_string(),
            })
            .collect()
    }

    /// Flushes every shard's cache into blocks.
    pub fn flush_all(&self) -> Result<()> {
        let shards: Vec<Arc<Shard>> =
            self.shards.read().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        for s in shards {
            s.flush()?;
        }
        Ok(())
    }

    /// Bytes used on disk: sled's (all shards, WAL and sled's own
    /// overhead) and the segment files'.
    pub fn size_on_disk(&self) -> Result<u64> {
        let segs: u64 = self
            .shards
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|s| s.segments.bytes_on_disk())
            .sum();
        Ok(self.db.size_on_disk()? + segs)
    }
}

#[cfg(test)]
mod tests;
