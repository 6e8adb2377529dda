//! What the engine needs from the cluster, behind one small trait so that
//! it runs against real nodes ([`super::node_backend::NodeBackend`]) or
//! in-memory shards ([`super::memory::MemoryBackend`]), and the shard
//! fan-out built on it: pick the shards of the groups overlapping a time
//! range, read each through ONE owner (this node first), and move on to
//! the next owner when one fails.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portable::Point;
use portable::tsm::Values;
use proto::cluster::command::Cmd;

use super::error::{QueryError, Result};
use crate::meta_client::MetaView;
use crate::store::SeriesInfo;

/// A boxed `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The points of one (series, field) key, sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct RawColumn {
    /// Timestamps (ns).
    pub times: Vec<i64>,
    /// Values, same length.
    pub values: Values,
}

impl RawColumn {
    /// No points.
    pub fn empty() -> RawColumn {
        RawColumn { times: Vec::new(), values: Values::Float(Vec::new()) }
    }
}

/// The cluster as the query engine sees it.
pub trait Backend: Send + Sync {
    /// This node's ID.
    fn node_id(&self) -> u64;

    /// The current metastore.
    fn view(&self) -> Arc<MetaView>;

    /// Runs a metastore command and waits until [`Backend::view`] shows it.
    fn execute_meta(&self, cmd: Cmd) -> BoxFuture<'_, Result<(), String>>;

    /// The series of shard `shard_id` on node `owner` (of one measurement,
    /// or all when None). `Ok(None)`: that node has no such shard.
    fn shard_series(
        &self,
        owner: u64,
        shard_id: u64,
        measurement: Option<String>,
    ) -> BoxFuture<'_, Result<Option<Vec<SeriesInfo>>, String>>;

    /// Reads `(series key, field)` keys of a shard on `owner` in
    /// `[min, max]`; one column per key, in order (empty when absent).
    fn read_shard(
        &self,
        owner: u64,
        shard_id: u64,
        keys: Vec<(String, String)>,
        min: i64,
        max: i64,
    ) -> BoxFuture<'_, Result<Vec<RawColumn>, String>>;

    /// Deletes the points of `series_keys` in `[min, max]` from the shard
    /// on `owner`, or drops measurement `drop_measurement` entirely.
    fn delete_shard_data(
        &self,
        owner: u64,
        shard_id: u64,
        series_keys: Vec<String>,
        min: i64,
        max: i64,
        drop_measurement: Option<String>,
    ) -> BoxFuture<'_, Result<(), String>>;

    /// Writes points into `db`.`rp` (empty: the default RP) through the
    /// write coordinator (`SELECT ... INTO`).
    fn write_points(
        &self,
        db: String,
        rp: String,
        points: Vec<Point>,
    ) -> BoxFuture<'_, Result<(), String>>;
}

/// A shard a statement covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardTarget {
    /// Shard ID.
    pub id: u64,
    /// Owner node IDs, as the metastore lists them.
    pub owners: Vec<u64>,
    /// Start of its shard group.
    pub start: i64,
}

/// The shards of `db`.`rp` whose (live) groups overlap `[min, max]`,
/// sorted by group start time then shard ID.
pub fn shards_for(view: &MetaView, db: &str, rp: &str, min: i64, max: i64) -> Vec<ShardTarget> {
    let Some(rpi) = view.retention_policy(db, rp) else { return Vec::new() };
    let mut out = Vec::new();
    for g in &rpi.shard_groups {
        if g.deleted_at != 0 || g.start_time > max || g.end_time <= min {
            continue;
        }
        for s in &g.shards {
            out.push(ShardTarget {
                id: s.id,
                owners: s.owners.iter().map(|o| o.node_id).collect(),
                start: g.start_time,
            });
        }
    }
    out.sort_by_key(|s| (s.start, s.id));
    out
}

