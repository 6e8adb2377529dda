//! Timestamp encoding of a block (`timestamp.go`, spec §4.5).
//!
//! The header byte's high nibble is the encoding (0 raw, 1 simple8b, 2 RLE),
//! the low nibble log10 of the divisor that every delta shares.

use super::simple8b;
use super::varint::{put_uvarint, uvarint};
use crate::error::Corruption;

const RAW: u8 = 0;
const PACKED: u8 = 1;
const RLE: u8 = 2;

/// Encodes sorted, unique timestamps. An empty slice encodes to nothing.
pub fn encode(ts: &[i64], out: &mut Vec<u8>) {
    let Some(&first) = ts.first() else { return };
    if ts.len() == 1 {
        out.push((PACKED << 4) | 12);
        out.extend_from_slice(&(first as u64).to_be_bytes());
        return;
    }
    let d1 = (ts[1] as u64).wrapping_sub(ts[0] as u64);
    let mut rle = true;
    let mut max = 0u64;
    for w in ts.windows(2) {
        let d = (w[1] as u64).wrapping_sub(w[0] as u64);
        rle &= d == d1;
        max = max.max(d);
    }
    if rle {
        let (div, log) = common_divisor(std::iter::once(d1));
        out.push((RLE << 4) | log);
        out.extend_from_slice(&(first as u64).to_be_bytes());
        put_uvarint(out, d1 / div);
        put_uvarint(out, ts.len() as u64);
        return;
    }
    if max > simple8b::MAX_VALUE {
        out.push(RAW << 4);
        out.extend_from_slice(&(first as u64).to_be_bytes());
        for w in ts.windows(2) {
            out.extend_from_slice(&(w[1] as u64).wrapping_sub(w[0] as u64).to_be_bytes());
        }
        return;
    }
    let deltas = ts.windows(2).map(|w| (w[1] as u64).wrapping_sub(w[0] as u64));
    let (div, log) = common_divisor(deltas.clone());
    out.push((PACKED << 4) | log);
    out.extend_from_slice(&(first as u64).to_be_bytes());
    let scaled: Vec<u64> =
        if div == 1 { deltas.collect() } else { deltas.map(|d| d / div).collect() };
    // Every scaled delta is at most max <= MAX_VALUE, so this cannot fail.
    let _ = simple8b::encode(&scaled, out);
}

/// The largest power of ten (at most 10^12) dividing every delta.
fn common_divisor(deltas: impl Iterator<Item = u64>) -> (u64, u8) {
    let mut div = 1_000_000_000_000u64;
    let mut log = 12u8;
    for d in deltas {
        while log > 0 && !d.is_multiple_of(div) {
            div /= 10;
            log -= 1;
        }
        if log == 0 {
            break;
        }
    }
    (div, log)
}

/// Counts the timestamps in an encoded section without decoding it.
pub fn count(b: &[u8]) -> Result<usize, Corruption> {
    let Some(&h) = b.first() else { return Ok(0) };
    match h >> 4 {
        RAW => {
            if !(b.len() - 1).is_multiple_of(8) {
                return Err(Corruption::invalid("raw timestamps", "length is not 1 + 8n"));
            }
            Ok((b.len() - 1) / 8)
        }
        PACKED => {
            if b.len() < 9 {
                return Err(Corruption::truncated("packed timestamps"));
            }
            Ok(1 + simple8b::count(&b[9..])?)
        }
        RLE => {
            if b.len() < 9 {
                return Err(Corruption::truncated("RLE timestamps"));
            }
            let (_, n) = uvarint(&b[9..], "RLE timestamp delta")?;
            let (count, _) = uvarint(&b[9 + n..], "RLE timestamp count")?;
            usize::try_from(count)
                .map_err(|_| Corruption::invalid("RLE timestamps", "count overflows"))
        }
        e => Err(Corruption::invalid("timestamp encoding", format!("unknown encoding {e}"))),
    }
}

/// Decodes a timestamp section into `out` (cleared first), accepting at most
/// `limit` timestamps.
pub fn decode(b: &[u8], limit: usize, out: &mut Vec<i64>) -> Result<(), Corruption> {
    out.clear();
    let Some(&h) = b.first() else { return Ok(()) };
    let div = 10u64.wrapping_pow(u32::from(h & 0x0f));
    let n = count(b)?;
    if n > limit {
        return Err(Corruption::TooLarge {
            what: "timestamps in block",
            value: n as u64,
            limit: limit as u64,
        });
    }
    match h >> 4 {
        RAW => {
            out.reserve(n);
            let mut acc = 0u64;
            for (i, c) in b[1..].chunks_exact(8).enumerate() {
                let v = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                acc = if i == 0 { v } else { acc.wrapping_add(v) };
                out.push(acc as i64);
            }
        }
        PACKED => {
            let first = u64::from_be_bytes(b[1..9].try_into().expect("8 bytes"));
            let mut deltas = Vec::new();
            simple8b::decode(&b[9..], limit, &mut deltas)?;
            out.reserve(deltas.len() + 1);
            out.push(first as i64);
            let mut acc = first;
            for d in deltas {
                acc = acc.wrapping_add(d.wrapping_mul(div));
                out.push(acc as i64);
            }
        }
        _ => {
            let first = u64::from_be_bytes(b[1..9].try_into().expect("8 bytes"));
            let (delta, _) = uvarint(&b[9..], "RLE timestamp delta")?;
            let step = delta.wrapping_mul(div);
            out.reserve(n);
            let mut acc = first;
            for _ in 0..n {
                out.push(acc as i64);
                acc = acc.wrapping_add(step);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ts: &[i64]) -> Vec<u8> {
        let mut b = Vec::new();
        encode(ts, &mut b);
        let mut out = Vec::new();
        decode(&b, usize::MAX, &mut out).unwrap();
        assert_eq!(out, ts);
        b
    }

    #[test]
    fn spec_vectors() {
        assert_eq!(
            round_trip(&[1_000_000_000, 2_000_000_000, 3_000_000_000]),
            [0x29, 0, 0, 0, 0, 0x3B, 0x9A, 0xCA, 0x00, 0x01, 0x03]
        );
        assert_eq!(round_trip(&[1_000_000_000]), [0x1C, 0, 0, 0, 0, 0x3B, 0x9A, 0xCA, 0x00]);
    }

    #[test]
    fn encodings_are_chosen_as_go_does() {
        assert_eq!(round_trip(&[5, 7])[0], 0x20);
        assert_eq!(round_trip(&[0, 10, 30, 31])[0], 0x10);
        assert_eq!(round_trip(&[0, 1000, 3000])[0], 0x13);
        assert_eq!(round_trip(&[i64::MIN, 0])[0], 0x20);
        assert_eq!(round_trip(&[i64::MIN, 0, i64::MAX])[0], 0x00);
        assert_eq!(round_trip(&[i64::MIN, 0, 1])[0], 0x00);
        round_trip(&[-5, -3, 0, 7, 1 << 40]);
    }

    #[test]
    fn huge_rle_count_is_rejected() {
        let mut b = vec![0x20, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        put_uvarint(&mut b, u64::MAX);
        assert!(decode(&b, 1000, &mut Vec::new()).is_err());
    }
}
