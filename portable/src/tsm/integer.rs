//! Integer and unsigned value encoding (`int.go`, spec §4.7 and §4.8).
//!
//! Values are delta-encoded (the first against 0) and zigzagged, then stored
//! as RLE, raw 64-bit words or simple8b. Unsigned values use the same codec
//! on their bits reinterpreted as `i64`.

use super::simple8b;
use super::varint::{put_uvarint, uvarint};
use crate::error::Corruption;

const RAW: u8 = 0;
const PACKED: u8 = 1;
const RLE: u8 = 2;

#[inline(always)]
fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

#[inline(always)]
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes integer values appended to `out`. Empty input encodes to nothing.
pub fn encode(values: &[i64], out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    let mut zz = Vec::with_capacity(values.len());
    let mut prev = 0i64;
    let mut max = 0u64;
    for &v in values {
        let z = zigzag(v.wrapping_sub(prev));
        max = max.max(z);
        zz.push(z);
        prev = v;
    }
    if zz.len() > 2 && zz[2..].iter().all(|&z| z == zz[1]) {
        out.push(RLE << 4);
        out.extend_from_slice(&zz[0].to_be_bytes());
        put_uvarint(out, zz[1]);
        put_uvarint(out, (zz.len() - 1) as u64);
        return;
    }
    if max > simple8b::MAX_VALUE {
        out.push(RAW << 4);
        for z in zz {
            out.extend_from_slice(&z.to_be_bytes());
        }
        return;
    }
    out.push(PACKED << 4);
    out.extend_from_slice(&zz[0].to_be_bytes());
    // max <= MAX_VALUE, so this cannot fail.
    let _ = simple8b::encode(&zz[1..], out);
}

/// Encodes unsigned values (the integer codec on the same bits).
pub fn encode_unsigned(values: &[u64], out: &mut Vec<u8>) {
    // Reinterpreting the slice needs no copy in spirit, but safe Rust has no
    // cast between slices of different element types: convert.
    let v: Vec<i64> = values.iter().map(|&u| u as i64).collect();
    encode(&v, out);
}

/// Decodes integer values into `out` (cleared first). `expected` is the
/// number of timestamps of the block: more values is corruption, and no
/// allocation exceeds it.
pub fn decode(b: &[u8], expected: usize, out: &mut Vec<i64>) -> Result<(), Corruption> {
    out.clear();
    let Some(&h) = b.first() else { return Ok(()) };
    let body = &b[1..];
    match h >> 4 {
        RAW => {
            if !body.len().is_multiple_of(8) {
                return Err(Corruption::invalid("raw integers", "length is not 1 + 8n"));
            }
            check_count(body.len() / 8, expected)?;
            out.reserve(body.len() / 8);
            let mut acc = 0i64;
            for c in body.chunks_exact(8) {
                let z = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                acc = acc.wrapping_add(unzigzag(z));
                out.push(acc);
            }
        }
        PACKED => {
            if body.len() < 8 {
                return Err(Corruption::truncated("packed integers"));
            }
            let first = unzigzag(u64::from_be_bytes(body[..8].try_into().expect("8 bytes")));
            check_count(1 + simple8b::count(&body[8..])?, expected)?;
            let mut zz = Vec::new();
            simple8b::decode(&body[8..], expected, &mut zz)?;
            out.reserve(zz.len() + 1);
            out.push(first);
            let mut acc = first;
            for z in zz {
                acc = acc.wrapping_add(unzigzag(z));
                out.push(acc);
            }
        }
        RLE => {
            if body.len() < 8 {
                return Err(Corruption::truncated("RLE integers"));
            }
            let first = unzigzag(u64::from_be_bytes(body[..8].try_into().expect("8 bytes")));
            let (delta, n) = uvarint(&body[8..], "RLE integer delta")?;
            let (repeat, _) = uvarint(&body[8 + n..], "RLE integer count")?;
            let total = repeat.checked_add(1).and_then(|t| usize::try_from(t).ok());
            let total =
                total.ok_or_else(|| Corruption::invalid("RLE integers", "count overflows"))?;
            check_count(total, expected)?;
            let step = unzigzag(delta);
            out.reserve(total);
            let mut acc = first;
            for _ in 0..total {
                out.push(acc);
                acc = acc.wrapping_add(step);
            }
        }
        e => return Err(Corruption::invalid("integer encoding", format!("unknown encoding {e}"))),
    }
    Ok(())
}

/// Decodes unsigned values into `out` (cleared first).
pub fn decode_unsigned(b: &[u8], expected: usize, out: &mut Vec<u64>) -> Result<(), Corruption> {
    let mut tmp = Vec::new();
    decode(b, expected, &mut tmp)?;
    out.clear();
    out.extend(tmp.into_iter().map(|v| v as u64));
    Ok(())
}

fn check_count(found: usize, expected: usize) -> Result<(), Corruption> {
    if found != expected {
        return Err(Corruption::invalid(
            "block",
            format!("{found} values for {expected} timestamps"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &[i64]) -> Vec<u8> {
        let mut b = Vec::new();
        encode(v, &mut b);
        let mut out = Vec::new();
        decode(&b, v.len(), &mut out).unwrap();
        assert_eq!(out, v);
        b
    }

    #[test]
    fn spec_vector_rle() {
        assert_eq!(round_trip(&[5, 5, 5]), [0x20, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0x00, 0x02]);
    }

    #[test]
    fn encodings_and_extremes() {
        assert_eq!(round_trip(&[1])[0], 0x10);
        assert_eq!(round_trip(&[1, 2])[0], 0x10);
        assert_eq!(round_trip(&[i64::MIN, i64::MAX, 0])[0], 0x00);
        assert_eq!(round_trip(&[1 << 61])[0], 0x00);
        round_trip(&[-1, -2, 3, 1000, -1_000_000, 0, 0, 7]);
        round_trip(&[i64::MAX, i64::MAX - 1, i64::MAX - 2]);
    }

    #[test]
    fn unsigned_round_trip() {
        let v = [0u64, u64::MAX, 1, u64::MAX / 2];
        let mut b = Vec::new();
        encode_unsigned(&v, &mut b);
        let mut out = Vec::new();
        decode_unsigned(&b, v.len(), &mut out).unwrap();
        assert_eq!(out, v);
    }

    #[test]
    fn count_mismatch_is_corruption() {
        let mut b = Vec::new();
        encode(&[1, 2, 3], &mut b);
        assert!(decode(&b, 2, &mut Vec::new()).is_err());
        assert!(decode(&b, 4, &mut Vec::new()).is_err());
    }
}