/// Every shard of `db` (all RPs, or only `rp` when given) overlapping
/// `[min, max]`.
pub fn db_shards(
    view: &MetaView,
    db: &str,
    rp: Option<&str>,
    min: i64,
    max: i64,
) -> Vec<ShardTarget> {
    let Some(dbi) = view.database(db) else { return Vec::new() };
    let mut out = Vec::new();
    for r in &dbi.retention_policies {
        if rp.is_some_and(|x| x != r.name) {
            continue;
        }
        out.extend(shards_for(view, db, &r.name, min, max));
    }
    out
}

/// The order in which to try a shard's owners: this node first, then the
/// others starting at a shard-dependent position (spreading reads).
pub fn owner_order(me: u64, shard: &ShardTarget) -> Vec<u64> {
    let mut out = Vec::with_capacity(shard.owners.len());
    if shard.owners.contains(&me) {
        out.push(me);
    }
    let others: Vec<u64> = shard.owners.iter().copied().filter(|o| *o != me).collect();
    if !others.is_empty() {
        let start = (shard.id as usize) % others.len();
        for i in 0..others.len() {
            out.push(others[(start + i) % others.len()]);
        }
    }
    out
}

/// One shard's series as listed by one of its owners.
#[derive(Debug, Clone)]
pub struct ShardListing {
    /// The shard.
    pub shard: ShardTarget,
    /// The owner that answered (None: no owner has the shard on disk).
    pub owner: Option<u64>,
    /// Its series.
    pub series: Vec<SeriesInfo>,
}

/// Lists the series of every shard, all shards at once, each through the
/// first owner that answers.
pub async fn list_series(
    backend: &dyn Backend,
    shards: &[ShardTarget],
    measurement: Option<&str>,
) -> Result<Vec<ShardListing>> {
    let me = backend.node_id();
    let futs = shards.iter().map(|s| {
        let m = measurement.map(str::to_string);
        async move {
            let mut errors = Vec::new();
            for owner in owner_order(me, s) {
                match backend.shard_series(owner, s.id, m.clone()).await {
                    Ok(Some(series)) => {
                        return Ok(ShardListing { shard: s.clone(), owner: Some(owner), series });
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(format!("node {owner}: {e}")),
                }
            }
            if errors.len() == s.owners.len() && !errors.is_empty() {
                return Err(QueryError::Shard(format!(
                    "shard {}: no owner answered ({})",
                    s.id,
                    errors.join("; ")
                )));
            }
            Ok(ShardListing { shard: s.clone(), owner: None, series: Vec::new() })
        }
    });
    futures::future::join_all(futs).await.into_iter().collect()
}

/// Reads keys of a listed shard: from the owner that listed it, else from
/// the other owners in turn.
pub async fn read_listing(
    backend: &dyn Backend,
    listing: &ShardListing,
    keys: Vec<(String, String)>,
    min: i64,
    max: i64,
) -> Result<Vec<RawColumn>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let Some(first) = listing.owner else {
        return Ok(keys.iter().map(|_| RawColumn::empty()).collect());
    };
    let mut order = vec![first];
    order
        .extend(owner_order(backend.node_id(), &listing.shard).into_iter().filter(|o| *o != first));
    let mut errors = Vec::new();
    for owner in order {
        match backend.read_shard(owner, listing.shard.id, keys.clone(), min, max).await {
            Ok(cols) if cols.len() == keys.len() => return Ok(cols),
            Ok(cols) => {
                errors.push(format!("node {owner}: {} columns for {} keys", cols.len(), keys.len()))
            }
            Err(e) => errors.push(format!("node {owner}: {e}")),
        }
    }
    Err(QueryError::Shard(format!(
        "shard {}: no owner could be read ({})",
        listing.shard.id,
        errors.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_owner_first() {
        let s = ShardTarget { id: 7, owners: vec![1, 2, 3], start: 0 };
        assert_eq!(owner_order(2, &s)[0], 2);
        assert_eq!(owner_order(2, &s).len(), 3);
        assert_eq!(owner_order(9, &s).len(), 3);
    }
}
