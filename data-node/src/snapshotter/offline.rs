//! The offline legacy restore (`-metadir`, `-datadir`) into a stopped data
//! node, as the OSS page's "Restore (legacy)" does to a stopped `influxd`:
//!
//! - `-metadir <data node meta dir>`: the metastore of the legacy backup's
//!   last `meta.NN` replaces the databases, users and roles of the cluster
//!   the data node belongs to (its `client.json` names the meta nodes),
//!   with the original shard IDs: the OSS page's warning holds, every
//!   existing database of the cluster is cleared. Cluster membership is
//!   kept; a shard whose owners are not data nodes of this cluster (an OSS
//!   backup has none) is given to this data node.
//! - `-datadir <data node data dir>`: each `<db>.<rp>.<shard>.<n>` tar of
//!   the selected database / retention policy / shard replaces that shard
//!   in the node's store (the shard is cleared first, then every file of it
//!   is imported in name order). The store must not be open: a running data
//!   node holds its lock. When the data node's meta directory sits next to
//!   the data directory (`<datadir>/../meta`, the packaged layout) and the
//!   metastore has the shard, the node is made an owner of each shard it
//!   now holds, so that queries find the data there.
//!
//! Texts as InfluxDB's: `Using metastore snapshot: <file>` (plain stdout),
//! `Restoring offline from backup <pattern>` (log line), `no metastore
//! backups in <dir>`, `no backup files for <pattern> in <dir>`, `backup
//! tarfile name incorrect format`. DEVIATION: the shard directory is the
//! shard ID, not InfluxDB's `strings.Trim(id, "0")` (which sends shard 10
//! to shard 1).

use std::collections::HashSet;
use std::io::BufReader;
use std::path::Path;

use prost::Message;
use proto::cluster::{self, command::Cmd, meta_client::MetaClient as Grpc};
use proto::meta;

use super::backup_cmd::go_join;
use super::restore_cmd::{Restore, glob_prefix, last_meta_file, meta_bytes};
use crate::meta_client::ClientState;
use crate::store::Store;

/// Runs the offline restore.
pub fn run(r: &mut Restore<'_>) -> Result<(), String> {
    if !r.metadir.is_empty() {
        unpack_meta(r)?;
    }
    let mut target = Target { store: None, cleared: HashSet::new() };
    let base = go_join(&r.path, &r.source_db);
    let res = if r.shard != 0 {
        let pat = format!(
            "{}.*",
            go_join(&r.path, &format!("{}.{}.{:05}", r.source_db, r.backup_rp, r.shard))
        );
        unpack_files(r, &mut target, &pat)
    } else if !r.restore_rp.is_empty() {
        unpack_files(r, &mut target, &format!("{base}.{}.*", r.backup_rp))
    } else if !r.datadir.is_empty() {
        unpack_files(r, &mut target, &format!("{base}.*"))
    } else {
        Ok(())
    };
    // Close the store before talking to the cluster.
    drop(target.store.take());
    res?;
    if !target.cleared.is_empty() {
        claim_ownership(r, &target.cleared);
    }
    Ok(())
}

/// Makes this data node an owner of the shards it was given, through the
/// meta nodes named in `<datadir>/../meta/client.json` (if any).
fn claim_ownership(r: &mut Restore<'_>, shards: &HashSet<u64>) {
    let meta_dir = Path::new(&r.datadir).join("..").join("meta");
    let Ok(st) = ClientState::load(&meta_dir) else { return };
    if st.id == 0 || st.meta_servers.is_empty() {
        return;
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(_) => return,
    };
    let mut ids: Vec<u64> = shards.iter().copied().collect();
    ids.sort_unstable();
    if let Err(e) = rt.block_on(add_owner(&st, &ids)) {
        r.elog(&format!(
            "warning: the restored shards are on this data node, but it could not be made their owner: {e}"
        ));
    }
}

