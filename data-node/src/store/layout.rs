//! The on-disk layout of a shard tree: key prefixes and value encodings.
//!
//! ```text
//! b <composite key> 00 <min_time: i64, sign bit flipped, BE>   block
//!     value: 01 | min_time i64 BE | max_time i64 BE | count u32 BE
//!            | crc32(payload) u32 BE | payload (TSM block: type byte first)
//!     or a run of blocks kept in a segment file (see `segments`):
//!            02 | min_time | max_time | count (of the run) | file u32 BE
//!            | type u8 | n u32 BE | n × (min_time i64 | max_time i64
//!            | offset u64 | size u32 | count u32), offset/size as in the
//!            file's TSM index (size counts the block's 4-byte CRC)
//! r <file u32 BE> <block key>                                   run reference
//!     value: empty; one per run entry, so that "is segment file F still
//!     used" is a prefix scan
//! k <composite key>                                             key info
//!     value: 01 | type u8 | points u64 BE | blocks u64 BE | bytes u64 BE
//! w <seq u64 BE> <chunk u32 BE>                                 WAL chunk
//!     value: a chunk of one encoded WAL entry (see `wal`)
//! m <name>                                                      metadata
//! ```
//!
//! Composite keys never contain a 0x00 byte (writes with one are rejected),
//! so `b` keys sort by composite key first, then by block start time.

use portable::FieldType;

/// Prefix of block entries.
pub const BLOCK: u8 = b'b';
/// Prefix of key-info entries.
pub const KEYINFO: u8 = b'k';
/// Prefix of WAL chunks.
pub const WAL: u8 = b'w';
/// Prefix of run references.
pub const RUN_REF: u8 = b'r';
/// Metadata key: wall-clock ns of the last modification (i64 BE).
pub const META_LAST_MODIFIED: &[u8] = b"mlast_modified";

const BLOCK_VERSION: u8 = 1;
const RUN_VERSION: u8 = 2;
/// Length of one sub-block of a run value.
const SUB_LEN: usize = 8 + 8 + 8 + 4 + 4;
/// Start of a run value's sub-blocks.
const RUN_SUBS: usize = BLOCK_HEADER_LEN + 1 + 4;
const KEYINFO_VERSION: u8 = 1;
/// Length of a block value's header.
pub const BLOCK_HEADER_LEN: usize = 1 + 8 + 8 + 4 + 4;

/// An i64 whose big-endian bytes sort as the numbers do.
pub fn flip(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`flip`].
pub fn unflip(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// `b` + key + 00: the prefix of all blocks of `ckey`.
pub fn block_prefix(ckey: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ckey.len() + 10);
    k.push(BLOCK);
    k.extend_from_slice(ckey);
    k.push(0);
    k
}

/// The key of the block of `ckey` starting at `min_time`.
#[cfg(test)]
pub fn block_key(ckey: &[u8], min_time: i64) -> Vec<u8> {
    let mut k = block_prefix(ckey);
    k.extend_from_slice(&flip(min_time));
    k
}

/// `prefix` (from [`block_prefix`]) + `min_time`.
pub fn block_key_in(prefix: &[u8], min_time: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&flip(min_time));
    k
}

/// Splits a block key into (composite key, min time).
pub fn parse_block_key(k: &[u8]) -> Option<(&[u8], i64)> {
    if k.len() < 11 || k[0] != BLOCK || k[k.len() - 9] != 0 {
        return None;
    }
    let t = unflip(k[k.len() - 8..].try_into().ok()?);
    Some((&k[1..k.len() - 9], t))
}

/// The header of a stored block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// First timestamp.
    pub min_time: i64,
    /// Last timestamp.
    pub max_time: i64,
    /// Number of points.
    pub count: u32,
    /// Field type (the payload's first byte).
    pub field_type: FieldType,
}

