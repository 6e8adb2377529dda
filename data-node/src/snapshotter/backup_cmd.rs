//! `data-node backup`: InfluxDB OSS's `influxd backup` (1.6, the fixture
//! tool, with 1.8's `-skip-errors`), against a data node's snapshotter.
//!
//! Same flags, checks, console lines (Go's `log` prefix, progress on
//! stdout, errors on stderr, `backup: <err>` and exit 1 on failure) and
//! files: with `-portable` `B.meta`, `B.s<ID>.tar.gz`, `B.manifest`;
//! without, the legacy `meta.NN` and `<db>.<rp>.<%05d shard>.<%02d n>`
//! (uncompressed tars). InfluxDB's quirks are kept: the manifest is written
//! even when a `-db` backup fails, the legacy `backup complete:` list
//! repeats the directory, `-since`/`-start`/`-end` names as given.
//!
//! DEVIATIONS, for clear errors: a refused connection is retried twice
//! (InfluxDB: ten times over four minutes), an HTTP answer is a wrong-port
//! error at once, a shard tar cut short or an empty answer fails the backup
//! instead of being retried or kept.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use portable::manifest::{Manifest, ManifestFile, MetaEntry};

use super::client::{self, ClientError};
use super::goflag::{FlagError, FlagSet, Kind};
use super::wire::{GoTime, Request, RequestType};

/// Attempts per download when the host does not answer.
const DOWNLOAD_TRIES: u32 = 3;

const USAGE: &str = r"
Creates a backup copy of specified InfluxDB OSS database(s) and saves the files in an Enterprise-compatible
format to PATH (directory where backups are saved). 

Usage: influxd backup [options] PATH

    -portable
            Required to generate backup files in a portable format that can be restored to InfluxDB OSS or InfluxDB 
            Enterprise. Use unless the legacy backup is required.
    -host <host:port>
            InfluxDB OSS host to back up from. Optional. Defaults to 127.0.0.1:8088.
    -db <name>
            InfluxDB OSS database name to back up. Optional. If not specified, all databases are backed up when 
            using '-portable'.
    -rp <name>
            Retention policy to use for the backup. Optional. If not specified, all retention policies are used by 
            default.
    -shard <id>
            The identifier of the shard to back up. Optional. If specified, '-rp <rp_name>' is required.
    -start <2015-12-24T08:12:23Z>
            Include all points starting with specified timestamp (RFC3339 format). 
            Not compatible with '-since <timestamp>'.
    -end <2015-12-24T08:12:23Z>
            Exclude all points after timestamp (RFC3339 format). 
            Not compatible with '-since <timestamp>'.
    -since <2015-12-24T08:12:23Z>
            Create an incremental backup of all points after the timestamp (RFC3339 format). Optional. 
            Recommend using '-start <timestamp>' instead.
";

/// Go's `log.LstdFlags` prefix, in local time.
pub fn log_prefix() -> String {
    chrono::Local::now().format("%Y/%m/%d %H:%M:%S ").to_string()
}

/// Writes one Go `log` line.
pub fn golog(w: &mut dyn Write, msg: &str) {
    let mut line = log_prefix();
    line.push_str(msg);
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let _ = w.write_all(line.as_bytes());
    let _ = w.flush();
}

/// Go's `filepath.Join`: joined with `/`, then cleaned.
pub fn go_join(a: &str, b: &str) -> String {
    let joined = match (a.is_empty(), b.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => b.to_string(),
        (false, true) => a.to_string(),
        (false, false) => format!("{a}/{b}"),
    };
    go_clean(&joined)
}

