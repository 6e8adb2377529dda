//! MSB-first bit writer and reader for the Gorilla float codec.

use crate::error::Corruption;

/// Writes bits most-significant first into a byte vector.
pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits, in the low `n` bits (oldest highest).
    acc: u64,
    n: u32,
}

impl<'a> BitWriter<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter { out, acc: 0, n: 0 }
    }

    /// Writes the low `k` bits of `v` (`k` in 0..=64; higher bits of `v` must be 0).
    #[inline(always)]
    pub fn write(&mut self, v: u64, k: u32) {
        if k == 0 {
            return;
        }
        let free = 64 - self.n;
        if k < free {
            self.acc = (self.acc << k) | v;
            self.n += k;
        } else if k == free {
            self.acc = if k == 64 { v } else { (self.acc << k) | v };
            self.out.extend_from_slice(&self.acc.to_be_bytes());
            self.acc = 0;
            self.n = 0;
        } else {
            let rem = k - free;
            self.acc = (self.acc << free) | (v >> rem);
            self.out.extend_from_slice(&self.acc.to_be_bytes());
            self.acc = v & ((1u64 << rem) - 1);
            self.n = rem;
        }
    }

    /// Flushes the pending bits, zero-padded to a byte boundary.
    pub fn finish(self) {
        if self.n > 0 {
            let v = self.acc << (64 - self.n);
            let bytes = self.n.div_ceil(8) as usize;
            self.out.extend_from_slice(&v.to_be_bytes()[..bytes]);
        }
    }
}

/// Reads bits most-significant first from a byte slice.
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Buffered bits, left-aligned: the next bit is bit 63. Bits below the
    /// `n` valid ones may hold a prefix of the next byte (never wrong bits).
    acc: u64,
    n: u32,
}

impl<'a> BitReader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, acc: 0, n: 0 }
    }

    #[inline(always)]
    fn refill(&mut self) {
        if self.n > 56 {
            return;
        }
        if self.pos + 8 <= self.data.len() {
            let w =
                u64::from_be_bytes(self.data[self.pos..self.pos + 8].try_into().expect("8 bytes"));
            self.acc |= w >> self.n;
            let bytes = (64 - self.n) / 8;
            self.pos += bytes as usize;
            self.n += bytes * 8;
        } else {
            while self.n <= 56 && self.pos < self.data.len() {
                self.acc |= u64::from(self.data[self.pos]) << (56 - self.n);
                self.pos += 1;
                self.n += 8;
            }
        }
    }

    /// Reads one bit.
    #[inline(always)]
    pub fn read_bit(&mut self) -> Result<bool, Corruption> {
        if self.n == 0 {
            self.refill();
            if self.n == 0 {
                return Err(Corruption::truncated("float bit stream"));
            }
        }
        let b = self.acc >> 63 != 0;
        self.acc <<= 1;
        self.n -= 1;
        Ok(b)
    }

    /// Reads `k` bits (`k` in 0..=64) as the low bits of the result.
    #[inline(always)]
    pub fn read(&mut self, k: u32) -> Result<u64, Corruption> {
        if k == 0 {
            return Ok(0);
        }
        if k > 56 {
            let hi = self.read(k - 32)?;
            let lo = self.read(32)?;
            return Ok((hi << 32) | lo);
        }
        if self.n < k {
            self.refill();
            if self.n < k {
                return Err(Corruption::truncated("float bit stream"));
            }
        }
        let v = self.acc >> (64 - k);
        self.acc <<= k;
        self.n -= k;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_mixed_widths() {
        let items: Vec<(u64, u32)> = (0..500u64)
            .map(|i| {
                let k = (i * 13 % 65) as u32;
                let v = if k == 0 { 0 } else { i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - k) };
                (v, k)
            })
            .collect();
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        for &(v, k) in &items {
            w.write(v, k);
        }
        w.finish();
        let mut r = BitReader::new(&out);
        for &(v, k) in &items {
            assert_eq!(r.read(k).unwrap(), v, "k={k}");
        }
    }
}
