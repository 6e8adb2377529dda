//! A whole shard read from its archive, merged as the engine merges it:
//! TSM files in generation/sequence order, a later file winning on equal
//! (key, timestamp), tombstones optionally applied to their own file.
//!
//! This holds the shard in memory: a convenience for tests, tools and small
//! shards. Streaming consumers use [`crate::archive::ShardArchiveReader`]
//! and [`crate::tsm::TsmReader`] directly.

use std::collections::BTreeMap;
use std::io::Read;

use crate::archive::{EntryKind, ShardArchiveReader};
use crate::error::Result;
use crate::tsm::merge::merge;
use crate::tsm::{Tombstones, TsmReader, Values};

/// The merged points of one shard: composite key → (timestamps, values).
pub type ShardPoints = BTreeMap<Vec<u8>, (Vec<i64>, Values)>;

/// What [`read_shard_archive`] found.
#[derive(Debug, Clone, Default)]
pub struct ShardContents {
    /// Database named by the entries (first entry).
    pub database: String,
    /// Retention policy named by the entries (first entry).
    pub policy: String,
    /// TSM file names, in merge order.
    pub tsm_files: Vec<String>,
    /// Tombstone file names.
    pub tombstone_files: Vec<String>,
    /// Other files (ignored).
    pub other_files: Vec<String>,
    /// The merged points.
    pub points: ShardPoints,
}

impl ShardContents {
    /// The number of (key, timestamp) values.
    pub fn value_count(&self) -> u64 {
        self.points.values().map(|(t, _)| t.len() as u64).sum()
    }
}

/// Reads a shard `.tar.gz` completely: every TSM file decoded (CRCs
/// checked), tombstones applied if `apply_tombstones`, files merged.
pub fn read_shard_archive(
    name: &str,
    r: impl Read,
    apply_tombstones: bool,
) -> Result<ShardContents> {
    let mut archive = ShardArchiveReader::new(name, r);
    let mut out = ShardContents::default();
    let mut files: Vec<((u32, u32), String, ShardPoints)> = Vec::new();
    let mut tombstones: BTreeMap<String, Tombstones> = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if out.database.is_empty() && out.policy.is_empty() {
            out.database = entry.database.clone();
            out.policy = entry.policy.clone();
        }
        let full = format!("{name}: {}", entry.path);
        match entry.kind {
            EntryKind::Tsm { generation, sequence } => {
                let data = entry.read_to_vec()?;
                let mut reader = TsmReader::from_bytes(full, &data)?;
                let mut points = ShardPoints::new();
                for s in reader.series() {
                    let s = s?;
                    points.insert(s.key, (s.timestamps, s.values));
                }
                files.push(((generation, sequence), entry.file_name.clone(), points));
            }
            EntryKind::Tombstone => {
                let data = entry.read_to_vec()?;
                let stem = entry.file_name.trim_end_matches(".tombstone").to_string();
                tombstones.insert(stem, Tombstones::parse(&full, &data)?);
                out.tombstone_files.push(entry.file_name.clone());
            }
            EntryKind::Other => out.other_files.push(entry.file_name.clone()),
        }
    }
    files.sort_by_key(|f| f.0);
    for (_, file_name, mut points) in files {
        if apply_tombstones && let Some(t) = tombstones.get(file_name.trim_end_matches(".tsm")) {
            for (key, (ts, vs)) in points.iter_mut() {
                t.apply(key, ts, vs);
            }
        }
        for (key, (ts, vs)) in points {
            if ts.is_empty() {
                continue;
            }
            match out.points.remove(&key) {
                None => {
                    out.points.insert(key, (ts, vs));
                }
                Some((ots, ovs)) => {
                    let merged = merge((&ots, &ovs), (&ts, &vs))?;
                    out.points.insert(key, merged);
                }
            }
        }
        out.tsm_files.push(file_name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{ArchiveOptions, ShardArchiveWriter};
    use crate::tsm::{self, Tombstone, ValueSlice};

    #[test]
    fn later_generation_wins_and_tombstones_apply() {
        let old =
            tsm::write_all([(&b"m#!~#f"[..], &[1, 2, 3][..], ValueSlice::Integer(&[1, 2, 3]))])
                .unwrap();
        let new = tsm::write_all([(&b"m#!~#f"[..], &[3, 4][..], ValueSlice::Integer(&[30, 40]))])
            .unwrap();
        let tomb =
            Tombstones { entries: vec![Tombstone { key: b"m#!~#f".to_vec(), min: 1, max: 1 }] }
                .encode_v2();
        let mut w = ShardArchiveWriter::new(Vec::new(), "db", "rp", 3, ArchiveOptions::default());
        // Newer file first in the archive: order comes from the names.
        w.append_file("000000002-000000001.tsm", new.len() as u64, &new[..]).unwrap();
        w.append_file("000000001-000000001.tsm", old.len() as u64, &old[..]).unwrap();
        w.append_file("000000001-000000001.tombstone", tomb.len() as u64, &tomb[..]).unwrap();
        let (gz, _) = w.finish().unwrap();
        let c = read_shard_archive("s", &gz[..], false).unwrap();
        assert_eq!(
            c.points[&b"m#!~#f".to_vec()],
            (vec![1, 2, 3, 4], Values::Integer(vec![1, 2, 30, 40]))
        );
        let c = read_shard_archive("s", &gz[..], true).unwrap();
        assert_eq!(
            c.points[&b"m#!~#f".to_vec()],
            (vec![2, 3, 4], Values::Integer(vec![2, 30, 40]))
        );
        assert_eq!(c.tsm_files, ["000000001-000000001.tsm", "000000002-000000001.tsm"]);
        assert_eq!((c.database.as_str(), c.policy.as_str()), ("db", "rp"));
    }
}
