//! The write-ahead log entries of a shard, stored in the shard's tree as
//! `w` + seq + chunk (see `layout`), in a compact binary encoding:
//!
//! ```text
//! kind u8 (1 write, 2 delete) | wall-clock ns i64 LE | body | crc32 LE of all before
//! write body:  count u32 LE, count x point
//!   point:     key ref | time i64 LE | uvarint nfields, nfields x field
//!   field:     name ref | type u8 | value
//!   ref:       uvarint id: an earlier series key (field name) of the entry,
//!              or, if id = number seen so far, a new one: uvarint len, bytes
//!   value:     float f64 bits LE | integer zigzag uvarint | unsigned uvarint
//!              | boolean u8 | string uvarint len + bytes
//! delete body: min i64 LE | max i64 LE | uvarint n, n x (uvarint len, series key)
//! ```
//!
//! An entry is cut into chunks of at most [`CHUNK`] bytes so that sled
//! keeps every value inline in its log.

use std::hash::Hasher;

use portable::tsm::varint::{put_uvarint, uvarint};
use portable::{FieldType, FieldValue};

use super::fxhash::{FxHashMap, FxHasher};

/// The most bytes of an entry stored under one sled key.
pub const CHUNK: usize = 32 * 1024;

const KIND_WRITE: u8 = 1;
const KIND_DELETE: u8 = 2;
const HEADER: usize = 1 + 8;

/// Builds a write entry point by point. Reusable: [`WriteEntry::reset`]
/// keeps the allocations.
#[derive(Debug, Default)]
pub struct WriteEntry {
    buf: Vec<u8>,
    count: u32,
    key_text: String,
    keys: Vec<(u32, u32)>,
    key_ids: FxHashMap<u64, u32>,
    name_text: String,
    names: Vec<(u32, u32)>,
    name_ids: FxHashMap<u64, u32>,
    /// Per series key id: the field name ids of its last point (most
    /// points of a series repeat them, which saves the hashing).
    last_names: Vec<Vec<u32>>,
}

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

/// Looks `s` up in a dictionary, adding it if new: (id, was new).
fn intern(
    s: &str,
    text: &mut String,
    ranges: &mut Vec<(u32, u32)>,
    ids: &mut FxHashMap<u64, u32>,
) -> (u32, bool) {
    let h = hash_str(s);
    if let Some(&id) = ids.get(&h) {
        let (a, b) = ranges[id as usize];
        if &text[a as usize..b as usize] == s {
            return (id, false);
        }
    }
    let id = ranges.len() as u32;
    let a = text.len() as u32;
    text.push_str(s);
    ranges.push((a, text.len() as u32));
    ids.insert(h, id);
    (id, true)
}

impl WriteEntry {
    /// Starts a new entry stamped with wall-clock `now` (ns).
    pub fn reset(&mut self, now: i64) {
        self.buf.clear();
        self.buf.push(KIND_WRITE);
        self.buf.extend_from_slice(&now.to_le_bytes());
        self.buf.extend_from_slice(&0u32.to_le_bytes());
        self.count = 0;
        self.key_text.clear();
        self.keys.clear();
        self.key_ids.clear();
        self.name_text.clear();
        self.names.clear();
        self.name_ids.clear();
    }

    /// A new entry stamped with wall-clock `now` (ns).
    #[cfg(test)]
    pub fn new(now: i64) -> WriteEntry {
        let mut e = WriteEntry::default();
        e.reset(now);
        e
    }

