//! The backup manifest, `B.manifest` (spec §1.2, §1.3), and the names of a
//! backup's files.
//!
//! Written exactly as Go's `json.MarshalIndent(m, "", "  ")` writes the
//! `backup_util.Manifest` struct: two-space indent, keys in struct order,
//! no trailing newline, `"files": null` when there are none, and Go's string
//! escaping (`<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes). The
//! Enterprise fields `database`, `policy` and `shard_id` are written only
//! when set (Go `omitempty`).
//!
//! Read like Go's `encoding/json`: unknown keys are ignored, key matching
//! falls back to case-insensitive, `null` leaves a field at its zero value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Corruption, Error, Result};
use crate::gotime;

/// The `meta` entry: the `.meta` file and the length of its `meta.Data`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaEntry {
    /// `fileName`: the `.meta` file, relative to the backup directory.
    pub file_name: String,
    /// `size`: the length of the inner `meta.Data` protobuf (not of the file).
    pub size: i64,
}

/// One shard archive entry of `files`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestFile {
    /// `database`.
    pub database: String,
    /// `policy`: the retention policy.
    pub policy: String,
    /// `shardID`: the shard's ID in the source metadata.
    pub shard_id: u64,
    /// `fileName`, e.g. `20240131T235959Z.s5.tar.gz`.
    pub file_name: String,
    /// `size`: the uncompressed tar length.
    pub size: i64,
    /// `lastModified`: the OSS backup always writes 0.
    pub last_modified: i64,
}

/// A whole manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `meta`.
    pub meta: MetaEntry,
    /// `limited`: always false from the OSS backup.
    pub limited: bool,
    /// `files`: `null` on the wire when empty.
    pub files: Vec<ManifestFile>,
    /// `database` (Enterprise, written only if non-empty).
    pub database: String,
    /// `policy` (Enterprise, written only if non-empty).
    pub policy: String,
    /// `shard_id` (Enterprise, written only if non-zero).
    pub shard_id: u64,
}

