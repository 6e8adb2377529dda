//! String value encoding (`string.go`, spec §4.11): header `0x10`, then a
//! Snappy *block* (not framed) of uvarint(len) + bytes per value.

use super::varint::{put_uvarint, uvarint};
use crate::error::{Corruption, Error};

const SNAPPY: u8 = 1;

/// The largest expansion a Snappy block can claim: a 3-byte copy emits at
/// most 64 bytes. Anything claiming more is corrupt (checked before allocating).
const MAX_SNAPPY_RATIO: usize = 24;

/// Encodes strings appended to `out`.
pub fn encode<S: AsRef<[u8]>>(values: &[S], out: &mut Vec<u8>) -> Result<(), Error> {
    let raw_len: usize = values.iter().map(|s| s.as_ref().len() + 10).sum();
    let mut raw = Vec::with_capacity(raw_len);
    for s in values {
        put_uvarint(&mut raw, s.as_ref().len() as u64);
        raw.extend_from_slice(s.as_ref());
    }
    out.push(SNAPPY << 4);
    let start = out.len();
    out.resize(start + snap::raw::max_compress_len(raw.len()), 0);
    let n = snap::raw::Encoder::new()
        .compress(&raw, &mut out[start..])
        .map_err(|e| Error::invalid_input(format!("snappy: {e}")))?;
    out.truncate(start + n);
    Ok(())
}

/// Decodes strings into `out` (cleared first); the count must equal
/// `expected`. Bytes that are not UTF-8 are replaced (U+FFFD).
pub fn decode(b: &[u8], expected: usize, out: &mut Vec<String>) -> Result<(), Corruption> {
    out.clear();
    let Some(&h) = b.first() else {
        return if expected == 0 { Ok(()) } else { Err(Corruption::truncated("string values")) };
    };
    if h >> 4 != SNAPPY {
        return Err(Corruption::invalid("string encoding", format!("unknown encoding {}", h >> 4)));
    }
    let body = &b[1..];
    let len = snap::raw::decompress_len(body)
        .map_err(|e| Corruption::invalid("snappy block", e.to_string()))?;
    let limit = body.len().saturating_mul(MAX_SNAPPY_RATIO).saturating_add(64);
    if len > limit {
        return Err(Corruption::invalid(
            "snappy block",
            format!("claims {len} bytes from {}", body.len()),
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Corruption::invalid("snappy block", e.to_string()))?;
    out.reserve(expected.min(raw.len()));
    let mut pos = 0;
    while pos < raw.len() {
        let (n, used) = uvarint(&raw[pos..], "string length")?;
        pos += used;
        let end =
            usize::try_from(n).ok().and_then(|n| pos.checked_add(n)).filter(|&e| e <= raw.len());
        let Some(end) = end else { return Err(Corruption::truncated("string value")) };
        if out.len() == expected {
            return Err(Corruption::invalid(
                "block",
                format!("more values than its {expected} timestamps"),
            ));
        }
        out.push(match std::str::from_utf8(&raw[pos..end]) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(&raw[pos..end]).into_owned(),
        });
        pos = end;
    }
    if out.len() != expected {
        return Err(Corruption::invalid(
            "block",
            format!("{} values for {expected} timestamps", out.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector_and_round_trip() {
        let mut b = Vec::new();
        encode(&["a", "bc"], &mut b).unwrap();
        assert_eq!(b, [0x10, 0x05, 0x10, 0x01, 0x61, 0x02, 0x62, 0x63]);
        let v = vec![String::new(), "héllo \"x\" \\ ,=".to_string(), "日本".repeat(100)];
        let mut b = Vec::new();
        encode(&v, &mut b).unwrap();
        let mut out = Vec::new();
        decode(&b, 3, &mut out).unwrap();
        assert_eq!(out, v);
        assert!(decode(&b, 2, &mut out).is_err());
    }
}
