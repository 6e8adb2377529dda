//! `backup [flags] <dir>`: the metastore and shards of a cluster into a
//! portable backup directory (`B.meta`, `B.s<ID>.tar.gz`, `B.manifest`).
//!
//! - `-strategy incremental` (default): with no backup in the directory it is
//!   a full backup; otherwise only shards that changed since the newest
//!   backup there (by the last-modified time each manifest records) or that
//!   no backup there holds.
//! - `-strategy full` (or the deprecated `-full`): every selected shard.
//! - `-strategy only-meta`: the metastore only.
//! - `-db`, `-rp` (needs `-db`), `-shard` select shards; the `.meta` file
//!   always holds the whole metastore, as in Enterprise.
//! - `-start`/`-end` (RFC3339) keep only the points in the range (point
//!   granularity) and only shards whose group overlaps it; not with `full`.
//! - `-from <tcp>`: the preferred owner; an unknown address is an error.
//!   Otherwise the owner with the most recently modified non-empty copy.
//!
//! Shards stream from a data node straight to disk; the manifest is written
//! last, atomically (temp file + rename).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use portable::manifest::{self, Manifest, ManifestFile, MetaEntry};
use proto::cluster;
use proto::meta;
use tokio::io::AsyncWriteExt;

use crate::client::Meta;
use crate::commands::data;
use crate::run::Outcome;

/// Parsed `backup` options.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// `incremental`, `full` or `only-meta`.
    pub strategy: String,
    /// Deprecated `-full`.
    pub full: bool,
    /// `-db`.
    pub db: String,
    /// `-rp`.
    pub rp: String,
    /// `-shard`.
    pub shard: Option<u64>,
    /// `-start` (RFC3339).
    pub start: Option<String>,
    /// `-end` (RFC3339).
    pub end: Option<String>,
    /// `-from`.
    pub from: String,
    /// `-estimate`: print what would be backed up, write nothing.
    pub estimate: bool,
    /// `-gzipCompressionLevel`: default, full, speedy, none.
    pub gzip_level: String,
    /// The directory.
    pub dir: String,
}

struct Selected {
    db: String,
    rp: String,
    shard: u64,
    node_addr: String,
    last_modified: i64,
}

fn parse_time(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => portable::gotime::parse_rfc3339(s).map(Some).ok_or_else(|| {
            anyhow!("invalid {flag} time {s:?}: expected RFC3339, e.g. 2006-01-02T15:04:05Z")
        }),
    }
}