/// Appends `s` as a Go `encoding/json` string literal.
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Manifest {
    /// The manifest as Go's `json.MarshalIndent(m, "", "  ")` writes it.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256 + self.files.len() * 200);
        o.push_str("{\n  \"meta\": {\n    \"fileName\": ");
        go_json_string(&self.meta.file_name, &mut o);
        let _ = write!(
            o,
            ",\n    \"size\": {}\n  }},\n  \"limited\": {},\n  \"files\": ",
            self.meta.size, self.limited
        );
        if self.files.is_empty() {
            o.push_str("null");
        } else {
            o.push_str("[\n");
            for (i, f) in self.files.iter().enumerate() {
                o.push_str("    {\n      \"database\": ");
                go_json_string(&f.database, &mut o);
                o.push_str(",\n      \"policy\": ");
                go_json_string(&f.policy, &mut o);
                let _ = write!(o, ",\n      \"shardID\": {},\n      \"fileName\": ", f.shard_id);
                go_json_string(&f.file_name, &mut o);
                let _ = write!(
                    o,
                    ",\n      \"size\": {},\n      \"lastModified\": {}\n    }}",
                    f.size, f.last_modified
                );
                o.push_str(if i + 1 < self.files.len() { ",\n" } else { "\n" });
            }
            o.push_str("  ]");
        }
        if !self.database.is_empty() {
            o.push_str(",\n  \"database\": ");
            go_json_string(&self.database, &mut o);
        }
        if !self.policy.is_empty() {
            o.push_str(",\n  \"policy\": ");
            go_json_string(&self.policy, &mut o);
        }
        if self.shard_id != 0 {
            let _ = write!(o, ",\n  \"shard_id\": {}", self.shard_id);
        }
        o.push_str("\n}");
        o
    }

    /// Parses manifest JSON; errors name the file `name`.
    pub fn from_json(name: &str, text: &[u8]) -> Result<Manifest> {
        let bad = |detail: String| Error::corrupt(name, Corruption::invalid("manifest", detail));
        let v: Value = serde_json::from_slice(text).map_err(|e| bad(e.to_string()))?;
        let top = object(&v, "manifest").map_err(&bad)?;
        let mut m = Manifest::default();
        if let Some(meta) = field(top, "meta")
            && !meta.is_null()
        {
            let meta = object(meta, "meta").map_err(&bad)?;
            m.meta.file_name = string(meta, "fileName").map_err(&bad)?;
            m.meta.size = int(meta, "size").map_err(&bad)?;
        }
        m.limited = match field(top, "limited") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(bad(format!("limited: expected a boolean, found {other}"))),
        };
        match field(top, "files") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let ctx = |e: String| bad(format!("files[{i}]: {e}"));
                    if item.is_null() {
                        m.files.push(ManifestFile::default());
                        continue;
                    }
                    let f = object(item, "entry").map_err(ctx)?;
                    m.files.push(ManifestFile {
                        database: string(f, "database").map_err(ctx)?,
                        policy: string(f, "policy").map_err(ctx)?,
                        shard_id: uint(f, "shardID").map_err(ctx)?,
                        file_name: string(f, "fileName").map_err(ctx)?,
                        size: int(f, "size").map_err(ctx)?,
                        last_modified: int(f, "lastModified").map_err(ctx)?,
                    });
                }
            }
            Some(other) => return Err(bad(format!("files: expected an array, found {other}"))),
        }
        m.database = string(top, "database").map_err(&bad)?;
        m.policy = string(top, "policy").map_err(&bad)?;
        m.shard_id = uint(top, "shard_id").map_err(&bad)?;
        Ok(m)
    }

    /// Reads and parses a manifest file.
    pub fn load(path: &Path) -> Result<Manifest> {
        let name = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
        Manifest::from_json(&name, &text)
    }

    /// Writes the manifest to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()).map_err(|e| Error::io(path.display().to_string(), e))
    }

    /// Checks that the `.meta` file and every shard archive named exist in
    /// `dir`: the first missing one is an [`Error::MissingFile`].
    pub fn verify_files(&self, manifest_name: &str, dir: &Path) -> Result<()> {
        let names =
            std::iter::once(&self.meta.file_name).chain(self.files.iter().map(|f| &f.file_name));
        for n in names {
            if !is_safe_name(n) || !dir.join(n).is_file() {
                return Err(Error::MissingFile {
                    manifest: manifest_name.to_string(),
                    missing: n.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A file name that stays inside the backup directory.
fn is_safe_name(n: &str) -> bool {
    !n.is_empty() && !n.contains('/') && !n.contains('\\') && n != "." && n != ".."
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a serde_json::Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("{what}: expected an object, found {v}"))
}

/// Go's key matching: the exact key, else a case-insensitive match.
fn field<'a>(o: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn string(o: &serde_json::Map<String, Value>, key: &str) -> Result<String, String> {
    match field(o, key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("{key}: expected a string, found {other}")),
    }
}

fn int(o: &serde_json::Map<String, Value>, key: &str) -> Result<i64, String> {
    match field(o, key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("{key}: {n} is not an int64")),
        Some(other) => Err(format!("{key}: expected a number, found {other}")),
    }
}

fn uint(o: &serde_json::Map<String, Value>, key: &str) -> Result<u64, String> {
    match field(o, key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| format!("{key}: {n} is not a uint64")),
        Some(other) => Err(format!("{key}: expected a number, found {other}")),
    }
}

/// `B.manifest`.
pub fn manifest_file_name(stamp: &str) -> String {
    format!("{stamp}.manifest")
}

/// `B.meta`.
pub fn meta_file_name(stamp: &str) -> String {
    format!("{stamp}.meta")
}

/// `B.s<ID>.tar.gz`.
pub fn shard_file_name(stamp: &str, shard_id: u64) -> String {
    format!("{stamp}.s{shard_id}.tar.gz")
}

