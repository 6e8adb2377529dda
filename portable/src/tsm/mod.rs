//! TSM v1 files, InfluxDB 1.x's storage format (spec §4).
//!
//! ```text
//! +--------+------------------------+-----------------+------------------+
//! | Header |         Blocks         |      Index      | Footer (8 bytes) |
//! +--------+------------------------+-----------------+------------------+
//!  magic 0x16D116D1 + version 1      per key: len, key, type, count,
//!           CRC32 (BE) + payload      count x (min, max, offset, size)
//!                                                         index offset (BE)
//! ```
//!
//! A block payload is `type, uvarint(len(ts)), timestamps, values`
//! ([`block`]); each column has its own codec ([`timestamp`], [`float`],
//! [`integer`], [`boolean`], [`string`], all on [`simple8b`] or bit streams).
//!
//! - [`TsmWriter`] streams blocks out and writes the index at the end.
//! - [`TsmReader`] reads the index of a `Read + Seek` and decodes blocks
//!   lazily; [`read_all`] is the whole-file convenience.
//! - [`block::encode_block`] / [`block::decode_block`] work on single blocks.
//! - [`tombstone`] reads the deletions stored beside a TSM file.
//!
//! READERS NEVER PANIC on arbitrary bytes: every length and offset is checked
//! against the real data before use, and no allocation is sized by an
//! unchecked count (see [`block::MAX_DECODED_POINTS_PER_BLOCK`]).

pub mod bits;
pub mod block;
pub mod boolean;
pub mod float;
pub mod integer;
pub mod merge;
pub mod reader;
pub mod simple8b;
pub mod string;
pub mod timestamp;
pub mod tombstone;
pub mod varint;
pub mod writer;

pub use block::{
    MAX_DECODED_POINTS_PER_BLOCK, MAX_POINTS_PER_BLOCK, ValueSlice, Values, count_points,
    decode_block, decode_block_into, encode_block,
};
pub use reader::{KeyIndex, Series, SeriesIter, TsmReader};
pub use tombstone::{Tombstone, Tombstones};
pub use writer::TsmWriter;

use crate::error::Result;

/// The TSM magic number, `16 D1 16 D1`.
pub const MAGIC: u32 = 0x16D1_16D1;
/// The TSM format version.
pub const VERSION: u8 = 1;
/// Header length: magic + version.
pub const HEADER_LEN: usize = 5;
/// Footer length: the index offset.
pub const FOOTER_LEN: usize = 8;
/// Length of one index entry.
pub const INDEX_ENTRY_LEN: usize = 28;

/// One index entry: where a block is and which times it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// First timestamp of the block.
    pub min_time: i64,
    /// Last timestamp of the block.
    pub max_time: i64,
    /// File offset of the block's CRC.
    pub offset: u64,
    /// 4 (CRC) + payload length.
    pub size: u32,
}

/// The file name of generation `generation`, sequence `sequence`:
/// `%09d-%09d.tsm`.
pub fn file_name(generation: u32, sequence: u32) -> String {
    format!("{generation:09}-{sequence:09}.tsm")
}

/// Parses `<generation>-<sequence>.tsm` (any directory part is ignored),
/// both decimal numbers that fit in `u32`, as InfluxDB requires.
pub fn parse_file_name(name: &str) -> Option<(u32, u32)> {
    let base = name.rsplit('/').next()?;
    let stem = base.strip_suffix(".tsm")?;
    let (g, s) = stem.split_once('-')?;
    let num = |x: &str| {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        x.parse::<u32>().ok()
    };
    Some((num(g)?, num(s)?))
}

/// Reads a whole TSM file held in memory: every series, CRCs checked.
pub fn read_all(name: &str, bytes: &[u8]) -> Result<Vec<Series>> {
    let mut r = TsmReader::from_bytes(name, bytes)?;
    r.series().collect()
}

/// Writes series (keys ascending) into a TSM file in memory.
pub fn write_all<'a>(
    series: impl IntoIterator<Item = (&'a [u8], &'a [i64], ValueSlice<'a>)>,
) -> Result<Vec<u8>> {
    let mut w = TsmWriter::new("<memory>", Vec::new());
    for (key, ts, vs) in series {
        w.write_series(key, ts, vs)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(file_name(1, 2), "000000001-000000002.tsm");
        assert_eq!(parse_file_name("db/rp/5/000000001-000000002.tsm"), Some((1, 2)));
        assert_eq!(parse_file_name("1-2.tsm"), Some((1, 2)));
        assert_eq!(parse_file_name("1-2.tombstone"), None);
        assert_eq!(parse_file_name("x-2.tsm"), None);
        assert_eq!(parse_file_name("4294967296-1.tsm"), None);
    }

    #[test]
    fn write_then_read() {
        let ts: Vec<i64> = (0..2500).map(|i| 1_000_000_000 * i).collect();
        let f: Vec<f64> = (0..2500).map(|i| i as f64 / 3.0).collect();
        let s: Vec<String> = (0..2500).map(|i| format!("s{i}")).collect();
        let bytes = write_all([
            (&b"a#!~#f"[..], &ts[..], ValueSlice::Float(&f)),
            (&b"b#!~#s"[..], &ts[..], ValueSlice::String(&s)),
        ])
        .unwrap();
        let mut r = TsmReader::from_bytes("t", &bytes).unwrap();
        assert_eq!(r.key_count(), 2);
        assert_eq!(r.block_count(), 6);
        assert_eq!(r.time_range(), (0, 2_499_000_000_000));
        assert_eq!(r.verify().unwrap(), 5000);
        let all: Vec<Series> = r.series().collect::<Result<_>>().unwrap();
        assert_eq!(all[0].values, Values::Float(f));
        assert_eq!(all[1].values, Values::String(s));
        assert_eq!(all[1].timestamps, ts);
        assert!(r.find(b"b#!~#s").is_some());
        assert!(r.find(b"c").is_none());
    }

    #[test]
    fn blocks_copy_without_decoding() {
        let ts: Vec<i64> = (0..2500).collect();
        let v: Vec<bool> = (0..2500).map(|i| i % 2 == 0).collect();
        let src = write_all([(&b"k#!~#b"[..], &ts[..], ValueSlice::Boolean(&v))]).unwrap();
        let mut r = TsmReader::from_bytes("src", &src).unwrap();
        let mut w = TsmWriter::new("copy", Vec::new());
        r.for_each_block(|k, e, payload| w.write_block(k.key, e.min_time, e.max_time, payload))
            .unwrap();
        assert_eq!(w.finish().unwrap(), src);
    }

    #[test]
    fn writer_rejects_bad_order() {
        let mut w = TsmWriter::new("t", Vec::new());
        w.write_series(b"b", &[1], ValueSlice::Integer(&[1])).unwrap();
        assert!(w.write_series(b"a", &[1], ValueSlice::Integer(&[1])).is_err());
        assert!(w.write_series(b"b", &[1], ValueSlice::Integer(&[1])).is_err());
        assert!(w.write_series(b"b", &[2], ValueSlice::Float(&[1.0])).is_err());
        w.write_series(b"b", &[2], ValueSlice::Integer(&[1])).unwrap();
        assert!(TsmWriter::new("t", Vec::new()).finish().is_err());
    }
}