/// Encodes a block value.
pub fn encode_block_value(min_time: i64, max_time: i64, count: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(BLOCK_HEADER_LEN + payload.len());
    v.push(BLOCK_VERSION);
    v.extend_from_slice(&min_time.to_be_bytes());
    v.extend_from_slice(&max_time.to_be_bytes());
    v.extend_from_slice(&count.to_be_bytes());
    v.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Decodes a block value's header (inline block or run), without checking
/// the payload.
pub fn block_header(v: &[u8]) -> Result<BlockHeader, String> {
    if v.len() < BLOCK_HEADER_LEN + 1 {
        return Err(format!("block value of {} bytes is too short", v.len()));
    }
    if v[0] != BLOCK_VERSION && v[0] != RUN_VERSION {
        return Err(format!("unknown block value version {}", v[0]));
    }
    let min_time = i64::from_be_bytes(v[1..9].try_into().expect("8 bytes"));
    let max_time = i64::from_be_bytes(v[9..17].try_into().expect("8 bytes"));
    let count = u32::from_be_bytes(v[17..21].try_into().expect("4 bytes"));
    let t = v[BLOCK_HEADER_LEN];
    let field_type =
        FieldType::from_block_type(t).ok_or_else(|| format!("unknown block type {t}"))?;
    if min_time > max_time || count == 0 {
        return Err(format!("bad header: min {min_time}, max {max_time}, count {count}"));
    }
    Ok(BlockHeader { min_time, max_time, count, field_type })
}

/// Decodes an inline block value: header and CRC-checked payload.
pub fn decode_block_value(v: &[u8]) -> Result<(BlockHeader, &[u8]), String> {
    let h = block_header(v)?;
    if v[0] != BLOCK_VERSION {
        return Err("a run where an inline block was expected".into());
    }
    let stored = u32::from_be_bytes(v[21..25].try_into().expect("4 bytes"));
    let payload = &v[BLOCK_HEADER_LEN..];
    let computed = crc32fast::hash(payload);
    if stored != computed {
        return Err(format!("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"));
    }
    Ok((h, payload))
}

/// One block of a run: where it sits in its segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubBlock {
    /// First timestamp.
    pub min_time: i64,
    /// Last timestamp.
    pub max_time: i64,
    /// File offset of the block's CRC.
    pub offset: u64,
    /// 4 (CRC) + payload length.
    pub size: u32,
    /// Number of points.
    pub count: u32,
}

/// What a block value holds besides its header.
#[derive(Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// One block, CRC-checked payload.
    Inline(&'a [u8]),
    /// Blocks in segment file `file`, in time order.
    Run {
        /// Segment file number.
        file: u32,
        /// The blocks.
        subs: Vec<SubBlock>,
    },
}

/// Encodes a run value: `subs` (non-empty, sorted, not overlapping) of
/// type `t` in segment file `file`.
pub fn encode_run_value(file: u32, t: FieldType, subs: &[SubBlock]) -> Vec<u8> {
    // Callers keep a run's total within u32 (saturating rather than panic).
    let count = subs.iter().fold(0u32, |a, s| a.saturating_add(s.count));
    let (min, max) =
        (subs.first().map_or(0, |s| s.min_time), subs.last().map_or(0, |s| s.max_time));
    let mut v = Vec::with_capacity(RUN_SUBS + SUB_LEN * subs.len());
    v.push(RUN_VERSION);
    v.extend_from_slice(&min.to_be_bytes());
    v.extend_from_slice(&max.to_be_bytes());
    v.extend_from_slice(&count.to_be_bytes());
    v.extend_from_slice(&file.to_be_bytes());
    v.push(t as u8);
    v.extend_from_slice(&(subs.len() as u32).to_be_bytes());
    for s in subs {
        v.extend_from_slice(&s.min_time.to_be_bytes());
        v.extend_from_slice(&s.max_time.to_be_bytes());
        v.extend_from_slice(&s.offset.to_be_bytes());
        v.extend_from_slice(&s.size.to_be_bytes());
        v.extend_from_slice(&s.count.to_be_bytes());
    }
    v
}

/// Decodes a block value of either kind. Inline payloads are CRC-checked;
/// a run's sub-blocks are checked against its header (their payloads are
/// checked when read).
pub fn decode_block_body(v: &[u8]) -> Result<(BlockHeader, Body<'_>), String> {
    if v.first() == Some(&BLOCK_VERSION) {
        let (h, p) = decode_block_value(v)?;
        return Ok((h, Body::Inline(p)));
    }
    let h = block_header(v)?;
    let be32 = |b: &[u8]| u32::from_be_bytes(b.try_into().expect("4 bytes"));
    let be64 = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
    let file = be32(&v[21..25]);
    if v.len() < RUN_SUBS {
        return Err(format!("run value of {} bytes is too short", v.len()));
    }
    let n = be32(&v[BLOCK_HEADER_LEN + 1..RUN_SUBS]) as usize;
    if n == 0 || v.len() != RUN_SUBS + n.saturating_mul(SUB_LEN) {
        return Err(format!("run of {n} blocks in {} bytes", v.len()));
    }
    let mut subs = Vec::with_capacity(n);
    let mut total = 0u64;
    for c in v[RUN_SUBS..].chunks_exact(SUB_LEN) {
        let s = SubBlock {
            min_time: be64(&c[0..8]) as i64,
            max_time: be64(&c[8..16]) as i64,
            offset: be64(&c[16..24]),
            size: be32(&c[24..28]),
            count: be32(&c[28..32]),
        };
        if s.min_time > s.max_time || s.count == 0 || s.size < 5 {
            return Err(format!("bad run block {s:?}"));
        }
        if subs.last().is_some_and(|p: &SubBlock| p.max_time >= s.min_time) {
            return Err("run blocks overlap".into());
        }
        total += u64::from(s.count);
        subs.push(s);
    }
    if total != u64::from(h.count)
        || subs[0].min_time != h.min_time
        || subs[n - 1].max_time != h.max_time
    {
        return Err("run header does not match its blocks".into());
    }
    Ok((h, Body::Run { file, subs }))
}