/// Go's `filepath.Clean`.
pub fn go_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Go's `time.Parse(time.RFC3339, s)` error text.
pub fn parse_time_error(s: &str) -> String {
    const LAYOUT: &str = "2006-01-02T15:04:05Z07:00";
    let elems: [(&str, usize); 11] = [
        ("2006", 4),
        ("-", 1),
        ("01", 2),
        ("-", 1),
        ("02", 2),
        ("T", 1),
        ("15", 2),
        (":", 1),
        ("04", 2),
        (":", 1),
        ("05", 2),
    ];
    let b = s.as_bytes();
    let mut i = 0;
    for (elem, n) in elems.iter() {
        let ok = match *elem {
            "-" | "T" | ":" => b.get(i) == Some(&elem.as_bytes()[0]),
            _ => b.get(i..i + n).is_some_and(|d| d.iter().all(u8::is_ascii_digit)),
        };
        if !ok {
            return format!(
                "parsing time {s:?} as {LAYOUT:?}: cannot parse {:?} as {elem:?}",
                String::from_utf8_lossy(b.get(i..).unwrap_or_default())
            );
        }
        i += n;
        // Range checks as Go reports them.
        let v = || s[i - n..i].parse::<u32>().unwrap_or(0);
        let range = match *elem {
            "01" if !(1..=12).contains(&v()) => Some("month"),
            "15" if v() > 23 => Some("hour"),
            "04" if v() > 59 => Some("minute"),
            "05" if v() > 59 => Some("second"),
            _ => None,
        };
        if let Some(what) = range {
            return format!("parsing time {s:?}: {what} out of range");
        }
    }
    let mut rest = b.get(i..).unwrap_or_default();
    if let [b'.' | b',', r @ ..] = rest {
        let digits = r.iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &r[digits..];
    }
    let zone_ok = rest == b"Z"
        || matches!(rest, [b'+' | b'-', h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()));
    let rest = String::from_utf8_lossy(rest);
    if zone_ok {
        return format!("parsing time {s:?}: day out of range");
    }
    format!("parsing time {s:?} as {LAYOUT:?}: cannot parse {rest:?} as \"Z07:00\"")
}

/// Parses an RFC3339 flag value with Go's error text.
pub fn parse_time(s: &str) -> Result<GoTime, String> {
    GoTime::parse_rfc3339(s).ok_or_else(|| parse_time_error(s))
}

/// One backup run.
struct Backup<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    host: String,
    path: String,
    database: String,
    retention: String,
    shard: String,
    since: GoTime,
    start: GoTime,
    end: GoTime,
    is_backup: bool,
    portable: bool,
    skip_errors: bool,
    base: String,
    manifest: Manifest,
    files: Vec<String>,
}

/// Runs `data-node backup ARGS`; returns the exit code (0 or 1).
pub fn main(args: &[String]) -> i32 {
    let (mut out, mut err) = (io::stdout(), io::stderr());
    match run(args, &mut out, &mut err) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "backup: {e}");
            1
        }
    }
}

/// The command with its outputs given (tests).
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<(), String> {
    let flags = FlagSet::new(vec![
        ("host", "host", Kind::Str),
        ("database", "database", Kind::Str),
        ("db", "database", Kind::Str),
        ("retention", "retention", Kind::Str),
        ("rp", "retention", Kind::Str),
        ("shard", "shard", Kind::Str),
        ("since", "since", Kind::Str),
        ("start", "start", Kind::Str),
        ("end", "end", Kind::Str),
        ("portable", "portable", Kind::Bool),
        ("skip-errors", "skip-errors", Kind::Bool),
    ]);
    let p = match flags.parse(args) {
        Ok(p) => p,
        Err(FlagError::Help) => {
            let _ = out.write_all(USAGE.as_bytes());
            return Err(FlagError::Help.to_string());
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            let _ = out.write_all(USAGE.as_bytes());
            return Err(e.to_string());
        }
    };
    let (since_arg, start_arg, end_arg) = (p.str("since"), p.str("start"), p.str("end"));
    let mut b = Backup {
        out,
        err,
        host: p.str_or("host", "localhost:8088"),
        path: String::new(),
        database: p.str("database"),
        retention: p.str("retention"),
        shard: p.str("shard"),
        since: GoTime::ZERO,
        start: GoTime::ZERO,
        end: GoTime::ZERO,
        is_backup: (start_arg.is_empty() && end_arg.is_empty()) || !since_arg.is_empty(),
        portable: p.bool("portable"),
        skip_errors: p.bool("skip-errors"),
        base: portable::manifest::stamp(GoTime::now().secs),
        manifest: Manifest::default(),
        files: Vec::new(),
    };
    if !since_arg.is_empty() {
        b.since = parse_time(&since_arg)?;
    }
    if !start_arg.is_empty() {
        if b.is_backup {
            return Err("backup command uses one of -since or -start/-end".into());
        }
        b.start = parse_time(&start_arg)?;
    }
    if !end_arg.is_empty() {
        if b.is_backup {
            return Err("backup command uses one of -since or -start/-end".into());
        }
        b.end = parse_time(&end_arg)?;
        if !b.start.before(&b.end) {
            return Err("start date must be before end date".into());
        }
    }
    if p.args.len() != 1 {
        return Err("Exactly one backup path is required.".into());
    }
    b.path = p.args[0].clone();
    mkdir_all(&b.path)?;
    b.run()
}