/// The FNAME recorded in a shard archive's gzip header: `B.s<ID>.tar`.
pub fn shard_tar_name(stamp: &str, shard_id: u64) -> String {
    format!("{stamp}.s{shard_id}.tar")
}

/// The backup stamp `B` (`20060102T150405Z`, UTC) of Unix seconds.
pub fn stamp(unix_secs: i64) -> String {
    gotime::format_stamp(unix_secs)
}

/// Parses a backup stamp `B` into Unix seconds.
pub fn parse_stamp(s: &str) -> Option<i64> {
    gotime::parse_stamp(s)
}

/// What kind of backup file a name is, with its stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupFileName {
    /// `B.manifest`.
    Manifest {
        /// The stamp.
        stamp: String,
    },
    /// `B.meta`.
    Meta {
        /// The stamp.
        stamp: String,
    },
    /// `B.s<ID>.tar.gz`.
    Shard {
        /// The stamp.
        stamp: String,
        /// The shard ID.
        shard_id: u64,
    },
}

/// Classifies a portable backup file name (`None` if it is not one).
pub fn parse_backup_file_name(name: &str) -> Option<BackupFileName> {
    let (stamp, rest) = name.split_at_checked(16)?;
    parse_stamp(stamp)?;
    let stamp = stamp.to_string();
    match rest {
        ".manifest" => Some(BackupFileName::Manifest { stamp }),
        ".meta" => Some(BackupFileName::Meta { stamp }),
        _ => {
            let id = rest.strip_prefix(".s")?.strip_suffix(".tar.gz")?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(BackupFileName::Shard { stamp, shard_id: id.parse().ok()? })
        }
    }
}

/// The result of loading a backup directory like `LoadIncremental`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalBackup {
    /// The directory.
    pub dir: PathBuf,
    /// The manifests found, newest first.
    pub manifests: Vec<String>,
    /// The meta entry of the newest manifest that has one.
    pub meta: MetaEntry,
    /// The winning entry per shard ID, sorted by shard ID.
    pub files: Vec<ManifestFile>,
    /// Entries skipped because their file is missing (as the real restore
    /// skips them silently).
    pub skipped: Vec<ManifestFile>,
}

impl IncrementalBackup {
    /// The path of the `.meta` file.
    pub fn meta_path(&self) -> PathBuf {
        self.dir.join(&self.meta.file_name)
    }

    /// The path of a shard archive.
    pub fn file_path(&self, f: &ManifestFile) -> PathBuf {
        self.dir.join(&f.file_name)
    }
}

