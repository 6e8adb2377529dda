//! Tombstone files, `<gen>-<seq>.tombstone` beside a TSM file (spec §4.12).
//!
//! The first 4 bytes (u32 BE) give the version: `0x1504` (v4: concatenated
//! gzip members), `0x1503` (v3: one gzip stream), `0x1502` (v2: raw
//! records). Records are: key length u32 BE, key, min i64 BE, max i64 BE.
//! Anything else, or an empty file, is v1: text, one key per line, meaning
//! the whole time range of the key is deleted.
//!
//! The OSS restore ignores tombstones; readers here can apply them.

use std::io::Read;

use super::block::Values;
use crate::error::{Corruption, Error, Result};
use crate::gzip::GzipReader;

const V2: u32 = 0x1502;
const V3: u32 = 0x1503;
const V4: u32 = 0x1504;

/// The longest key a tombstone record may carry (a TSM key is at most 65535 bytes).
const MAX_KEY_LEN: u32 = u16::MAX as u32;

/// One deletion: points of `key` with `min <= t <= max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The composite TSM key.
    pub key: Vec<u8>,
    /// First deleted timestamp (inclusive).
    pub min: i64,
    /// Last deleted timestamp (inclusive).
    pub max: i64,
}

/// All deletions of one tombstone file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    /// The deletions, in file order.
    pub entries: Vec<Tombstone>,
}

impl Tombstones {
    /// Parses a tombstone file held in memory; errors name it `name`.
    pub fn parse(name: &str, data: &[u8]) -> Result<Tombstones> {
        let version = data.get(..4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
        let entries = match version {
            Some(V2) => read_records(name, &data[4..])?,
            Some(V3) | Some(V4) => {
                let mut raw = Vec::new();
                GzipReader::new(&data[4..]).read_to_end(&mut raw).map_err(|e| {
                    Error::corrupt(name, Corruption::invalid("gzip stream", e.to_string()))
                })?;
                read_records(name, &raw)?
            }
            _ => data
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| Tombstone { key: l.to_vec(), min: i64::MIN, max: i64::MAX })
                .collect(),
        };
        Ok(Tombstones { entries })
    }

    /// Whether point `t` of `key` is deleted.
    pub fn is_deleted(&self, key: &[u8], t: i64) -> bool {
        self.entries.iter().any(|e| e.key == key && e.min <= t && t <= e.max)
    }

    /// Removes the deleted points of `key` from a series.
    pub fn apply(&self, key: &[u8], timestamps: &mut Vec<i64>, values: &mut Values) {
        let ranges: Vec<(i64, i64)> =
            self.entries.iter().filter(|e| e.key == key).map(|e| (e.min, e.max)).collect();
        if ranges.is_empty() {
            return;
        }
        let keep: Vec<bool> = timestamps
            .iter()
            .map(|&t| !ranges.iter().any(|&(lo, hi)| lo <= t && t <= hi))
            .collect();
        let mut i = 0;
        timestamps.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        values.retain_indices(&keep);
    }

    /// Encodes these deletions as a v2 file (uncompressed records).
    pub fn encode_v2(&self) -> Vec<u8> {
        let mut out = V2.to_be_bytes().to_vec();
        for e in &self.entries {
            out.extend_from_slice(&(e.key.len() as u32).to_be_bytes());
            out.extend_from_slice(&e.key);
            out.extend_from_slice(&e.min.to_be_bytes());
            out.extend_from_slice(&e.max.to_be_bytes());
        }
        out
    }
}

fn read_records(name: &str, mut b: &[u8]) -> Result<Vec<Tombstone>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 4 {
            return Err(Error::corrupt(name, Corruption::truncated("tombstone key length")));
        }
        let n = u32::from_be_bytes(b[..4].try_into().expect("4 bytes"));
        if n > MAX_KEY_LEN {
            return Err(Error::corrupt(
                name,
                Corruption::TooLarge {
                    what: "tombstone key length",
                    value: n.into(),
                    limit: MAX_KEY_LEN.into(),
                },
            ));
        }
        let n = n as usize;
        if b.len() < 4 + n + 16 {
            return Err(Error::corrupt(name, Corruption::truncated("tombstone record")));
        }
        let key = b[4..4 + n].to_vec();
        let min = i64::from_be_bytes(b[4 + n..12 + n].try_into().expect("8 bytes"));
        let max = i64::from_be_bytes(b[12 + n..20 + n].try_into().expect("8 bytes"));
        out.push(Tombstone { key, min, max });
        b = &b[20 + n..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn sample() -> Tombstones {
        Tombstones {
            entries: vec![
                Tombstone { key: b"cpu#!~#a".to_vec(), min: 10, max: 20 },
                Tombstone { key: b"mem#!~#b".to_vec(), min: i64::MIN, max: i64::MAX },
            ],
        }
    }

    fn gz(b: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_version_parses() {
        let t = sample();
        let v2 = t.encode_v2();
        assert_eq!(Tombstones::parse("t", &v2).unwrap(), t);
        let records = &v2[4..];
        let mut v3 = V3.to_be_bytes().to_vec();
        v3.extend(gz(records));
        assert_eq!(Tombstones::parse("t", &v3).unwrap(), t);
        let mut v4 = V4.to_be_bytes().to_vec();
        let split = 4 + 8 + 16;
        v4.extend(gz(&records[..split]));
        v4.extend(gz(&records[split..]));
        assert_eq!(Tombstones::parse("t", &v4).unwrap(), t);
        let v1 = Tombstones::parse("t", b"cpu#!~#a\nmem#!~#b\n").unwrap();
        assert_eq!(v1.entries.len(), 2);
        assert!(v1.is_deleted(b"cpu#!~#a", 12345));
        assert!(Tombstones::parse("t", b"").unwrap().entries.is_empty());
    }

    #[test]
    fn apply_removes_points() {
        let t = sample();
        let mut ts = vec![5, 10, 15, 20, 25];
        let mut vs = Values::Integer(vec![1, 2, 3, 4, 5]);
        t.apply(b"cpu#!~#a", &mut ts, &mut vs);
        assert_eq!(ts, [5, 25]);
        assert_eq!(vs, Values::Integer(vec![1, 5]));
    }

    #[test]
    fn truncated_records_are_errors() {
        let v2 = sample().encode_v2();
        for cut in 5..v2.len() {
            if cut == 4 + 28 {
                continue;
            }
            assert!(Tombstones::parse("t", &v2[..cut]).is_err(), "cut {cut}");
        }
    }
}
