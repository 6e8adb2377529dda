//! Plain (uncompressed) shard tars, as InfluxDB's snapshotter streams them
//! (spec §3.1): one USTAR entry per TSM file named
//! `<db>/<rp>/<shardID>/<gen>-<seq>.tsm`, mode 0644, uid/gid 0, `root`,
//! then the two zero blocks. The TSM files come from a local shard
//! (exported from the store) or from another data node's `BackupShard`
//! stream, and pass through the request's filter on the way:
//!
//! - ShardBackup `Since`: InfluxDB keeps the files modified after `Since`;
//!   a testbed shard has one modification time, so the whole shard is sent
//!   when it changed after `Since`, else an empty tar.
//! - ShardExport `ExportStart`/`ExportEnd`: InfluxDB's file and block
//!   conditions (`timeStampFilterTarFile`, `filterFileToBackup`), applied to
//!   the exported files and their blocks as they are, on Go's wrapping
//!   `UnixNano` values: block-granular, and with `-start` alone (end = Go's
//!   zero time) only blocks starting at or before `start` are kept, as the
//!   real server does (fixture `incr-start-1435/`).

use std::io::{self, Read, Write};

use portable::archive::{EntryKind, ShardArchiveReader};
use portable::tsm::{IndexEntry, TsmReader, TsmWriter};

use super::wire::GoTime;

/// Largest TSM file produced from a local shard.
pub const EXPORT_FILE_BYTES: u64 = 64 << 20;
const BLOCK: u64 = 512;

/// What a shard request keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Every file (ShardBackup with the zero `Since`).
    All,
    /// ShardBackup: only if the shard changed after this time.
    Since(GoTime),
    /// ShardExport: Go's `UnixNano` of `ExportStart` and `ExportEnd`.
    Window {
        /// Start, ns (wrapping as Go's).
        start: i64,
        /// End, ns (wrapping as Go's).
        end: i64,
    },
}

/// What went into a tar.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TarStats {
    /// TSM files written.
    pub files: u64,
    /// Files left out by the filter.
    pub skipped: u64,
    /// Tar bytes.
    pub bytes: u64,
}

/// Counts what goes through a writer.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a plain shard tar.
pub struct ShardTar<W: Write> {
    builder: tar::Builder<Counting<W>>,
    prefix: String,
    mtime: u64,
    stats: TarStats,
}

impl<W: Write> ShardTar<W> {
    /// A tar whose entries are `db/rp/shard/<file>` with `mtime` (Unix s).
    pub fn new(w: W, db: &str, rp: &str, shard: u64, mtime: u64) -> ShardTar<W> {
        ShardTar {
            builder: tar::Builder::new(Counting { inner: w, n: 0 }),
            prefix: format!("{db}/{rp}/{shard}/"),
            mtime,
            stats: TarStats::default(),
        }
    }

    /// Appends one file.
    pub fn append(&mut self, file_name: &str, data: &[u8]) -> io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h.set_username("root")?;
        h.set_groupname("root")?;
        let path = format!("{}{file_name}", self.prefix);
        self.builder.append_data(&mut h, path, data)?;
        self.stats.files += 1;
        Ok(())
    }

    /// Writes the end-of-archive blocks; returns the writer and the stats.
    pub fn finish(self) -> io::Result<(W, TarStats)> {
        let mut stats = self.stats;
        let mut c = self.builder.into_inner()?;
        c.flush()?;
        stats.bytes = c.n;
        Ok((c.inner, stats))
    }

    fn skip(&mut self) {
        self.stats.skipped += 1;
    }
}

/// Go's block condition of `filterFileToBackup`.
fn block_kept(min: i64, max: i64, start: i64, end: i64) -> bool {
    (min >= start && min <= end) || (max >= start && max <= end) || (min <= start && max >= end)
}

