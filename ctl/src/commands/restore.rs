//! `restore [flags] <dir>` and `restore -full <manifest>`.
//!
//! 1. Load the backup: a directory as InfluxDB's `LoadIncremental` does
//!    (the newest manifest's meta, the newest entry per shard), or exactly
//!    one manifest with `-full`. Check that every file it needs is there and
//!    is gzip, before anything in the cluster changes.
//! 2. Import the metadata in one metastore command (`ImportData`): new shard
//!    IDs and owners are decided there. A complete restore (no `-db`) also
//!    drops the target's `_internal` and brings users and roles.
//! 3. Copy each shard to every new owner. The imported databases carry a
//!    restore token until the end: if a copy fails, the imported databases
//!    are dropped again (the target is left as it was) and a retry replaces
//!    whatever a killed restore left behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use portable::manifest::{self, IncrementalBackup, ManifestFile};
use proto::cluster::{self, command::Cmd};
use proto::meta;
use tokio::io::AsyncReadExt;

use crate::client::Meta;
use crate::commands::data;
use crate::run::Outcome;

/// Parsed `restore` options.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// `-full`: the path is a manifest.
    pub full: bool,
    /// `-db`.
    pub db: String,
    /// `-newdb`.
    pub newdb: String,
    /// `-rp`.
    pub rp: String,
    /// `-newrp`.
    pub newrp: String,
    /// `-shard`.
    pub shard: Option<u64>,
    /// `-newshard`.
    pub newshard: Option<u64>,
    /// `-newrf` (0 = the backup's).
    pub newrf: u32,
    /// `-newduration`.
    pub newduration: Option<String>,
    /// `-list`.
    pub list: bool,
    /// `-meta-only-overwrite-force`.
    pub meta_only_overwrite_force: bool,
    /// The directory, or the manifest with `-full`.
    pub path: String,
}

/// Runs `restore`.
pub async fn run(meta: &Meta, opts: RestoreOptions) -> Result<Outcome> {
    let started = Instant::now();
    validate(&opts)?;
    let new_duration = match &opts.newduration {
        Some(d) => Some(parse_duration(d)?),
        None => None,
    };
    let backup = load(&opts)?;
    // The documented shapes: `-full` prints only the manifest; a directory
    // restore also names the meta file it picked.
    if opts.full {
        println!("Using manifest: {}", opts.path);
    } else {
        println!("Using backup directory: {}", opts.path);
        println!("Using meta backup: {}", backup.meta.file_name);
    }
    let meta_path = backup.meta_path();
    let pm = portable::meta_file::load_portable(&meta_path)
        .with_context(|| format!("reading {}", meta_path.display()))?;
    let backup_data: meta::Data = prost::Message::decode(pm.raw.as_slice())
        .map_err(|e| anyhow!("{}: invalid meta.Data: {e}", meta_path.display()))?;
    let files = select_files(&backup, &opts);
    if opts.list {
        list(&backup, &backup_data, &files);
        return Ok(Outcome::Success);
    }
    for f in &files {
        check_archive(&backup.file_path(f))?;
    }
    let meta_bytes = std::fs::metadata(&meta_path).map(|m| m.len()).unwrap_or(0);

    if opts.meta_only_overwrite_force {
        print!("Restoring meta data... ");
        flush();
        let t0 = Instant::now();
        let shards = count_shards(&backup_data);
        match meta.execute(Cmd::SetData(cluster::SetData { data: pm.raw.clone() })).await {
            Ok(_) => println!(
                "Done. Restored in {}, {shards} shards mapped",
                proto::godur::format(t0.elapsed())
            ),
            Err(e) => {
                println!("Error.");
                bail!("operation exited with error: {e}");
            }
        }
        println!(
            "Restored from {} in {}, transferred {meta_bytes} bytes",
            display_dir(&opts),
            proto::godur::format(started.elapsed())
        );
        return Ok(Outcome::Success);
    }

    // Warn about anti-entropy, which the docs say to disable first.
    let target = meta.data().await?;
    let nodes: Vec<(u64, String)> =
        target.data_nodes.iter().filter_map(|n| Some((n.id, n.tcp_host.clone()?))).collect();
    let ae = data::anti_entropy_nodes(&nodes, meta.timeout()).await;
    if !ae.is_empty() {
        eprintln!(
            "Warning: anti-entropy is enabled on data nodes {}; disable it on every data node before restoring",
            ae.join(", ")
        );
    }

    let token = crate::client::request_id();
    let complete = opts.db.is_empty();
    print!("Restoring meta data... ");
    flush();
    let t0 = Instant::now();
    let import = cluster::ImportData {
        data: pm.raw.clone(),
        backup_database: opts.db.clone(),
        restore_database: opts.newdb.clone(),
        backup_policy: opts.rp.clone(),
        restore_policy: if opts.newrp.is_empty() { opts.rp.clone() } else { opts.newrp.clone() },
        new_replica_n: opts.newrf,
        new_duration,
        import_users: complete,
        drop_internal: complete,
        only_shards: opts.shard.into_iter().collect(),
        new_shard_id: opts.newshard.unwrap_or(0),
        restore_token: token.clone(),
    };
    let resp = match meta.execute(Cmd::ImportData(import)).await {
        Ok(r) => r,
        Err(e) => {
            println!("Error.");
            bail!("operation exited with error: {e}");
        }
    };
    println!(
        "Done. Restored in {}, {} shards mapped",
        proto::godur::format(t0.elapsed()),
        resp.shard_map.len()
    );
    let imported = imported_databases(&backup_data, &opts);
    let mut transferred = meta_bytes;
    match copy_shards(meta, &backup, &files, &resp.shard_map).await {
        Ok(n) => transferred += n,
        Err(e) => {
            // Leave the target as it was.
            for db in &imported {
                let _ = meta
                    .execute(Cmd::DropDatabase(cluster::DropDatabase { name: db.clone() }))
                    .await;
            }
            return Err(e.context("restore failed; the restored databases were removed again"));
        }
    }
    meta.execute(Cmd::FinishRestore(cluster::FinishRestore { databases: imported, token })).await?;
    println!(
        "Restored from {} in {}, transferred {transferred} bytes",
        display_dir(&opts),
        proto::godur::format(started.elapsed())
    );
    Ok(Outcome::Success)
}

