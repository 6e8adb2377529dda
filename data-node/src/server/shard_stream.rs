//! Shard backup and restore streams: a local shard as a portable `.tar.gz`
//! out (`BackupShard`), and a `.tar.gz` in (`RestoreShard`). Both stream: the
//! blocking store work runs on a blocking thread that talks to the gRPC
//! stream through bounded channels, so a shard is never whole in memory
//! (at most one TSM file of the archive, up to 64 MiB, is).

use std::io::{Read, Write};
use std::sync::Arc;

use portable::archive::{ArchiveOptions, EntryKind, ShardArchiveReader, ShardArchiveWriter};
use proto::cluster;
use tokio::sync::mpsc;
use tonic::Status;

use crate::node::Node;
use crate::store::TimeRange;

/// Bytes per stream chunk.
const CHUNK: usize = 256 << 10;
/// TSM files of a restored archive up to this size are imported from
/// memory; larger ones from a temporary file.
const IN_MEMORY_TSM_BYTES: u64 = 64 << 20;
/// Largest TSM file the export produces.
const EXPORT_FILE_BYTES: u64 = 64 << 20;

/// A `Write` that sends full chunks down a channel.
pub struct ChannelWriter {
    tx: mpsc::Sender<Result<cluster::BackupShardChunk, Status>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send_buf(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(cluster::BackupShardChunk { data, ..Default::default() }))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "receiver gone"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_buf()
    }
}

/// Runs a backup of `shard_id` into `tx` (on a blocking thread).
pub fn backup(
    node: Arc<Node>,
    req: cluster::BackupShardRequest,
    tx: mpsc::Sender<Result<cluster::BackupShardChunk, Status>>,
) {
    let res = (|| -> Result<(u64, u64), String> {
        let shard = node
            .store
            .shard(req.shard_id)
            .ok_or_else(|| format!("shard {} not found on this node", req.shard_id))?;
        let level = if (0..=9).contains(&req.level) {
            flate2::Compression::new(req.level as u32)
        } else {
            flate2::Compression::default()
        };
        let opts = ArchiveOptions {
            gzip_file_name: (!req.gzip_name.is_empty()).then(|| req.gzip_name.clone()),
            level,
            entry_mtime: (shard.last_modified() / 1_000_000_000).max(0) as u64,
            time_range: None,
        };
        let w = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
        let mut ar = ShardArchiveWriter::new(
            w,
            shard.database(),
            shard.retention_policy(),
            req.shard_id,
            opts,
        );
        let range = req.has_range.then(|| TimeRange::new(req.start, req.end));
        let mut generation = 1u32;
        let stats = shard
            .export_tsm_files(range, EXPORT_FILE_BYTES, |buf| {
                let name = format!("{generation:09}-{:09}.tsm", 1);
                generation += 1;
                ar.append_file(&name, buf.len() as u64, &buf[..])
                    .map_err(|e| crate::store::StoreError::Io(std::io::Error::other(e.to_string())))
            })
            .map_err(|e| e.to_string())?;
        let (mut w, tar_size) = ar.finish().map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
        Ok((tar_size, stats.points))
    })();
    let last = match res {
        Ok((tar_size, points)) => {
            Ok(cluster::BackupShardChunk { data: vec![], done: true, tar_size, points })
        }
        Err(e) => Err(Status::internal(e)),
    };
    let _ = tx.blocking_send(last);
}