/// Applies an export window to one TSM file as InfluxDB does: a file
/// inside the window is kept whole, a file overlapping it is rewritten with
/// the blocks the window touches, anything else is dropped (`None`; also a
/// rewrite that keeps no block, where InfluxDB fails the export).
pub fn window_file(
    name: &str,
    data: Vec<u8>,
    start: i64,
    end: i64,
) -> Result<Option<Vec<u8>>, portable::Error> {
    let mut r = TsmReader::from_bytes(name, &data)?;
    let (min, max) = r.time_range();
    let overlap = (min >= start && min <= end && max > end)
        || (max >= start && max <= end && min < start)
        || (min <= start && max >= end);
    if overlap {
        let keys: Vec<(usize, Vec<u8>, Vec<IndexEntry>)> =
            r.keys().map(|k| (k.position, k.key.to_vec(), k.entries.to_vec())).collect();
        let mut w = TsmWriter::new(name, Vec::with_capacity(data.len() / 2));
        let mut blocks = 0u64;
        for (pos, key, entries) in keys {
            for e in entries.iter().filter(|e| block_kept(e.min_time, e.max_time, start, end)) {
                let payload = r.read_block_raw(pos, e)?.to_vec();
                w.write_block(&key, e.min_time, e.max_time, &payload)?;
                blocks += 1;
            }
        }
        if blocks == 0 {
            return Ok(None);
        }
        return Ok(Some(w.finish()?));
    }
    if min >= start && max <= end {
        return Ok(Some(data));
    }
    Ok(None)
}

/// Where a shard's TSM files come from.
pub enum TsmSource<R: Read> {
    /// A local shard.
    Local(std::sync::Arc<crate::store::Shard>),
    /// Another node's `BackupShard` stream (a portable `.tar.gz`).
    Remote {
        /// The `.tar.gz` bytes.
        reader: R,
        /// The shard's last modification on that node, ns.
        last_modified: i64,
    },
}

/// Builds the tar of one shard from `source` through `filter` into `w`.
pub fn build<R: Read, W: Write>(
    source: TsmSource<R>,
    (db, rp, shard): (&str, &str, u64),
    filter: Filter,
    w: W,
) -> Result<(W, TarStats), String> {
    let last_modified = match &source {
        TsmSource::Local(s) => s.last_modified(),
        TsmSource::Remote { last_modified, .. } => *last_modified,
    };
    let mtime = (last_modified / 1_000_000_000).max(0) as u64;
    let mut tar = ShardTar::new(w, db, rp, shard, mtime);
    let changed_since =
        |since: &GoTime| GoTime::from_unix_nanos(last_modified).after(since) || since.is_zero();
    let mut generation = 0u32;
    let emit = |tar: &mut ShardTar<W>, name: String, data: Vec<u8>| -> Result<(), String> {
        let kept = match filter {
            Filter::All => Some(data),
            Filter::Since(since) => changed_since(&since).then_some(data),
            Filter::Window { start, end } => {
                window_file(&name, data, start, end).map_err(|e| e.to_string())?
            }
        };
        match kept {
            Some(d) => tar.append(&name, &d).map_err(|e| format!("writing the tar: {e}")),
            None => {
                tar.skip();
                Ok(())
            }
        }
    };
    match source {
        TsmSource::Local(s) => {
            // The export can only fail inside the closure through emit.
            let mut failed: Option<String> = None;
            let res = s.export_tsm_files(None, EXPORT_FILE_BYTES, |buf| {
                generation += 1;
                let name = portable::tsm::file_name(generation, 1);
                emit(&mut tar, name, buf).map_err(|e| {
                    failed = Some(e.clone());
                    crate::store::StoreError::Io(io::Error::other(e))
                })
            });
            if let Err(e) = res {
                return Err(failed.unwrap_or_else(|| format!("exporting shard {shard}: {e}")));
            }
        }
        TsmSource::Remote { reader, .. } => {
            let name = format!("shard {shard} backup stream");
            let mut ar = ShardArchiveReader::new(name, reader);
            let entries = ar.entries().map_err(|e| e.to_string())?;
            for entry in entries {
                let mut entry = entry.map_err(|e| e.to_string())?;
                if !matches!(entry.kind, EntryKind::Tsm { .. }) {
                    continue;
                }
                let data = entry.read_to_vec().map_err(|e| e.to_string())?;
                emit(&mut tar, entry.file_name.clone(), data)?;
            }
        }
    }
    tar.finish().map_err(|e| format!("writing the tar: {e}"))
}

/// Reads a `Read` to its end, counting; tells whether a tar stream that
/// `tar` stopped reading had its end-of-archive marker.
pub struct CountingReader<R> {
    /// The reader.
    pub inner: R,
    /// Bytes read.
    pub n: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(b)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// One file of a received tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarFile {
    /// The full entry name.
    pub path: String,
    /// The entry's bytes.
    pub size: u64,
}