/// Runs `backup`.
pub async fn run(meta: &Meta, opts: BackupOptions) -> Result<Outcome> {
    let started = Instant::now();
    let stamp_secs = chrono::Utc::now().timestamp();
    let strategy = if opts.full { "full".to_string() } else { opts.strategy.clone() };
    if !matches!(strategy.as_str(), "incremental" | "full" | "only-meta") {
        bail!("invalid -strategy {strategy:?}: use incremental, full or only-meta");
    }
    if !opts.rp.is_empty() && opts.db.is_empty() {
        bail!("-rp requires -db");
    }
    let start = parse_time("-start", &opts.start)?;
    let end = parse_time("-end", &opts.end)?;
    if (start.is_some() || end.is_some()) && strategy == "full" {
        bail!("-start and -end are not compatible with -strategy full");
    }
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        bail!("start date must be before end date");
    }
    let level = match opts.gzip_level.as_str() {
        "" | "default" => -1,
        "full" => 9,
        "speedy" => 1,
        "none" => 0,
        other => {
            bail!("invalid -gzipCompressionLevel {other:?}: use default, full, speedy or none")
        }
    };
    let dir = PathBuf::from(&opts.dir);
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{} is not a directory", opts.dir),
        Err(e) => bail!("stat {}: {}", opts.dir, io_text(&e)),
    }

    // The metastore, read through the leader.
    let mut c = meta.raw();
    let snap = c.read(cluster::ReadRequest {}).await.map_err(|e| meta.map_err(e))?.into_inner();
    let data: meta::Data = prost::Message::decode(snap.data.as_slice())
        .map_err(|e| anyhow!("bad metastore from {}: {e}", meta.bind()))?;
    if let Some(s) = opts.shard
        && !shard_exists(&data, s)
    {
        bail!("shard {s} does not exist");
    }
    if !opts.db.is_empty() && !data.databases.iter().any(|d| d.name == opts.db) {
        bail!("database {:?} does not exist", opts.db);
    }
    if !opts.from.is_empty()
        && !data.data_nodes.iter().any(|n| n.tcp_host.as_deref() == Some(opts.from.as_str()))
    {
        bail!("data node {:?} does not exist", opts.from);
    }

    let previous = if strategy == "incremental" { previous_backup(&dir)? } else { None };
    // Two backups started in the same second would share file names, and
    // the second manifest would replace the first: take the next free second.
    let mut stamp_secs = stamp_secs;
    while dir.join(manifest::manifest_file_name(&manifest::stamp(stamp_secs))).exists() {
        stamp_secs += 1;
    }
    let stamp = manifest::stamp(stamp_secs);
    let meta_name = manifest::meta_file_name(&stamp);
    let (meta_bytes, meta_size) = portable::meta_file::encode_portable(&data);

    // Which shards, from which node.
    let selected = if strategy == "only-meta" {
        Vec::new()
    } else {
        select_shards(&data, &opts, start, end, previous.as_ref(), meta.timeout()).await?
    };
    if opts.estimate {
        println!("Backing up meta data... {} bytes", meta_bytes.len());
        for s in &selected {
            println!(
                "Backing up node {}, db {}, rp {}, shard {}",
                s.node_addr, s.db, s.rp, s.shard
            );
        }
        return Ok(Outcome::Success);
    }

    print!("Backing up meta data... ");
    flush();
    write_file(&dir.join(&meta_name), &meta_bytes, 0o644)
        .with_context(|| format!("writing {meta_name}"))?;
    println!("Done. {} bytes transferred", meta_bytes.len());
    let mut transferred = meta_bytes.len() as u64;

    // Shards stream in parallel (a few at a time, so that gzip on the data
    // nodes uses every core); their lines print in shard order, as each
    // completes, exactly as a sequential run would print them.
    let mut files = Vec::new();
    let mut copies = futures::stream::iter(selected.iter().map(|s| {
        let file_name = manifest::shard_file_name(&stamp, s.shard);
        let dir = &dir;
        let stamp = &stamp;
        async move {
            let t0 = Instant::now();
            let r = backup_shard(s, dir, &file_name, stamp, level, start, end).await;
            (s, file_name, r, t0.elapsed())
        }
    }))
    .buffered(data::SHARDS_IN_FLIGHT);
    while let Some((s, file_name, r, took)) = copies.next().await {
        print!("Backing up node {}, db {}, rp {}, shard {}... ", s.node_addr, s.db, s.rp, s.shard);
        let tar_size = match r {
            Ok(n) => n,
            Err(e) => {
                println!("Error.");
                drop(copies);
                // This shard's file and those of the shards still in flight.
                for s in &selected {
                    if !files.iter().any(|f: &ManifestFile| f.shard_id == s.shard) {
                        let _ = std::fs::remove_file(
                            dir.join(manifest::shard_file_name(&stamp, s.shard)),
                        );
                    }
                }
                return Err(e.context(format!("backing up shard {}", s.shard)));
            }
        };
        println!("Done. Backed up in {}, {tar_size} bytes transferred", proto::godur::format(took));
        flush();
        transferred += tar_size;
        files.push(ManifestFile {
            database: s.db.clone(),
            policy: s.rp.clone(),
            shard_id: s.shard,
            file_name,
            size: tar_size as i64,
            last_modified: s.last_modified,
        });
    }
    let limited = !opts.db.is_empty() || opts.shard.is_some();
    let m = Manifest {
        meta: MetaEntry { file_name: meta_name, size: meta_size },
        limited,
        files,
        database: opts.db.clone(),
        policy: opts.rp.clone(),
        shard_id: opts.shard.unwrap_or(0),
    };
    let manifest_name = manifest::manifest_file_name(&stamp);
    let tmp = dir.join(format!("{manifest_name}.tmp"));
    write_file(&tmp, m.to_json().as_bytes(), 0o600)
        .with_context(|| format!("writing {manifest_name}"))?;
    std::fs::rename(&tmp, dir.join(&manifest_name))
        .with_context(|| format!("writing {manifest_name}"))?;
    println!(
        "Backed up to {} in {}, transferred {transferred} bytes",
        opts.dir,
        proto::godur::format(started.elapsed())
    );
    Ok(Outcome::Success)
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// Go-style text of an I/O error (`no such file or directory`).
pub fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    std::io::Write::write_all(&mut f, bytes)?;
    f.sync_all()
}

