//! Writing a whole portable backup directory: `B.meta`, one `B.s<ID>.tar.gz`
//! per shard, and `B.manifest` last, as `influxd backup -portable` does
//! (spec §1.1). Reading one back is [`crate::manifest::load_incremental`].
//!
//! Files are created like the real backup creates them: `.meta` mode 0644,
//! shard archives and the manifest 0600. The manifest is written to a
//! temporary name and renamed, so a directory never holds a manifest that
//! names files not yet complete.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::archive::{ArchiveOptions, ShardArchiveWriter};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, ManifestFile, MetaEntry};
use crate::meta_file;

/// Builds one backup (one stamp `B`) in a directory.
pub struct BackupWriter {
    dir: PathBuf,
    stamp: String,
    manifest: Manifest,
}

fn create(path: &Path, mode: u32) -> Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    o.open(path).map_err(|e| Error::io(path.display().to_string(), e))
}

impl BackupWriter {
    /// A backup stamped with `unix_secs` (UTC) in `dir`, created (0700) if needed.
    pub fn new(dir: &Path, unix_secs: i64) -> Result<Self> {
        let name = dir.display().to_string();
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).map_err(|e| Error::io(&name, e))?;
        Ok(BackupWriter {
            dir: dir.to_path_buf(),
            stamp: manifest::stamp(unix_secs),
            manifest: Manifest::default(),
        })
    }

    /// The stamp `B` of every file name.
    pub fn stamp(&self) -> &str {
        &self.stamp
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest so far (e.g. to set the Enterprise `limited`,
    /// `database`, `policy`, `shard_id` fields).
    pub fn manifest_mut(&mut self) -> &mut Manifest {
        &mut self.manifest
    }

    /// Writes `B.meta` from serialized `meta.Data` bytes (`MaxNodeID` 0).
    pub fn write_meta_raw(&mut self, meta_data: &[u8]) -> Result<&MetaEntry> {
        let file_name = manifest::meta_file_name(&self.stamp);
        let path = self.dir.join(&file_name);
        let mut f = create(&path, 0o644)?;
        f.write_all(&meta_file::encode_portable_raw(meta_data, 0))
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        self.manifest.meta = MetaEntry { file_name, size: meta_data.len() as i64 };
        Ok(&self.manifest.meta)
    }

    /// Writes `B.meta` for `data`.
    pub fn write_meta(&mut self, data: &proto::meta::Data) -> Result<&MetaEntry> {
        self.write_meta_raw(&prost::Message::encode_to_vec(data))
    }

    /// Writes `B.s<shard_id>.tar.gz`: `fill` appends the shard's files to the
    /// archive writer; the entry is recorded in the manifest when it returns.
    pub fn add_shard(
        &mut self,
        database: &str,
        policy: &str,
        shard_id: u64,
        mut opts: ArchiveOptions,
        fill: impl FnOnce(&mut ShardArchiveWriter<BufWriter<File>>) -> Result<()>,
    ) -> Result<&ManifestFile> {
        let file_name = manifest::shard_file_name(&self.stamp, shard_id);
        let path = self.dir.join(&file_name);
        let pname = path.display().to_string();
        if opts.gzip_file_name.is_none() {
            opts.gzip_file_name = Some(manifest::shard_tar_name(&self.stamp, shard_id));
        }
        let f = BufWriter::with_capacity(1 << 20, create(&path, 0o600)?);
        let mut w = ShardArchiveWriter::new(f, database, policy, shard_id, opts);
        fill(&mut w)?;
        let (f, size) = w.finish()?;
        let f = f.into_inner().map_err(|e| Error::io(&pname, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&pname, e))?;
        self.manifest.files.push(ManifestFile {
            database: database.to_string(),
            policy: policy.to_string(),
            shard_id,
            file_name,
            size: size as i64,
            last_modified: 0,
        });
        Ok(self.manifest.files.last().expect("just pushed"))
    }

    /// Writes `B.manifest` (last, atomically) and returns it.
    pub fn finish(self) -> Result<Manifest> {
        let file_name = manifest::manifest_file_name(&self.stamp);
        let tmp = self.dir.join(format!("{file_name}.tmp"));
        let path = self.dir.join(&file_name);
        let tname = tmp.display().to_string();
        let mut f = create(&tmp, 0o600)?;
        f.write_all(self.manifest.to_json().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(&tname, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(path.display().to_string(), e))?;
        Ok(self.manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::read_shard_archive;
    use crate::tsm::{self, ValueSlice};

    #[test]
    fn writes_a_directory_load_incremental_reads() {
        let dir = std::env::temp_dir().join(format!("portable-backup-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut b = BackupWriter::new(&dir, 1_706_745_599).unwrap();
        assert_eq!(b.stamp(), "20240131T235959Z");
        let data = proto::meta::Data { index: 7, ..Default::default() };
        b.write_meta(&data).unwrap();
        let f = tsm::write_all([(&b"m#!~#v"[..], &[1, 2][..], ValueSlice::Integer(&[10, 20]))])
            .unwrap();
        b.add_shard("db", "rp", 5, ArchiveOptions::default(), |w| {
            w.append_file(&tsm::file_name(1, 1), f.len() as u64, &f[..])
        })
        .unwrap();
        let m = b.finish().unwrap();
        let inc = manifest::load_incremental(&dir).unwrap();
        assert_eq!(inc.files, m.files);
        assert_eq!(meta_file::load_portable(&inc.meta_path()).unwrap().data, data);
        let s = read_shard_archive("s5", File::open(inc.file_path(&inc.files[0])).unwrap(), false)
            .unwrap();
        assert_eq!(s.value_count(), 2);
        let gz = fs::read(inc.file_path(&inc.files[0])).unwrap();
        assert_eq!(&gz[10..33], b"20240131T235959Z.s5.tar");
        fs::remove_dir_all(&dir).unwrap();
    }
}
