//! Backup export (stored blocks streamed into TSM files, decoding only the
//! blocks cut by a time filter) and restore import (TSM blocks stored as
//! they are where the shard has nothing overlapping, merged otherwise).

use std::collections::HashMap;
use std::io::{Read, Seek, Write};

use portable::FieldType;
use portable::tsm::block::block_type;
use portable::tsm::merge::merge;
use portable::tsm::{IndexEntry, TsmReader, TsmWriter, Values, count_points};
use sled::Batch;

use super::column::Column;
use super::error::{Result, StoreError};
use super::layout::{
    self, Body, KEYINFO, META_LAST_MODIFIED, SubBlock, block_key_in, block_prefix,
};
use super::shard::{KeyDelta, Shard, decode_payload, now_ns, split_ckey};

/// An inclusive time range (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First included time.
    pub min: i64,
    /// Last included time.
    pub max: i64,
}

impl TimeRange {
    /// `[min, max]`.
    pub fn new(min: i64, max: i64) -> TimeRange {
        TimeRange { min, max }
    }
}

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportStats {
    /// TSM files produced.
    pub files: usize,
    /// Composite keys with at least one point exported.
    pub keys: u64,
    /// Blocks written.
    pub blocks: u64,
    /// Of which copied without decoding.
    pub raw_blocks: u64,
    /// Points written.
    pub points: u64,
    /// TSM bytes produced (all files, index and footer included).
    pub bytes: u64,
}

/// What an import stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportStats {
    /// Composite keys in the file.
    pub keys: u64,
    /// Points read from the file.
    pub points: u64,
    /// File blocks stored as they were.
    pub raw_blocks: u64,
    /// File blocks decoded and merged with stored data.
    pub merged_blocks: u64,
}

/// Counts what goes through a writer.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The most blocks one key may have in one TSM file.
const MAX_BLOCKS_PER_KEY: usize = u16::MAX as usize;

