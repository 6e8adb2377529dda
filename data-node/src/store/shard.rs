//! One shard: a sled tree of TSM blocks plus a WAL, an in-memory write
//! cache mirroring the WAL and a series index.
//!
//! Locking: `state` (RwLock) guards the index, the cache and the WAL
//! sequence; writers hold it while they validate, append their WAL entry
//! (an in-memory sled insert) and update the cache, and release it before
//! the durable sled flush. `flush_lock` (Mutex) serializes everything that
//! rewrites blocks: cache flushes, deletes, imports, exports and digests
//! (the last two so that they see one consistent set of blocks).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use portable::key::{
    FIELD_SEPARATOR, composite_key, escape_measurement, escape_tag, split_composite_key,
};
use portable::tsm::merge::merge;
use portable::tsm::{MAX_POINTS_PER_BLOCK, Values, decode_block, encode_block};
use portable::{FieldType, FieldValue, Point};
use sled::{Batch, IVec};

use super::StoreConfig;
use super::column::{Column, value_bytes};
use super::error::{Result, StoreError};
use super::index::Index;
use super::layout::{
    self, BlockHeader, Body, KeyInfo, META_LAST_MODIFIED, block_key_in, block_prefix, keyinfo_key,
    wal_key,
};
use super::segments::Segments;
use super::wal;

/// What a write did.
#[derive(Debug, Default)]
pub struct WriteReport {
    /// Points stored.
    pub written: usize,
    /// Points rejected (field type conflicts, invalid points), in batch order.
    pub rejected: Vec<RejectedPoint>,
    /// A cache flush triggered by this write failed (the write itself is
    /// durable); the next flush retries.
    pub flush_error: Option<StoreError>,
}

impl WriteReport {
    /// InfluxDB's partial-write message: `partial write: <first error> dropped=<n>`.
    pub fn partial_write_message(&self) -> Option<String> {
        let first = self.rejected.first()?;
        Some(format!("partial write: {} dropped={}", first.error, self.rejected.len()))
    }
}

/// A point the write did not store.
#[derive(Debug)]
pub struct RejectedPoint {
    /// Index of the point in the batch.
    pub index: usize,
    /// Why ([`StoreError::FieldTypeConflict`] or [`StoreError::InvalidPoint`]).
    pub error: StoreError,
}

/// What a cache flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushStats {
    /// Composite keys merged.
    pub keys: usize,
    /// Cached values flushed (duplicates included).
    pub values: usize,
    /// Blocks written.
    pub blocks_written: usize,
    /// Blocks replaced (read, merged and removed).
    pub blocks_replaced: usize,
}

/// What a delete did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeleteStats {
    /// Series that existed and were looked at.
    pub series: usize,
    /// Series gone from the index afterwards.
    pub series_dropped: usize,
    /// Stored points removed.
    pub points_removed: u64,
    /// Cached values removed (duplicates included).
    pub cached_removed: u64,
}

/// Frozen cache contents being merged into blocks.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) cols: HashMap<Vec<u8>, Column>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) index: Index,
    pub(crate) snapshot: Option<Arc<Snapshot>>,
    pub(crate) next_seq: u64,
    pub(crate) cache_values: usize,
    pub(crate) cache_bytes: usize,
    pub(crate) stored_points: u64,
    pub(crate) stored_bytes: u64,
    pub(crate) wal_bytes: u64,
    /// Reused WAL entry encoder of the write path.
    pub(crate) wal: wal::WriteEntry,
    /// Reused series key buffer of the write path.
    pub(crate) key_buf: String,
}

/// Change of a key's stored totals.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyDelta {
    pub(crate) points: i64,
    pub(crate) blocks: i64,
    pub(crate) bytes: i64,
    pub(crate) written: usize,
    pub(crate) replaced: usize,
}

impl KeyDelta {
    pub(crate) fn remove(&mut self, h: &BlockHeader, value_len: usize) {
        self.points -= i64::from(h.count);
        self.blocks -= 1;
        self.bytes -= value_len as i64;
        self.replaced += 1;
    }

    pub(crate) fn insert(&mut self, count: usize, value_len: usize) {
        self.points += count as i64;
        self.blocks += 1;
        self.bytes += value_len as i64;
        self.written += 1;
    }
}

/// A block read from the tree.
pub(crate) struct StoredBlock {
    pub(crate) key: IVec,
    pub(crate) header: BlockHeader,
    pub(crate) value: IVec,
}

/// One shard. Cheap to share (`Arc<Shard>`); every method takes `&self`.
pub struct Shard {
    pub(crate) id: u64,
    database: String,
    policy: String,
    pub(crate) tree: sled::Tree,
    pub(crate) segments: Arc<Segments>,
    pub(crate) config: StoreConfig,
    pub(crate) state: RwLock<State>,
    pub(crate) flush_lock: Mutex<()>,
    /// Held (write) while a batch that rewrites blocks is applied, (read)
    /// while a cursor takes its block entries.
    blocks_lock: RwLock<()>,
    pub(crate) last_modified: AtomicI64,
    dropped: AtomicBool,
    flusher: Option<Arc<Flusher>>,
    flush_error: Mutex<Option<String>>,
}

