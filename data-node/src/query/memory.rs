//! An in-memory [`Backend`] for tests: shards held per (node, shard ID) in
//! ordered maps, nodes that can be marked down, and a pluggable metastore
//! (a closure that applies a command and returns the new `meta.Data`;
//! tests plug the meta node's own state machine in).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use portable::tsm::Values;
use portable::{FieldType, FieldValue, Point};
use proto::cluster::{self, command::Cmd};
use proto::meta;

use super::backend::{Backend, BoxFuture, RawColumn};
use crate::coordinator::fnv64a;
use crate::meta_client::{MetaView, group_covers};
use crate::store::SeriesInfo;

/// Applies a metastore command to the metastore, returning the new one
/// (or the metastore's error text).
pub type MetaExec = Box<dyn Fn(&Cmd) -> Result<meta::Data, String> + Send + Sync>;

#[derive(Debug, Default, Clone)]
struct MemSeries {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: BTreeMap<String, BTreeMap<i64, FieldValue>>,
}

type MemShard = BTreeMap<String, MemSeries>;

/// The in-memory cluster.
pub struct MemoryBackend {
    node_id: u64,
    view: Mutex<Arc<MetaView>>,
    exec: MetaExec,
    shards: Mutex<HashMap<(u64, u64), MemShard>>,
    down: Mutex<HashSet<u64>>,
    index: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryBackend {
    /// A backend acting as node `node_id`, starting from `data`.
    pub fn new(node_id: u64, data: meta::Data, exec: MetaExec) -> MemoryBackend {
        MemoryBackend {
            node_id,
            view: Mutex::new(Arc::new(MetaView { index: 1, data })),
            exec,
            shards: Mutex::new(HashMap::new()),
            down: Mutex::new(HashSet::new()),
            index: Mutex::new(1),
        }
    }

    /// Marks a node down (its calls fail) or up.
    pub fn set_down(&self, node: u64, down: bool) {
        if down {
            lock(&self.down).insert(node);
        } else {
            lock(&self.down).remove(&node);
        }
    }

    fn check_up(&self, node: u64) -> Result<(), String> {
        if lock(&self.down).contains(&node) {
            return Err(format!("dial tcp node{node}: connection refused"));
        }
        Ok(())
    }

    fn apply(&self, cmd: &Cmd) -> Result<(), String> {
        let data = (self.exec)(cmd)?;
        let mut idx = lock(&self.index);
        *idx += 1;
        *lock(&self.view) = Arc::new(MetaView { index: *idx, data });
        Ok(())
    }

    /// Writes points into one node's copy of a shard directly (a replica
    /// that diverged, for tests).
    pub fn write_to_owner(&self, owner: u64, shard_id: u64, points: &[Point]) {
        let mut shards = lock(&self.shards);
        let shard = shards.entry((owner, shard_id)).or_default();
        for p in points {
            let s = shard.entry(p.series_key()).or_insert_with(|| MemSeries {
                measurement: p.measurement.clone(),
                tags: p.tags.clone(),
                fields: BTreeMap::new(),
            });
            for (k, v) in &p.fields {
                s.fields.entry(k.clone()).or_default().insert(p.time, v.clone());
            }
        }
    }

    /// Writes points as the write coordinator does: shard group by time
    /// (created when missing), shard by series-key hash, every owner that
    /// is up.
    pub fn write_sync(&self, db: &str, rp: &str, points: Vec<Point>) -> Result<(), String> {
        let rp = if rp.is_empty() {
            let view = lock(&self.view).clone();
            view.database(db)
                .ok_or_else(|| format!("database not found: {db:?}"))?
                .default_retention_policy
                .clone()
        } else {
            rp.to_string()
        };
        let mut by_shard: BTreeMap<u64, (Vec<u64>, Vec<Point>)> = BTreeMap::new();
        for p in points {
            let mut group = None;
            for attempt in 0..2 {
                let view = lock(&self.view).clone();
                let rpi = view
                    .retention_policy(db, &rp)
                    .ok_or_else(|| format!("retention policy not found: {rp}"))?;
                if let Some(g) = rpi.shard_groups.iter().find(|g| group_covers(g, p.time)) {
                    group = Some(g.clone());
                    break;
                }
                if attempt == 0 {
                    self.apply(&Cmd::CreateShardGroup(cluster::CreateShardGroup {
                        database: db.to_string(),
                        policy: rp.clone(),
                        timestamp: p.time,
                    }))?;
                }
            }
            let g = group.ok_or("no shard group")?;
            if g.shards.is_empty() {
                return Err("shard group has no shards".into());
            }
            let s = &g.shards[(fnv64a(p.series_key().as_bytes()) % g.shards.len() as u64) as usize];
            by_shard
                .entry(s.id)
                .or_insert_with(|| (s.owners.iter().map(|o| o.node_id).collect(), Vec::new()))
                .1
                .push(p);
        }
        for (shard_id, (owners, pts)) in by_shard {
            let mut ok = false;
            for o in owners {
                if self.check_up(o).is_ok() {
                    self.write_to_owner(o, shard_id, &pts);
                    ok = true;
                }
            }
            if !ok {
                return Err("write failed: no owner is up".into());
            }
        }
        Ok(())
    }

    /// Whether a node holds a shard.
    pub fn has_shard(&self, owner: u64, shard_id: u64) -> bool {
        lock(&self.shards).contains_key(&(owner, shard_id))
    }

    /// Number of (series, field, time) values one node holds of a shard.
    pub fn value_count(&self, owner: u64, shard_id: u64) -> usize {
        lock(&self.shards)
            .get(&(owner, shard_id))
            .map_or(0, |s| s.values().flat_map(|x| x.fields.values()).map(BTreeMap::len).sum())
    }
}

fn to_values(t: FieldType, vals: Vec<FieldValue>) -> Values {
    let mut out = Values::new(t);
    for v in vals {
        let _ = out.push(v);
    }
    out
}

impl Backend for MemoryBackend {
    fn node_id(&self) -> u64 {
        self.node_id
    }