/// Loads a backup directory as `backup_util.LoadIncremental` does (§1.3):
/// every `*.manifest` (directories skipped), newest first by name; the meta
/// entry of the newest manifest that has one; shard entries merged by
/// `shardID`, a later-read entry replacing a held one only if its
/// `lastModified` is strictly greater; entries whose file is missing are
/// skipped (and listed in `skipped`).
///
/// Errors: no manifest ([`Error::NoManifest`]), an unreadable or invalid
/// manifest, or a meta file that is missing ([`Error::MissingFile`]).
pub fn load_incremental(dir: &Path) -> Result<IncrementalBackup> {
    let dname = dir.display().to_string();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(&dname, e))?;
    let mut manifests = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(&dname, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".manifest") && !entry.path().is_dir() {
            manifests.push(name);
        }
    }
    if manifests.is_empty() {
        return Err(Error::NoManifest { dir: dname });
    }
    manifests.sort_by(|a, b| b.cmp(a));
    let mut meta: Option<(String, MetaEntry)> = None;
    let mut files: BTreeMap<u64, ManifestFile> = BTreeMap::new();
    let mut skipped = Vec::new();
    for name in &manifests {
        let m = Manifest::load(&dir.join(name))?;
        if meta.is_none() && !m.meta.file_name.is_empty() {
            meta = Some((name.clone(), m.meta.clone()));
        }
        for f in m.files {
            if !is_safe_name(&f.file_name) || !dir.join(&f.file_name).is_file() {
                skipped.push(f);
                continue;
            }
            match files.get(&f.shard_id) {
                Some(held) if f.last_modified <= held.last_modified => {}
                _ => {
                    files.insert(f.shard_id, f);
                }
            }
        }
    }
    let Some((meta_manifest, meta)) = meta else {
        return Err(Error::corrupt(
            dir.join(&manifests[0]).display().to_string(),
            Corruption::invalid("manifest", "no manifest names a meta file"),
        ));
    };
    if !is_safe_name(&meta.file_name) || !dir.join(&meta.file_name).is_file() {
        return Err(Error::MissingFile {
            manifest: dir.join(meta_manifest).display().to_string(),
            missing: meta.file_name,
        });
    }
    Ok(IncrementalBackup {
        dir: dir.to_path_buf(),
        manifests,
        meta,
        files: files.into_values().collect(),
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            meta: MetaEntry { file_name: "20240131T235959Z.meta".into(), size: 1234 },
            limited: false,
            files: vec![ManifestFile {
                database: "telegraf".into(),
                policy: "autogen".into(),
                shard_id: 5,
                file_name: "20240131T235959Z.s5.tar.gz".into(),
                size: 308224,
                last_modified: 0,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn spec_example_bytes() {
        let want = "{\n  \"meta\": {\n    \"fileName\": \"20240131T235959Z.meta\",\n    \"size\": 1234\n  },\n  \"limited\": false,\n  \"files\": [\n    {\n      \"database\": \"telegraf\",\n      \"policy\": \"autogen\",\n      \"shardID\": 5,\n      \"fileName\": \"20240131T235959Z.s5.tar.gz\",\n      \"size\": 308224,\n      \"lastModified\": 0\n    }\n  ]\n}";
        assert_eq!(sample().to_json(), want);
        assert_eq!(Manifest::from_json("m", want.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn empty_files_is_null_and_enterprise_fields_round_trip() {
        let mut m = Manifest {
            meta: MetaEntry { file_name: "x.meta".into(), size: 1 },
            ..Default::default()
        };
        assert!(m.to_json().contains("\"files\": null\n}"));
        m.limited = true;
        m.database = "db<&>".into();
        m.policy = "rp".into();
        m.shard_id = 9;
        let j = m.to_json();
        assert!(j.contains("\"database\": \"db\\u003c\\u0026\\u003e\""), "{j}");
        assert!(j.ends_with("\"shard_id\": 9\n}"));
        assert_eq!(Manifest::from_json("m", j.as_bytes()).unwrap(), m);
    }

    #[test]
    fn go_style_reading() {
        let m = Manifest::from_json(
            "m",
            br#"{"META":{"filename":"a.meta","size":3},"files":[{"ShardId":2}],"x":1}"#,
        )
        .unwrap();
        assert_eq!(m.meta.file_name, "a.meta");
        assert_eq!(m.files[0].shard_id, 2);
        assert!(Manifest::from_json("m", b"{").is_err());
        assert!(Manifest::from_json("m", br#"{"files":[{"shardID":-1}]}"#).is_err());
        let e = Manifest::from_json("the.manifest", b"[]").unwrap_err().to_string();
        assert!(e.starts_with("the.manifest: "), "{e}");
    }

    #[test]
    fn names() {
        assert_eq!(shard_file_name("20240131T235959Z", 5), "20240131T235959Z.s5.tar.gz");
        assert_eq!(
            parse_backup_file_name("20240131T235959Z.s5.tar.gz"),
            Some(BackupFileName::Shard { stamp: "20240131T235959Z".into(), shard_id: 5 })
        );
        assert!(matches!(
            parse_backup_file_name("20240131T235959Z.meta"),
            Some(BackupFileName::Meta { .. })
        ));
        assert_eq!(parse_backup_file_name("meta.00"), None);
        assert_eq!(parse_backup_file_name("20240131T235959Z.s.tar.gz"), None);
        assert_eq!(stamp(1_706_745_599), "20240131T235959Z");
    }
}
