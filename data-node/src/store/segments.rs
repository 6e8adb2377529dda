//! Segment files: TSM files imported whole (a restore's shard files) kept
//! on disk beside sled, as InfluxDB keeps its TSM files. The shard tree
//! then holds, per key, a small run entry listing where its blocks sit in
//! the file (see `layout`), instead of every block's bytes: sled rewrites a
//! leaf with all its values on every change, so block payloads there cost
//! several copies each, a file write costs one.
//!
//! Files are immutable and named `<n>.tsm` in the shard's segment
//! directory. Each run entry has a reference key (`r <n> <block key>`) in
//! the same sled batch, so "is file n used" is a prefix scan. A file whose
//! last reference goes stays on disk until the store is next opened (a
//! cursor may still be reading it); files left by a crash before their
//! references were committed are removed then too.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use portable::FieldType;
use portable::tsm::block::block_type;

use super::error::{Result, StoreError};
use super::layout::SubBlock;

/// The segment files of one shard.
#[derive(Debug)]
pub(crate) struct Segments {
    shard: u64,
    dir: PathBuf,
    /// Open files and their lengths (files never change once written).
    open: Mutex<HashMap<u32, (Arc<File>, u64)>>,
    next: AtomicU32,
    /// Set when the shard is deleted: reads fail as such from then on.
    removed: AtomicBool,
}

fn file_name(n: u32) -> String {
    format!("{n:08}.tsm")
}

fn parse_name(name: &str) -> Option<u32> {
    let n = name.strip_suffix(".tsm")?;
    (n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit())).then(|| n.parse().ok())?
}