fn validate(o: &RestoreOptions) -> Result<()> {
    if !o.newdb.is_empty() && o.db.is_empty() {
        bail!("-newdb requires -db");
    }
    if !o.newrp.is_empty() && o.rp.is_empty() {
        bail!("-newrp requires -rp");
    }
    if !o.rp.is_empty() && o.db.is_empty() {
        bail!("-rp requires -db");
    }
    if o.newduration.is_some() && o.rp.is_empty() {
        bail!("-newduration requires -rp");
    }
    if o.newshard.is_some() && o.shard.is_none() {
        bail!("-newshard requires -shard");
    }
    if o.newrf > 0 && o.db.is_empty() {
        bail!("-newrf requires -db");
    }
    if o.path.is_empty() {
        bail!("a backup directory (or a manifest with -full) is required");
    }
    Ok(())
}

/// `-newduration`: a Go duration or an InfluxQL one (`7d`, `1w`); `0s` = INF.
fn parse_duration(s: &str) -> Result<i64> {
    if let Ok(d) = proto::godur::parse(s) {
        return Ok(d.as_nanos().min(i64::MAX as u128) as i64);
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| anyhow!("invalid -newduration {s:?}"))?;
    let mult = match unit {
        "d" => 86_400_000_000_000i64,
        "w" => 7 * 86_400_000_000_000,
        _ => bail!("invalid -newduration {s:?}"),
    };
    Ok(n.saturating_mul(mult))
}

fn load(opts: &RestoreOptions) -> Result<IncrementalBackup> {
    let path = PathBuf::from(&opts.path);
    if opts.full {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.ends_with(".manifest") {
            bail!("-full takes the path of a backup's .manifest file, not {}", opts.path);
        }
        let m = manifest::Manifest::load(&path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        m.verify_files(&name, &dir)?;
        Ok(IncrementalBackup {
            dir,
            manifests: vec![name],
            meta: m.meta.clone(),
            files: m.files.clone(),
            skipped: vec![],
        })
    } else {
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!("{} is not a directory (use -full for a manifest)", opts.path),
            Err(e) => bail!("stat {}: {}", opts.path, super::backup::io_text(&e)),
        }
        Ok(manifest::load_incremental(&path)?)
    }
}

fn select_files(backup: &IncrementalBackup, opts: &RestoreOptions) -> Vec<ManifestFile> {
    backup
        .files
        .iter()
        .filter(|f| opts.db.is_empty() || f.database == opts.db)
        .filter(|f| opts.rp.is_empty() || f.policy == opts.rp)
        .filter(|f| opts.shard.is_none_or(|s| s == f.shard_id))
        .filter(|f| opts.db == f.database || f.database != "_internal")
        .cloned()
        .collect()
}

/// Reads the first bytes of an archive: it must exist and be gzip.
fn check_archive(path: &Path) -> Result<()> {
    let mut f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut magic = [0u8; 2];
    std::io::Read::read_exact(&mut f, &mut magic)
        .with_context(|| format!("{}: truncated archive", path.display()))?;
    if magic != [0x1f, 0x8b] {
        bail!("{}: not a gzip archive", path.display());
    }
    Ok(())
}

fn count_shards(d: &meta::Data) -> usize {
    d.databases
        .iter()
        .flat_map(|db| &db.retention_policies)
        .flat_map(|rp| &rp.shard_groups)
        .map(|g| g.shards.len())
        .sum()
}

fn imported_databases(d: &meta::Data, o: &RestoreOptions) -> Vec<String> {
    if o.db.is_empty() {
        d.databases.iter().map(|db| db.name.clone()).filter(|n| n != "_internal").collect()
    } else if o.newdb.is_empty() {
        vec![o.db.clone()]
    } else {
        vec![o.newdb.clone()]
    }
}

