//! Unsigned LEB128 varints (Go `binary.PutUvarint` / `binary.Uvarint`).

use crate::error::Corruption;

/// Appends `v` as a uvarint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a uvarint from the start of `b`: the value and the bytes used.
/// Like Go, more than 10 bytes or a 10th byte above 1 is an overflow.
#[inline]
pub fn uvarint(b: &[u8], what: &'static str) -> Result<(u64, usize), Corruption> {
    let mut x: u64 = 0;
    let mut s: u32 = 0;
    for (i, &byte) in b.iter().enumerate() {
        if i == 10 {
            return Err(Corruption::invalid(what, "uvarint overflows 64 bits"));
        }
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return Err(Corruption::invalid(what, "uvarint overflows 64 bits"));
            }
            return Ok((x | (u64::from(byte) << s), i + 1));
        }
        x |= u64::from(byte & 0x7f) << s;
        s += 7;
    }
    Err(Corruption::truncated(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edges() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(uvarint(&b, "t").unwrap(), (v, b.len()));
        }
        assert!(uvarint(&[0x80], "t").is_err());
        assert!(uvarint(&[0xff; 11], "t").is_err());
        assert!(
            uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], "t").is_err()
        );
    }
}