fn mkdir_all(path: &str) -> Result<(), String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(|e| format!("mkdir {path}: {}", io_text(&e)))
}

/// Go's lower-case description of an I/O error.
pub fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

impl Backup<'_> {
    fn log(&mut self, msg: &str) {
        golog(self.out, msg);
    }

    fn elog(&mut self, msg: &str) {
        golog(self.err, msg);
    }

    fn run(&mut self) -> Result<(), String> {
        let mut res = Ok(());
        if !self.shard.is_empty() {
            self.backup_metastore()?;
            let (db, rp, shard) =
                (self.database.clone(), self.retention.clone(), self.shard.clone());
            res = self.backup_shard(&db, &rp, &shard);
        } else if !self.retention.is_empty() {
            self.backup_metastore()?;
            res = self.backup_retention_policy();
        } else if !self.database.is_empty() {
            self.backup_metastore()?;
            res = self.backup_database();
        } else {
            self.backup_metastore()?;
            self.log("No database, retention policy or shard ID given. Full meta store backed up.");
            if self.portable {
                self.log("Backing up all databases in portable format");
                if let Err(e) = self.backup_database() {
                    self.elog(&format!("backup failed: {e}"));
                    return Err(e);
                }
            }
        }
        if self.portable {
            let name = portable::manifest::manifest_file_name(&self.base);
            let path = go_join(&self.path, &name);
            if let Err(e) = write_file(&path, self.manifest.to_json().as_bytes(), 0o600) {
                self.elog(&format!("manifest save failed: {e}"));
                return Err(e);
            }
            self.files.push(name);
        }
        if let Err(e) = res {
            self.elog(&format!("backup failed: {e}"));
            return Err(e);
        }
        self.log("backup complete:");
        for f in self.files.clone() {
            let line = format!("\t{}", go_join(&self.path, &f));
            self.log(&line);
        }
        Ok(())
    }

    fn request(&self, t: RequestType) -> Request {
        Request::new(t)
    }

    fn backup_database(&mut self) -> Result<(), String> {
        let msg = format!("backing up db={}", self.database);
        self.log(&msg);
        let mut req = self.request(RequestType::DatabaseInfo);
        req.backup_database = self.database.clone();
        let paths = client::request_info(&self.host, &req).map_err(|e| e.to_string())?;
        self.backup_paths(&paths)
    }

    fn backup_retention_policy(&mut self) -> Result<(), String> {
        let msg = if self.is_backup {
            format!("backing up rp={} since {}", self.retention, self.since.format_rfc3339())
        } else {
            format!(
                "backing up rp={} with boundaries start={}, end={}",
                self.retention,
                self.start.format_rfc3339(),
                self.end.format_rfc3339()
            )
        };
        self.log(&msg);
        let mut req = self.request(RequestType::RetentionPolicyInfo);
        req.backup_database = self.database.clone();
        req.backup_retention_policy = self.retention.clone();
        let paths = client::request_info(&self.host, &req).map_err(|e| e.to_string())?;
        self.backup_paths(&paths)
    }

    fn backup_paths(&mut self, paths: &[String]) -> Result<(), String> {
        for p in paths {
            let parts: Vec<&str> = p.split('/').collect();
            if parts.len() != 3 {
                return Err(format!(
                    "expected database, retention policy, and shard id in path: {p}"
                ));
            }
            if let Err(e) = self.backup_shard(parts[0], parts[1], parts[2]) {
                if !self.skip_errors {
                    return Err(e);
                }
                self.elog(&format!(
                    "error ({e}) when backing up db: {}, rp {}, shard {}. continuing backup on remaining shards",
                    parts[0], parts[1], parts[2]
                ));
            }
        }
        Ok(())
    }

    fn backup_shard(&mut self, db: &str, rp: &str, sid: &str) -> Result<(), String> {
        let t = if self.is_backup { RequestType::ShardBackup } else { RequestType::ShardExport };
        let id: u64 = sid
            .parse()
            .map_err(|_| format!("strconv.ParseUint: parsing {sid:?}: invalid syntax"))?;
        let archive = next_path(&go_join(&self.path, &format!("{db}.{rp}.{id:05}")))?;
        let msg = if self.is_backup {
            format!(
                "backing up db={db} rp={rp} shard={sid} to {archive} since {}",
                self.since.format_rfc3339()
            )
        } else {
            format!(
                "backing up db={db} rp={rp} shard={sid} to {archive} with boundaries start={}, end={}",
                self.start.format_rfc3339(),
                self.end.format_rfc3339()
            )
        };
        self.log(&msg);
        let mut req = self.request(t);
        req.backup_database = db.to_string();
        req.backup_retention_policy = rp.to_string();
        req.shard_id = id;
        req.since = self.since;
        req.export_start = self.start;
        req.export_end = self.end;
        let host = self.host.clone();
        let res = self.download_and_verify(&req, &archive, &|tmp: &str| {
            let f = File::open(tmp).map_err(|e| io_text(&e))?;
            super::tarball::walk(io::BufReader::new(f), |_, _, _| Ok(()))
                .map(|_| ())
                .map_err(|e| format!("shard {id} from {host}: {e}"))
        });
        if !self.portable {
            self.files.push(archive.clone());
        }
        res?;
        if !self.portable {
            return Ok(());
        }
        let name = format!("{}.s{sid}.tar.gz", self.base);
        let tar_name = format!("{}.s{sid}.tar", self.base);
        let size = gzip_file(&archive, &go_join(&self.path, &name), &tar_name);
        let _ = fs::remove_file(&archive);
        let size = size?;
        self.manifest.files.push(ManifestFile {
            database: db.to_string(),
            policy: rp.to_string(),
            shard_id: id,
            file_name: name.clone(),
            size: size as i64,
            last_modified: 0,
        });
        self.files.push(name);
        Ok(())
    }

    fn backup_metastore(&mut self) -> Result<(), String> {
        let path = next_path(&go_join(&self.path, "meta"))?;
        let msg = format!("backing up metastore to {path}");
        self.log(&msg);
        let req = self.request(RequestType::MetastoreBackup);
        let mut bad_magic = false;
        let res = self.download_and_verify(&req, &path, &|tmp: &str| {
            let mut f = File::open(tmp).map_err(|e| io_text(&e))?;
            let mut magic = [0u8; 8];
            f.read_exact(&mut magic).map_err(|_| "unexpected EOF".to_string())?;
            if u64::from_be_bytes(magic) != super::wire::BACKUP_MAGIC {
                return Err("invalid metadata received".into());
            }
            let bytes = fs::read(tmp).map_err(|e| io_text(&e))?;
            portable::meta_file::decode_snapshot_blob("metastore backup", &bytes)
                .map(|_| ())
                .map_err(|e| format!("invalid metadata received: {e}"))
        });
        if let Err(e) = &res
            && e == "invalid metadata received"
        {
            bad_magic = true;
        }
        if bad_magic {
            self.elog(
                "Invalid metadata blob, ensure the metadata service is running (default port 8088)",
            );
        }
        res?;
        if !self.portable {
            self.files.push(path);
            return Ok(());
        }
        let bytes = fs::read(&path).map_err(|e| io_text(&e));
        let _ = fs::remove_file(&path);
        let blob = portable::meta_file::decode_snapshot_blob(&path, &bytes?)
            .map_err(|_| "invalid metadata file".to_string())?;
        let name = portable::manifest::meta_file_name(&self.base);
        let file = portable::meta_file::encode_portable_raw(&blob.meta, 0);
        if let Err(e) = write_file(&go_join(&self.path, &name), &file, 0o644) {
            let _ = writeln!(self.out, "Error.");
            return Err(e);
        }
        self.manifest.meta = MetaEntry { file_name: name.clone(), size: blob.meta.len() as i64 };
        self.files.push(name);
        Ok(())
    }

    /// Downloads to `<path>.pending`, checks it, renames it to `path`.
    fn download_and_verify(
        &mut self,
        req: &Request,
        path: &str,
        validate: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<(), String> {
        let tmp = format!("{path}.pending");
        self.download(req, &tmp)?;
        if let Err(e) = validate(&tmp) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, path).map_err(|e| format!("rename: {}", io_text(&e)))
    }

    fn download(&mut self, req: &Request, path: &str) -> Result<(), String> {
        let mut last = String::new();
        for i in 0..DOWNLOAD_TRIES {
            let mut f =
                File::create(path).map_err(|e| format!("open temp file: {}", io_text(&e)))?;
            let res = client::download(&self.host, req, &mut f).and_then(|_| {
                f.sync_all()?;
                Ok(())
            });
            match res {
                Ok(()) => return Ok(()),
                Err(e) if e.retryable() && i + 1 < DOWNLOAD_TRIES => {
                    let wait = Duration::from_millis(3.8f64.powi(i as i32) as u64)
                        .max(Duration::from_secs(2));
                    let msg = format!(
                        "Download shard {} failed {e}.  Waiting {} and retrying ({i})...",
                        req.shard_id,
                        proto::godur::format(wait)
                    );
                    self.elog(&msg);
                    std::thread::sleep(wait);
                }
                Err(e) => {
                    last = describe(&e);
                    break;
                }
            }
        }
        Err(last)
    }
}

