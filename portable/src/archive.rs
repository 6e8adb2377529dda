//! Shard archives, `B.s<ID>.tar.gz` (spec §3): a gzip of a tar with one
//! entry per file, named `<db>/<rp>/<shardID>/<file>`.
//!
//! Both directions stream: [`ShardArchiveWriter`] takes files one at a time
//! from any `Read` and never holds one whole; [`ShardArchiveReader`] yields
//! entries one at a time as `Read`s.
//!
//! The writer emits USTAR headers (mode 0644, uid/gid 0, `root`/`root`) and
//! a PAX `path` record for names that do not fit, no directory entries, and
//! the two zero blocks at the end (an empty shard is a 1024-byte tar). The
//! gzip header carries FNAME `B.s<ID>.tar`, MTIME of Go's zero time and OS
//! 255, as klauspost/pgzip writes it (the deflate stream itself differs).
//! `size` in the manifest is the uncompressed tar length, counted here.
//!
//! DEVIATION: the time-range filter ([`ArchiveOptions::time_range`]) keeps
//! exactly the points inside `[start, end]`; InfluxDB's `-start`/`-end`
//! export keeps every *block* that overlaps the range, points outside it
//! included.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

use crate::error::{Corruption, Error, Result};
use crate::gzip::GzipReader;
use crate::tsm::{self, TsmReader, TsmWriter, Values};

/// Go's zero `time.Time` as a uint32 Unix time, which pgzip writes as the
/// gzip MTIME (bytes `00 09 6e 88`).
pub const GO_ZERO_TIME_GZIP_MTIME: u32 = 0x886E_0900;

const BLOCK: usize = 512;

/// Options of a [`ShardArchiveWriter`].
#[derive(Debug, Clone, Default)]
pub struct ArchiveOptions {
    /// The gzip header FNAME (`B.s<ID>.tar`), if any.
    pub gzip_file_name: Option<String>,
    /// The gzip level (default: flate2's default, 6, as pgzip's default).
    pub level: Compression,
    /// The mtime of every tar entry, Unix seconds.
    pub entry_mtime: u64,
    /// Keep only points with `start <= t <= end` (point granularity).
    pub time_range: Option<(i64, i64)>,
}

/// What [`ShardArchiveWriter::append_tsm`] did with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Copied unchanged (no filter, or the file lies inside the range).
    Copied {
        /// Bytes copied.
        bytes: u64,
    },
    /// Rewritten with only the points inside the range.
    Filtered {
        /// Bytes of the rewritten file.
        bytes: u64,
        /// Points kept.
        points: u64,
    },
    /// Left out: no point inside the range.
    Skipped,
}

/// Counts the bytes written through it (the manifest's tar `size`).
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Passes writes through but ignores `flush`, so a nested writer's flush
/// does not force a gzip sync point.
struct NoFlush<'a, W: Write>(&'a mut W);

impl<W: Write> Write for NoFlush<'_, W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes one shard's `.tar.gz`.
pub struct ShardArchiveWriter<W: Write> {
    out: Counting<GzEncoder<W>>,
    prefix: String,
    name: String,
    opts: ArchiveOptions,
}

impl<W: Write> ShardArchiveWriter<W> {
    /// A writer for shard `shard_id` of `database`/`policy`; entries are
    /// named `database/policy/shard_id/<file>`.
    pub fn new(w: W, database: &str, policy: &str, shard_id: u64, opts: ArchiveOptions) -> Self {
        let mut gz = GzBuilder::new().mtime(GO_ZERO_TIME_GZIP_MTIME).operating_system(255);
        if let Some(n) = &opts.gzip_file_name {
            gz = gz.filename(n.as_bytes());
        }
        let name =
            opts.gzip_file_name.clone().unwrap_or_else(|| format!("shard {shard_id} archive"));
        ShardArchiveWriter {
            out: Counting { inner: gz.write(w, opts.level), count: 0 },
            prefix: format!("{database}/{policy}/{shard_id}/"),
            name,
            opts,
        }
    }

