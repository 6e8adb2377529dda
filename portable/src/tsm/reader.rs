//! TSM v1 reader over any `Read + Seek` (spec §4.1, §4.2).
//!
//! Opening a file reads and checks the header, the footer and the whole
//! index (bounded by the file's real length); blocks are read and decoded
//! lazily, one at a time, so a file is never held whole in memory.
//!
//! Checks, each failing with a typed error naming the file: magic, version,
//! footer bounds, every index record's bounds, ascending keys, known block
//! types, block offsets and sizes inside the data section, and each block's
//! CRC32 when it is read (InfluxDB itself skips the CRC on reads).

use std::io::{Cursor, Read, Seek, SeekFrom};

use super::block::{Values, decode_block_into};
use super::merge::sort_dedup_last_wins;
use super::{FOOTER_LEN, HEADER_LEN, INDEX_ENTRY_LEN, IndexEntry, MAGIC, VERSION};
use crate::error::{Corruption, Error, Result};
use crate::point::FieldType;

#[derive(Debug, Clone, Copy)]
struct KeyMeta {
    key_start: usize,
    key_len: usize,
    field_type: FieldType,
    first_entry: usize,
    entry_count: usize,
}

/// One key of the index: its composite key, type and block entries.
#[derive(Debug, Clone, Copy)]
pub struct KeyIndex<'a> {
    /// Position of the key in the index (for [`TsmReader::read_series`]).
    pub position: usize,
    /// The composite key (series key + `#!~#` + field).
    pub key: &'a [u8],
    /// The field type of every block of the key.
    pub field_type: FieldType,
    /// The key's blocks, in index order.
    pub entries: &'a [IndexEntry],
}

/// A whole series read from one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The composite key.
    pub key: Vec<u8>,
    /// Ascending, unique timestamps.
    pub timestamps: Vec<i64>,
    /// One value per timestamp.
    pub values: Values,
}

/// Reads one TSM file.
pub struct TsmReader<R> {
    name: String,
    r: R,
    file_len: u64,
    index_start: u64,
    index: Vec<u8>,
    keys: Vec<KeyMeta>,
    entries: Vec<IndexEntry>,
    verify_crc: bool,
    buf: Vec<u8>,
}

impl<'a> TsmReader<Cursor<&'a [u8]>> {
    /// Opens a TSM file held in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: &'a [u8]) -> Result<Self> {
        TsmReader::new(name, Cursor::new(bytes))
    }
}

impl<R: Read + Seek> TsmReader<R> {
    /// Opens the TSM file readable from `r`; errors name it `name`.
    pub fn new(name: impl Into<String>, mut r: R) -> Result<Self> {
        let name = name.into();
        let io = |e| Error::io(&name, e);
        let corrupt = |c| Error::corrupt(&name, c);
        let file_len = r.seek(SeekFrom::End(0)).map_err(io)?;
        r.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut header = [0u8; HEADER_LEN];
        let n = read_up_to(&mut r, &mut header).map_err(io)?;
        if n >= 4 {
            let magic = u32::from_be_bytes(header[..4].try_into().expect("4 bytes"));
            if magic != MAGIC {
                return Err(corrupt(Corruption::BadMagic {
                    found: magic.into(),
                    expected: MAGIC.into(),
                }));
            }
        }
        if n < HEADER_LEN {
            return Err(corrupt(Corruption::truncated(format!(
                "header ({file_len} bytes in file)"
            ))));
        }
        if header[4] != VERSION {
            return Err(corrupt(Corruption::BadVersion {
                found: header[4].into(),
                expected: VERSION.into(),
            }));
        }
        if file_len < (HEADER_LEN + FOOTER_LEN) as u64 {
            return Err(corrupt(Corruption::truncated(format!(
                "footer ({file_len} bytes in file)"
            ))));
        }
        r.seek(SeekFrom::Start(file_len - FOOTER_LEN as u64)).map_err(io)?;
        let mut footer = [0u8; FOOTER_LEN];
        r.read_exact(&mut footer).map_err(io)?;
        let index_start = u64::from_be_bytes(footer);
        let index_end = file_len - FOOTER_LEN as u64;
        if index_start < HEADER_LEN as u64 || index_start >= index_end {
            return Err(corrupt(Corruption::out_of_bounds(format!(
                "index start {index_start} (file is {file_len} bytes, index must lie in {HEADER_LEN}..{index_end})"
            ))));
        }
        let index_len = usize::try_from(index_end - index_start).map_err(|_| {
            corrupt(Corruption::TooLarge {
                what: "index bytes",
                value: index_end - index_start,
                limit: usize::MAX as u64,
            })
        })?;
        r.seek(SeekFrom::Start(index_start)).map_err(io)?;
        let mut index = Vec::new();
        (&mut r).take(index_len as u64).read_to_end(&mut index).map_err(io)?;
        if index.len() != index_len {
            return Err(corrupt(Corruption::truncated("index")));
        }
        let (keys, entries) = parse_index(&index, index_start).map_err(corrupt)?;
        Ok(TsmReader {
            name,
            r,
            file_len,
            index_start,
            index,
            keys,
            entries,
            verify_crc: true,
            buf: Vec::new(),
        })
    }