/// A client error, with a hint where the host did not answer.
fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Dial { .. } => format!(
            "{e} (is a data node listening there? -host takes its TCP bind address, default port 8088)"
        ),
        _ => e.to_string(),
    }
}

/// The first `<path>.NN` that does not exist.
pub fn next_path(path: &str) -> Result<String, String> {
    for i in 0.. {
        let p = format!("{path}.{i:02}");
        match fs::symlink_metadata(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(format!("stat {p}: {}", io_text(&e))),
            Ok(_) => {}
        }
    }
    Err(format!("no free name for {path}"))
}

/// Writes a file with `mode`.
pub fn write_file(path: &str, data: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("open {path}: {}", io_text(&e)))?;
    f.write_all(data).map_err(|e| format!("write {path}: {}", io_text(&e)))?;
    f.sync_all().map_err(|e| format!("sync {path}: {}", io_text(&e)))
}

/// Compresses the tar `src` into `dst` as `influxd backup` does (pgzip's
/// header: FNAME `B.s<ID>.tar`, Go's zero MTIME, OS 255); returns the tar
/// size.
fn gzip_file(src: &str, dst: &str, fname: &str) -> Result<u64, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut input = File::open(src).map_err(|e| format!("open {src}: {}", io_text(&e)))?;
    let out = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dst)
        .map_err(|e| format!("open {dst}: {}", io_text(&e)))?;
    let mut gz = flate2::GzBuilder::new()
        .filename(fname.as_bytes())
        .mtime(portable::archive::GO_ZERO_TIME_GZIP_MTIME)
        .operating_system(255)
        .write(io::BufWriter::new(out), flate2::Compression::default());
    let n = io::copy(&mut input, &mut gz).map_err(|e| format!("write {dst}: {}", io_text(&e)))?;
    let w = gz.finish().map_err(|e| format!("write {dst}: {}", io_text(&e)))?;
    let f = w.into_inner().map_err(|e| format!("write {dst}: {}", io_text(e.error())))?;
    f.sync_all().map_err(|e| format!("sync {dst}: {}", io_text(&e)))?;
    Ok(n)
}

/// `Path` helper for tests.
pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_paths() {
        assert_eq!(go_join("backups/full", "meta"), "backups/full/meta");
        assert_eq!(go_join("backups/full/", "x"), "backups/full/x");
        assert_eq!(go_join("/tmp/b", "/tmp/b/meta.00"), "/tmp/b/tmp/b/meta.00");
        assert_eq!(go_join("./a/../b", ""), "b");
        assert_eq!(go_clean("/../x"), "/x");
    }

    #[test]
    fn time_errors_read_like_go() {
        assert_eq!(
            parse_time("yesterday").unwrap_err(),
            "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""
        );
        assert_eq!(
            parse_time("2016-02-01").unwrap_err(),
            "parsing time \"2016-02-01\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\" as \"T\""
        );
        assert_eq!(
            parse_time("2016-13-01T00:00:00Z").unwrap_err(),
            "parsing time \"2016-13-01T00:00:00Z\": month out of range"
        );
        assert!(parse_time("2016-02-01T00:00:00Z").is_ok());
    }
}