    fn io(&self, e: io::Error) -> Error {
        Error::io(&self.name, e)
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b).map_err(|e| Error::io(&self.name, e))
    }

    /// Writes a (PAX if needed) USTAR header for `<prefix><file_name>`.
    fn header(&mut self, file_name: &str, size: u64) -> Result<()> {
        if file_name.is_empty() || file_name.contains('/') {
            return Err(Error::invalid_input(format!(
                "archive file name {file_name:?} must be a plain name"
            )));
        }
        let path = format!("{}{file_name}", self.prefix);
        let mut h = tar::Header::new_ustar();
        if h.set_path(&path).is_err() {
            // Does not fit USTAR's name/prefix: a PAX header carries it.
            let record = pax_record("path", &path);
            let mut x = tar::Header::new_ustar();
            let short: String = format!("PaxHeaders.0/{file_name}").chars().take(99).collect();
            x.set_path(&short).map_err(|e| Error::invalid_input(format!("archive name: {e}")))?;
            x.set_entry_type(tar::EntryType::XHeader);
            x.set_size(record.len() as u64);
            x.set_mode(0o644);
            x.set_mtime(self.opts.entry_mtime);
            x.set_cksum();
            self.put(x.as_bytes())?;
            self.put(&record)?;
            self.pad(record.len() as u64)?;
            let short: String =
                path.chars().rev().take(99).collect::<Vec<_>>().into_iter().rev().collect();
            h.set_path(short.trim_start_matches('/'))
                .map_err(|e| Error::invalid_input(format!("archive name {path:?}: {e}")))?;
        }
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.opts.entry_mtime);
        h.set_username("root").map_err(|e| Error::invalid_input(e.to_string()))?;
        h.set_groupname("root").map_err(|e| Error::invalid_input(e.to_string()))?;
        h.set_cksum();
        self.put(h.as_bytes())
    }

    fn pad(&mut self, size: u64) -> Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.put(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    /// Appends a file of exactly `size` bytes streamed from `r`, unchanged
    /// (a TSM file without filtering, a tombstone, anything).
    pub fn append_file(&mut self, file_name: &str, size: u64, r: impl Read) -> Result<()> {
        self.header(file_name, size)?;
        let copied = io::copy(&mut r.take(size), &mut self.out).map_err(|e| self.io(e))?;
        if copied != size {
            return Err(Error::io(
                &self.name,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{file_name}: {copied} of {size} bytes"),
                ),
            ));
        }
        self.pad(size)
    }

    /// Appends a TSM file read from `r`. Without a time range it is copied
    /// unchanged. With one: a file inside the range is copied, a file with
    /// no point inside is skipped, anything else is rewritten with exactly
    /// the points inside (blocks inside the range copied as they are, edge
    /// blocks re-encoded). The rewrite runs twice (size, then data) so the
    /// file is never held in memory.
    pub fn append_tsm(&mut self, file_name: &str, mut r: impl Read + Seek) -> Result<Appended> {
        let Some((start, end)) = self.opts.time_range else {
            let size = r.seek(SeekFrom::End(0)).map_err(|e| Error::io(file_name, e))?;
            r.seek(SeekFrom::Start(0)).map_err(|e| Error::io(file_name, e))?;
            self.append_file(file_name, size, r)?;
            return Ok(Appended::Copied { bytes: size });
        };
        let mut reader = TsmReader::new(file_name, r)?;
        let (min, max) = reader.time_range();
        if min >= start && max <= end {
            let size = reader.file_len();
            let mut r = reader.into_inner();
            r.seek(SeekFrom::Start(0)).map_err(|e| Error::io(file_name, e))?;
            self.append_file(file_name, size, r)?;
            return Ok(Appended::Copied { bytes: size });
        }
        if max < start || min > end {
            return Ok(Appended::Skipped);
        }
        let mut sink = Counting { inner: io::sink(), count: 0 };
        let points = filter_tsm(&mut reader, start, end, &mut sink)?;
        if points == 0 {
            return Ok(Appended::Skipped);
        }
        let size = sink.count;
        self.header(file_name, size)?;
        let before = self.out.count;
        filter_tsm(&mut reader, start, end, &mut NoFlush(&mut self.out))?;
        let written = self.out.count - before;
        if written != size {
            return Err(Error::invalid_input(format!(
                "{file_name}: filtered size changed ({size} then {written})"
            )));
        }
        self.pad(size)?;
        Ok(Appended::Filtered { bytes: size, points })
    }

    /// Uncompressed tar bytes written so far.
    pub fn tar_size(&self) -> u64 {
        self.out.count
    }

    /// Ends the tar (two zero blocks) and the gzip stream. Returns the
    /// inner writer and the tar length (the manifest's `size`).
    pub fn finish(mut self) -> Result<(W, u64)> {
        self.put(&[0u8; 2 * BLOCK])?;
        let size = self.out.count;
        let w = self.out.inner.finish().map_err(|e| Error::io(&self.name, e))?;
        Ok((w, size))
    }
}

