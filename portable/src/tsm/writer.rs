//! Streaming TSM v1 writer (spec §4.1, §4.2, §4.13).
//!
//! Blocks are written as they come; only the index (a few dozen bytes per
//! key and block) is kept in memory until [`TsmWriter::finish`] writes it and
//! the footer. Keys must arrive in ascending byte order; a key's blocks must
//! arrive in time order and must not overlap.

use std::io::Write;

use super::block::{MAX_POINTS_PER_BLOCK, ValueSlice, block_type, encode_block};
use super::{HEADER_LEN, INDEX_ENTRY_LEN, IndexEntry, MAGIC, VERSION};
use crate::error::{Error, Result};
use crate::point::FieldType;

/// Writes one TSM file to any [`Write`].
pub struct TsmWriter<W: Write> {
    w: W,
    name: String,
    offset: u64,
    index: Vec<u8>,
    key: Vec<u8>,
    key_type: Option<FieldType>,
    entries: Vec<IndexEntry>,
    keys: usize,
    points_per_block: usize,
    scratch: Vec<u8>,
}

impl<W: Write> TsmWriter<W> {
    /// A writer whose errors name the file `name`.
    pub fn new(name: impl Into<String>, w: W) -> Self {
        TsmWriter {
            w,
            name: name.into(),
            offset: 0,
            index: Vec::new(),
            key: Vec::new(),
            key_type: None,
            entries: Vec::new(),
            keys: 0,
            points_per_block: MAX_POINTS_PER_BLOCK,
            scratch: Vec::new(),
        }
    }

    /// Sets the most points per block (default [`MAX_POINTS_PER_BLOCK`], at least 1).
    pub fn with_points_per_block(mut self, n: usize) -> Self {
        self.points_per_block = n.max(1);
        self
    }

    /// Bytes written so far (header and blocks; the index comes at the end).
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Writes a series' points, split into blocks of at most the configured
    /// points per block. `timestamps` must be ascending and unique and, if
    /// `key` is the key written last, after its last timestamp.
    pub fn write_series(
        &mut self,
        key: &[u8],
        timestamps: &[i64],
        values: ValueSlice<'_>,
    ) -> Result<()> {
        if timestamps.len() != values.len() {
            return Err(Error::invalid_input(format!(
                "{} timestamps but {} values",
                timestamps.len(),
                values.len()
            )));
        }
        let mut start = 0;
        while start < timestamps.len() {
            let end = (start + self.points_per_block).min(timestamps.len());
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            let vals = slice(values, start..end);
            let res = encode_block(&timestamps[start..end], vals, &mut buf)
                .and_then(|()| self.write_block(key, timestamps[start], timestamps[end - 1], &buf));
            self.scratch = buf;
            res?;
            start = end;
        }
        Ok(())
    }

    /// Writes an already encoded block payload (without CRC) for `key`,
    /// covering `[min_time, max_time]`: copy blocks without decoding them.
    pub fn write_block(
        &mut self,
        key: &[u8],
        min_time: i64,
        max_time: i64,
        payload: &[u8],
    ) -> Result<()> {
        let t = block_type(payload).map_err(Error::Block)?;
        if key.is_empty() || key.len() > usize::from(u16::MAX) {
            return Err(Error::invalid_input(format!(
                "TSM key length {} is not in 1..=65535",
                key.len()
            )));
        }
        if min_time > max_time {
            return Err(Error::invalid_input(format!(
                "block min time {min_time} after max time {max_time}"
            )));
        }
        let size = u32::try_from(payload.len() + 4).map_err(|_| {
            Error::invalid_input(format!("block of {} bytes is too large", payload.len()))
        })?;
        if self.key_type.is_some() && key == self.key.as_slice() {
            if self.key_type != Some(t) {
                return Err(Error::invalid_input(format!(
                    "key {:?}: {t} block after {} blocks",
                    String::from_utf8_lossy(key),
                    self.key_type.map_or("", |t| t.influxql_name())
                )));
            }
            if self.entries.last().is_some_and(|e| min_time <= e.max_time) {
                return Err(Error::invalid_input(format!(
                    "key {:?}: block starting at {min_time} overlaps the previous block",
                    String::from_utf8_lossy(key)
                )));
            }
            if self.entries.len() == usize::from(u16::MAX) {
                return Err(Error::invalid_input(format!(
                    "key {:?}: more than 65535 blocks in one file",
                    String::from_utf8_lossy(key)
                )));
            }
        } else {
            if self.key_type.is_some() && key < self.key.as_slice() {
                return Err(Error::invalid_input(format!(
                    "keys must be written in ascending order: {:?} after {:?}",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(&self.key)
                )));
            }
            self.flush_key();
            self.key.clear();
            self.key.extend_from_slice(key);
            self.key_type = Some(t);
        }
        if self.offset == 0 {
            let mut h = [0u8; HEADER_LEN];
            h[..4].copy_from_slice(&MAGIC.to_be_bytes());
            h[4] = VERSION;
            self.put(&h)?;
        }
        let offset = self.offset;
        let crc = crc32fast::hash(payload);
        self.put(&crc.to_be_bytes())?;
        self.put(payload)?;
        self.entries.push(IndexEntry { min_time, max_time, offset, size });
        Ok(())
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.w.write_all(b).map_err(|e| Error::io(&self.name, e))?;
        self.offset += b.len() as u64;
        Ok(())
    }

    fn flush_key(&mut self) {
        let Some(t) = self.key_type else { return };
        if self.entries.is_empty() {
            return;
        }
        self.index.reserve(2 + self.key.len() + 3 + self.entries.len() * INDEX_ENTRY_LEN);
        self.index.extend_from_slice(&(self.key.len() as u16).to_be_bytes());
        self.index.extend_from_slice(&self.key);
        self.index.push(t as u8);
        self.index.extend_from_slice(&(self.entries.len() as u16).to_be_bytes());
        for e in &self.entries {
            self.index.extend_from_slice(&e.min_time.to_be_bytes());
            self.index.extend_from_slice(&e.max_time.to_be_bytes());
            self.index.extend_from_slice(&e.offset.to_be_bytes());
            self.index.extend_from_slice(&e.size.to_be_bytes());
        }
        self.entries.clear();
        self.keys += 1;
    }

    /// Writes the index and footer and returns the inner writer. A file with
    /// no blocks is an error (`no values written`), as in InfluxDB.
    pub fn finish(mut self) -> Result<W> {
        self.flush_key();
        if self.keys == 0 {
            return Err(Error::invalid_input(format!("{}: no values written", self.name)));
        }
        let index_start = self.offset;
        let index = std::mem::take(&mut self.index);
        self.put(&index)?;
        self.put(&index_start.to_be_bytes())?;
        self.w.flush().map_err(|e| Error::io(&self.name, e))?;
        Ok(self.w)
    }
}

fn slice<'a>(v: ValueSlice<'a>, r: std::ops::Range<usize>) -> ValueSlice<'a> {
    match v {
        ValueSlice::Float(x) => ValueSlice::Float(&x[r]),
        ValueSlice::Integer(x) => ValueSlice::Integer(&x[r]),
        ValueSlice::Unsigned(x) => ValueSlice::Unsigned(&x[r]),
        ValueSlice::Boolean(x) => ValueSlice::Boolean(&x[r]),
        ValueSlice::String(x) => ValueSlice::String(&x[r]),
    }
}