impl Shard {
    /// Calls `f(ckey, min, max, payload)` for every block to export, keys
    /// ascending, blocks by time. Caller holds `flush_lock`.
    fn export_blocks(
        &self,
        range: Option<TimeRange>,
        stats: &mut ExportStats,
        mut f: impl FnMut(&[u8], i64, i64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let (min, max) = range.map_or((i64::MIN, i64::MAX), |r| (r.min, r.max));
        if min > max {
            return Ok(());
        }
        let (mut payload, mut run_buf) = (Vec::new(), Vec::new());
        for kv in self.tree.scan_prefix([KEYINFO]) {
            let (k, _) = kv?;
            let ckey = &k[1..];
            let prefix = block_prefix(ckey);
            let start = block_key_in(&prefix, min);
            let pre = match self.tree.range(prefix.as_slice()..start.as_slice()).next_back() {
                Some(kv) => Some(kv?),
                None => None,
            };
            let rest = self.tree.range(start..=block_key_in(&prefix, max));
            let mut any = false;
            // One block: copied as it is when inside the range, else
            // decoded and cut.
            let mut emit = |min_t: i64, max_t: i64, count: u32, p: &[u8]| -> Result<()> {
                if max_t < min || min_t > max {
                    return Ok(());
                }
                any = true;
                if min_t >= min && max_t <= max {
                    stats.raw_blocks += 1;
                    stats.blocks += 1;
                    stats.points += u64::from(count);
                    return f(ckey, min_t, max_t, p);
                }
                let (ts, vs) = decode_payload(self.id, ckey, min_t, max_t, count, p)?;
                let lo = ts.partition_point(|&t| t < min);
                let hi = ts.partition_point(|&t| t <= max);
                let mut s = lo;
                while s < hi {
                    let e = (s + portable::tsm::MAX_POINTS_PER_BLOCK).min(hi);
                    payload.clear();
                    portable::tsm::encode_block(&ts[s..e], vs.slice(s..e), &mut payload)?;
                    stats.blocks += 1;
                    stats.points += (e - s) as u64;
                    f(ckey, ts[s], ts[e - 1], &payload)?;
                    s = e;
                }
                Ok(())
            };
            for kv in pre.into_iter().map(Ok).chain(rest) {
                let (_, v) = kv?;
                let (h, body) =
                    layout::decode_block_body(&v).map_err(|d| self.corrupt(ckey, "block", d))?;
                if h.max_time < min || h.min_time > max {
                    continue;
                }
                match body {
                    Body::Inline(p) => emit(h.min_time, h.max_time, h.count, p)?,
                    Body::Run { file, subs } => {
                        for sb in subs.iter().filter(|sb| sb.max_time >= min && sb.min_time <= max)
                        {
                            let p =
                                self.segments.read(file, sb, h.field_type, &mut run_buf, ckey)?;
                            emit(sb.min_time, sb.max_time, sb.count, p)?;
                        }
                    }
                }
            }
            if any {
                stats.keys += 1;
            }
        }
        Ok(())
    }

    /// Flushes the cache, then writes the shard's points (those in `range`
    /// if given) as ONE TSM file to `w`, streaming: only the TSM index
    /// (about 30 bytes per block) is held in memory. Blocks fully inside
    /// the range are copied without decoding; the others are decoded and
    /// filtered point by point. Writes nothing if there is no point
    /// (`stats.files == 0`).
    pub fn export_tsm<W: Write>(&self, range: Option<TimeRange>, w: W) -> Result<ExportStats> {
        self.check_live()?;
        let _g = self.lock_flush();
        self.flush_locked()?;
        let mut stats = ExportStats::default();
        let mut writer = TsmWriter::new(format!("shard {}", self.id), Counting { inner: w, n: 0 });
        self.export_blocks(range, &mut stats, |k, min, max, p| {
            writer.write_block(k, min, max, p)?;
            Ok(())
        })?;
        if stats.blocks == 0 {
            return Ok(stats);
        }
        let c = writer.finish()?;
        stats.files = 1;
        stats.bytes = c.n;
        Ok(stats)
    }

    /// Like [`Shard::export_tsm`], but produces TSM files of about
    /// `max_file_bytes` each (a file is closed at the first block boundary
    /// past the limit), handing each finished file to `on_file` in order.
    /// Memory stays bounded by one file. A key may continue in the next
    /// file (later times), which TSM readers and [`Shard::import_tsm`]
    /// accept.
    pub fn export_tsm_files(
        &self,
        range: Option<TimeRange>,
        max_file_bytes: u64,
        mut on_file: impl FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<ExportStats> {
        self.check_live()?;
        let _g = self.lock_flush();
        self.flush_locked()?;
        let mut stats = ExportStats::default();
        let name = format!("shard {}", self.id);
        let cap = usize::try_from(max_file_bytes.min(64 << 20)).unwrap_or(64 << 20) + 4096;
        let mut cur: Option<TsmWriter<Vec<u8>>> = None;
        let mut cur_key: Vec<u8> = Vec::new();
        let mut key_blocks = 0usize;
        let mut files = 0usize;
        let mut bytes = 0u64;
        self.export_blocks(range, &mut stats, |k, min, max, p| {
            if let Some(w) = cur.take_if(|w| {
                w.bytes_written() >= max_file_bytes
                    || (k == cur_key.as_slice() && key_blocks >= MAX_BLOCKS_PER_KEY)
            }) {
                let buf = w.finish()?;
                files += 1;
                bytes += buf.len() as u64;
                on_file(buf)?;
                key_blocks = 0;
            }
            let w =
                cur.get_or_insert_with(|| TsmWriter::new(name.clone(), Vec::with_capacity(cap)));
            if k != cur_key.as_slice() {
                cur_key.clear();
                cur_key.extend_from_slice(k);
                key_blocks = 0;
            }
            w.write_block(k, min, max, p)?;
            key_blocks += 1;
            Ok(())
        })?;
        if let Some(w) = cur {
            let buf = w.finish()?;
            files += 1;
            bytes += buf.len() as u64;
            on_file(buf)?;
        }
        stats.files = files;
        stats.bytes = bytes;
        Ok(stats)
    }

    /// Imports one TSM file (e.g. from a backup archive; `name` is used in
    /// errors). The file's points win over the shard's on equal (key,
    /// time); import files in generation order so that later ones win.
    /// Blocks that overlap nothing stored are stored as they are, without
    /// decoding (the file's index min/max times are trusted, the CRC is
    /// checked); the others are decoded and merged.
    ///
    /// Field types are checked first: a conflict fails the import before
    /// anything is stored. Blocks are committed in batches of about
    /// `StoreConfig::import_batch_bytes`, so a failure (or crash) midway
    /// leaves the keys imported so far.
    pub fn import_tsm<R: Read + Seek>(&self, name: &str, r: R) -> Result<ImportStats> {
        self.check_live()?;
        let mut reader = TsmReader::new(name, r)?;
        let _g = self.lock_flush();
        self.flush_locked()?;
        let now = now_ns();
        self.reserve_import_keys(&reader)?;
        // A big file is kept whole as a segment file; its blocks that
        // overlap nothing stored are then referenced, not copied.
        let len = reader.file_len();
        let segment = if len >= self.config.segment_min_bytes {
            match self.segments.create(reader.get_mut(), len) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.prune_import_keys(&reader);
                    return Err(e);
                }
            }
        } else {
            None
        };
        let mut refs = 0usize;
        let res = self.import_keys(&mut reader, segment, &mut refs, now);
        if let Some(n) = segment
            && refs == 0
        {
            // Nothing refers to it (all merged, or failed before the first
            // commit): no reader can have seen it.
            self.segments.remove(n);
        }
        self.prune_import_keys(&reader);
        res
    }