/// A PAX extended-header record: `"<len> <key>=<value>\n"`, where `len`
/// counts the whole record including its own digits.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

/// Writes the points of `reader` inside `[start, end]` as a new TSM file to
/// `out`; returns the number of points kept (0: nothing written).
pub fn filter_tsm<R: Read + Seek>(
    reader: &mut TsmReader<R>,
    start: i64,
    end: i64,
    out: impl Write,
) -> Result<u64> {
    let mut w = TsmWriter::new(reader.name().to_string(), out);
    let mut points = 0u64;
    let mut ts = Vec::new();
    let mut vs = Values::Float(Vec::new());
    let mut payload = Vec::new();
    for k in 0..reader.key_count() {
        let Some(info) = reader.key(k) else { continue };
        let key = info.key.to_vec();
        let entries = info.entries.to_vec();
        for e in entries {
            if e.max_time < start || e.min_time > end {
                continue;
            }
            if e.min_time >= start && e.max_time <= end {
                payload.clear();
                payload.extend_from_slice(reader.read_block_raw(k, &e)?);
                points += tsm::count_points(&payload)
                    .map_err(|c| Error::corrupt(reader.name(), c))?
                    as u64;
                w.write_block(&key, e.min_time, e.max_time, &payload)?;
                continue;
            }
            reader.read_block_into(k, &e, &mut ts, &mut vs)?;
            let lo = ts.partition_point(|&t| t < start);
            let hi = ts.partition_point(|&t| t <= end);
            if lo < hi {
                points += (hi - lo) as u64;
                w.write_series(&key, &ts[lo..hi], vs.slice(lo..hi))?;
            }
        }
    }
    if points == 0 {
        return Ok(0);
    }
    w.finish()?;
    Ok(points)
}

/// What a tar entry of a shard archive holds, by its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `<gen>-<seq>.tsm`.
    Tsm {
        /// Generation.
        generation: u32,
        /// Sequence.
        sequence: u32,
    },
    /// `*.tombstone`.
    Tombstone,
    /// Anything else (the real restore ignores it).
    Other,
}

/// The decompressed stream, shared between the tar reader and the entry
/// iterator, which drains it after the tar's end marker so that a damaged
/// or truncated gzip tail (trailer, CRC) is still detected.
pub struct SharedGz<R: Read>(Rc<RefCell<GzipReader<R>>>);

impl<R: Read> Read for SharedGz<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// Reads one shard's `.tar.gz`, entry by entry.
pub struct ShardArchiveReader<R: Read> {
    name: String,
    gz: Rc<RefCell<GzipReader<R>>>,
    archive: tar::Archive<SharedGz<R>>,
}