impl Segments {
    /// The segment files of shard `shard` in `dir` (which need not exist).
    /// Files for which `used` says false are deleted, as is anything else
    /// in the directory. New files are numbered above `max_used` (the
    /// highest number any entry refers to) and above every kept file.
    pub(crate) fn open(
        shard: u64,
        dir: PathBuf,
        max_used: u32,
        used: impl Fn(u32) -> Result<bool>,
    ) -> Result<Segments> {
        let mut max = max_used;
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries {
                    let e = e?;
                    let name = e.file_name();
                    match name.to_str().and_then(parse_name) {
                        Some(n) if used(n)? => max = max.max(n),
                        _ => {
                            let path = e.path();
                            tracing::info!(file = %path.display(), "removing unused segment file");
                            if let Err(err) = std::fs::remove_file(&path) {
                                tracing::warn!(file = %path.display(), %err, "cannot remove");
                            }
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Segments {
            shard,
            dir,
            open: Mutex::new(HashMap::new()),
            next: AtomicU32::new(max.saturating_add(1)),
            removed: AtomicBool::new(false),
        })
    }

    /// Copies all of `r` (`len` bytes) into a new segment file, durably
    /// (file and directory synced). Returns its number.
    pub(crate) fn create<R: Read + Seek>(&self, r: &mut R, len: u64) -> Result<u32> {
        if self.removed.load(Ordering::SeqCst) {
            return Err(StoreError::ShardDeleted(self.shard));
        }
        self.create_dir()?;
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let path = self.dir.join(file_name(n));
        let res = (|| -> std::io::Result<File> {
            let mut f =
                std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
            r.seek(SeekFrom::Start(0))?;
            let copied = std::io::copy(&mut r.take(len), &mut f)?;
            if copied != len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{copied} of {len} bytes"),
                ));
            }
            f.flush()?;
            f.sync_all()?;
            File::open(&self.dir)?.sync_all()?;
            Ok(f)
        })();
        match res {
            Ok(f) => {
                let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
                open.insert(n, (Arc::new(f), len));
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e.into())
            }
        }
    }

    /// Deletes file `n` now: only for a file no committed entry refers to.
    pub(crate) fn remove(&self, n: u32) {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).remove(&n);
        let _ = std::fs::remove_file(self.dir.join(file_name(n)));
    }

    /// Creates the shard's directory (and `segments/`) durably: each new
    /// directory's entry is synced in its parent.
    fn create_dir(&self) -> std::io::Result<()> {
        let mut missing = Vec::new();
        let mut d = self.dir.as_path();
        while !d.exists() {
            missing.push(d.to_path_buf());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        std::fs::create_dir_all(&self.dir)?;
        for m in missing.iter().rev() {
            if let Some(p) = m.parent() {
                File::open(p)?.sync_all()?;
            }
        }
        Ok(())
    }

    /// Deletes every file (the shard is being deleted); reads fail with
    /// [`StoreError::ShardDeleted`] from then on.
    pub(crate) fn remove_all(&self) -> Result<()> {
        self.removed.store(true, Ordering::SeqCst);
        self.open.lock().unwrap_or_else(PoisonError::into_inner).clear();
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn handle(&self, n: u32) -> std::io::Result<(Arc<File>, u64)> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = open.get(&n) {
            return Ok(f.clone());
        }
        let f = File::open(self.dir.join(file_name(n)))?;
        let len = f.metadata()?.len();
        let h = (Arc::new(f), len);
        open.insert(n, h.clone());
        Ok(h)
    }

    /// Reads block `sub` of file `n` into `buf` and returns its payload
    /// (CRC checked, of type `t`); damage is a corruption error naming
    /// `ckey`.
    pub(crate) fn read<'b>(
        &self,
        n: u32,
        sub: &SubBlock,
        t: FieldType,
        buf: &'b mut Vec<u8>,
        ckey: &[u8],
    ) -> Result<&'b [u8]> {
        if self.removed.load(Ordering::SeqCst) {
            return Err(StoreError::ShardDeleted(self.shard));
        }
        let corrupt = |d: String| StoreError::corrupt(self.shard, ckey, "block", d);
        let (f, len) =
            self.handle(n).map_err(|e| corrupt(format!("segment file {}: {e}", file_name(n))))?;
        if sub.size < 5 || sub.offset.checked_add(u64::from(sub.size)).is_none_or(|e| e > len) {
            return Err(corrupt(format!(
                "block of {} bytes at {} outside segment file {} ({len} bytes)",
                sub.size,
                sub.offset,
                file_name(n)
            )));
        }
        buf.clear();
        buf.resize(sub.size as usize, 0);
        f.read_exact_at(buf, sub.offset).map_err(|e| {
            corrupt(format!(
                "segment file {}, {} bytes at {}: {e}",
                file_name(n),
                sub.size,
                sub.offset
            ))
        })?;
        let stored = u32::from_be_bytes(buf[..4].try_into().expect("size >= 5"));
        let computed = crc32fast::hash(&buf[4..]);
        if stored != computed {
            return Err(corrupt(format!(
                "segment file {}, block at {}: CRC mismatch: stored {stored:#010x}, computed \
                 {computed:#010x}",
                file_name(n),
                sub.offset
            )));
        }
        if block_type(&buf[4..]).ok() != Some(t) {
            return Err(corrupt(format!("run block in {} is not of type {t}", file_name(n))));
        }
        Ok(&buf[4..])
    }

    /// Bytes of all segment files on disk.
    pub(crate) fn bytes_on_disk(&self) -> u64 {
        dir_bytes(&self.dir)
    }
}

