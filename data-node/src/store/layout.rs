//! The on-disk layout of a shard tree: key prefixes and value encodings.
//!
//! ```text
//! b <composite key> 00 <min_time: i64, sign bit flipped, BE>   block
//!     value: 01 | min_time i64 BE | max_time i64 BE | count u32 BE
//!            | crc32(payload) u32 BE | payload (TSM block: type byte first)
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
/// Metadata key: wall-clock ns of the last modification (i64 BE).
pub const META_LAST_MODIFIED: &[u8] = b"mlast_modified";

const BLOCK_VERSION: u8 = 1;
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

/// Decodes a block value's header, without checking the payload.
pub fn block_header(v: &[u8]) -> Result<BlockHeader, String> {
    if v.len() < BLOCK_HEADER_LEN + 1 {
        return Err(format!("block value of {} bytes is too short", v.len()));
    }
    if v[0] != BLOCK_VERSION {
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

/// Decodes a block value: header and CRC-checked payload.
pub fn decode_block_value(v: &[u8]) -> Result<(BlockHeader, &[u8]), String> {
    let h = block_header(v)?;
    let stored = u32::from_be_bytes(v[21..25].try_into().expect("4 bytes"));
    let payload = &v[BLOCK_HEADER_LEN..];
    let computed = crc32fast::hash(payload);
    if stored != computed {
        return Err(format!("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"));
    }
    Ok((h, payload))
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
    fn keyinfo_and_wal_keys_round_trip() {
        let ki = KeyInfo { field_type: FieldType::String, points: 5, blocks: 2, bytes: 99 };
        assert_eq!(KeyInfo::decode(&ki.encode()).unwrap(), ki);
        assert!(KeyInfo::decode(&[1, 2]).is_err());
        assert_eq!(parse_wal_key(&wal_key(42, 3)), Some((42, 3)));
        assert!(wal_key(1, 9) < wal_key(2, 0));
    }
}