/// The store's background flusher: shards whose cache passed the threshold
/// queue themselves here, a thread flushes them.
#[derive(Debug, Default)]
pub(crate) struct Flusher {
    queue: Mutex<(std::collections::BTreeSet<u64>, bool)>,
    cv: std::sync::Condvar,
}

impl Flusher {
    /// Asks for shard `id` to be flushed.
    pub(crate) fn request(&self, id: u64) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.0.insert(id) {
            self.cv.notify_one();
        }
    }

    /// Stops [`Flusher::next`].
    pub(crate) fn stop(&self) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.cv.notify_all();
    }

    /// Waits for requests; None once stopped.
    pub(crate) fn next(&self) -> Option<Vec<u64>> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if q.1 {
                return None;
            }
            if !q.0.is_empty() {
                return Some(std::mem::take(&mut q.0).into_iter().collect());
            }
            q = self.cv.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("id", &self.id)
            .field("database", &self.database)
            .field("retention_policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Wall-clock nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn add_wal_chunks(batch: &mut Batch, seq: u64, entry: &[u8]) {
    for (i, c) in entry.chunks(wal::CHUNK).enumerate() {
        batch.insert(&wal_key(seq, i as u32)[..], c);
    }
}

/// Checks what the store needs of a point; None if it can be stored.
fn invalid_reason(p: &Point) -> Option<String> {
    if p.measurement.is_empty() {
        return Some("missing measurement".into());
    }
    if p.fields.is_empty() {
        return Some("missing fields".into());
    }
    let nul = |s: &str| s.as_bytes().contains(&0);
    if nul(&p.measurement) || p.tags.iter().any(|(k, v)| nul(k) || nul(v)) {
        return Some("NUL byte in the series key".into());
    }
    for (k, v) in &p.fields {
        if k.is_empty() {
            return Some("empty field key".into());
        }
        if nul(k) {
            return Some(format!("NUL byte in field key {k:?}"));
        }
        if let FieldValue::Float(x) = v
            && x.is_nan()
        {
            return Some(format!("field {k:?} is NaN"));
        }
    }
    None
}