impl<R: Read> ShardArchiveReader<R> {
    /// A reader over the gzip-compressed tar `r`; errors name it `name`.
    pub fn new(name: impl Into<String>, r: R) -> Self {
        let gz = Rc::new(RefCell::new(GzipReader::new(r)));
        let archive = tar::Archive::new(SharedGz(Rc::clone(&gz)));
        ShardArchiveReader { name: name.into(), gz, archive }
    }

    /// The entries, in archive order. Directory entries are skipped.
    pub fn entries(&mut self) -> Result<ShardEntries<'_, R>> {
        let name = self.name.clone();
        let inner = self.archive.entries().map_err(|e| archive_error(&name, e))?;
        Ok(ShardEntries { name, inner, gz: Rc::clone(&self.gz), done: false })
    }
}

/// Maps an error from the gzip/tar layers: bad data is corruption.
fn archive_error(name: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::InvalidData
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::Other => {
            Error::corrupt(name, Corruption::invalid("tar.gz", e.to_string()))
        }
        _ => Error::io(name, e),
    }
}

/// Iterator over a shard archive's entries.
pub struct ShardEntries<'a, R: Read> {
    name: String,
    inner: tar::Entries<'a, SharedGz<R>>,
    gz: Rc<RefCell<GzipReader<R>>>,
    done: bool,
}

impl<'a, R: Read> Iterator for ShardEntries<'a, R> {
    type Item = Result<ShardEntry<'a, R>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let Some(next) = self.inner.next() else {
                // The tar ended: read the rest of the gzip stream so that its
                // trailer is checked.
                self.done = true;
                let drained = io::copy(&mut *self.gz.borrow_mut(), &mut io::sink());
                return drained.err().map(|e| Err(archive_error(&self.name, e)));
            };
            let entry = match next {
                Ok(e) => e,
                Err(e) => {
                    self.done = true;
                    return Some(Err(archive_error(&self.name, e)));
                }
            };
            let et = entry.header().entry_type();
            if et.is_dir() {
                continue;
            }
            let path = match entry.path() {
                Ok(p) => p.to_string_lossy().into_owned(),
                Err(e) => {
                    self.done = true;
                    return Some(Err(archive_error(&self.name, e)));
                }
            };
            let parts: Vec<&str> = path.split('/').collect();
            if parts.len() < 4 || parts[3..].iter().all(|p| p.is_empty()) {
                self.done = true;
                return Some(Err(Error::corrupt(
                    &self.name,
                    Corruption::invalid(
                        "tar entry name",
                        format!("{path:?} is not <db>/<rp>/<shard>/<file>"),
                    ),
                )));
            }
            let file_name = parts[3..].join("/");
            let kind = match tsm::parse_file_name(&file_name) {
                Some((generation, sequence)) => EntryKind::Tsm { generation, sequence },
                None if file_name.ends_with(".tombstone") => EntryKind::Tombstone,
                None => EntryKind::Other,
            };
            let size = entry.size();
            return Some(Ok(ShardEntry {
                archive: self.name.clone(),
                database: parts[0].to_string(),
                policy: parts[1].to_string(),
                shard: parts[2].to_string(),
                file_name,
                path,
                size,
                kind,
                entry,
            }));
        }
    }
}

/// One file of a shard archive; read its bytes through [`Read`].
pub struct ShardEntry<'a, R: Read> {
    /// The archive's name (for errors).
    pub archive: String,
    /// Path component 1: the database.
    pub database: String,
    /// Path component 2: the retention policy.
    pub policy: String,
    /// Path component 3: the shard ID as written.
    pub shard: String,
    /// The rest of the path: the file name.
    pub file_name: String,
    /// The whole entry path.
    pub path: String,
    /// The entry size from its header.
    pub size: u64,
    /// What the file is.
    pub kind: EntryKind,
    entry: tar::Entry<'a, SharedGz<R>>,
}