async fn add_owner(st: &ClientState, shards: &[u64]) -> Result<(), String> {
    let mut last = String::from("no meta server answered");
    for addr in &st.meta_servers {
        let ch = match proto::net::channel(addr, Some(std::time::Duration::from_secs(30))) {
            Ok(c) => c,
            Err(e) => {
                last = format!("{addr}: {e}");
                continue;
            }
        };
        let mut c = Grpc::new(ch).max_decoding_message_size(256 << 20);
        let cur = match c.read(cluster::ReadRequest {}).await {
            Ok(r) => r.into_inner(),
            Err(s) => {
                last = format!("{addr}: {}", s.message());
                continue;
            }
        };
        let cur = meta::Data::decode(cur.data.as_slice()).map_err(|e| format!("{addr}: {e}"))?;
        for id in shards {
            let owned = cur
                .databases
                .iter()
                .flat_map(|d| &d.retention_policies)
                .flat_map(|r| r.shard_groups.iter().flat_map(|g| g.shards.iter()));
            let Some(s) = owned.into_iter().find(|s| s.id == *id) else { continue };
            if s.owners.iter().any(|o| o.node_id == st.id) {
                continue;
            }
            let req = cluster::ExecuteRequest {
                request_id: format!(
                    "offline-restore-owner-{}-{id}-{}",
                    st.id,
                    super::now().unix_nano_i128()
                ),
                command: Some(cluster::Command {
                    cmd: Some(Cmd::AddShardOwner(cluster::AddShardOwner {
                        shard_id: *id,
                        node_id: st.id,
                    })),
                }),
            };
            match c.execute(req).await {
                Ok(r) if r.get_ref().error.is_empty() => {}
                Ok(r) => return Err(format!("shard {id}: {}", r.into_inner().error)),
                Err(s) => return Err(format!("shard {id}: {addr}: {}", s.message())),
            }
        }
        return Ok(());
    }
    Err(last)
}

struct Target {
    store: Option<Store>,
    cleared: HashSet<u64>,
}