    /// Appends a point; returns the id of its series key (see [`WriteEntry::key`]).
    pub fn push<'a>(
        &mut self,
        series_key: &str,
        time: i64,
        fields: impl ExactSizeIterator<Item = (&'a str, &'a FieldValue)>,
    ) -> u32 {
        let (id, new) = intern(series_key, &mut self.key_text, &mut self.keys, &mut self.key_ids);
        let b = &mut self.buf;
        put_uvarint(b, u64::from(id));
        if new {
            put_uvarint(b, series_key.len() as u64);
            b.extend_from_slice(series_key.as_bytes());
        }
        b.extend_from_slice(&time.to_le_bytes());
        put_uvarint(b, fields.len() as u64);
        let idx = id as usize;
        if self.last_names.len() <= idx {
            self.last_names.resize_with(idx + 1, Vec::new);
        }
        let last = &mut self.last_names[idx];
        if new {
            last.clear();
        }
        for (j, (name, v)) in fields.enumerate() {
            let cached = last.get(j).copied().filter(|&c| {
                let (a, b) = self.names[c as usize];
                &self.name_text[a as usize..b as usize] == name
            });
            let (nid, new) = match cached {
                Some(c) => (c, false),
                None => {
                    let r = intern(name, &mut self.name_text, &mut self.names, &mut self.name_ids);
                    if j < last.len() {
                        last[j] = r.0;
                    } else {
                        last.push(r.0);
                    }
                    r
                }
            };
            let b = &mut self.buf;
            put_uvarint(b, u64::from(nid));
            if new {
                put_uvarint(b, name.len() as u64);
                b.extend_from_slice(name.as_bytes());
            }
            b.push(v.field_type() as u8);
            match v {
                FieldValue::Float(x) => b.extend_from_slice(&x.to_bits().to_le_bytes()),
                FieldValue::Integer(x) => put_uvarint(b, ((x << 1) ^ (x >> 63)) as u64),
                FieldValue::Unsigned(x) => put_uvarint(b, *x),
                FieldValue::Boolean(x) => b.push(u8::from(*x)),
                FieldValue::String(s) => {
                    put_uvarint(b, s.len() as u64);
                    b.extend_from_slice(s.as_bytes());
                }
            }
        }
        self.count += 1;
        id
    }

    /// The series key with id `id`.
    pub fn key(&self, id: u32) -> &str {
        let (a, b) = self.keys[id as usize];
        &self.key_text[a as usize..b as usize]
    }

    /// Number of points pushed.
    #[cfg(test)]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Finishes the entry and returns its bytes.
    pub fn finish(&mut self) -> &[u8] {
        let count = self.count.to_le_bytes();
        self.buf[HEADER..HEADER + 4].copy_from_slice(&count);
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        &self.buf
    }
}