    /// Turns CRC checking of block reads on (the default) or off.
    pub fn set_verify_crc(&mut self, on: bool) {
        self.verify_crc = on;
    }

    /// The file name used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The offset where the index starts.
    pub fn index_start(&self) -> u64 {
        self.index_start
    }

    /// The number of keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The number of blocks.
    pub fn block_count(&self) -> usize {
        self.entries.len()
    }

    /// Key `i` of the index.
    pub fn key(&self, i: usize) -> Option<KeyIndex<'_>> {
        let m = self.keys.get(i)?;
        Some(KeyIndex {
            position: i,
            key: &self.index[m.key_start..m.key_start + m.key_len],
            field_type: m.field_type,
            entries: &self.entries[m.first_entry..m.first_entry + m.entry_count],
        })
    }

    /// Iterates over the index, keys ascending.
    pub fn keys(&self) -> impl Iterator<Item = KeyIndex<'_>> + '_ {
        (0..self.keys.len()).filter_map(move |i| self.key(i))
    }

    /// Finds a key by binary search.
    pub fn find(&self, key: &[u8]) -> Option<KeyIndex<'_>> {
        let i = self
            .keys
            .binary_search_by(|m| self.index[m.key_start..m.key_start + m.key_len].cmp(key))
            .ok()?;
        self.key(i)
    }

    /// The file's time range: the smallest first-block min time and the
    /// largest last-block max time over all keys.
    pub fn time_range(&self) -> (i64, i64) {
        let mut min = i64::MAX;
        let mut max = i64::MIN;
        for m in &self.keys {
            let e = &self.entries[m.first_entry..m.first_entry + m.entry_count];
            if let (Some(f), Some(l)) = (e.first(), e.last()) {
                min = min.min(f.min_time);
                max = max.max(l.max_time);
            }
        }
        (min, max)
    }

    /// Reads block `entry` of key `position`, checks its CRC, and returns the
    /// payload (without the CRC). The slice is valid until the next read.
    pub fn read_block_raw(&mut self, position: usize, entry: &IndexEntry) -> Result<&[u8]> {
        let io = |e| Error::io(&self.name, e);
        self.r.seek(SeekFrom::Start(entry.offset)).map_err(io)?;
        self.buf.clear();
        // entry.size was checked against the file length in parse_index.
        self.buf.resize(entry.size as usize, 0);
        self.r.read_exact(&mut self.buf).map_err(io)?;
        let stored = u32::from_be_bytes(self.buf[..4].try_into().expect("4 bytes"));
        if self.verify_crc {
            let computed = crc32fast::hash(&self.buf[4..]);
            if computed != stored {
                let key = self
                    .key(position)
                    .map(|k| String::from_utf8_lossy(k.key).into_owned())
                    .unwrap_or_default();
                return Err(Error::corrupt(
                    &self.name,
                    Corruption::Crc { key, offset: entry.offset, stored, computed },
                ));
            }
        }
        Ok(&self.buf[4..])
    }

    /// Reads and decodes one block into `timestamps` and `values`.
    pub fn read_block_into(
        &mut self,
        position: usize,
        entry: &IndexEntry,
        timestamps: &mut Vec<i64>,
        values: &mut Values,
    ) -> Result<()> {
        let expected = self.keys.get(position).map(|m| m.field_type);
        self.read_block_raw(position, entry)?;
        let key = || {
            self.key(position)
                .map(|k| String::from_utf8_lossy(k.key).into_owned())
                .unwrap_or_default()
        };
        let bad = |detail: String| {
            Error::corrupt(
                &self.name,
                Corruption::invalid(
                    "block",
                    format!("at offset {} of key {:?}: {detail}", entry.offset, key()),
                ),
            )
        };
        decode_block_into(&self.buf[4..], timestamps, values).map_err(|c| bad(c.to_string()))?;
        if Some(values.field_type()) != expected {
            return Err(bad(format!("type {} differs from the index", values.field_type())));
        }
        if timestamps.first() != Some(&entry.min_time) || timestamps.last() != Some(&entry.max_time)
        {
            return Err(bad("time range differs from the index".to_string()));
        }
        Ok(())
    }

    /// Reads every block of key `position` and returns its points: sorted by
    /// time, duplicates resolved with the later block winning.
    pub fn read_series(&mut self, position: usize) -> Result<Series> {
        let m = *self
            .keys
            .get(position)
            .ok_or_else(|| Error::invalid_input(format!("no key at position {position}")))?;
        let key = self.index[m.key_start..m.key_start + m.key_len].to_vec();
        let mut timestamps = Vec::new();
        let mut values = Values::new(m.field_type);
        let mut ts = Vec::new();
        let mut vs = Values::new(m.field_type);
        let mut sorted = true;
        for i in m.first_entry..m.first_entry + m.entry_count {
            let entry = self.entries[i];
            self.read_block_into(position, &entry, &mut ts, &mut vs)?;
            if let (Some(&last), Some(&first)) = (timestamps.last(), ts.first()) {
                sorted &= first > last;
            }
            timestamps.extend_from_slice(&ts);
            values.extend_from(&vs, 0..vs.len())?;
        }
        if !sorted {
            sort_dedup_last_wins(&mut timestamps, &mut values);
        }
        Ok(Series { key, timestamps, values })
    }

    /// Iterates over all series of the file, one key at a time.
    pub fn series(&mut self) -> SeriesIter<'_, R> {
        SeriesIter { reader: self, next: 0 }
    }

    /// Calls `f(key, entry, payload)` for every block in file order, reading
    /// one block at a time (CRC checked): copy blocks without decoding them.
    pub fn for_each_block(
        &mut self,
        mut f: impl FnMut(KeyIndex<'_>, &IndexEntry, &[u8]) -> Result<()>,
    ) -> Result<()> {
        for k in 0..self.keys.len() {
            let m = self.keys[k];
            for i in m.first_entry..m.first_entry + m.entry_count {
                let e = self.entries[i];
                self.read_block_raw(k, &e)?;
                let key = KeyIndex {
                    position: k,
                    key: &self.index[m.key_start..m.key_start + m.key_len],
                    field_type: m.field_type,
                    entries: &self.entries[m.first_entry..m.first_entry + m.entry_count],
                };
                f(key, &e, &self.buf[4..])?;
            }
        }
        Ok(())
    }

    /// Reads every block (checking CRCs and decoding) and returns the number
    /// of points: `influx_inspect verify` plus a decode.
    pub fn verify(&mut self) -> Result<u64> {
        let mut points = 0u64;
        let mut ts = Vec::new();
        let mut vs = Values::new(FieldType::Float);
        for k in 0..self.keys.len() {
            let m = self.keys[k];
            for i in m.first_entry..m.first_entry + m.entry_count {
                let e = self.entries[i];
                self.read_block_into(k, &e, &mut ts, &mut vs)?;
                points += ts.len() as u64;
            }
        }
        Ok(points)
    }

    /// Returns the inner reader.
    pub fn into_inner(self) -> R {
        self.r
    }

    /// The inner reader (e.g. to copy the whole file elsewhere; every read
    /// of this reader seeks first, so moving its position is harmless).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.r
    }
}