    fn view(&self) -> Arc<MetaView> {
        lock(&self.view).clone()
    }

    fn execute_meta(&self, cmd: Cmd) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.apply(&cmd) })
    }

    fn shard_series(
        &self,
        owner: u64,
        shard_id: u64,
        measurement: Option<String>,
    ) -> BoxFuture<'_, Result<Option<Vec<SeriesInfo>>, String>> {
        Box::pin(async move {
            self.check_up(owner)?;
            let shards = lock(&self.shards);
            let Some(shard) = shards.get(&(owner, shard_id)) else { return Ok(None) };
            let mut out: Vec<SeriesInfo> = shard
                .iter()
                .filter(|(_, s)| measurement.as_ref().is_none_or(|m| *m == s.measurement))
                .filter(|(_, s)| s.fields.values().any(|f| !f.is_empty()))
                .map(|(k, s)| SeriesInfo {
                    key: k.clone(),
                    measurement: s.measurement.clone(),
                    tags: s.tags.clone(),
                    fields: s
                        .fields
                        .iter()
                        .filter_map(|(n, f)| Some((n.clone(), f.values().next()?.field_type())))
                        .collect(),
                })
                .collect();
            out.sort_by(|a, b| (&a.measurement, &a.key).cmp(&(&b.measurement, &b.key)));
            Ok(Some(out))
        })
    }

    fn read_shard(
        &self,
        owner: u64,
        shard_id: u64,
        keys: Vec<(String, String)>,
        min: i64,
        max: i64,
    ) -> BoxFuture<'_, Result<Vec<RawColumn>, String>> {
        Box::pin(async move {
            self.check_up(owner)?;
            let shards = lock(&self.shards);
            let shard = shards.get(&(owner, shard_id)).ok_or("shard not found")?;
            let mut out = Vec::with_capacity(keys.len());
            for (sk, f) in &keys {
                let Some(col) = shard.get(sk).and_then(|s| s.fields.get(f)) else {
                    out.push(RawColumn::empty());
                    continue;
                };
                let Some(t) = col.values().next().map(FieldValue::field_type) else {
                    out.push(RawColumn::empty());
                    continue;
                };
                let (times, vals): (Vec<i64>, Vec<FieldValue>) = col
                    .range(min..=max.max(min))
                    .filter(|(_, v)| v.field_type() == t)
                    .map(|(t, v)| (*t, v.clone()))
                    .unzip();
                out.push(RawColumn { times, values: to_values(t, vals) });
            }
            Ok(out)
        })
    }

    fn delete_shard_data(
        &self,
        owner: u64,
        shard_id: u64,
        series_keys: Vec<String>,
        min: i64,
        max: i64,
        drop_measurement: Option<String>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.check_up(owner)?;
            let mut shards = lock(&self.shards);
            let Some(shard) = shards.get_mut(&(owner, shard_id)) else { return Ok(()) };
            match drop_measurement {
                Some(m) => shard.retain(|_, s| s.measurement != m),
                None => {
                    for k in &series_keys {
                        if let Some(s) = shard.get_mut(k) {
                            for col in s.fields.values_mut() {
                                col.retain(|t, _| *t < min || *t > max);
                            }
                            s.fields.retain(|_, c| !c.is_empty());
                            if s.fields.is_empty() {
                                shard.remove(k);
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn write_points(
        &self,
        db: String,
        rp: String,
        points: Vec<Point>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.write_sync(&db, &rp, points) })
    }
}