/// Encodes a delete entry.
pub fn encode_delete(now: i64, min: i64, max: i64, series: &[&str]) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + series.iter().map(|s| s.len() + 2).sum::<usize>());
    b.push(KIND_DELETE);
    b.extend_from_slice(&now.to_le_bytes());
    b.extend_from_slice(&min.to_le_bytes());
    b.extend_from_slice(&max.to_le_bytes());
    put_uvarint(&mut b, series.len() as u64);
    for s in series {
        put_uvarint(&mut b, s.len() as u64);
        b.extend_from_slice(s.as_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// One point of a decoded write entry.
#[derive(Debug, Clone, PartialEq)]
pub struct WalPoint<'a> {
    /// Escaped series key.
    pub series_key: &'a str,
    /// Timestamp (ns).
    pub time: i64,
    /// Fields, in write order.
    pub fields: Vec<(&'a str, FieldValue)>,
}

/// A decoded entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// Points written.
    Write {
        /// Wall-clock time of the write (ns).
        now: i64,
        /// The points.
        points: Vec<WalPoint<'a>>,
    },
    /// Series deleted over `[min, max]`.
    Delete {
        /// Wall-clock time of the delete (ns).
        now: i64,
        /// Start of the deleted range.
        min: i64,
        /// End of the deleted range.
        max: i64,
        /// Escaped series keys.
        series: Vec<&'a str>,
    },
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.b.len() - self.pos < n {
            return Err(format!("truncated at byte {}", self.pos));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn uvarint(&mut self) -> Result<u64, String> {
        let (v, n) = uvarint(&self.b[self.pos..], "WAL varint").map_err(|e| e.to_string())?;
        self.pos += n;
        Ok(v)
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.uvarint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len() - self.pos)
            .ok_or_else(|| format!("length {n} at byte {} exceeds the entry", self.pos))
    }

    /// A dictionary reference: an earlier string, or a new one inline.
    fn interned(&mut self, dict: &mut Vec<&'a str>) -> Result<&'a str, String> {
        let id = self.uvarint()?;
        match usize::try_from(id).ok().filter(|&i| i <= dict.len()) {
            Some(i) if i < dict.len() => Ok(dict[i]),
            Some(_) => {
                let s = self.str()?;
                dict.push(s);
                Ok(s)
            }
            None => Err(format!("dictionary reference {id} at byte {} is undefined", self.pos)),
        }
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|e| format!("invalid UTF-8: {e}"))
    }
}

/// Decodes an entry (all its chunks concatenated).
pub fn decode(b: &[u8]) -> Result<Entry<'_>, String> {
    if b.len() < HEADER + 4 {
        return Err(format!("entry of {} bytes is too short", b.len()));
    }
    let (body, crc) = b.split_at(b.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(format!("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"));
    }
    let mut r = Reader { b: body, pos: 0 };
    let kind = r.u8()?;
    let now = r.i64()?;
    match kind {
        KIND_WRITE => {
            let count = u32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes"));
            // Each point takes at least 10 bytes: bound the allocation.
            let mut points = Vec::with_capacity((count as usize).min(body.len() / 10));
            let mut keys: Vec<&str> = Vec::new();
            let mut names: Vec<&str> = Vec::new();
            for _ in 0..count {
                let series_key = r.interned(&mut keys)?;
                let time = r.i64()?;
                let n = r.len()?;
                let mut fields = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = r.interned(&mut names)?;
                    let t = r.u8()?;
                    let v = match FieldType::from_block_type(t) {
                        Some(FieldType::Float) => {
                            FieldValue::Float(f64::from_bits(r.i64()? as u64))
                        }
                        Some(FieldType::Integer) => {
                            let z = r.uvarint()?;
                            FieldValue::Integer(((z >> 1) as i64) ^ -((z & 1) as i64))
                        }
                        Some(FieldType::Unsigned) => FieldValue::Unsigned(r.uvarint()?),
                        Some(FieldType::Boolean) => FieldValue::Boolean(r.u8()? != 0),
                        Some(FieldType::String) => FieldValue::String(r.str()?.to_string()),
                        None => return Err(format!("unknown field type {t}")),
                    };
                    fields.push((name, v));
                }
                points.push(WalPoint { series_key, time, fields });
            }
            if r.pos != body.len() {
                return Err(format!("{} trailing bytes", body.len() - r.pos));
            }
            Ok(Entry::Write { now, points })
        }
        KIND_DELETE => {
            let min = r.i64()?;
            let max = r.i64()?;
            let n = r.len()?;
            let mut series = Vec::with_capacity(n);
            for _ in 0..n {
                series.push(r.str()?);
            }
            if r.pos != body.len() {
                return Err(format!("{} trailing bytes", body.len() - r.pos));
            }
            Ok(Entry::Delete { now, min, max, series })
        }
        k => Err(format!("unknown entry kind {k}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_entry_round_trips() {
        let fields = [
            ("f".to_string(), FieldValue::Float(-1.5)),
            ("i".to_string(), FieldValue::Integer(i64::MIN)),
            ("i2".to_string(), FieldValue::Integer(-3)),
            ("u".to_string(), FieldValue::Unsigned(u64::MAX)),
            ("b".to_string(), FieldValue::Boolean(true)),
            ("s".to_string(), FieldValue::String("héllo \"x\"".into())),
        ];
        let mut e = WriteEntry::new(77);
        assert_eq!(e.push("cpu,host=a", -5, fields.iter().map(|(k, v)| (k.as_str(), v))), 0);
        assert_eq!(e.push("mem", i64::MAX, fields[..1].iter().map(|(k, v)| (k.as_str(), v))), 1);
        assert_eq!(e.push("cpu,host=a", 3, fields[2..].iter().map(|(k, v)| (k.as_str(), v))), 0);
        assert_eq!(e.count(), 3);
        assert_eq!(e.key(1), "mem");
        let bytes = e.finish().to_vec();
        let Entry::Write { now, points } = decode(&bytes).unwrap() else { panic!() };
        assert_eq!(now, 77);
        assert_eq!(points.len(), 3);
        assert_eq!(points[2].series_key, "cpu,host=a");
        assert_eq!(points[2].fields[0].0, "i2");
        assert_eq!(points[0].series_key, "cpu,host=a");
        assert_eq!(points[0].time, -5);
        let want: Vec<(&str, FieldValue)> =
            fields.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        assert_eq!(points[0].fields, want);
        assert_eq!(points[1].time, i64::MAX);
        // Reuse.
        e.reset(5);
        e.push("x", 1, fields[..1].iter().map(|(k, v)| (k.as_str(), v)));
        let Entry::Write { points, .. } = decode(e.finish()).unwrap() else { panic!() };
        assert_eq!(points.len(), 1);
    }

    #[test]
    fn delete_entry_round_trips() {
        let b = encode_delete(1, i64::MIN, 10, &["a", "b,t=1"]);
        assert_eq!(
            decode(&b).unwrap(),
            Entry::Delete { now: 1, min: i64::MIN, max: 10, series: vec!["a", "b,t=1"] }
        );
    }

    #[test]
    fn corruption_is_an_error_never_a_panic() {
        let mut e = WriteEntry::new(1);
        let v = FieldValue::String("x".into());
        e.push("m", 1, [("f", &v)].into_iter());
        e.push("m", 2, [("f", &v)].into_iter());
        let good = e.finish().to_vec();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x41;
            assert!(decode(&bad).is_err());
            assert!(decode(&good[..i]).is_err());
        }
        // Valid CRC over garbage.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..200 {
            let mut b: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            if let Some(x) = b.first_mut() {
                *x = 1 + (len % 2) as u8;
            }
            let crc = crc32fast::hash(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            let _ = decode(&b);
        }
    }
}
