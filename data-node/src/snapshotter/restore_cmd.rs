//! `data-node restore`: InfluxDB OSS's `influxd restore` against a data
//! node: `-portable` (the Enterprise-compatible format, through the
//! snapshotter), `-online` (the legacy format, through the snapshotter),
//! and the offline legacy restore (`-metadir`, `-datadir`) into a stopped
//! data node's own directories ([`super::offline`]).
//!
//! Flag rules, texts and exit codes are InfluxDB 1.6's (the fixture tool),
//! with 1.8's two fixes: `-newdb` needs `-db`, and the offline restore
//! defaults `-newdb` to `-db` (so the OSS page's
//! `restore -database telegraf -datadir …` works; 1.6 refuses it).
//!
//! DEVIATIONS: shards are uploaded in shard-ID order (InfluxDB: Go map
//! order); an archive is checked whole before it is sent, so a cut file
//! fails the restore instead of restoring part of a shard; the legacy
//! online restore skips a mis-named file instead of failing on it; a
//! testbed data node's `ERR` answer to a shard upload is reported.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

use portable::manifest::{Manifest, ManifestFile, MetaEntry};

use super::backup_cmd::{go_join, golog, io_text};
use super::client;
use super::goflag::{FlagError, FlagSet, Kind};
use super::wire::{Request, RequestType};

const USAGE: &str = r"
Uses backup copies from the specified PATH to restore databases or specific shards from InfluxDB OSS
  or InfluxDB Enterprise to an InfluxDB OSS instance.

Usage: influxd restore -portable [options] PATH

Note: Restore using the '-portable' option consumes files in an improved Enterprise-compatible 
  format that includes a file manifest.

Options:
    -portable 
            Required to activate the portable restore mode. If not specified, the legacy restore mode is used.
    -host  <host:port>
            InfluxDB OSS host to connect to where the data will be restored. Defaults to '127.0.0.1:8088'.
    -db    <name>
            Name of database to be restored from the backup (InfluxDB OSS or InfluxDB Enterprise)
    -newdb <name>
            Name of the InfluxDB OSS database into which the archived data will be imported on the target system. 
            Optional. If not given, then the value of '-db <db_name>' is used.  The new database name must be unique 
            to the target system.
    -rp    <name>
            Name of retention policy from the backup that will be restored. Optional. 
            Requires that '-db <db_name>' is specified.
    -newrp <name>
            Name of the retention policy to be created on the target system. Optional. Requires that '-rp <rp_name>' 
            is set. If not given, the '-rp <rp_name>' value is used.
    -shard <id>
            Identifier of the shard to be restored. Optional. If specified, then '-db <db_name>' and '-rp <rp_name>' are
            required.
    PATH
            Path to directory containing the backup files.

";

/// The parsed command.
pub struct Restore<'a> {
    pub(super) out: &'a mut dyn Write,
    pub(super) err: &'a mut dyn Write,
    host: String,
    pub(super) path: String,
    pub(super) metadir: String,
    pub(super) datadir: String,
    pub(super) source_db: String,
    dest_db: String,
    pub(super) backup_rp: String,
    pub(super) restore_rp: String,
    pub(super) shard: u64,
    portable: bool,
    online: bool,
    manifest_meta: MetaEntry,
    manifest_files: BTreeMap<u64, ManifestFile>,
    id_map: BTreeMap<u64, u64>,
}

/// Runs `data-node restore ARGS`; returns the exit code (0 or 1).
pub fn main(args: &[String]) -> i32 {
    let (mut out, mut err) = (io::stdout(), io::stderr());
    match run(args, &mut out, &mut err) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "restore: {e}");
            1
        }
    }
}

/// The command with its outputs given (tests).
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<(), String> {
    let mut r = parse(args, out, err)?;
    if r.portable {
        r.run_online_portable()
    } else if r.online {
        r.run_online_legacy()
    } else {
        super::offline::run(&mut r)
    }
}