/// The segment file a block value refers to (runs only).
pub fn run_file(v: &[u8]) -> Option<u32> {
    (v.first() == Some(&RUN_VERSION) && v.len() >= BLOCK_HEADER_LEN)
        .then(|| u32::from_be_bytes(v[21..25].try_into().expect("4 bytes")))
}

/// The bytes a block value stands for: its own length for an inline block,
/// the header plus the blocks in the segment file for a run (what shard
/// sizes report).
pub fn stored_len(v: &[u8]) -> usize {
    if v.first() != Some(&RUN_VERSION) || v.len() < RUN_SUBS {
        return v.len();
    }
    BLOCK_HEADER_LEN
        + v[RUN_SUBS..]
            .chunks_exact(SUB_LEN)
            .map(|c| {
                (u32::from_be_bytes(c[24..28].try_into().expect("4 bytes")) as usize)
                    .saturating_sub(4)
            })
            .sum::<usize>()
}

/// `r` + file + block key: the reference of a run entry to its file.
pub fn run_ref_key(file: u32, block_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + block_key.len());
    k.push(RUN_REF);
    k.extend_from_slice(&file.to_be_bytes());
    k.extend_from_slice(block_key);
    k
}

/// `r` + file: the prefix of every reference to segment file `file`.
pub fn run_ref_prefix(file: u32) -> [u8; 5] {
    let mut k = [RUN_REF; 5];
    k[1..].copy_from_slice(&file.to_be_bytes());
    k
}

/// `k` + composite key.
pub fn keyinfo_key(ckey: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ckey.len() + 1);
    k.push(KEYINFO);
    k.extend_from_slice(ckey);
    k
}

/// What a `k` entry says about a composite key's stored blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's field type.
    pub field_type: FieldType,
    /// Points in its blocks.
    pub points: u64,
    /// Number of blocks.
    pub blocks: u64,
    /// Bytes of its block values.
    pub bytes: u64,
}

impl KeyInfo {
    /// Encodes a `k` value.
    pub fn encode(&self) -> [u8; 26] {
        let mut v = [0u8; 26];
        v[0] = KEYINFO_VERSION;
        v[1] = self.field_type as u8;
        v[2..10].copy_from_slice(&self.points.to_be_bytes());
        v[10..18].copy_from_slice(&self.blocks.to_be_bytes());
        v[18..26].copy_from_slice(&self.bytes.to_be_bytes());
        v
    }

    /// Decodes a `k` value.
    pub fn decode(v: &[u8]) -> Result<KeyInfo, String> {
        if v.len() != 26 || v[0] != KEYINFO_VERSION {
            return Err(format!("key info of {} bytes, version {:?}", v.len(), v.first()));
        }
        let field_type = FieldType::from_block_type(v[1])
            .ok_or_else(|| format!("unknown field type {}", v[1]))?;
        Ok(KeyInfo {
            field_type,
            points: u64::from_be_bytes(v[2..10].try_into().expect("8 bytes")),
            blocks: u64::from_be_bytes(v[10..18].try_into().expect("8 bytes")),
            bytes: u64::from_be_bytes(v[18..26].try_into().expect("8 bytes")),
        })
    }
}

/// The key of chunk `chunk` of WAL entry `seq`.
pub fn wal_key(seq: u64, chunk: u32) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[0] = WAL;
    k[1..9].copy_from_slice(&seq.to_be_bytes());
    k[9..13].copy_from_slice(&chunk.to_be_bytes());
    k
}

