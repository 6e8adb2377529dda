//! A strict gzip reader (RFC 1952) over flate2's raw inflate.
//!
//! flate2's `GzDecoder` can report a clean end of stream when the input is
//! cut inside the deflate data, which would turn a truncated `.tar.gz` into
//! a silently shorter archive. This reader fails instead: every member must
//! end with its deflate end-of-stream, CRC32 and ISIZE, which are checked.
//! Concatenated members are read in sequence (pgzip and `gzip` both may
//! write several); anything after a member that is not another member is an
//! error, as in Go's `gzip.Reader`.

use std::io::{self, Read};

use flate2::{Decompress, FlushDecompress, Status};

const IN_BUF: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body,
    Done,
}

/// Reads the decompressed bytes of a gzip stream.
pub struct GzipReader<R: Read> {
    r: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    state: State,
    inflate: Decompress,
    crc: crc32fast::Hasher,
    size: u32,
    members: u64,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn truncated(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, format!("truncated gzip stream ({what})"))
}

impl<R: Read> GzipReader<R> {
    /// A reader of the gzip stream `r`.
    pub fn new(r: R) -> Self {
        GzipReader {
            r,
            buf: vec![0u8; IN_BUF].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            state: State::Header,
            inflate: Decompress::new(false),
            crc: crc32fast::Hasher::new(),
            size: 0,
            members: 0,
        }
    }

    /// Refills the input buffer if empty; false at the end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.r.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn byte(&mut self, what: &str) -> io::Result<u8> {
        if !self.fill()? {
            return Err(truncated(what));
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn skip_zero_terminated(&mut self, what: &str) -> io::Result<()> {
        while self.byte(what)? != 0 {}
        Ok(())
    }

    /// Parses a member header; `Ok(false)` at a clean end after a member.
    fn header(&mut self) -> io::Result<bool> {
        if !self.fill()? {
            if self.members > 0 {
                return Ok(false);
            }
            return Err(truncated("empty input"));
        }
        let mut h = [0u8; 10];
        for (i, b) in h.iter_mut().enumerate() {
            *b = self.byte(if i < 2 { "magic" } else { "header" })?;
        }
        if h[0] != 0x1f || h[1] != 0x8b {
            return Err(bad(format!("not gzip data (magic {:02x} {:02x})", h[0], h[1])));
        }
        if h[2] != 8 {
            return Err(bad(format!("unknown gzip compression method {}", h[2])));
        }
        let flg = h[3];
        if flg & 0xe0 != 0 {
            return Err(bad(format!("reserved gzip flags {flg:#04x}")));
        }
        if flg & 0x04 != 0 {
            let n = u16::from_le_bytes([self.byte("FEXTRA")?, self.byte("FEXTRA")?]);
            for _ in 0..n {
                self.byte("FEXTRA")?;
            }
        }
        if flg & 0x08 != 0 {
            self.skip_zero_terminated("FNAME")?;
        }
        if flg & 0x10 != 0 {
            self.skip_zero_terminated("FCOMMENT")?;
        }
        if flg & 0x02 != 0 {
            self.byte("FHCRC")?;
            self.byte("FHCRC")?;
        }
        self.inflate.reset(false);
        self.crc = crc32fast::Hasher::new();
        self.size = 0;
        Ok(true)
    }

    fn trailer(&mut self) -> io::Result<()> {
        let mut t = [0u8; 8];
        for b in t.iter_mut() {
            *b = self.byte("trailer")?;
        }
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        let computed = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
        if crc != computed {
            return Err(bad(format!(
                "gzip CRC mismatch: stored {crc:#010x}, computed {computed:#010x}"
            )));
        }
        if size != self.size {
            return Err(bad(format!(
                "gzip length mismatch: stored {size}, decompressed {}",
                self.size
            )));
        }
        self.members += 1;
        Ok(())
    }
}

impl<R: Read> Read for GzipReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => {
                    if self.header()? {
                        self.state = State::Body;
                    } else {
                        self.state = State::Done;
                    }
                }
                State::Body => {
                    let have_input = self.fill()?;
                    let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
                    let input = &self.buf[self.pos..self.len];
                    let flush =
                        if have_input { FlushDecompress::None } else { FlushDecompress::Finish };
                    let status = self
                        .inflate
                        .decompress(input, out, flush)
                        .map_err(|e| bad(format!("deflate: {e}")))?;
                    let consumed = (self.inflate.total_in() - in0) as usize;
                    let produced = (self.inflate.total_out() - out0) as usize;
                    self.pos += consumed;
                    self.crc.update(&out[..produced]);
                    self.size = self.size.wrapping_add(produced as u32);
                    if status == Status::StreamEnd {
                        self.trailer()?;
                        self.state = State::Header;
                    }
                    if produced > 0 {
                        return Ok(produced);
                    }
                    if status != Status::StreamEnd && consumed == 0 && !have_input {
                        return Err(truncated("deflate data"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e =
            flate2::GzBuilder::new().filename("x.tar").write(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_members_and_rejects_truncation_and_damage() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut two = gz(&data);
        two.extend(gz(b"second member"));
        let mut out = Vec::new();
        GzipReader::new(&two[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), data.len() + 13);
        let one = gz(&data);
        for cut in (0..one.len()).step_by(97).chain([one.len() - 1, one.len() - 4]) {
            let mut out = Vec::new();
            assert!(GzipReader::new(&one[..cut]).read_to_end(&mut out).is_err(), "cut {cut}");
        }
        let mut damaged = one.clone();
        let n = damaged.len();
        damaged[n - 6] ^= 1; // CRC
        assert!(GzipReader::new(&damaged[..]).read_to_end(&mut Vec::new()).is_err());
        let mut junk = one.clone();
        junk.extend_from_slice(b"junk");
        assert!(GzipReader::new(&junk[..]).read_to_end(&mut Vec::new()).is_err());
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(b"").unwrap();
        let empty = e.finish().unwrap();
        let mut out = Vec::new();
        GzipReader::new(&empty[..]).read_to_end(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