    /// Drops the index slots reserved for the file that got no data (all
    /// of them when nothing was imported).
    fn prune_import_keys<R: Read + Seek>(&self, reader: &TsmReader<R>) {
        let mut st = self.write_state();
        for pos in 0..reader.key_count() {
            let Some(k) = reader.key(pos) else { continue };
            if let Ok((sk, _)) = split_ckey(self.id, k.key) {
                st.index.prune(sk, |s| s.stored || !s.col.is_empty());
            }
        }
    }

    /// Checks the file's field types against the shard's (and each other)
    /// and creates the index slots, so that concurrent writes see them.
    fn reserve_import_keys<R: Read + Seek>(&self, reader: &TsmReader<R>) -> Result<()> {
        let mut st = self.write_state();
        let mut pending: HashMap<(String, String), FieldType> = HashMap::new();
        for k in reader.keys() {
            let (sk, field) = split_ckey(self.id, k.key).map_err(|_| {
                StoreError::InvalidArgument(format!(
                    "{}: key {:?} is not a series key + field",
                    reader.name(),
                    String::from_utf8_lossy(k.key)
                ))
            })?;
            if k.key.contains(&0) {
                return Err(StoreError::InvalidArgument(format!(
                    "{}: key {:?} contains a NUL byte",
                    reader.name(),
                    String::from_utf8_lossy(k.key)
                )));
            }
            let m = st.index.measurement_of(sk);
            let existing = st
                .index
                .field_type(&m, field)
                .or_else(|| pending.get(&(m.to_string(), field.to_string())).copied());
            match existing {
                Some(e) if e != k.field_type => {
                    return Err(StoreError::FieldTypeConflict {
                        measurement: m.to_string(),
                        field: field.to_string(),
                        new: k.field_type,
                        existing: e,
                    });
                }
                Some(_) => {}
                None => {
                    pending.insert((m.to_string(), field.to_string()), k.field_type);
                }
            }
        }
        for k in reader.keys() {
            let (sk, field) = split_ckey(self.id, k.key)?;
            if st.index.slot(sk, field, k.field_type).is_none() {
                return Err(StoreError::InvalidArgument(format!(
                    "{}: key {:?}: type conflict",
                    reader.name(),
                    String::from_utf8_lossy(k.key)
                )));
            }
        }
        Ok(())
    }