impl Shard {
    /// Opens a shard over its tree and segment directory: index from the
    /// key-info entries, cache from the WAL; unused segment files go.
    pub(crate) fn open(
        id: u64,
        database: String,
        policy: String,
        tree: sled::Tree,
        segments_dir: std::path::PathBuf,
        config: StoreConfig,
        flusher: Option<Arc<Flusher>>,
    ) -> Result<Shard> {
        // The highest file number any run refers to: new files go above
        // it even if that file is gone.
        let max_used = match tree.scan_prefix([layout::RUN_REF]).keys().next_back() {
            Some(k) => {
                let k = k?;
                k.get(1..5).map_or(0, |b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
            }
            None => 0,
        };
        let segments = Segments::open(id, segments_dir, max_used, |n| {
            Ok(tree.scan_prefix(layout::run_ref_prefix(n)).next().transpose()?.is_some())
        })?;
        let mut st = State {
            index: Index::default(),
            snapshot: None,
            next_seq: 1,
            cache_values: 0,
            cache_bytes: 0,
            stored_points: 0,
            stored_bytes: 0,
            wal_bytes: 0,
            wal: wal::WriteEntry::default(),
            key_buf: String::new(),
        };
        for kv in tree.scan_prefix([layout::KEYINFO]) {
            let (k, v) = kv?;
            let ckey = &k[1..];
            let ki =
                KeyInfo::decode(&v).map_err(|d| StoreError::corrupt(id, ckey, "key info", d))?;
            let (sk, field) = split_ckey(id, ckey)?;
            let slot = st.index.slot(sk, field, ki.field_type).ok_or_else(|| {
                StoreError::corrupt(id, ckey, "key info", "field type differs from other series")
            })?;
            slot.stored = true;
            st.stored_points += ki.points;
            st.stored_bytes += ki.bytes;
        }
        let mut last_modified = match tree.get(META_LAST_MODIFIED)? {
            Some(v) => i64::from_be_bytes(v.as_ref().try_into().map_err(|_| {
                StoreError::corrupt(id, META_LAST_MODIFIED, "metadata", "not 8 bytes")
            })?),
            None => 0,
        };
        let mut entry: Vec<u8> = Vec::new();
        let mut cur: Option<(u64, u32)> = None;
        let mut replay = |st: &mut State, seq: u64, entry: &[u8]| -> Result<()> {
            let key = wal_key(seq, 0);
            let e =
                wal::decode(entry).map_err(|d| StoreError::corrupt(id, &key, "WAL entry", d))?;
            st.wal_bytes += entry.len() as u64;
            st.next_seq = seq + 1;
            match e {
                wal::Entry::Write { now, points } => {
                    last_modified = last_modified.max(now);
                    for p in points {
                        let (n, bytes) = push_point(
                            &mut st.index,
                            p.series_key,
                            p.time,
                            p.fields.iter().map(|(k, v)| (*k, v)),
                        )
                        .map_err(|e| StoreError::corrupt(id, &key, "WAL entry", e.to_string()))?;
                        st.cache_values += n;
                        st.cache_bytes += bytes;
                    }
                }
                wal::Entry::Delete { now, min, max, series } => {
                    last_modified = last_modified.max(now);
                    for sk in series {
                        let Some(e) = st.index.series.get_mut(sk) else { continue };
                        for s in &mut e.slots {
                            let n = s.col.delete_range(min, max);
                            st.cache_values = st.cache_values.saturating_sub(n);
                        }
                        st.index.prune(sk, |s| s.stored || !s.col.is_empty());
                    }
                }
            }
            Ok(())
        };
        for kv in tree.scan_prefix([layout::WAL]) {
            let (k, v) = kv?;
            let (seq, chunk) = layout::parse_wal_key(&k)
                .ok_or_else(|| StoreError::corrupt(id, &k, "WAL key", "malformed"))?;
            match cur {
                Some((s, c)) if s == seq => {
                    if chunk != c + 1 {
                        return Err(StoreError::corrupt(id, &k, "WAL entry", "missing chunk"));
                    }
                }
                _ => {
                    if let Some((s, _)) = cur {
                        replay(&mut st, s, &entry)?;
                    }
                    if chunk != 0 {
                        return Err(StoreError::corrupt(id, &k, "WAL entry", "missing chunk"));
                    }
                    entry.clear();
                }
            }
            cur = Some((seq, chunk));
            entry.extend_from_slice(&v);
        }
        if let Some((s, _)) = cur {
            replay(&mut st, s, &entry)?;
        }
        Ok(Shard {
            id,
            database,
            policy,
            tree,
            segments: Arc::new(segments),
            config,
            state: RwLock::new(st),
            flush_lock: Mutex::new(()),
            blocks_lock: RwLock::new(()),
            last_modified: AtomicI64::new(last_modified),
            dropped: AtomicBool::new(false),
            flusher,
            flush_error: Mutex::new(None),
        })
    }

    /// The shard id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The database the shard belongs to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The retention policy the shard belongs to.
    pub fn retention_policy(&self) -> &str {
        &self.policy
    }

    pub(crate) fn mark_dropped(&self) {
        self.dropped.store(true, Ordering::SeqCst);
    }

    pub(crate) fn check_live(&self) -> Result<()> {
        if self.dropped.load(Ordering::SeqCst) {
            return Err(StoreError::ShardDeleted(self.id));
        }
        Ok(())
    }

    pub(crate) fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn blocks_read(&self) -> RwLockReadGuard<'_, ()> {
        self.blocks_lock.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a batch that adds, removes or rewrites blocks.
    pub(crate) fn apply_block_batch(&self, batch: Batch) -> Result<()> {
        let _g = self.blocks_lock.write().unwrap_or_else(PoisonError::into_inner);
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    pub(crate) fn lock_flush(&self) -> MutexGuard<'_, ()> {
        self.flush_lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn corrupt(
        &self,
        key: &[u8],
        what: &'static str,
        d: impl Into<String>,
    ) -> StoreError {
        StoreError::corrupt(self.id, key, what, d)
    }

    pub(crate) fn touch(&self, now: i64) {
        self.last_modified.fetch_max(now, Ordering::SeqCst);
    }

    /// Writes points. Durable when this returns `Ok`. Points with a field
    /// type conflict (or otherwise unstorable) are rejected one by one, the
    /// others stored, as InfluxDB does; see [`WriteReport`].
    pub fn write(&self, points: &[Point]) -> Result<WriteReport> {
        self.check_live()?;
        let now = now_ns();
        let mut report = WriteReport::default();
        let over_threshold;
        {
            let mut guard = self.write_state();
            let st = &mut *guard;
            st.wal.reset(now);
            // (point index, series key id in the WAL entry)
            let mut accepted: Vec<(usize, u32)> = Vec::with_capacity(points.len());
            // Field types created by earlier points of this batch.
            let mut pending: HashMap<Arc<str>, HashMap<String, FieldType>> = HashMap::new();
            for (i, p) in points.iter().enumerate() {
                if let Some(reason) = invalid_reason(p) {
                    report
                        .rejected
                        .push(RejectedPoint { index: i, error: StoreError::InvalidPoint(reason) });
                    continue;
                }
                st.key_buf.clear();
                series_key_into(p, &mut st.key_buf);
                let sk = st.key_buf.as_str();
                let longest = p.fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                if sk.len() + FIELD_SEPARATOR.len() + longest > usize::from(u16::MAX) {
                    report.rejected.push(RejectedPoint {
                        index: i,
                        error: StoreError::InvalidPoint(format!(
                            "max key length exceeded: {} > {}",
                            sk.len() + FIELD_SEPARATOR.len() + longest,
                            u16::MAX
                        )),
                    });
                    continue;
                }
                if let Err(error) = check_types(&st.index, &mut pending, sk, p) {
                    report.rejected.push(RejectedPoint { index: i, error });
                    continue;
                }
                let id = st.wal.push(sk, p.time, p.fields.iter().map(|(k, v)| (k.as_str(), v)));
                accepted.push((i, id));
            }
            if accepted.is_empty() {
                return Ok(report);
            }
            let seq = st.next_seq;
            let bytes = st.wal.finish();
            let mut batch = Batch::default();
            add_wal_chunks(&mut batch, seq, bytes);
            let len = bytes.len() as u64;
            self.tree.apply_batch(batch)?;
            st.next_seq += 1;
            st.wal_bytes += len;
            for &(i, id) in &accepted {
                let p = &points[i];
                let sk = st.wal.key(id);
                let (n, b) = push_point(
                    &mut st.index,
                    sk,
                    p.time,
                    p.fields.iter().map(|(k, v)| (k.as_str(), v)),
                )
                .map_err(|e| {
                    // Validation above makes this unreachable.
                    StoreError::InvalidArgument(format!("cache rejected a validated point: {e}"))
                })?;
                st.cache_values += n;
                st.cache_bytes += b;
            }
            report.written = accepted.len();
            let (p, b) = (self.config.cache_max_points, self.config.cache_max_bytes);
            over_threshold = if st.cache_values >= p.saturating_mul(2)
                || st.cache_bytes >= b.saturating_mul(2)
            {
                Some(true)
            } else if st.cache_values >= p || st.cache_bytes >= b {
                Some(false)
            } else {
                None
            };
        }
        self.touch(now);
        self.tree.flush()?;
        // Past the threshold, the background flusher merges the cache; past
        // twice the threshold (it cannot keep up), the writer does.
        match (over_threshold, &self.flusher) {
            (Some(false), Some(f)) => f.request(self.id),
            (Some(hard), _) => {
                let g =
                    if hard { Some(self.lock_flush()) } else { self.flush_lock.try_lock().ok() };
                if let Some(g) = g {
                    if let Err(e) = self.flush_locked() {
                        report.flush_error = Some(e);
                    }
                    drop(g);
                }
            }
            (None, _) => {}
        }
        Ok(report)
    }

    /// Merges the write cache into blocks and drops the WAL entries it
    /// covers, in one atomic batch.
    pub fn flush(&self) -> Result<FlushStats> {
        self.check_live()?;
        let _g = self.lock_flush();
        self.flush_locked()
    }

    /// [`Shard::flush`] with `flush_lock` held by the caller.
    pub(crate) fn flush_locked(&self) -> Result<FlushStats> {
        let (snap, upto) = {
            let mut st = self.write_state();
            if st.cache_values == 0 && st.wal_bytes == 0 {
                return Ok(FlushStats::default());
            }
            let mut cols = HashMap::new();
            for (sk, e) in st.index.series.iter_mut() {
                for s in &mut e.slots {
                    if !s.col.is_empty() {
                        let t = s.col.field_type();
                        let col = std::mem::replace(&mut s.col, Column::new(t));
                        cols.insert(composite_key(sk.as_bytes(), s.name.as_bytes()), col);
                    }
                }
            }
            st.cache_values = 0;
            st.cache_bytes = 0;
            let snap = Arc::new(Snapshot { cols });
            st.snapshot = Some(snap.clone());
            (snap, st.next_seq)
        };
        match self.flush_snapshot(&snap, upto) {
            Ok((stats, infos, wal_removed)) => {
                let mut st = self.write_state();
                st.snapshot = None;
                st.wal_bytes = st.wal_bytes.saturating_sub(wal_removed);
                for (ckey, delta) in infos {
                    st.stored_points = st.stored_points.saturating_add_signed(delta.points);
                    st.stored_bytes = st.stored_bytes.saturating_add_signed(delta.bytes);
                    if let Ok((sk, field)) = split_ckey(self.id, &ckey)
                        && let Some(s) = st.index.series.get_mut(sk).and_then(|e| e.slot_mut(field))
                    {
                        s.stored = true;
                    }
                }
                Ok(stats)
            }
            Err(e) => {
                // Put the frozen points back in front of anything newer.
                let mut st = self.write_state();
                st.snapshot = None;
                for (ckey, col) in &snap.cols {
                    let Ok((sk, field)) = split_ckey(self.id, ckey) else { continue };
                    if let Some(s) = st.index.slot(sk, field, col.field_type()) {
                        let newer = std::mem::replace(&mut s.col, col.clone());
                        s.col.append(&newer);
                    }
                    st.cache_values += col.len();
                    st.cache_bytes += col.approx_bytes();
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn flush_snapshot(
        &self,
        snap: &Snapshot,
        upto: u64,
    ) -> Result<(FlushStats, Vec<(Vec<u8>, KeyDelta)>, u64)> {
        let mut keys: Vec<&Vec<u8>> = snap.cols.keys().collect();
        keys.sort_unstable();
        let mut batch = Batch::default();
        let mut stats = FlushStats::default();
        let mut infos = Vec::with_capacity(keys.len());
        for ckey in keys {
            let col = &snap.cols[ckey];
            let owned;
            let c = if col.sorted {
                col
            } else {
                let mut x = col.clone();
                x.normalize();
                owned = x;
                &owned
            };
            stats.keys += 1;
            stats.values += col.len();
            let delta = self.merge_into_blocks(ckey, c, true, &mut batch)?;
            stats.blocks_written += delta.written;
            stats.blocks_replaced += delta.replaced;
            self.update_keyinfo(ckey, c.field_type(), delta, &mut batch)?;
            infos.push((ckey.clone(), delta));
        }
        let mut wal_removed = 0u64;
        for kv in self.tree.range(wal_key(0, 0)..wal_key(upto, 0)) {
            let (k, v) = kv?;
            wal_removed += v.len() as u64;
            batch.remove(k);
        }
        batch.insert(META_LAST_MODIFIED, &self.last_modified().to_be_bytes()[..]);
        self.apply_block_batch(batch)?;
        self.tree.flush()?;
        Ok((stats, infos, wal_removed))
    }

    /// Adds `delta` to the key info of `ckey` in `batch` (removing it when
    /// no point is left).
    pub(crate) fn update_keyinfo(
        &self,
        ckey: &[u8],
        t: FieldType,
        delta: KeyDelta,
        batch: &mut Batch,
    ) -> Result<KeyInfo> {
        let k = keyinfo_key(ckey);
        let old = match self.tree.get(&k)? {
            Some(v) => KeyInfo::decode(&v).map_err(|d| self.corrupt(ckey, "key info", d))?,
            None => KeyInfo { field_type: t, points: 0, blocks: 0, bytes: 0 },
        };
        let new = KeyInfo {
            field_type: t,
            points: old.points.saturating_add_signed(delta.points),
            blocks: old.blocks.saturating_add_signed(delta.blocks),
            bytes: old.bytes.saturating_add_signed(delta.bytes),
        };
        if new.blocks == 0 {
            batch.remove(k);
        } else {
            batch.insert(k, &new.encode()[..]);
        }
        Ok(new)
    }

    /// Reads a stored block value's header, as an error naming the key.
    pub(crate) fn header_of(&self, k: &[u8], v: &[u8]) -> Result<BlockHeader> {
        layout::block_header(v).map_err(|d| self.corrupt(block_ckey(k), "block", d))
    }

    /// Decodes a stored block value (CRC checked): an inline block, or all
    /// the blocks of a run.
    pub(crate) fn decode_stored(&self, k: &[u8], v: &[u8]) -> Result<(Vec<i64>, Values)> {
        let ckey = block_ckey(k);
        let (h, body) = layout::decode_block_body(v).map_err(|d| self.corrupt(ckey, "block", d))?;
        match body {
            Body::Inline(p) => decode_payload(self.id, ckey, h.min_time, h.max_time, h.count, p),
            Body::Run { file, subs } => {
                // The header's count, within reason (it may be damaged).
                let mut ts = Vec::with_capacity((h.count as usize).min(1 << 20));
                let mut vs = Values::new(h.field_type);
                let mut buf = Vec::new();
                for s in &subs {
                    let p = self.segments.read(file, s, h.field_type, &mut buf, ckey)?;
                    let (t2, v2) =
                        decode_payload(self.id, ckey, s.min_time, s.max_time, s.count, p)?;
                    ts.extend_from_slice(&t2);
                    vs.extend_from(&v2, 0..v2.len())?;
                }
                Ok((ts, vs))
            }
        }
    }

    /// Removes a stored block (and a run's reference to its file) in `batch`.
    pub(crate) fn remove_block(&self, b: &StoredBlock, batch: &mut Batch, delta: &mut KeyDelta) {
        batch.remove(b.key.clone());
        if let Some(file) = layout::run_file(&b.value) {
            batch.remove(layout::run_ref_key(file, &b.key));
        }
        delta.remove(&b.header, layout::stored_len(&b.value));
    }

    /// The stored blocks of `ckey` overlapping `[min, max]`, in time order;
    /// with `small_prev`, also the block just before `min` if it holds fewer
    /// than [`MAX_POINTS_PER_BLOCK`] points.
    pub(crate) fn blocks_overlapping(
        &self,
        ckey: &[u8],
        min: i64,
        max: i64,
        small_prev: bool,
    ) -> Result<Vec<StoredBlock>> {
        let prefix = block_prefix(ckey);
        let start = block_key_in(&prefix, min);
        let mut out = Vec::new();
        if let Some(kv) = self.tree.range(prefix.as_slice()..start.as_slice()).next_back() {
            let (key, value) = kv?;
            let header = self.header_of(&key, &value)?;
            if header.max_time >= min
                || (small_prev && (header.count as usize) < MAX_POINTS_PER_BLOCK)
            {
                out.push(StoredBlock { key, header, value });
            }
        }
        for kv in self.tree.range(start..=block_key_in(&prefix, max)) {
            let (key, value) = kv?;
            let header = self.header_of(&key, &value)?;
            out.push(StoredBlock { key, header, value });
        }
        Ok(out)
    }

    /// Merges sorted, unique points (which win on equal times) into the
    /// blocks of `ckey`, adding the changes to `batch`.
    pub(crate) fn merge_into_blocks(
        &self,
        ckey: &[u8],
        newer: &Column,
        small_prev: bool,
        batch: &mut Batch,
    ) -> Result<KeyDelta> {
        let mut delta = KeyDelta::default();
        let (Some(&lo), Some(&hi)) = (newer.times.first(), newer.times.last()) else {
            return Ok(delta);
        };
        let old = self.blocks_overlapping(ckey, lo, hi, small_prev)?;
        let prefix = block_prefix(ckey);
        if old.is_empty() {
            self.put_blocks(&prefix, &newer.times, &newer.values, batch, &mut delta)?;
            return Ok(delta);
        }
        let (ots, ovs) = self.decode_all(&old, newer.field_type())?;
        for b in &old {
            self.remove_block(b, batch, &mut delta);
        }
        let (ts, vs) = merge((&ots, &ovs), (&newer.times, &newer.values))?;
        self.put_blocks(&prefix, &ts, &vs, batch, &mut delta)?;
        Ok(delta)
    }

    /// Decodes and concatenates blocks (in time order), checking their type.
    pub(crate) fn decode_all(
        &self,
        blocks: &[StoredBlock],
        t: FieldType,
    ) -> Result<(Vec<i64>, Values)> {
        let mut ts = Vec::new();
        let mut vs = Values::new(t);
        for b in blocks {
            if b.header.field_type != t {
                return Err(self.corrupt(
                    block_ckey(&b.key),
                    "block",
                    format!("type {} where {t} was expected", b.header.field_type),
                ));
            }
            let (t2, v2) = self.decode_stored(&b.key, &b.value)?;
            if ts.last().is_some_and(|&l| t2[0] <= l) {
                return Err(self.corrupt(
                    block_ckey(&b.key),
                    "block",
                    "overlaps the previous block",
                ));
            }
            ts.extend_from_slice(&t2);
            vs.extend_from(&v2, 0..v2.len())?;
        }
        Ok((ts, vs))
    }

    /// Encodes sorted points into blocks of at most 1000 points and adds
    /// them to `batch`.
    pub(crate) fn put_blocks(
        &self,
        prefix: &[u8],
        ts: &[i64],
        vs: &Values,
        batch: &mut Batch,
        delta: &mut KeyDelta,
    ) -> Result<()> {
        let mut payload = Vec::new();
        let mut start = 0;
        while start < ts.len() {
            let end = (start + MAX_POINTS_PER_BLOCK).min(ts.len());
            payload.clear();
            encode_block(&ts[start..end], vs.slice(start..end), &mut payload)?;
            let value =
                layout::encode_block_value(ts[start], ts[end - 1], (end - start) as u32, &payload);
            delta.insert(end - start, value.len());
            batch.insert(block_key_in(prefix, ts[start]), value);
            start = end;
        }
        Ok(())
    }

    /// Deletes the points of `series_keys` in `[min, max]` (InfluxQL
    /// `DELETE` / `DROP SERIES`). Unknown series are ignored.
    pub fn delete_series<S: AsRef<str>>(
        &self,
        series_keys: &[S],
        min: i64,
        max: i64,
    ) -> Result<DeleteStats> {
        self.check_live()?;
        let mut stats = DeleteStats::default();
        if min > max {
            return Ok(stats);
        }
        let _g = self.lock_flush();
        let now = now_ns();
        let mut st = self.write_state();
        let mut keys: Vec<&str> = series_keys
            .iter()
            .map(AsRef::as_ref)
            .filter(|k| st.index.series.contains_key(*k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(stats);
        }
        stats.series = keys.len();
        let seq = st.next_seq;
        let entry = wal::encode_delete(now, min, max, &keys);
        let mut batch = Batch::default();
        add_wal_chunks(&mut batch, seq, &entry);
        let mut deltas: Vec<(Vec<u8>, KeyDelta, bool)> = Vec::new();
        for sk in &keys {
            let e = &st.index.series[*sk];
            for s in &e.slots {
                if !s.stored {
                    continue;
                }
                let ckey = composite_key(sk.as_bytes(), s.name.as_bytes());
                let delta = self.delete_blocks(&ckey, min, max, &mut batch)?;
                let info = self.update_keyinfo(&ckey, s.col.field_type(), delta, &mut batch)?;
                stats.points_removed += (-delta.points).max(0) as u64;
                deltas.push((ckey, delta, info.blocks > 0));
            }
        }
        self.touch(now);
        batch.insert(META_LAST_MODIFIED, &self.last_modified().to_be_bytes()[..]);
        self.apply_block_batch(batch)?;
        st.next_seq += 1;
        st.wal_bytes += entry.len() as u64;
        let mut still_stored: HashMap<Vec<u8>, bool> = HashMap::new();
        for (ckey, delta, stored) in deltas {
            st.stored_points = st.stored_points.saturating_add_signed(delta.points);
            st.stored_bytes = st.stored_bytes.saturating_add_signed(delta.bytes);
            still_stored.insert(ckey, stored);
        }
        let mut removed = 0usize;
        for sk in &keys {
            if let Some(e) = st.index.series.get_mut(*sk) {
                for s in &mut e.slots {
                    removed += s.col.delete_range(min, max);
                    if s.stored {
                        let ckey = composite_key(sk.as_bytes(), s.name.as_bytes());
                        s.stored = still_stored.get(&ckey).copied().unwrap_or(true);
                    }
                }
            }
            if st.index.prune(sk, |s| s.stored || !s.col.is_empty()) {
                stats.series_dropped += 1;
            }
        }
        st.cache_values = st.cache_values.saturating_sub(removed);
        stats.cached_removed = removed as u64;
        drop(st);
        self.tree.flush()?;
        Ok(stats)
    }

    /// Removes the stored points of `ckey` in `[min, max]`: whole blocks
    /// go, partially covered ones are rewritten.
    fn delete_blocks(
        &self,
        ckey: &[u8],
        min: i64,
        max: i64,
        batch: &mut Batch,
    ) -> Result<KeyDelta> {
        let mut delta = KeyDelta::default();
        let prefix = block_prefix(ckey);
        for b in self.blocks_overlapping(ckey, min, max, false)? {
            self.remove_block(&b, batch, &mut delta);
            if b.header.min_time >= min && b.header.max_time <= max {
                continue;
            }
            let (mut ts, mut vs) = self.decode_stored(&b.key, &b.value)?;
            let keep: Vec<bool> = ts.iter().map(|&t| t < min || t > max).collect();
            let mut i = 0;
            ts.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            vs.retain_indices(&keep);
            self.put_blocks(&prefix, &ts, &vs, batch, &mut delta)?;
        }
        Ok(delta)
    }

    /// Drops a measurement: all its series, all times.
    pub fn drop_measurement(&self, measurement: &str) -> Result<DeleteStats> {
        let keys = self.series_keys(measurement);
        self.delete_series(&keys, i64::MIN, i64::MAX)
    }

    /// Wall-clock ns of the last write, delete or import (0: never).
    pub fn last_modified(&self) -> i64 {
        self.last_modified.load(Ordering::SeqCst)
    }

    /// Bytes used: stored block values plus WAL entries.
    pub fn size_bytes(&self) -> u64 {
        let st = self.read_state();
        st.stored_bytes + st.wal_bytes
    }

    /// Number of (composite key, time) values: exact for the stored
    /// blocks, plus the cached values (which may repeat stored or cached
    /// ones until the next flush). Exact right after [`Shard::flush`].
    pub fn point_count(&self) -> u64 {
        let st = self.read_state();
        let snap = st.snapshot.as_ref().map_or(0, |s| s.cols.values().map(Column::len).sum());
        st.stored_points + (st.cache_values + snap) as u64
    }

    /// Flushes for the background flusher, keeping the error for
    /// [`Shard::last_flush_error`].
    pub(crate) fn background_flush(&self) {
        let res = self.flush();
        let mut e = self.flush_error.lock().unwrap_or_else(PoisonError::into_inner);
        *e = match res {
            Ok(_) | Err(StoreError::ShardDeleted(_)) => None,
            Err(err) => Some(err.to_string()),
        };
    }

    /// The error of the last background flush, if it failed (the cache and
    /// WAL keep the points; the next flush retries).
    pub fn last_flush_error(&self) -> Option<String> {
        self.flush_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Number of cached (unflushed) values.
    pub fn cached_values(&self) -> usize {
        self.read_state().cache_values
    }
}

/// Appends the escaped series key of `p` (as `portable::key::series_key`).
fn series_key_into(p: &Point, out: &mut String) {
    fn tag(s: &str, out: &mut String) {
        if s.bytes().any(|b| b == b',' || b == b' ' || b == b'=') {
            escape_tag(s, out);
        } else {
            out.push_str(s);
        }
    }
    if p.measurement.bytes().any(|b| b == b',' || b == b' ') {
        escape_measurement(&p.measurement, out);
    } else {
        out.push_str(&p.measurement);
    }
    for (k, v) in &p.tags {
        if v.is_empty() {
            continue;
        }
        out.push(',');
        tag(k, out);
        out.push('=');
        tag(v, out);
    }
}

/// Checks the field types of `p` against the shard and the earlier points
/// of the batch (`pending`, updated with the new fields if `p` passes).
fn check_types(
    index: &Index,
    pending: &mut HashMap<Arc<str>, HashMap<String, FieldType>>,
    sk: &str,
    p: &Point,
) -> Result<()> {
    let entry = index.series.get(sk);
    let mut meas: Option<Arc<str>> = None;
    let mut new_fields = 0usize;
    for (j, (name, v)) in p.fields.iter().enumerate() {
        let t = v.field_type();
        // Fast path: the series already has the field.
        let mut existing = entry.and_then(|e| e.slot(name)).map(|s| s.col.field_type());
        if existing.is_none() {
            let m = meas.get_or_insert_with(|| match entry {
                Some(e) => e.measurement.clone(),
                None => index.measurement_of(sk),
            });
            existing = index
                .measurements
                .get(&**m)
                .and_then(|x| x.fields.get(name.as_str()).map(|f| f.0))
                .or_else(|| pending.get(&**m).and_then(|f| f.get(name.as_str()).copied()))
                .or_else(|| {
                    p.fields[..j].iter().find(|(n, _)| n == name).map(|x| x.1.field_type())
                });
            if existing.is_none() {
                new_fields += 1;
            }
        }
        if let Some(e) = existing
            && e != t
        {
            let m = meas.unwrap_or_else(|| match entry {
                Some(e) => e.measurement.clone(),
                None => index.measurement_of(sk),
            });
            return Err(StoreError::FieldTypeConflict {
                measurement: m.to_string(),
                field: name.clone(),
                new: t,
                existing: e,
            });
        }
    }
    if new_fields > 0
        && let Some(m) = meas
    {
        let known = index.measurements.get(&*m).map(|x| &x.fields);
        let pm = pending.entry(m).or_default();
        for (name, v) in &p.fields {
            if known.is_none_or(|f| !f.contains_key(name.as_str())) {
                pm.entry(name.clone()).or_insert(v.field_type());
            }
        }
    }
    Ok(())
}

/// Adds one point to the index and cache; returns (values, approx bytes).
/// Errs with the field whose type differs from the stored one.
pub(crate) fn push_point<'a>(
    index: &mut Index,
    sk: &str,
    time: i64,
    fields: impl Iterator<Item = (&'a str, &'a FieldValue)>,
) -> std::result::Result<(usize, usize), String> {
    let entry = match index.series.get_mut(sk) {
        Some(e) => e,
        None => index.series_entry(sk),
    };
    let mut missing: Vec<(&str, &FieldValue)> = Vec::new();
    let (mut n, mut bytes) = (0, 0);
    for (name, v) in fields {
        n += 1;
        bytes += value_bytes(v);
        match entry.slot_mut(name) {
            Some(s) => {
                if !s.col.push(time, v) {
                    return Err(format!(
                        "field {name:?} is {}, the value is {}",
                        s.col.field_type(),
                        v.field_type()
                    ));
                }
            }
            None => missing.push((name, v)),
        }
    }
    for (name, v) in missing {
        let s = index.slot(sk, name, v.field_type()).ok_or_else(|| {
            format!("field {name:?}: a {} value conflicts with the stored type", v.field_type())
        })?;
        s.col.push(time, v);
    }
    Ok((n, bytes))
}

/// The composite key of a block key (or the key itself if malformed).
/// Decodes one block payload of shard `shard`, checking it against what
/// its header (or run entry) says.
pub(crate) fn decode_payload(
    shard: u64,
    ckey: &[u8],
    min: i64,
    max: i64,
    count: u32,
    payload: &[u8],
) -> Result<(Vec<i64>, Values)> {
    let corrupt = |d: String| StoreError::corrupt(shard, ckey, "block", d);
    let (ts, vs) = decode_block(payload).map_err(|c| corrupt(c.to_string()))?;
    if ts.len() != count as usize || ts.first() != Some(&min) || ts.last() != Some(&max) {
        return Err(corrupt("header does not match its payload".into()));
    }
    Ok((ts, vs))
}

pub(crate) fn block_ckey(k: &[u8]) -> &[u8] {
    layout::parse_block_key(k).map_or(k, |(c, _)| c)
}

/// Splits a composite key into a UTF-8 series key and field.
pub(crate) fn split_ckey(shard: u64, ckey: &[u8]) -> Result<(&str, &str)> {
    let (sk, field) = split_composite_key(ckey);
    let bad = |d: &str| StoreError::corrupt(shard, ckey, "composite key", d);
    if field.is_empty() || sk.is_empty() {
        return Err(bad("no field separator"));
    }
    let sk = std::str::from_utf8(sk).map_err(|_| bad("series key is not UTF-8"))?;
    let field = std::str::from_utf8(field).map_err(|_| bad("field is not UTF-8"))?;
    Ok((sk, field))
}
