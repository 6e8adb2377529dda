//! Boolean value encoding (`bool.go`, spec §4.10): header `0x10`,
//! uvarint(count), then the bits packed most-significant first.

use super::varint::{put_uvarint, uvarint};
use crate::error::Corruption;

const BITPACKED: u8 = 1;

/// Encodes booleans appended to `out`.
pub fn encode(values: &[bool], out: &mut Vec<u8>) {
    out.push(BITPACKED << 4);
    put_uvarint(out, values.len() as u64);
    for chunk in values.chunks(8) {
        let mut byte = 0u8;
        for (i, &v) in chunk.iter().enumerate() {
            byte |= u8::from(v) << (7 - i);
        }
        out.push(byte);
    }
}

/// Decodes booleans into `out` (cleared first); the count must equal `expected`.
pub fn decode(b: &[u8], expected: usize, out: &mut Vec<bool>) -> Result<(), Corruption> {
    out.clear();
    let Some(&h) = b.first() else {
        return if expected == 0 { Ok(()) } else { Err(Corruption::truncated("boolean values")) };
    };
    if h >> 4 != BITPACKED {
        return Err(Corruption::invalid(
            "boolean encoding",
            format!("unknown encoding {}", h >> 4),
        ));
    }
    let (n, used) = uvarint(&b[1..], "boolean count")?;
    let bits = &b[1 + used..];
    if n != expected as u64 {
        return Err(Corruption::invalid("block", format!("{n} values for {expected} timestamps")));
    }
    if (bits.len() as u64) < n.div_ceil(8) {
        return Err(Corruption::truncated("boolean values"));
    }
    out.reserve(expected);
    out.extend((0..expected).map(|i| bits[i / 8] & (0x80 >> (i % 8)) != 0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector() {
        let mut b = Vec::new();
        encode(&[true, false, true], &mut b);
        assert_eq!(b, [0x10, 0x03, 0xA0]);
        let mut out = Vec::new();
        decode(&b, 3, &mut out).unwrap();
        assert_eq!(out, [true, false, true]);
        assert!(decode(&b[..2], 3, &mut out).is_err());
    }
}