/// Total size of the regular files directly in `dir` (0 if missing).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|es| es.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(offset: u64, payload: &[u8]) -> (Vec<u8>, SubBlock) {
        let mut b = crc32fast::hash(payload).to_be_bytes().to_vec();
        b.extend_from_slice(payload);
        let s = SubBlock { min_time: 0, max_time: 0, offset, size: b.len() as u32, count: 1 };
        (b, s)
    }

    #[test]
    fn create_read_and_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(7, dir.path().join("s"), 0, |_| Ok(true)).unwrap();
        let (mut file, a) = sub(0, b"\0hello");
        let (b_bytes, b) = sub(file.len() as u64, b"\0world!");
        file.extend_from_slice(&b_bytes);
        let n = segs.create(&mut std::io::Cursor::new(&file), file.len() as u64).unwrap();
        let m = segs.create(&mut std::io::Cursor::new(&file), file.len() as u64).unwrap();
        assert_ne!(n, m);
        let mut buf = Vec::new();
        assert_eq!(segs.read(n, &a, FieldType::Float, &mut buf, b"k").unwrap(), b"\0hello");
        assert_eq!(segs.read(m, &b, FieldType::Float, &mut buf, b"k").unwrap(), b"\0world!");
        // A block of another type than its entry says is damage too.
        let e = segs.read(n, &a, FieldType::Integer, &mut buf, b"k").unwrap_err().to_string();
        assert!(e.contains("not of type integer"), "{e}");
        assert_eq!(segs.bytes_on_disk(), 2 * file.len() as u64);
        // A flipped byte is a CRC error, a missing file an error naming it.
        let mut bad = a;
        bad.offset += 1;
        bad.size -= 1;
        let e = segs.read(n, &bad, FieldType::Float, &mut buf, b"k").unwrap_err().to_string();
        assert!(e.starts_with("shard 7: corrupt block at key \"k\"") && e.contains("CRC"), "{e}");
        let e = segs.read(99, &a, FieldType::Float, &mut buf, b"k").unwrap_err().to_string();
        assert!(e.contains("00000099.tsm"), "{e}");
        // A damaged size or offset is refused before anything is allocated.
        let huge = SubBlock { size: u32::MAX, ..a };
        assert!(
            segs.read(n, &huge, FieldType::Float, &mut buf, b"k")
                .unwrap_err()
                .to_string()
                .contains("outside")
        );
        let far = SubBlock { offset: u64::MAX - 2, ..a };
        assert!(segs.read(n, &far, FieldType::Float, &mut buf, b"k").is_err());
        // Reopening keeps used files, drops the others and stray names.
        std::fs::write(dir.path().join("s/junk"), b"x").unwrap();
        drop(segs);
        let segs = Segments::open(7, dir.path().join("s"), 0, |f| Ok(f == m)).unwrap();
        assert!(segs.read(n, &a, FieldType::Float, &mut buf, b"k").is_err());
        assert_eq!(segs.read(m, &a, FieldType::Float, &mut buf, b"k").unwrap(), b"\0hello");
        assert!(!dir.path().join("s/junk").exists());
        // New files never reuse a kept number.
        let k = segs.create(&mut std::io::Cursor::new(&file), file.len() as u64).unwrap();
        assert!(k > m);
        segs.remove(k);
        assert!(segs.read(k, &a, FieldType::Float, &mut buf, b"k").is_err());
        segs.remove_all().unwrap();
        assert!(!dir.path().join("s").exists());
        segs.remove_all().unwrap();
        // Once deleted, reads and creates fail as such.
        let e = segs.read(m, &a, FieldType::Float, &mut buf, b"k").unwrap_err();
        assert!(matches!(e, StoreError::ShardDeleted(7)), "{e}");
        assert!(segs.create(&mut std::io::Cursor::new(&file), file.len() as u64).is_err());
        // Numbers never go below what entries refer to.
        let segs = Segments::open(7, dir.path().join("t"), 41, |_| Ok(true)).unwrap();
        assert_eq!(segs.create(&mut std::io::Cursor::new(&file), file.len() as u64).unwrap(), 42);
    }

    #[test]
    fn a_short_source_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(1, dir.path().join("s"), 0, |_| Ok(true)).unwrap();
        assert!(segs.create(&mut std::io::Cursor::new(b"abc"), 10).is_err());
        assert_eq!(std::fs::read_dir(dir.path().join("s")).unwrap().count(), 0);
    }
}
