//! Simple8b: packs unsigned integers below 2^60 into 64-bit words
//! (`pkg/encoding/simple8b`, spec §4.6).
//!
//! Each word has a 4-bit selector in bits 63..60 and 60 payload bits. Value
//! `k` of a word sits at bit offset `k * bits`. Selectors 0 and 1 are runs of
//! 240 and 120 ones. Every word is full: there is no padding, so the encoder
//! only picks a selector whose value count does not exceed what remains.

use crate::error::Corruption;

/// The largest value simple8b can store.
pub const MAX_VALUE: u64 = (1 << 60) - 1;

/// Values per word, by selector.
pub const SELECTOR_COUNT: [usize; 16] = [240, 120, 60, 30, 20, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1];
/// Bits per value, by selector.
pub const SELECTOR_BITS: [u32; 16] = [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 60];

/// Encodes `values` as big-endian simple8b words appended to `out`. Fails if
/// a value exceeds [`MAX_VALUE`] (callers check first and fall back to raw).
pub fn encode(values: &[u64], out: &mut Vec<u8>) -> Result<(), u64> {
    let mut i = 0;
    let n = values.len();
    while i < n {
        let rem = n - i;
        // Runs of ones: selectors 0 (240) and 1 (120), densest first.
        if values[i] == 1 && rem >= 120 {
            let run = values[i..i + rem.min(240)].iter().take_while(|&&v| v == 1).count();
            if run == 240 {
                out.extend_from_slice(&0u64.to_be_bytes());
                i += 240;
                continue;
            }
            if run >= 120 {
                out.extend_from_slice(&(1u64 << 60).to_be_bytes());
                i += 120;
                continue;
            }
        }
        // Feasibility is monotone in the selector: if the first n_k values fit
        // in bits_k, every sparser selector fits too. Walk from the sparsest
        // to the densest and keep the last one that fits.
        let mut acc = 0u64;
        let mut seen = 0usize;
        let mut best = 0usize;
        for k in (2..16).rev() {
            let cnt = SELECTOR_COUNT[k];
            if cnt > rem {
                break;
            }
            for &v in &values[i + seen..i + cnt] {
                acc |= v;
            }
            seen = cnt;
            if SELECTOR_BITS[k] < 64 && acc >> SELECTOR_BITS[k] != 0 {
                break;
            }
            best = k;
        }
        if best == 0 {
            return Err(values[i]);
        }
        let cnt = SELECTOR_COUNT[best];
        let bits = SELECTOR_BITS[best];
        let mut word = (best as u64) << 60;
        for (j, &v) in values[i..i + cnt].iter().enumerate() {
            word |= v << (j as u32 * bits);
        }
        out.extend_from_slice(&word.to_be_bytes());
        i += cnt;
    }
    Ok(())
}

/// Counts the values held by `words` (a whole number of 8-byte words).
pub fn count(words: &[u8]) -> Result<usize, Corruption> {
    if !words.len().is_multiple_of(8) {
        return Err(Corruption::invalid(
            "simple8b data",
            format!("length {} is not a multiple of 8", words.len()),
        ));
    }
    Ok(words.chunks_exact(8).map(|c| SELECTOR_COUNT[(c[0] >> 4) as usize]).sum())
}

#[inline(always)]
fn unpack<const N: usize, const BITS: u32>(w: u64, out: &mut Vec<u64>) {
    let mask = (1u64 << BITS) - 1;
    let arr: [u64; N] = std::array::from_fn(|j| (w >> (j as u32 * BITS)) & mask);
    out.extend_from_slice(&arr);
}

/// Decodes big-endian simple8b `words`, appending the values to `out`. At
/// most `limit` values are accepted (checked before anything is allocated).
pub fn decode(words: &[u8], limit: usize, out: &mut Vec<u64>) -> Result<(), Corruption> {
    let total = count(words)?;
    if total > limit {
        return Err(Corruption::invalid(
            "simple8b data",
            format!("holds {total} values, expected at most {limit}"),
        ));
    }
    out.reserve(total);
    for c in words.chunks_exact(8) {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        match w >> 60 {
            0 => out.extend(std::iter::repeat_n(1, 240)),
            1 => out.extend(std::iter::repeat_n(1, 120)),
            2 => unpack::<60, 1>(w, out),
            3 => unpack::<30, 2>(w, out),
            4 => unpack::<20, 3>(w, out),
            5 => unpack::<15, 4>(w, out),
            6 => unpack::<12, 5>(w, out),
            7 => unpack::<10, 6>(w, out),
            8 => unpack::<8, 7>(w, out),
            9 => unpack::<7, 8>(w, out),
            10 => unpack::<6, 10>(w, out),
            11 => unpack::<5, 12>(w, out),
            12 => unpack::<4, 15>(w, out),
            13 => unpack::<3, 20>(w, out),
            14 => unpack::<2, 30>(w, out),
            _ => unpack::<1, 60>(w, out),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[u64]) -> Vec<u8> {
        let mut b = Vec::new();
        encode(values, &mut b).unwrap();
        let mut out = Vec::new();
        decode(&b, usize::MAX, &mut out).unwrap();
        assert_eq!(out, values);
        assert_eq!(count(&b).unwrap(), values.len());
        b
    }

    #[test]
    fn ones_runs_use_selectors_0_and_1() {
        let b = round_trip(&[1; 240]);
        assert_eq!(b, vec![0; 8]);
        let b = round_trip(&[1; 120]);
        assert_eq!(b[0] >> 4, 1);
        round_trip(&[1; 361]);
    }

    #[test]
    fn mixed_widths_round_trip() {
        let v: Vec<u64> = (0..1000u64).map(|i| (i * 7919) % (1 << (i % 61))).collect();
        round_trip(&v);
        round_trip(&[MAX_VALUE, 0, MAX_VALUE]);
        round_trip(&[]);
        round_trip(&[0; 7]);
    }

    #[test]
    fn too_large_value_is_rejected() {
        assert!(encode(&[1, MAX_VALUE + 1], &mut Vec::new()).is_err());
    }

    #[test]
    fn limit_is_enforced() {
        assert!(decode(&[0; 8], 239, &mut Vec::new()).is_err());
        assert!(decode(&[0; 7], 1000, &mut Vec::new()).is_err());
    }
}
