//! Reads: a cursor over one composite key's points in a time range, merging
//! stored blocks (decoded lazily, only those overlapping the range) with
//! the cache; and the series index queries.

use portable::key::{composite_key, split_composite_key};
use portable::tsm::merge::merge;
use portable::tsm::{Values, decode_block};
use portable::{FieldType, FieldValue};

use std::collections::VecDeque;
use std::sync::Arc;

use super::column::Column;
use super::error::{Result, StoreError};
use super::layout::{self, Body, SubBlock, block_key_in, block_prefix};
use super::segments::Segments;
use super::shard::{Shard, block_ckey, decode_payload};

/// Sorted (time, value) points of one composite key in a time range.
///
/// Use [`Cursor::next_chunk`] for columnar batches (at most about one block
/// each) or iterate for single points. Cache points win over stored ones
/// on equal times. The key's block entries are taken when the cursor is
/// made, with no block rewrite half applied, and decoded (read from their
/// segment file for runs) while iterating; a concurrent flush, delete or
/// import never makes the cursor lose, repeat or reorder points.
pub struct Cursor {
    shard: u64,
    ckey: Vec<u8>,
    field_type: Option<FieldType>,
    min: i64,
    max: i64,
    /// The key's block entries overlapping the range, taken at once.
    entries: std::vec::IntoIter<(sled::IVec, sled::IVec)>,
    segments: Option<Arc<Segments>>,
    /// Blocks of the current run still to read (those in the range), its
    /// file and type.
    run: VecDeque<SubBlock>,
    run_file: u32,
    run_type: FieldType,
    read_buf: Vec<u8>,
    overlay: Column,
    pos: usize,
    last: Option<i64>,
    done: bool,
    buf_ts: Vec<i64>,
    buf_vs: Values,
    buf_pos: usize,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("shard", &self.shard)
            .field("key", &String::from_utf8_lossy(&self.ckey))
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// One series of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    /// Escaped series key.
    pub key: String,
    /// Measurement, unescaped.
    pub measurement: String,
    /// Tags, unescaped, sorted by key.
    pub tags: Vec<(String, String)>,
    /// Fields with data in this series, sorted by name.
    pub fields: Vec<(String, FieldType)>,
}

impl Cursor {
    fn empty(shard: u64, ckey: Vec<u8>) -> Cursor {
        Cursor {
            shard,
            ckey,
            field_type: None,
            min: 0,
            max: -1,
            entries: Vec::new().into_iter(),
            segments: None,
            run: VecDeque::new(),
            run_file: 0,
            run_type: FieldType::Float,
            read_buf: Vec::new(),
            overlay: Column::new(FieldType::Float),
            pos: 0,
            last: None,
            done: true,
            buf_ts: Vec::new(),
            buf_vs: Values::Float(Vec::new()),
            buf_pos: 0,
        }
    }

    /// The key's field type (None: no such key).
    pub fn field_type(&self) -> Option<FieldType> {
        self.field_type
    }

    /// The composite key.
    pub fn key(&self) -> &[u8] {
        &self.ckey
    }

    fn corrupt(&self, d: impl Into<String>) -> StoreError {
        StoreError::corrupt(self.shard, &self.ckey, "block", d)
    }