fn unpack_meta(r: &mut Restore<'_>) -> Result<(), String> {
    let file = last_meta_file(&r.path)?;
    let _ = writeln!(r.out, "Using metastore snapshot: {file}");
    let raw = meta_bytes(&file)?;
    let backup = meta::Data::decode(raw.as_slice()).map_err(|e| format!("unmarshal: {e}"))?;
    let st = ClientState::load(Path::new(&r.metadir))
        .map_err(|e| format!("reading {}/client.json: {e}", r.metadir))?;
    if st.id == 0 || st.meta_servers.is_empty() {
        return Err(format!(
            "{}: the data node has not joined a cluster (no client.json): -metadir takes the meta directory of a data node whose cluster's metastore is to be replaced",
            r.metadir
        ));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting a runtime: {e}"))?;
    rt.block_on(replace_metastore(&st, backup))
}

async fn replace_metastore(st: &ClientState, backup: meta::Data) -> Result<(), String> {
    let mut last = String::from("no meta server answered");
    for addr in &st.meta_servers {
        let ch = match proto::net::channel(addr, Some(std::time::Duration::from_secs(30))) {
            Ok(c) => c,
            Err(e) => {
                last = format!("{addr}: {e}");
                continue;
            }
        };
        let mut c = Grpc::new(ch).max_decoding_message_size(256 << 20);
        let cur = match c.read(cluster::ReadRequest {}).await {
            Ok(r) => r.into_inner(),
            Err(s) => {
                last = format!("{addr}: {}", s.message());
                continue;
            }
        };
        let cur = meta::Data::decode(cur.data.as_slice()).map_err(|e| format!("{addr}: {e}"))?;
        let data = merged(cur, backup.clone(), st.id);
        let req = cluster::ExecuteRequest {
            request_id: format!("offline-restore-{}-{}", st.id, super::now().unix_nano_i128()),
            command: Some(cluster::Command {
                cmd: Some(Cmd::SetData(cluster::SetData { data: data.encode_to_vec() })),
            }),
        };
        return match c.execute(req).await {
            Ok(r) if r.get_ref().error.is_empty() => Ok(()),
            Ok(r) => Err(format!("set data: {}", r.into_inner().error)),
            Err(s) => Err(format!("set data: {addr}: {}", s.message())),
        };
    }
    Err(format!("reaching the meta nodes: {last}"))
}

/// The cluster's metastore with the backup's databases, users and roles.
pub fn merged(cur: meta::Data, backup: meta::Data, me: u64) -> meta::Data {
    let nodes: HashSet<u64> = cur.data_nodes.iter().map(|n| n.id).collect();
    let mut d = cur;
    d.max_shard_group_id = d.max_shard_group_id.max(backup.max_shard_group_id);
    d.max_shard_id = d.max_shard_id.max(backup.max_shard_id);
    d.databases = backup.databases;
    d.users = backup.users;
    d.roles = backup.roles;
    for db in &mut d.databases {
        db.restore_token = None;
        for rp in &mut db.retention_policies {
            for g in &mut rp.shard_groups {
                for s in &mut g.shards {
                    s.owners.retain(|o| nodes.contains(&o.node_id));
                    if s.owners.is_empty() {
                        s.owners.push(meta::ShardOwner { node_id: me });
                    }
                }
            }
        }
    }
    d
}

fn unpack_files(r: &mut Restore<'_>, t: &mut Target, pat: &str) -> Result<(), String> {
    r.log(&format!("Restoring offline from backup {pat}\n"));
    let files = glob_prefix(pat)?;
    if files.is_empty() {
        return Err(format!("no backup files for {pat} in {}", r.path));
    }
    for f in files {
        unpack_tar(r, t, &f)?;
    }
    if let Some(s) = &t.store {
        s.flush_all().map_err(|e| format!("flushing the store: {e}"))?;
    }
    Ok(())
}

fn unpack_tar(r: &mut Restore<'_>, t: &mut Target, file: &str) -> Result<(), String> {
    let base = Path::new(file).file_name().map(|n| n.to_string_lossy().into_owned());
    let base = base.unwrap_or_default();
    let parts: Vec<&str> = base.split('.').collect();
    if parts.len() != 4 {
        return Err("backup tarfile name incorrect format".into());
    }
    let id: u64 =
        parts[2].parse().map_err(|_| "backup tarfile name incorrect format".to_string())?;
    let (db, rp) = (parts[0], parts[1]);
    if t.store.is_none() {
        let store = Store::open(&r.datadir).map_err(|e| {
            let e = e.to_string();
            if e.contains("could not acquire lock") {
                format!(
                    "the data node's store in {} is locked by a running data node: an offline restore needs the data node stopped",
                    r.datadir
                )
            } else {
                format!("opening the data node's store in {}: {e}", r.datadir)
            }
        })?;
        t.store = Some(store);
    }
    let Some(store) = &t.store else { return Ok(()) };
    if t.cleared.insert(id) {
        store.delete_shard(id).map_err(|e| format!("clearing shard {id}: {e}"))?;
    }
    let shard = store.create_shard(id, db, rp).map_err(|e| format!("shard {id}: {e}"))?;
    let f = std::fs::File::open(file).map_err(|e| format!("open {file}: {e}"))?;
    super::tarball::walk(BufReader::new(f), |path, size, rd| {
        let name = path.rsplit('/').next().unwrap_or_default();
        if portable::tsm::parse_file_name(name).is_none() || !name.ends_with(".tsm") {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(size.min(256 << 20) as usize);
        rd.read_to_end(&mut buf).map_err(|e| format!("{file}: {path}: {e}"))?;
        shard
            .import_tsm(&format!("{file}: {path}"), std::io::Cursor::new(buf))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .map_err(|e| format!("{file}: {e}"))?;
    Ok(())
}