/// Iterator over the series of a file (see [`TsmReader::series`]).
pub struct SeriesIter<'r, R> {
    reader: &'r mut TsmReader<R>,
    next: usize,
}

impl<R: Read + Seek> Iterator for SeriesIter<'_, R> {
    type Item = Result<Series>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.reader.keys.len() {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(self.reader.read_series(i))
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn be_u16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// Parses and checks the index section. `index_start` bounds block offsets.
fn parse_index(
    idx: &[u8],
    index_start: u64,
) -> Result<(Vec<KeyMeta>, Vec<IndexEntry>), Corruption> {
    let mut keys: Vec<KeyMeta> = Vec::new();
    let mut entries = Vec::new();
    let mut pos = 0usize;
    let at = |pos: usize| index_start + pos as u64;
    while pos < idx.len() {
        if idx.len() - pos < 2 {
            return Err(Corruption::truncated(format!("index key length at offset {}", at(pos))));
        }
        let key_len = be_u16(&idx[pos..]);
        let key_start = pos + 2;
        if key_len == 0 {
            return Err(Corruption::invalid("index", format!("empty key at offset {}", at(pos))));
        }
        if idx.len() - key_start < key_len + 3 {
            return Err(Corruption::truncated(format!("index record at offset {}", at(pos))));
        }
        let key = &idx[key_start..key_start + key_len];
        if let Some(prev) = keys.last()
            && &idx[prev.key_start..prev.key_start + prev.key_len] >= key
        {
            let k = String::from_utf8_lossy(key);
            return Err(Corruption::invalid(
                "index",
                format!("keys not in ascending order at offset {}: {k:?}", at(pos)),
            ));
        }
        let mut p = key_start + key_len;
        let t = idx[p];
        let field_type = FieldType::from_block_type(t).ok_or_else(|| {
            Corruption::invalid("index", format!("unknown block type {t} at offset {}", at(p)))
        })?;
        let count = be_u16(&idx[p + 1..]);
        p += 3;
        if count == 0 {
            return Err(Corruption::invalid(
                "index",
                format!("key with no blocks at offset {}", at(pos)),
            ));
        }
        if (idx.len() - p) / INDEX_ENTRY_LEN < count {
            return Err(Corruption::truncated(format!("index entries at offset {}", at(p))));
        }
        let first_entry = entries.len();
        for _ in 0..count {
            let e = &idx[p..p + INDEX_ENTRY_LEN];
            let entry = IndexEntry {
                min_time: be_i64(e),
                max_time: be_i64(&e[8..]),
                offset: be_i64(&e[16..]) as u64,
                size: u32::from_be_bytes(e[24..28].try_into().expect("4 bytes")),
            };
            if entry.min_time > entry.max_time {
                return Err(Corruption::invalid(
                    "index entry",
                    format!(
                        "min time {} after max time {} at offset {}",
                        entry.min_time,
                        entry.max_time,
                        at(p)
                    ),
                ));
            }
            let end = entry.offset.checked_add(u64::from(entry.size));
            if entry.offset < HEADER_LEN as u64
                || entry.size < 5
                || end.is_none_or(|e| e > index_start)
            {
                return Err(Corruption::out_of_bounds(format!(
                    "block (offset {}, size {}) of index entry at offset {} (data ends at {index_start})",
                    entry.offset,
                    entry.size,
                    at(p)
                )));
            }
            entries.push(entry);
            p += INDEX_ENTRY_LEN;
        }
        keys.push(KeyMeta { key_start, key_len, field_type, first_entry, entry_count: count });
        pos = p;
    }
    Ok((keys, entries))
}