/// A `Read` over chunks arriving on a channel.
pub struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.blocking_recv() {
                Some(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Receives a `.tar.gz` for one shard: every `.tsm` entry is imported in
/// archive order (later files win on equal points), other entries are
/// skipped, as InfluxDB's restore does. Runs on a blocking thread.
pub fn restore(
    node: Arc<Node>,
    shard_id: u64,
    database: String,
    policy: String,
    rx: mpsc::Receiver<Vec<u8>>,
) -> Result<cluster::RestoreShardResponse, String> {
    let shard = match node.store.shard(shard_id) {
        Some(s) => s,
        None => node.store.create_shard(shard_id, &database, &policy).map_err(|e| e.to_string())?,
    };
    let reader = ChannelReader { rx, cur: Vec::new(), pos: 0 };
    let name = format!("shard {shard_id} archive");
    let mut ar = ShardArchiveReader::new(name.clone(), reader);
    let mut entries = ar.entries().map_err(|e| e.to_string())?;
    let mut resp = cluster::RestoreShardResponse::default();
    for entry in entries.by_ref() {
        let mut entry = entry.map_err(|e| e.to_string())?;
        resp.tar_size += 512 + entry.size.div_ceil(512) * 512;
        if !matches!(entry.kind, EntryKind::Tsm { .. }) {
            continue;
        }
        let file_name = format!("{name}: {}", entry.path);
        let stats = import_entry(
            &shard,
            &file_name,
            &mut entry,
            &node.config.data.dir,
            IN_MEMORY_TSM_BYTES,
        )?;
        resp.points += stats.points;
        resp.files += 1;
    }
    resp.tar_size += 1024;
    Ok(resp)
}

/// Imports one TSM entry of an archive: from memory up to `in_memory`
/// bytes; a larger file spills to an unnamed temporary file in `tmp_dir`
/// (TSM needs random access: its index is at the end).
fn import_entry<R: Read>(
    shard: &crate::store::Shard,
    file_name: &str,
    entry: &mut portable::archive::ShardEntry<'_, R>,
    tmp_dir: &std::path::Path,
    in_memory: u64,
) -> Result<crate::store::ImportStats, String> {
    if entry.size <= in_memory {
        let t0 = std::time::Instant::now();
        let bytes = entry.read_to_vec().map_err(|e| e.to_string())?;
        let received = t0.elapsed();
        let stats =
            shard.import_tsm(file_name, std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
        tracing::debug!(
            file = file_name,
            bytes = entry.size,
            ?received,
            imported = ?t0.elapsed() - received,
            points = stats.points,
            "restored TSM file"
        );
        return Ok(stats);
    }
    let mut tmp = tempfile::tempfile_in(tmp_dir)
        .map_err(|e| format!("{file_name}: temporary file in {}: {e}", tmp_dir.display()))?;
    let n = std::io::copy(entry, &mut tmp).map_err(|e| format!("{file_name}: {e}"))?;
    if n != entry.size {
        return Err(format!("{file_name}: truncated entry ({n} of {} bytes)", entry.size));
    }
    std::io::Seek::rewind(&mut tmp).map_err(|e| format!("{file_name}: {e}"))?;
    shard
        .import_tsm(file_name, std::io::BufReader::with_capacity(1 << 20, tmp))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use portable::tsm::{TsmWriter, Values};

    /// The same archive imports the same points from memory and through a
    /// temporary file.
    #[test]
    fn big_entries_spill_to_a_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path().join("store")).unwrap();
        let mut w = TsmWriter::new("t", Vec::new());
        let ts: Vec<i64> = (0..1000).collect();
        let vs = Values::Float((0..1000).map(f64::from).collect());
        w.write_series(b"cpu,host=a#!~#v", &ts, vs.as_slice()).unwrap();
        let tsm = w.finish().unwrap();
        let mut ar = ShardArchiveWriter::new(Vec::new(), "db", "rp", 1, ArchiveOptions::default());
        ar.append_file("000000001-000000001.tsm", tsm.len() as u64, &tsm[..]).unwrap();
        let (gz, _) = ar.finish().unwrap();
        for (id, limit) in [(1, u64::MAX), (2, 0)] {
            let shard = store.create_shard(id, "db", "rp").unwrap();
            let mut r = ShardArchiveReader::new("a", &gz[..]);
            let mut n = 0;
            for e in r.entries().unwrap() {
                let mut e = e.unwrap();
                n += import_entry(&shard, "f", &mut e, dir.path(), limit).unwrap().points;
            }
            assert_eq!(n, 1000, "limit {limit}");
            assert_eq!(shard.point_count(), 1000);
        }
        // Nothing is left behind in the directory.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