fn parse<'a>(
    args: &[String],
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
) -> Result<Restore<'a>, String> {
    let flags = FlagSet::new(vec![
        ("host", "host", Kind::Str),
        ("metadir", "metadir", Kind::Str),
        ("datadir", "datadir", Kind::Str),
        ("database", "database", Kind::Str),
        ("db", "database", Kind::Str),
        ("newdb", "newdb", Kind::Str),
        ("retention", "retention", Kind::Str),
        ("rp", "retention", Kind::Str),
        ("newrp", "newrp", Kind::Str),
        ("shard", "shard", Kind::Uint64),
        ("online", "online", Kind::Bool),
        ("portable", "portable", Kind::Bool),
    ]);
    // Go's restore prints flag errors and the usage on stdout.
    let p = match flags.parse(args) {
        Ok(p) => p,
        Err(FlagError::Help) => {
            let _ = out.write_all(USAGE.as_bytes());
            return Err(FlagError::Help.to_string());
        }
        Err(e) => {
            let _ = writeln!(out, "{e}");
            let _ = out.write_all(USAGE.as_bytes());
            return Err(e.to_string());
        }
    };
    let mut r = Restore {
        out,
        err,
        host: p.str_or("host", "localhost:8088"),
        path: p.args.first().cloned().unwrap_or_default(),
        metadir: p.str("metadir"),
        datadir: p.str("datadir"),
        source_db: p.str("database"),
        dest_db: p.str("newdb"),
        backup_rp: p.str("retention"),
        restore_rp: p.str("newrp"),
        shard: p.u64("shard"),
        portable: p.bool("portable"),
        online: p.bool("online"),
        manifest_meta: MetaEntry::default(),
        manifest_files: BTreeMap::new(),
        id_map: BTreeMap::new(),
    };
    if r.path.is_empty() {
        return Err("path with backup files required".into());
    }
    if !Path::new(&r.path).is_dir() {
        return Err(format!("backup path should be a valid directory: {}", r.path));
    }
    if !r.dest_db.is_empty() && r.source_db.is_empty() {
        return Err(format!(
            "must specify a database to be restored into new database {}",
            r.dest_db
        ));
    }
    if r.portable || r.online {
        if !r.metadir.is_empty() {
            return Err("offline parameter metadir found, not compatible with -portable".into());
        }
        if !r.datadir.is_empty() {
            return Err("offline parameter datadir found, not compatible with -portable".into());
        }
        if r.restore_rp.is_empty() {
            r.restore_rp = r.backup_rp.clone();
        }
        if r.portable {
            let (meta, files) = load_incremental(&r.path)
                .map_err(|e| format!("restore failed while processing manifest files: {e}"))?;
            match meta {
                Some(m) => r.manifest_meta = m,
                None => return Err(format!("No manifest files found in: {}\n", r.path)),
            }
            r.manifest_files = files;
        }
    } else {
        if r.dest_db.is_empty() {
            r.dest_db = r.source_db.clone();
        }
        if r.metadir.is_empty() && r.dest_db.is_empty() {
            return Err("-metadir or -newdb are required to restore".into());
        }
        if !r.dest_db.is_empty() && r.datadir.is_empty() {
            return Err("-datadir is required to restore".into());
        }
        if r.shard != 0 {
            if r.dest_db.is_empty() {
                return Err("-newdb is required to restore shard".into());
            }
            if r.backup_rp.is_empty() {
                return Err("-retention is required to restore shard".into());
            }
        } else if !r.backup_rp.is_empty() && r.dest_db.is_empty() {
            return Err("-newdb is required to restore retention policy".into());
        }
    }
    Ok(r)
}

/// `backup_util.LoadIncremental`: the meta entry of the newest manifest,
/// the newest entry per shard whose file exists.
type Loaded = (Option<MetaEntry>, BTreeMap<u64, ManifestFile>);