    /// The next batch of points (sorted, unique), or None at the end.
    pub fn next_chunk(&mut self) -> Result<Option<(Vec<i64>, Values)>> {
        loop {
            if self.done {
                return Ok(None);
            }
            // The next block: from the current run, else the next entry.
            let (max_time, ts, vs) = if let Some(sb) = self.run.pop_front() {
                let segs = self.segments.as_ref().expect("runs come from a live cursor");
                let p =
                    segs.read(self.run_file, &sb, self.run_type, &mut self.read_buf, &self.ckey)?;
                let (ts, vs) =
                    decode_payload(self.shard, &self.ckey, sb.min_time, sb.max_time, sb.count, p)?;
                (sb.max_time, ts, vs)
            } else {
                let Some((k, v)) = self.entries.next() else {
                    self.done = true;
                    let ot = &self.overlay.times[self.pos..];
                    let skip = self.last.map_or(0, |l| ot.partition_point(|&t| t <= l));
                    let start = self.pos + skip;
                    let end = self.overlay.len();
                    self.pos = end;
                    if start >= end {
                        return Ok(None);
                    }
                    let mut vs = Values::new(self.overlay.field_type());
                    vs.extend_from(&self.overlay.values, start..end)?;
                    let ts = self.overlay.times[start..end].to_vec();
                    self.last = ts.last().copied();
                    return Ok(Some((ts, vs)));
                };
                let (h, body) = layout::decode_block_body(&v)
                    .map_err(|d| StoreError::corrupt(self.shard, block_ckey(&k), "block", d))?;
                if h.max_time < self.min || h.min_time > self.max {
                    continue;
                }
                if self.field_type.is_some_and(|t| t != h.field_type) {
                    return Err(self.corrupt(format!(
                        "type {} where {} was expected",
                        h.field_type,
                        self.field_type.map_or("", |t| t.influxql_name())
                    )));
                }
                match body {
                    Body::Inline(payload) => {
                        let (ts, vs) =
                            decode_block(payload).map_err(|c| self.corrupt(c.to_string()))?;
                        if ts.len() != h.count as usize {
                            return Err(self.corrupt("header does not match its payload"));
                        }
                        (h.max_time, ts, vs)
                    }
                    Body::Run { file, subs } => {
                        let (min, max) = (self.min, self.max);
                        self.run_file = file;
                        self.run_type = h.field_type;
                        self.run.extend(
                            subs.into_iter().filter(|s| s.max_time >= min && s.min_time <= max),
                        );
                        continue;
                    }
                }
            };
            let mut lo = ts.partition_point(|&t| t < self.min);
            if let Some(l) = self.last {
                lo = lo.max(ts.partition_point(|&t| t <= l));
            }
            let hi = ts.partition_point(|&t| t <= self.max);
            let (bts, bvs) = if lo == 0 && hi == ts.len() {
                (ts, vs)
            } else if lo < hi {
                let mut x = Values::new(vs.field_type());
                x.extend_from(&vs, lo..hi)?;
                (ts[lo..hi].to_vec(), x)
            } else {
                (Vec::new(), Values::new(vs.field_type()))
            };
            // Cached points up to this block's end go with it.
            let ot = &self.overlay.times;
            let mut ostart = self.pos;
            if let Some(l) = self.last {
                ostart += ot[self.pos..].partition_point(|&t| t <= l);
            }
            let oend = self.pos + ot[self.pos..].partition_point(|&t| t <= max_time);
            let ostart = ostart.min(oend);
            self.pos = oend;
            let out = if ostart < oend {
                let mut ovs = Values::new(self.overlay.field_type());
                ovs.extend_from(&self.overlay.values, ostart..oend)?;
                merge((&bts, &bvs), (&ot[ostart..oend], &ovs))?
            } else {
                (bts, bvs)
            };
            if out.0.is_empty() {
                continue;
            }
            self.last = out.0.last().copied();
            return Ok(Some(out));
        }
    }

    /// Reads everything left into one (timestamps, values) pair.
    pub fn collect_all(mut self) -> Result<(Vec<i64>, Values)> {
        let mut ts = Vec::new();
        let mut vs = Values::new(self.field_type.unwrap_or(FieldType::Float));
        while let Some((t, v)) = self.next_chunk()? {
            ts.extend_from_slice(&t);
            vs.extend_from(&v, 0..v.len())?;
        }
        Ok((ts, vs))
    }
}

impl Iterator for Cursor {
    type Item = Result<(i64, FieldValue)>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buf_pos >= self.buf_ts.len() {
            match self.next_chunk() {
                Ok(Some((ts, vs))) => {
                    self.buf_ts = ts;
                    self.buf_vs = vs;
                    self.buf_pos = 0;
                }
                Ok(None) => return None,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let i = self.buf_pos;
        self.buf_pos += 1;
        Some(Ok((self.buf_ts[i], self.buf_vs.get(i).expect("same length"))))
    }
}

impl Shard {
    /// The points of composite key `ckey` (series key + `#!~#` + field) in
    /// `[min, max]` (inclusive), sorted by time.
    pub fn read(&self, ckey: &[u8], min: i64, max: i64) -> Result<Cursor> {
        self.check_live()?;
        let (sk, field) = split_composite_key(ckey);
        let (Ok(sk), Ok(field)) = (std::str::from_utf8(sk), std::str::from_utf8(field)) else {
            return Ok(Cursor::empty(self.id, ckey.to_vec()));
        };
        self.read_field(sk, field, min, max)
    }