/// Walks a plain tar, calling `on_entry(path, size, reader)` for every
/// non-directory entry, and checks that the stream was complete: every
/// entry's data present and the end-of-archive marker read (`tar` alone
/// treats an end of input between entries as a clean end).
pub fn walk<R: Read>(
    r: R,
    mut on_entry: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), String>,
) -> Result<u64, String> {
    let mut ar = tar::Archive::new(CountingReader { inner: r, n: 0 });
    let mut data_end = 0u64;
    {
        let entries = ar.entries().map_err(|e| format!("reading the tar: {e}"))?;
        for entry in entries {
            let mut e = entry.map_err(|e| format!("reading the tar: {e}"))?;
            let size = e.size();
            data_end = e.raw_file_position() + size.div_ceil(BLOCK) * BLOCK;
            if e.header().entry_type().is_dir() {
                continue;
            }
            let path = e
                .path()
                .map_err(|err| format!("reading the tar: {err}"))?
                .to_string_lossy()
                .into_owned();
            let mut counted = CountingReader { inner: &mut e, n: 0 };
            on_entry(&path, size, &mut counted)?;
            // Whatever the callback did not read, read now: a short entry
            // means a cut stream.
            io::copy(&mut counted, &mut io::sink())
                .map_err(|err| format!("reading {path} from the tar: {err}"))?;
            if counted.n != size {
                return Err(format!(
                    "truncated tar stream: {path} has {} of its {size} bytes",
                    counted.n
                ));
            }
        }
    }
    let total = ar.into_inner().n;
    if total < data_end + BLOCK {
        return Err(format!(
            "truncated tar stream: it ended after {total} bytes without its end-of-archive marker"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portable::tsm::ValueSlice;

    fn tsm(times: &[i64]) -> Vec<u8> {
        let v: Vec<i64> = times.to_vec();
        let mut w = TsmWriter::new("t", Vec::new()).with_points_per_block(2);
        w.write_series(b"cpu#!~#v", times, ValueSlice::Integer(&v)).unwrap();
        w.finish().unwrap()
    }

    fn points(data: &[u8]) -> Vec<i64> {
        let mut r = TsmReader::from_bytes("t", data).unwrap();
        let mut out = Vec::new();
        for i in 0..r.key_count() {
            out.extend(r.read_series(i).unwrap().timestamps);
        }
        out
    }

    #[test]
    fn window_is_block_granular_like_influxdb() {
        let f = tsm(&[10, 20, 30, 40, 50, 60]); // blocks [10,20] [30,40] [50,60]
        let kept = window_file("f", f.clone(), 35, 45).unwrap().unwrap();
        assert_eq!(points(&kept), [30, 40]);
        assert_eq!(window_file("f", f.clone(), 0, 100).unwrap().unwrap(), f);
        assert!(window_file("f", f.clone(), 61, 100).unwrap().is_none());
        // -start only: end is Go's zero time; blocks starting <= start stay.
        let zero = GoTime::ZERO.unix_nano_wrapping();
        assert_eq!(
            points(&window_file("f", f.clone(), 30, zero).unwrap().unwrap()),
            [10, 20, 30, 40]
        );
        assert!(window_file("f", f, 5, zero).unwrap().is_none());
    }

    #[test]
    fn walk_checks_the_end_marker_and_entry_sizes() {
        let mut t = ShardTar::new(Vec::new(), "db", "rp", 7, 0);
        t.append("000000001-000000001.tsm", b"abcdef").unwrap();
        t.append(&format!("{}.tsm", "x".repeat(120)), b"long").unwrap();
        let (buf, stats) = t.finish().unwrap();
        assert_eq!(stats.files, 2);
        assert_eq!(stats.bytes, buf.len() as u64);
        let mut seen = Vec::new();
        walk(&buf[..], |p, s, r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            seen.push((p.to_string(), s, v.len()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen[0], ("db/rp/7/000000001-000000001.tsm".to_string(), 6, 6));
        assert!(seen[1].0.ends_with(".tsm") && seen[1].0.len() > 120);
        // Cut before the end marker, inside an entry, inside a header.
        for cut in [buf.len() - 1024, 515, 600, 100] {
            let e = walk(&buf[..cut], |_, _, _| Ok(())).unwrap_err();
            assert!(e.contains("truncated") || e.contains("reading the tar"), "{cut}: {e}");
        }
        let (empty, _) = ShardTar::new(Vec::new(), "db", "rp", 1, 0).finish().unwrap();
        assert_eq!(empty.len(), 1024);
        assert_eq!(walk(&empty[..], |_, _, _| Ok(())).unwrap(), 512);
        assert!(walk(&b""[..], |_, _, _| Ok(())).is_err());
    }
}