fn load_incremental(dir: &str) -> Result<Loaded, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("open {dir}: {}", io_text(&e)))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".manifest"))
        .collect();
    let mut files = BTreeMap::new();
    if names.is_empty() {
        return Ok((None, files));
    }
    names.sort_by(|a, b| b.cmp(a));
    let mut meta = MetaEntry::default();
    for n in names {
        let path = go_join(dir, &n);
        if Path::new(&path).is_dir() {
            continue;
        }
        let text = std::fs::read(&path).map_err(|e| format!("open {path}: {}", io_text(&e)))?;
        let m = Manifest::from_json(&path, &text).map_err(|e| format!("read manifest: {e}"))?;
        if meta.file_name.is_empty() {
            meta = m.meta.clone();
        }
        for f in m.files {
            if !Path::new(&go_join(dir, &f.file_name)).exists() {
                continue;
            }
            let newer = match files.get(&f.shard_id) {
                None => true,
                Some(held) => f.last_modified > held.last_modified,
            };
            if newer {
                files.insert(f.shard_id, f);
            }
        }
    }
    Ok((Some(meta), files))
}

impl Restore<'_> {
    pub(super) fn log(&mut self, msg: &str) {
        golog(self.out, msg);
    }

    pub(super) fn elog(&mut self, msg: &str) {
        golog(self.err, msg);
    }

    fn meta_request(&self, size: usize) -> Request {
        let mut req = Request::new(RequestType::MetaStoreUpdate);
        req.backup_database = self.source_db.clone();
        req.restore_database = self.dest_db.clone();
        req.backup_retention_policy = self.backup_rp.clone();
        req.restore_retention_policy = self.restore_rp.clone();
        req.upload_size = size as i64;
        req
    }

    fn run_online_portable(&mut self) -> Result<(), String> {
        if let Err(e) = self.update_meta_portable() {
            self.elog(&format!("error updating meta: {e}"));
            return Err(e);
        }
        if let Err(e) = self.upload_shards_portable() {
            self.elog(&format!("error updating shards: {e}"));
            return Err(e);
        }
        Ok(())
    }

    fn run_online_legacy(&mut self) -> Result<(), String> {
        if let Err(e) = self.update_meta_legacy() {
            self.elog(&format!("error updating meta: {e}"));
            return Err(e);
        }
        if let Err(e) = self.upload_shards_legacy() {
            self.elog(&format!("error updating shards: {e}"));
            return Err(e);
        }
        Ok(())
    }

    fn update_meta(&mut self, meta: &[u8]) -> Result<(), String> {
        let req = self.meta_request(meta.len());
        let pairs = client::update_meta(&self.host, &req, meta).map_err(|e| e.to_string())?;
        self.id_map = pairs.into_iter().collect();
        Ok(())
    }

    fn update_meta_portable(&mut self) -> Result<(), String> {
        let path = go_join(&self.path, &self.manifest_meta.file_name);
        let bytes = std::fs::read(&path).map_err(|e| format!("open {path}: {}", io_text(&e)))?;
        // InfluxDB ignores a bad wrapper and sends what it got.
        let meta =
            portable::meta_file::decode_portable(&path, &bytes).map(|m| m.raw).unwrap_or_default();
        self.update_meta(&meta)
    }

    fn update_meta_legacy(&mut self) -> Result<(), String> {
        let file = last_meta_file(&self.path)?;
        self.log(&format!("Using metastore snapshot: {file}\n"));
        let meta = meta_bytes(&file)?;
        self.update_meta(&meta)
    }

    fn upload_shards_portable(&mut self) -> Result<(), String> {
        let files: Vec<ManifestFile> = self.manifest_files.values().cloned().collect();
        for f in files {
            if !self.source_db.is_empty() && self.source_db != f.database {
                continue;
            }
            if !self.backup_rp.is_empty() && self.backup_rp != f.policy {
                continue;
            }
            if self.shard != 0 && self.shard != f.shard_id {
                continue;
            }
            let Some(&new_id) = self.id_map.get(&f.shard_id) else {
                self.log(&format!(
                    "Meta info not found for shard {} on database {}. Skipping shard file {}",
                    f.shard_id, f.database, f.file_name
                ));
                continue;
            };
            self.log(&format!("Restoring shard {} live from backup {}\n", f.shard_id, f.file_name));
            let path = go_join(&self.path, &f.file_name);
            check_archive(&path, true)?;
            let file = File::open(&path).map_err(|e| format!("open {path}: {}", io_text(&e)))?;
            let gz = portable::gzip::GzipReader::new(BufReader::new(file));
            let db =
                if self.dest_db.is_empty() { f.database.clone() } else { self.dest_db.clone() };
            client::upload_shard(&self.host, new_id, &db, &self.restore_rp, gz)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn upload_shards_legacy(&mut self) -> Result<(), String> {
        let pat = format!("{}.*", go_join(&self.path, &self.source_db));
        self.log(&format!("Restoring live from backup {pat}\n"));
        let files = glob_prefix(&pat)?;
        if files.is_empty() {
            return Err(format!("no backup files in {}", self.path));
        }
        for f in files {
            let base = Path::new(&f).file_name().map(|n| n.to_string_lossy().into_owned());
            let parts: Vec<String> =
                base.unwrap_or_default().split('.').map(str::to_string).collect();
            if parts.len() != 4 {
                self.elog(&format!("Skipping mis-named backup file: {f}"));
                continue;
            }
            let id: u64 = parts[2].parse().map_err(|_| {
                format!("strconv.ParseUint: parsing {:?}: invalid syntax", parts[2])
            })?;
            let Some(&new_id) = self.id_map.get(&id) else {
                self.log(&format!("Meta info not found for shard {id}. Skipping shard file {f}"));
                continue;
            };
            check_archive(&f, false)?;
            let file = File::open(&f).map_err(|e| format!("open {f}: {}", io_text(&e)))?;
            client::upload_shard(&self.host, new_id, &self.dest_db, &self.restore_rp, file)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Checks that a shard archive (gzip'd or not) is complete before it is
/// sent, so a cut file restores nothing rather than part of a shard.
fn check_archive(path: &str, gzip: bool) -> Result<(), String> {
    let f = File::open(path).map_err(|e| format!("open {path}: {}", io_text(&e)))?;
    let r = BufReader::new(f);
    let res = if gzip {
        super::tarball::walk(portable::gzip::GzipReader::new(r), |_, _, _| Ok(()))
    } else {
        super::tarball::walk(r, |_, _, _| Ok(()))
    };
    res.map(|_| ()).map_err(|e| format!("{path}: {e}"))
}

/// Go's `filepath.Glob` for a pattern `<dir>/<prefix>*` (the only shape the
/// restore uses): matching names, sorted.
pub fn glob_prefix(pat: &str) -> Result<Vec<String>, String> {
    let Some(stripped) = pat.strip_suffix('*') else {
        return Ok(if Path::new(pat).exists() { vec![pat.to_string()] } else { vec![] });
    };
    let (dir, prefix) = match stripped.rfind('/') {
        Some(i) => (&stripped[..i], &stripped[i + 1..]),
        None => (".", stripped),
    };
    let dir = if dir.is_empty() { "/" } else { dir };
    let Ok(rd) = std::fs::read_dir(dir) else { return Ok(vec![]) };
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .map(|n| if stripped.contains('/') { format!("{dir}/{n}") } else { n })
        .collect();
    out.sort();
    Ok(out)
}

/// The last `meta.*` file of a legacy backup (Go's glob order).
pub fn last_meta_file(dir: &str) -> Result<String, String> {
    let files = glob_prefix(&format!("{}.*", go_join(dir, "meta")))?;
    files.last().cloned().ok_or_else(|| format!("no metastore backups in {dir}"))
}

/// `backup_util.GetMetaBytes`: the `meta.Data` of a legacy `meta.NN`.
pub fn meta_bytes(file: &str) -> Result<Vec<u8>, String> {
    let b = std::fs::read(file).map_err(|e| format!("open {file}: {}", io_text(&e)))?;
    if b.len() < 8
        || u64::from_be_bytes(b[..8].try_into().unwrap_or([0; 8])) != super::wire::BACKUP_MAGIC
    {
        return Err("invalid metadata file".into());
    }
    portable::meta_file::decode_snapshot_blob(file, &b)
        .map(|blob| blob.meta)
        .map_err(|e| format!("invalid metadata file: {e}"))
}