/// Splits a WAL key into (seq, chunk).
pub fn parse_wal_key(k: &[u8]) -> Option<(u64, u32)> {
    if k.len() != 13 || k[0] != WAL {
        return None;
    }
    Some((
        u64::from_be_bytes(k[1..9].try_into().ok()?),
        u32::from_be_bytes(k[9..13].try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipped_times_sort_as_numbers() {
        let ts = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in ts.windows(2) {
            assert!(flip(w[0]) < flip(w[1]));
        }
        for t in ts {
            assert_eq!(unflip(flip(t)), t);
        }
    }

    #[test]
    fn block_keys_sort_by_key_then_time() {
        let a = block_key(b"cpu#!~#v", 5);
        let b = block_key(b"cpu#!~#v", 6);
        let c = block_key(b"cpu#!~#v2", i64::MIN);
        let d = block_key(b"cpu,h=a#!~#v", 0);
        assert!(a < b && b < c);
        // "cpu#" < "cpu," is false ('#' = 0x23 < ',' = 0x2c): order follows
        // the composite keys themselves.
        assert_eq!(c < d, b"cpu#!~#v2".as_slice() < b"cpu,h=a#!~#v".as_slice());
        assert_eq!(parse_block_key(&b), Some((&b"cpu#!~#v"[..], 6)));
        assert_eq!(parse_block_key(b"bxx"), None);
    }

    #[test]
    fn block_value_round_trips_and_detects_corruption() {
        let v = encode_block_value(1, 9, 3, &[0, 1, 2, 3]);
        let (h, p) = decode_block_value(&v).unwrap();
        assert_eq!(h.field_type, FieldType::Float);
        assert_eq!((h.min_time, h.max_time, h.count), (1, 9, 3));
        assert_eq!(p, &[0, 1, 2, 3]);
        let mut bad = v.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(decode_block_value(&bad).unwrap_err().contains("CRC"));
        assert!(decode_block_value(&v[..10]).is_err());
        let mut bad = v;
        bad[BLOCK_HEADER_LEN] = 9;
        assert!(decode_block_value(&bad).is_err());
    }

    #[test]
    fn run_value_round_trips_and_is_checked() {
        let subs = [
            SubBlock { min_time: -5, max_time: 10, offset: 5, size: 104, count: 7 },
            SubBlock { min_time: 11, max_time: 40, offset: 109, size: 54, count: 3 },
        ];
        let v = encode_run_value(7, FieldType::Integer, &subs);
        let (h, body) = decode_block_body(&v).unwrap();
        assert_eq!((h.min_time, h.max_time, h.count), (-5, 40, 10));
        assert_eq!(h.field_type, FieldType::Integer);
        assert_eq!(body, Body::Run { file: 7, subs: subs.to_vec() });
        assert_eq!(block_header(&v).unwrap(), h);
        assert_eq!(run_file(&v), Some(7));
        assert_eq!(stored_len(&v), BLOCK_HEADER_LEN + 100 + 50);
        assert!(decode_block_value(&v).is_err());
        // Truncated, overlapping and miscounted runs are refused.
        assert!(decode_block_body(&v[..v.len() - 1]).is_err());
        let mut bad = subs;
        bad[1].min_time = 10;
        assert!(decode_block_body(&encode_run_value(7, FieldType::Integer, &bad)).is_err());
        let mut bad = v.clone();
        bad[20] ^= 1;
        assert!(decode_block_body(&bad).is_err());
        // Inline values decode as before.
        let inline = encode_block_value(1, 9, 3, &[0, 1, 2, 3]);
        assert_eq!(decode_block_body(&inline).unwrap().1, Body::Inline(&[0, 1, 2, 3]));
        assert_eq!(run_file(&inline), None);
        assert_eq!(stored_len(&inline), inline.len());
        assert!(run_ref_key(7, b"bk").starts_with(&run_ref_prefix(7)));
    }

    proptest::proptest! {
        /// Damaged values (a byte changed, cut short) give errors, never
        /// a panic.
        #[test]
        fn damaged_block_values_never_panic(
            n in 1usize..4,
            at in 0usize..200,
            byte in proptest::prelude::any::<u8>(),
            cut in 0usize..200,
            inline in proptest::prelude::any::<bool>(),
        ) {
            let subs: Vec<SubBlock> = (0..n as i64)
                .map(|i| SubBlock {
                    min_time: i * 10,
                    max_time: i * 10 + 5,
                    offset: 5 + i as u64 * 20,
                    size: 20,
                    count: 2,
                })
                .collect();
            let mut v = if inline {
                encode_block_value(1, 9, 3, &[0, 1, 2, 3])
            } else {
                encode_run_value(3, FieldType::Float, &subs)
            };
            if let Some(b) = v.get_mut(at) {
                *b = byte;
            }
            v.truncate(v.len().saturating_sub(cut % 8));
            let _ = decode_block_body(&v);
            let _ = block_header(&v);
            let _ = run_file(&v);
            let _ = stored_len(&v);
        }
    }

    #[test]
    fn keyinfo_and_wal_keys_round_trip() {
        let ki = KeyInfo { field_type: FieldType::String, points: 5, blocks: 2, bytes: 99 };
        assert_eq!(KeyInfo::decode(&ki.encode()).unwrap(), ki);
        assert!(KeyInfo::decode(&[1, 2]).is_err());
        assert_eq!(parse_wal_key(&wal_key(42, 3)), Some((42, 3)));
        assert!(wal_key(1, 9) < wal_key(2, 0));
    }
}