    /// The points of `field` of series `series_key` (escaped) in
    /// `[min, max]` (inclusive), sorted by time.
    pub fn read_field(&self, series_key: &str, field: &str, min: i64, max: i64) -> Result<Cursor> {
        self.check_live()?;
        let ckey = composite_key(series_key.as_bytes(), field.as_bytes());
        if min > max {
            return Ok(Cursor::empty(self.id, ckey));
        }
        let (t, live, snap) = {
            let st = self.read_state();
            let Some(slot) = st.index.series.get(series_key).and_then(|e| e.slot(field)) else {
                return Ok(Cursor::empty(self.id, ckey));
            };
            let t = slot.col.field_type();
            let live = slot.col.range_copy(min, max);
            (t, live, st.snapshot.clone())
        };
        let mut overlay = live;
        overlay.normalize();
        if let Some(snap) = snap.as_deref().and_then(|s| s.cols.get(&ckey)) {
            let mut older = snap.range_copy(min, max);
            older.normalize();
            if !older.is_empty() {
                older.append(&overlay);
                older.normalize();
                overlay = older;
            }
        }
        let prefix = block_prefix(&ckey);
        let start = block_key_in(&prefix, min);
        // The entries are taken in one go, with no block rewrite under way:
        // iterating the tree lazily while a flush replaces blocks by
        // differently keyed ones could skip points.
        let entries = {
            let _g = self.blocks_read();
            let mut v = Vec::new();
            if let Some(kv) = self.tree.range(prefix.as_slice()..start.as_slice()).next_back() {
                v.push(kv?);
            }
            for kv in self.tree.range(start..=block_key_in(&prefix, max)) {
                v.push(kv?);
            }
            v
        };
        Ok(Cursor {
            shard: self.id,
            ckey,
            field_type: Some(t),
            min,
            max,
            entries: entries.into_iter(),
            segments: Some(self.segments.clone()),
            run: VecDeque::new(),
            run_file: 0,
            run_type: t,
            read_buf: Vec::new(),
            overlay,
            pos: 0,
            last: None,
            done: false,
            buf_ts: Vec::new(),
            buf_vs: Values::new(t),
            buf_pos: 0,
        })
    }

    /// Measurement names, sorted.
    pub fn measurements(&self) -> Vec<String> {
        let st = self.read_state();
        let mut v: Vec<String> = st.index.measurements.keys().map(|m| m.to_string()).collect();
        v.sort_unstable();
        v
    }

    /// Escaped series keys of `measurement`, sorted.
    pub fn series_keys(&self, measurement: &str) -> Vec<String> {
        let st = self.read_state();
        st.index
            .measurements
            .get(measurement)
            .map(|m| m.series.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The series of `measurement` for which `filter` (given the
    /// unescaped tags) is true, sorted by key, with their tags and fields.
    pub fn series_where(
        &self,
        measurement: &str,
        mut filter: impl FnMut(&[(String, String)]) -> bool,
    ) -> Vec<SeriesInfo> {
        let st = self.read_state();
        let Some(m) = st.index.measurements.get(measurement) else { return Vec::new() };
        let mut out = Vec::new();
        for key in &m.series {
            let Some(e) = st.index.series.get(key) else { continue };
            if !filter(&e.tags) {
                continue;
            }
            let mut fields: Vec<(String, FieldType)> =
                e.slots.iter().map(|s| (s.name.clone(), s.col.field_type())).collect();
            fields.sort_unstable();
            out.push(SeriesInfo {
                key: key.clone(),
                measurement: measurement.to_string(),
                tags: e.tags.clone(),
                fields,
            });
        }
        out
    }

    /// All series of `measurement` (see [`Shard::series_where`]).
    pub fn series(&self, measurement: &str) -> Vec<SeriesInfo> {
        self.series_where(measurement, |_| true)
    }

    /// Composite keys of `measurement` (all measurements if None), sorted.
    pub fn composite_keys(&self, measurement: Option<&str>) -> Vec<Vec<u8>> {
        let st = self.read_state();
        let mut out = Vec::new();
        let mut add = |sk: &str| {
            if let Some(e) = st.index.series.get(sk) {
                for s in &e.slots {
                    out.push(composite_key(sk.as_bytes(), s.name.as_bytes()));
                }
            }
        };
        match measurement {
            Some(m) => {
                if let Some(m) = st.index.measurements.get(m) {
                    m.series.iter().for_each(|k| add(k));
                }
            }
            None => st.index.series.keys().for_each(|k| add(k)),
        }
        out.sort_unstable();
        out
    }

    /// Tag keys of `measurement`, sorted.
    pub fn tag_keys(&self, measurement: &str) -> Vec<String> {
        let st = self.read_state();
        st.index
            .measurements
            .get(measurement)
            .map(|m| m.tags.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Values of tag `key` in `measurement`, sorted.
    pub fn tag_values(&self, measurement: &str, key: &str) -> Vec<String> {
        let st = self.read_state();
        st.index
            .measurements
            .get(measurement)
            .and_then(|m| m.tags.get(key))
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Fields of `measurement` with their types, sorted by name.
    pub fn field_keys(&self, measurement: &str) -> Vec<(String, FieldType)> {
        let st = self.read_state();
        let mut v: Vec<(String, FieldType)> = st
            .index
            .measurements
            .get(measurement)
            .map(|m| m.fields.iter().map(|(k, f)| (k.clone(), f.0)).collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// The type of `field` in `measurement`, if it has data.
    pub fn field_type(&self, measurement: &str, field: &str) -> Option<FieldType> {
        self.read_state().index.field_type(measurement, field)
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.read_state().index.series.len()
    }
}