    /// Imports every key; `refs` counts the committed run entries that
    /// refer to segment file `segment`.
    fn import_keys<R: Read + Seek>(
        &self,
        reader: &mut TsmReader<R>,
        segment: Option<u32>,
        refs: &mut usize,
        now: i64,
    ) -> Result<ImportStats> {
        let mut stats = ImportStats::default();
        let mut batch = Batch::default();
        let mut batch_bytes = 0usize;
        let mut batch_refs = 0usize;
        let mut done: Vec<(Vec<u8>, KeyDelta, bool)> = Vec::new();
        for pos in 0..reader.key_count() {
            let Some(k) = reader.key(pos) else { continue };
            let (key, t, entries) = (k.key.to_vec(), k.field_type, k.entries.to_vec());
            stats.keys += 1;
            let mut ctx =
                KeyImport { segment, batch: &mut batch, refs: 0, run_bytes: 0, stats: &mut stats };
            let delta = self.import_key(reader, pos, &key, t, &entries, &mut ctx)?;
            batch_refs += ctx.refs;
            // A run entry is small whatever it stands for; inline blocks
            // (merged ones too) count with their size.
            batch_bytes +=
                (delta.bytes.max(0) as usize).saturating_sub(ctx.run_bytes) + 64 * delta.written;
            let info = self.update_keyinfo(&key, t, delta, &mut batch)?;
            done.push((key, delta, info.blocks > 0));
            if batch_bytes >= self.config.import_batch_bytes {
                self.commit_import(std::mem::take(&mut batch), &mut done, now, || {
                    *refs += std::mem::take(&mut batch_refs);
                })?;
                batch_bytes = 0;
            }
        }
        self.commit_import(batch, &mut done, now, || *refs += batch_refs)?;
        Ok(stats)
    }

    /// Applies an import batch; `applied` runs as soon as it is in the
    /// tree (before the flush, which may fail: its entries are visible).
    fn commit_import(
        &self,
        mut batch: Batch,
        done: &mut Vec<(Vec<u8>, KeyDelta, bool)>,
        now: i64,
        applied: impl FnOnce(),
    ) -> Result<()> {
        self.touch(now);
        batch.insert(META_LAST_MODIFIED, &self.last_modified().to_be_bytes()[..]);
        self.apply_block_batch(batch)?;
        applied();
        let mut st = self.write_state();
        for (key, delta, stored) in done.drain(..) {
            st.stored_points = st.stored_points.saturating_add_signed(delta.points);
            st.stored_bytes = st.stored_bytes.saturating_add_signed(delta.bytes);
            if let Ok((sk, field)) = split_ckey(self.id, &key)
                && let Some(s) = st.index.series.get_mut(sk).and_then(|e| e.slot_mut(field))
            {
                s.stored = stored;
            }
        }
        drop(st);
        self.tree.flush()?;
        Ok(())
    }