impl<R: Read> Read for ShardEntry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.entry.read(buf)
    }
}

impl<R: Read> ShardEntry<'_, R> {
    /// Reads the whole entry into memory (one file, not the shard). The
    /// buffer grows with the data actually read, never from the header size.
    pub fn read_to_vec(&mut self) -> Result<Vec<u8>> {
        // The declared size, within reason: a damaged header must not make
        // us reserve gigabytes (a short entry is caught below).
        let mut v = Vec::with_capacity(self.size.min(256 << 20) as usize);
        self.entry
            .read_to_end(&mut v)
            .map_err(|e| archive_error(&format!("{}: {}", self.archive, self.path), e))?;
        if v.len() as u64 != self.size {
            return Err(Error::corrupt(
                &self.archive,
                Corruption::truncated(format!("entry {}", self.path)),
            ));
        }
        Ok(v)
    }
}

/// Copies a shard archive, renaming every entry to
/// `database/policy/shard_id/<file>` (what `influxd restore` does before
/// uploading). Returns the writer and the new tar size.
pub fn rewrite_archive<R: Read, W: Write>(
    reader: &mut ShardArchiveReader<R>,
    w: W,
    database: &str,
    policy: &str,
    shard_id: u64,
    opts: ArchiveOptions,
) -> Result<(W, u64)> {
    let mut out = ShardArchiveWriter::new(w, database, policy, shard_id, opts);
    for entry in reader.entries()? {
        let entry = entry?;
        let (name, size) = (entry.file_name.clone(), entry.size);
        if name.contains('/') {
            continue;
        }
        out.append_file(&name, size, entry)?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsm::ValueSlice;
    use std::io::Cursor;

    fn tsm_file(n: i64) -> Vec<u8> {
        let ts: Vec<i64> = (0..n).map(|i| i * 10).collect();
        let v: Vec<i64> = (0..n).collect();
        tsm::write_all([(&b"cpu#!~#v"[..], &ts[..], ValueSlice::Integer(&v))]).unwrap()
    }

    #[test]
    fn write_then_read_with_long_names() {
        let f = tsm_file(2500);
        let long = format!("{}-000000001.tsm", "9".repeat(9));
        let longdb = "d".repeat(150);
        let opts = ArchiveOptions {
            gzip_file_name: Some("20240101T000000Z.s7.tar".into()),
            ..Default::default()
        };
        let mut w = ShardArchiveWriter::new(Vec::new(), &longdb, "autogen", 7, opts);
        w.append_tsm("000000001-000000001.tsm", Cursor::new(&f)).unwrap();
        w.append_file(&long, f.len() as u64, &f[..]).unwrap();
        w.append_file("000000001-000000001.tombstone", 0, io::empty()).unwrap();
        let (gz, size) = w.finish().unwrap();
        assert_eq!(&gz[..4], &[0x1f, 0x8b, 0x08, 0x08]);
        assert_eq!(&gz[4..8], &[0x00, 0x09, 0x6e, 0x88]);
        assert_eq!(gz[9], 0xff);
        assert_eq!(&gz[10..33], b"20240101T000000Z.s7.tar");
        let mut raw = Vec::new();
        GzipReader::new(&gz[..]).read_to_end(&mut raw).unwrap();
        assert_eq!(raw.len() as u64, size);
        let mut r = ShardArchiveReader::new("a", &gz[..]);
        let mut seen = Vec::new();
        for e in r.entries().unwrap() {
            let mut e = e.unwrap();
            let data = e.read_to_vec().unwrap();
            assert_eq!(e.database, longdb);
            assert_eq!(e.shard, "7");
            seen.push((e.file_name.clone(), e.kind, data.len()));
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[1].0, long);
        assert_eq!(seen[0].1, EntryKind::Tsm { generation: 1, sequence: 1 });
        assert_eq!(seen[2].1, EntryKind::Tombstone);
    }

    #[test]
    fn empty_archive_is_1024_bytes_of_tar() {
        let (gz, size) =
            ShardArchiveWriter::new(Vec::new(), "db", "rp", 1, ArchiveOptions::default())
                .finish()
                .unwrap();
        assert_eq!(size, 1024);
        assert_eq!(ShardArchiveReader::new("a", &gz[..]).entries().unwrap().count(), 0);
    }

    #[test]
    fn time_filter_is_point_exact() {
        let f = tsm_file(3000); // t = 0, 10, ..., 29990 in blocks of 1000
        for (range, want) in [
            ((15, 25), 1u64),
            ((0, 29990), 3000),
            ((5000, 5000), 1),
            ((100_000, 200_000), 0),
            ((9995, 10005), 1),
        ] {
            let opts = ArchiveOptions { time_range: Some(range), ..Default::default() };
            let mut w = ShardArchiveWriter::new(Vec::new(), "db", "rp", 1, opts);
            let res = w.append_tsm("000000001-000000001.tsm", Cursor::new(&f)).unwrap();
            let (gz, _) = w.finish().unwrap();
            let mut r = ShardArchiveReader::new("a", &gz[..]);
            let mut points = 0u64;
            for e in r.entries().unwrap() {
                let data = e.unwrap().read_to_vec().unwrap();
                let mut t = TsmReader::from_bytes("f", &data).unwrap();
                for s in t.series() {
                    let s = s.unwrap();
                    assert!(s.timestamps.iter().all(|&x| x >= range.0 && x <= range.1));
                    points += s.timestamps.len() as u64;
                }
            }
            assert_eq!(points, want, "{range:?} {res:?}");
        }
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("path", "abc");
        assert_eq!(r, b"12 path=abc\n");
        let v = "x".repeat(95);
        let r = pax_record("path", &v);
        let s = String::from_utf8(r.clone()).unwrap();
        let n: usize = s.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, r.len());
    }

    #[test]
    fn gnu_long_names_and_ustar_prefix_are_read() {
        let long_db = "x".repeat(120);
        let mut raw = tar::Builder::new(Vec::new());
        for path in [
            format!("{long_db}/rp/3/000000001-000000001.tsm"),
            format!("{}/rp/3/000000002-000000001.tsm", "y".repeat(90)),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(3);
            h.set_mode(0o644);
            raw.append_data(&mut h, &path, &b"abc"[..]).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_path(format!("{}/rp/3/000000003-000000001.tsm", "z".repeat(120))).unwrap();
        h.set_size(3);
        h.set_cksum();
        raw.append(&h, &b"def"[..]).unwrap();
        let tarb = raw.into_inner().unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&tarb).unwrap();
        let gz = gz.finish().unwrap();
        let mut r = ShardArchiveReader::new("gnu", &gz[..]);
        let got: Vec<(String, String)> = r
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let d = e.read_to_vec().unwrap();
                (
                    e.database.chars().take(1).collect::<String>() + &e.file_name,
                    String::from_utf8(d).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("x000000001-000000001.tsm".to_string(), "abc".to_string()),
                ("y000000002-000000001.tsm".to_string(), "abc".to_string()),
                ("z000000003-000000001.tsm".to_string(), "def".to_string()),
            ]
        );
    }

    #[test]
    fn bad_names_are_errors() {
        let mut raw = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_cksum();
        raw.append_data(&mut h, "db/rp/file", &b"x"[..]).unwrap();
        let tarb = raw.into_inner().unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&tarb).unwrap();
        let gz = gz.finish().unwrap();
        let mut r = ShardArchiveReader::new("bad.tar.gz", &gz[..]);
        let e = r.entries().unwrap().next().unwrap().err().unwrap().to_string();
        assert!(e.starts_with("bad.tar.gz:"), "{e}");
    }
}
