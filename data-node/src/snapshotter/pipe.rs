//! Byte pipes between blocking work (store export and import, tar and gzip)
//! and async sockets: bounded channels of chunks, so a shard never sits
//! whole in memory.

use std::io::{self, Read, Write};

use tokio::sync::mpsc;

/// Bytes per chunk.
pub const CHUNK: usize = 256 << 10;

/// A `Write` that sends full chunks down a channel (blocking thread side).
pub struct ChunkWriter {
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    /// A writer into `tx`.
    pub fn new(tx: mpsc::Sender<Vec<u8>>) -> ChunkWriter {
        ChunkWriter { tx, buf: Vec::with_capacity(CHUNK) }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(data)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the connection is gone"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A `Read` over chunks arriving on a channel (blocking thread side). The
/// sender reports a failed source by sending an error instead of a chunk.
pub struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    /// A reader of `rx`; a closed channel is the end of the stream.
    pub fn new(rx: mpsc::Receiver<io::Result<Vec<u8>>>) -> ChunkReader {
        ChunkReader { rx, cur: Vec::new(), pos: 0 }
    }

    /// The receiver, to drain what is left.
    pub fn into_receiver(self) -> mpsc::Receiver<io::Result<Vec<u8>>> {
        self.rx
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.blocking_recv() {
                Some(Ok(c)) => {
                    self.cur = c;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