    fn import_key<R: Read + Seek>(
        &self,
        reader: &mut TsmReader<R>,
        pos: usize,
        key: &[u8],
        t: FieldType,
        entries: &[IndexEntry],
        ctx: &mut KeyImport<'_>,
    ) -> Result<KeyDelta> {
        let mut delta = KeyDelta::default();
        let (Some(kmin), Some(kmax)) =
            (entries.iter().map(|e| e.min_time).min(), entries.iter().map(|e| e.max_time).max())
        else {
            return Ok(delta);
        };
        let clean = entries.windows(2).all(|w| w[0].max_time < w[1].min_time);
        if !clean {
            // Overlapping blocks inside the file: let the reader merge them.
            let s = reader.read_series(pos)?;
            ctx.stats.points += s.timestamps.len() as u64;
            ctx.stats.merged_blocks += entries.len() as u64;
            let col = Column::from_sorted(s.timestamps, s.values);
            return self.merge_into_blocks(key, &col, false, ctx.batch);
        }
        let existing = self.blocks_overlapping(key, kmin, kmax, false)?;
        let fname = reader.name().to_string();
        let prefix = block_prefix(key);
        let (mut ei, mut fi) = (0usize, 0usize);
        let mut ts = Vec::new();
        let mut vs = Values::new(t);
        // File blocks overlapping nothing stored, not yet in the batch: one
        // run entry when kept in a segment file.
        let mut run: Vec<SubBlock> = Vec::new();
        while ei < existing.len() || fi < entries.len() {
            // Start a cluster with the interval that starts first, then add
            // every interval (stored or file) that overlaps it, transitively.
            let (e0, f0) = (ei, fi);
            let take_e = fi == entries.len()
                || (ei < existing.len() && existing[ei].header.min_time <= entries[fi].min_time);
            let mut end = if take_e {
                ei += 1;
                existing[e0].header.max_time
            } else {
                fi += 1;
                entries[f0].max_time
            };
            loop {
                if ei < existing.len() && existing[ei].header.min_time <= end {
                    end = end.max(existing[ei].header.max_time);
                    ei += 1;
                } else if fi < entries.len() && entries[fi].min_time <= end {
                    end = end.max(entries[fi].max_time);
                    fi += 1;
                } else {
                    break;
                }
            }
            let (es, fs) = (&existing[e0..ei], &entries[f0..fi]);
            if !es.is_empty() {
                // A run never spans a stored block.
                self.put_run(&prefix, t, &mut run, ctx, &mut delta);
            }
            if fs.is_empty() {
                continue;
            }
            if es.is_empty() {
                for e in fs {
                    let payload = reader.read_block_raw(pos, e)?;
                    let bad = |d: String| {
                        StoreError::Tsm(portable::Error::corrupt(
                            &fname,
                            portable::Corruption::invalid("block", d),
                        ))
                    };
                    let bt = block_type(payload).map_err(|c| bad(c.to_string()))?;
                    if bt != t {
                        return Err(bad(format!("{bt} block in a {t} key")));
                    }
                    let n = count_points(payload).map_err(|c| bad(c.to_string()))?;
                    let n = u32::try_from(n)
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad(format!("block of {n} points")))?;
                    ctx.stats.points += u64::from(n);
                    ctx.stats.raw_blocks += 1;
                    if ctx.segment.is_some() {
                        // A run's point count must fit its u32 header.
                        let total: u64 = run.iter().map(|s| u64::from(s.count)).sum();
                        if total + u64::from(n) > u64::from(u32::MAX) {
                            self.put_run(&prefix, t, &mut run, ctx, &mut delta);
                        }
                        run.push(SubBlock {
                            min_time: e.min_time,
                            max_time: e.max_time,
                            offset: e.offset,
                            size: e.size,
                            count: n,
                        });
                        if run.len() >= MAX_RUN_BLOCKS {
                            self.put_run(&prefix, t, &mut run, ctx, &mut delta);
                        }
                        continue;
                    }
                    let value = layout::encode_block_value(e.min_time, e.max_time, n, payload);
                    delta.insert(n as usize, value.len());
                    ctx.batch.insert(block_key_in(&prefix, e.min_time), value);
                }
                continue;
            }
            let (ots, ovs) = self.decode_all(es, t)?;
            let mut nts: Vec<i64> = Vec::new();
            let mut nvs = Values::new(t);
            for e in fs {
                reader.read_block_into(pos, e, &mut ts, &mut vs)?;
                nts.extend_from_slice(&ts);
                nvs.extend_from(&vs, 0..vs.len())?;
                ctx.stats.points += ts.len() as u64;
                ctx.stats.merged_blocks += 1;
            }
            for b in es {
                self.remove_block(b, ctx.batch, &mut delta);
            }
            let (mts, mvs) = merge((&ots, &ovs), (&nts, &nvs))?;
            self.put_blocks(&prefix, &mts, &mvs, ctx.batch, &mut delta)?;
        }
        self.put_run(&prefix, t, &mut run, ctx, &mut delta);
        Ok(delta)
    }

    /// Adds the pending run (if any) as one entry plus its file reference.
    fn put_run(
        &self,
        prefix: &[u8],
        t: FieldType,
        run: &mut Vec<SubBlock>,
        ctx: &mut KeyImport<'_>,
        delta: &mut KeyDelta,
    ) {
        let (Some(file), Some(first)) = (ctx.segment, run.first()) else {
            return;
        };
        let key = block_key_in(prefix, first.min_time);
        let value = layout::encode_run_value(file, t, run);
        let count: u64 = run.iter().map(|s| u64::from(s.count)).sum();
        let len = layout::stored_len(&value);
        delta.insert(count as usize, len);
        ctx.run_bytes += len;
        ctx.batch.insert(layout::run_ref_key(file, &key), &[][..]);
        ctx.batch.insert(key, value);
        ctx.refs += 1;
        run.clear();
    }
}

/// The most blocks one run entry lists (its value stays under 33 KiB).
const MAX_RUN_BLOCKS: usize = 1024;

/// What the import of one key works with.
struct KeyImport<'a> {
    /// The segment file holding the file being imported, if kept.
    segment: Option<u32>,
    batch: &'a mut Batch,
    /// Run entries added.
    refs: usize,
    /// The bytes those runs stand for (in the segment file, not the batch).
    run_bytes: usize,
    stats: &'a mut ImportStats,
}