fn shard_exists(data: &meta::Data, id: u64) -> bool {
    data.databases
        .iter()
        .flat_map(|d| &d.retention_policies)
        .flat_map(|r| &r.shard_groups)
        .any(|g| g.shards.iter().any(|s| s.id == id))
}

/// Shard ID → last-modified recorded by the backups already in `dir`
/// (the newest entry per shard), or None when the directory holds none.
fn previous_backup(dir: &Path) -> Result<Option<HashMap<u64, i64>>> {
    let has_manifest = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().ends_with(".manifest"));
    if !has_manifest {
        return Ok(None);
    }
    let inc = manifest::load_incremental(dir)
        .with_context(|| format!("reading the backups in {}", dir.display()))?;
    Ok(Some(inc.files.iter().map(|f| (f.shard_id, f.last_modified)).collect()))
}

async fn select_shards(
    data: &meta::Data,
    opts: &BackupOptions,
    start: Option<i64>,
    end: Option<i64>,
    previous: Option<&HashMap<u64, i64>>,
    timeout: std::time::Duration,
) -> Result<Vec<Selected>> {
    // What each data node holds.
    let nodes: Vec<(u64, String)> =
        data.data_nodes.iter().filter_map(|n| Some((n.id, n.tcp_host.clone()?))).collect();
    let held = data::local_shards(&nodes, timeout).await;
    let mut out = Vec::new();
    for db in &data.databases {
        if !opts.db.is_empty() && db.name != opts.db {
            continue;
        }
        for rp in &db.retention_policies {
            if !opts.rp.is_empty() && rp.name != opts.rp {
                continue;
            }
            for g in &rp.shard_groups {
                if g.deleted_at != 0 {
                    continue;
                }
                if let Some(s) = start
                    && g.end_time <= s
                {
                    continue;
                }
                if let Some(e) = end
                    && g.start_time > e
                {
                    continue;
                }
                for shard in &g.shards {
                    if opts.shard.is_some_and(|id| id != shard.id) {
                        continue;
                    }
                    // Copies on owners: (node id, addr, last modified, size).
                    let mut copies: Vec<(u64, String, i64, u64)> = shard
                        .owners
                        .iter()
                        .filter_map(|o| {
                            let addr = nodes.iter().find(|(id, _)| *id == o.node_id)?.1.clone();
                            let ls = held.get(&o.node_id)?.get(&shard.id)?;
                            Some((o.node_id, addr, ls.last_modified, ls.size))
                        })
                        .filter(|c| c.3 > 0)
                        .collect();
                    if copies.is_empty() {
                        continue;
                    }
                    copies.sort_by_key(|c| std::cmp::Reverse(c.2));
                    let chosen =
                        copies.iter().find(|c| c.1 == opts.from).unwrap_or(&copies[0]).clone();
                    let last_modified = copies[0].2;
                    if let Some(prev) = previous
                        && prev.get(&shard.id).is_some_and(|lm| *lm >= last_modified)
                    {
                        continue;
                    }
                    out.push(Selected {
                        db: db.name.clone(),
                        rp: rp.name.clone(),
                        shard: shard.id,
                        node_addr: chosen.1,
                        last_modified,
                    });
                }
            }
        }
    }
    out.sort_by_key(|s| s.shard);
    Ok(out)
}

async fn backup_shard(
    s: &Selected,
    dir: &Path,
    file_name: &str,
    stamp: &str,
    level: i32,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<u64> {
    let mut client = data::client(&s.node_addr)?;
    let req = cluster::BackupShardRequest {
        shard_id: s.shard,
        has_range: start.is_some() || end.is_some(),
        start: start.unwrap_or(i64::MIN + 2),
        end: end.unwrap_or(i64::MAX - 1),
        gzip_name: format!("{stamp}.s{}.tar", s.shard),
        level,
    };
    let mut stream = client
        .backup_shard(req)
        .await
        .map_err(|e| anyhow!("{}: {}", s.node_addr, e.message()))?
        .into_inner();
    let path = dir.join(file_name);
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        let std_file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        tokio::fs::File::from_std(std_file)
    };
    let mut tar_size = None;
    while let Some(chunk) =
        stream.message().await.map_err(|e| anyhow!("{}: {}", s.node_addr, e.message()))?
    {
        if !chunk.data.is_empty() {
            f.write_all(&chunk.data).await?;
        }
        if chunk.done {
            tar_size = Some(chunk.tar_size);
        }
    }
    f.sync_all().await?;
    tar_size.ok_or_else(|| anyhow!("{}: the shard stream ended early", s.node_addr))
}