fn display_dir(o: &RestoreOptions) -> String {
    if o.full {
        Path::new(&o.path).parent().map(|p| p.display().to_string()).unwrap_or_default()
    } else {
        o.path.clone()
    }
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

fn list(b: &IncrementalBackup, d: &meta::Data, files: &[ManifestFile]) {
    println!("Meta: {} ({} bytes of meta.Data)", b.meta.file_name, b.meta.size);
    let dbs: Vec<&str> = d.databases.iter().map(|d| d.name.as_str()).collect();
    println!("Databases: {}", dbs.join(", "));
    let users: Vec<&str> = d.users.iter().map(|u| u.name.as_str()).collect();
    println!("Users: {}", users.join(", "));
    println!("Shards:");
    for f in files {
        println!(
            "  db {}, rp {}, shard {}: {} ({} bytes)",
            f.database, f.policy, f.shard_id, f.file_name, f.size
        );
    }
}

/// Copies every selected shard file to each owner of its new shard.
async fn copy_shards(
    meta: &Meta,
    backup: &IncrementalBackup,
    files: &[ManifestFile],
    shard_map: &[cluster::ShardIdPair],
) -> Result<u64> {
    let target = meta.data().await?;
    let mut jobs = Vec::new();
    for f in files {
        let Some(pair) = shard_map.iter().find(|p| p.old_id == f.shard_id) else {
            continue;
        };
        let Some((db, rp, owners)) = locate(&target, pair.new_id) else {
            continue;
        };
        let addrs: Vec<String> = owners
            .iter()
            .filter_map(|id| target.data_nodes.iter().find(|n| n.id == *id))
            .filter_map(|n| n.tcp_host.clone())
            .collect();
        if addrs.is_empty() {
            bail!("shard {} has no owners", pair.new_id);
        }
        jobs.push((f, pair.new_id, db, rp, addrs));
    }
    // A few shards at a time (so that the data nodes use every core), their
    // lines printed in order as each completes.
    let mut copies = futures::stream::iter(jobs.iter().map(|(f, new_id, db, rp, addrs)| {
        let path = backup.file_path(f);
        async move {
            let t0 = Instant::now();
            let copies = addrs.iter().map(|a| send_shard(a, &path, *new_id, db, rp));
            let results = futures::future::join_all(copies).await;
            (results, t0.elapsed())
        }
    }))
    .buffered(data::SHARDS_IN_FLIGHT);
    let mut total = 0u64;
    for (f, new_id, _, _, addrs) in &jobs {
        let Some((results, took)) = copies.next().await else { break };
        println!(
            "Restoring db {}, rp {}, shard {} to shard {new_id}...",
            f.database, f.policy, f.shard_id
        );
        for a in addrs {
            print!("Copying data to {a}... ");
        }
        let mut tar = 0u64;
        for r in results {
            match r {
                Ok(n) => tar = tar.max(n),
                Err(e) => {
                    println!("Error.");
                    return Err(e.context(format!("restoring shard {}", f.shard_id)));
                }
            }
        }
        let bytes = if f.size > 0 { f.size as u64 } else { tar };
        println!(
            "Done. Restored shard {} into shard {new_id} in {}, {bytes} bytes transferred",
            f.shard_id,
            proto::godur::format(took)
        );
        flush();
        total += bytes;
    }
    Ok(total)
}

fn locate(d: &meta::Data, shard: u64) -> Option<(String, String, Vec<u64>)> {
    for db in &d.databases {
        for rp in &db.retention_policies {
            for g in &rp.shard_groups {
                if let Some(s) = g.shards.iter().find(|s| s.id == shard) {
                    let owners = s.owners.iter().map(|o| o.node_id).collect();
                    return Some((db.name.clone(), rp.name.clone(), owners));
                }
            }
        }
    }
    None
}

/// Streams one archive to one data node; returns its tar size.
async fn send_shard(addr: &str, path: &Path, shard: u64, db: &str, rp: &str) -> Result<u64> {
    let mut client = data::client(addr)?;
    let mut file =
        tokio::fs::File::open(path).await.with_context(|| format!("open {}", path.display()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<cluster::RestoreShardChunk>(8);
    let first = cluster::RestoreShardChunk {
        shard_id: shard,
        database: db.to_string(),
        policy: rp.to_string(),
        data: vec![],
    };
    tx.send(first).await.map_err(|_| anyhow!("{addr}: stream closed"))?;
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            let chunk =
                cluster::RestoreShardChunk { data: buf[..n].to_vec(), ..Default::default() };
            if tx.send(chunk).await.is_err() {
                return Ok(());
            }
        }
    });
    let resp = client
        .restore_shard(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(|e| anyhow!("{addr}: {}", e.message()));
    reader.await??;
    Ok(resp?.into_inner().tar_size)
}
