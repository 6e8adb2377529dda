//! Finding and reading the data a statement covers: sources resolved to
//! (database, retention policy, measurement matcher), the shards of their
//! groups in the time range, the series each shard lists (through one
//! owner), and the columns of the wanted (series, field) keys merged
//! across shards (a later shard wins on equal timestamps).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use portable::FieldType;

use super::Context;
use super::backend::{ShardListing, ShardTarget, list_series, read_listing};
use super::error::{QueryError, Result};
use super::eval::{Regexes, Tri, eval_tags};
use super::result::Value;
use crate::influxql::{DataType, Expr, Measurement};

/// Which measurements a source names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// One measurement.
    Name(String),
    /// Measurements matching a regex.
    Regex(String),
    /// Every measurement.
    All,
}

impl Matcher {
    /// Whether `m` matches.
    pub fn matches(&self, m: &str, re: &Regexes) -> bool {
        match self {
            Matcher::Name(n) => n == m,
            Matcher::Regex(p) => re.is_match(p, m),
            Matcher::All => true,
        }
    }
}

/// A resolved source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Database.
    pub db: String,
    /// Retention policy.
    pub rp: String,
    /// Measurements.
    pub matcher: Matcher,
}

/// System measurement names users may not query directly.
pub fn system_source_command(name: &str) -> Option<&'static str> {
    Some(match name {
        "_fieldKeys" => "SHOW FIELD KEYS",
        "_measurements" => "SHOW MEASUREMENTS",
        "_series" => "SHOW SERIES",
        "_tagKeys" => "SHOW TAG KEYS",
        "_tags" => "SHOW TAG VALUES",
        "_name" | "_tagKey" => "the appropriate meta command",
        _ => return None,
    })
}

/// Resolves `[db.][rp.]name` against the defaults (InfluxDB's
/// `normalizeMeasurement`): the database must exist; the RP defaults to
/// the `rp` parameter, then to the database's default RP.
pub fn resolve_db_rp(ctx: &Context<'_>, db: &str, rp: &str) -> Result<(String, String)> {
    let db = if db.is_empty() { ctx.database.as_str() } else { db };
    if db.is_empty() {
        return Err(QueryError::DatabaseNameRequired);
    }
    let dbi = ctx.view.database(db).ok_or_else(|| QueryError::DatabaseNotFound(db.to_string()))?;
    let rp = if !rp.is_empty() {
        rp.to_string()
    } else if !ctx.retention_policy.is_empty() {
        ctx.retention_policy.clone()
    } else if !dbi.default_retention_policy.is_empty() {
        dbi.default_retention_policy.clone()
    } else {
        return Err(QueryError::NoDefaultRetentionPolicy(db.to_string()));
    };
    Ok((db.to_string(), rp))
}

/// Resolves a measurement source, checking that its RP exists.
pub fn resolve_measurement(ctx: &Context<'_>, m: &Measurement) -> Result<SourceSpec> {
    if let Some(cmd) = system_source_command(&m.name) {
        return Err(QueryError::invalid(format!(
            "unable to use system source '{}': use {cmd} instead",
            m.name
        )));
    }
    if m.name.is_empty() && m.regex.is_none() {
        return Err(QueryError::invalid("invalid measurement"));
    }
    let (db, rp) = resolve_db_rp(ctx, &m.database, &m.retention_policy)?;
    if ctx.view.retention_policy(&db, &rp).is_none() {
        return Err(QueryError::RetentionPolicyNotFound(rp));
    }
    let matcher = match &m.regex {
        Some(r) => Matcher::Regex(r.pattern.clone()),
        None => Matcher::Name(m.name.clone()),
    };
    Ok(SourceSpec { db, rp, matcher })
}

/// A shard's listing and which of its series the sources matched.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Database of the shard.
    pub db: String,
    /// The listing.
    pub listing: ShardListing,
    /// Indexes of the matched series in `listing.series`.
    pub matched: Vec<usize>,
}

/// Lists the series of every shard the sources cover in `[min, max]`
/// (shards of each distinct (db, rp), listed concurrently).
pub async fn list_sources(
    ctx: &Context<'_>,
    specs: &[SourceSpec],
    min: i64,
    max: i64,
    re: &Regexes,
) -> Result<Vec<Listed>> {
    let mut by_rp: BTreeMap<(String, String), Vec<&Matcher>> = BTreeMap::new();
    for s in specs {
        by_rp.entry((s.db.clone(), s.rp.clone())).or_default().push(&s.matcher);
    }
    let mut out = Vec::new();
    for ((db, rp), matchers) in by_rp {
        let shards: Vec<ShardTarget> = super::backend::shards_for(&ctx.view, &db, &rp, min, max);
        out.extend(list_shards(ctx, &db, &shards, &matchers, re).await?);
    }
    Ok(out)
}

/// Lists the given shards of `db`, keeping series matched by `matchers`.
pub async fn list_shards(
    ctx: &Context<'_>,
    db: &str,
    shards: &[ShardTarget],
    matchers: &[&Matcher],
    re: &Regexes,
) -> Result<Vec<Listed>> {
    let single = match matchers {
        [Matcher::Name(n)] => Some(n.as_str()),
        _ => None,
    };
    let listings = list_series(ctx.backend, shards, single).await?;
    Ok(listings
        .into_iter()
        .map(|l| {
            let matched = l
                .series
                .iter()
                .enumerate()
                .filter(|(_, s)| matchers.iter().any(|m| m.matches(&s.measurement, re)))
                .map(|(i, _)| i)
                .collect();
            Listed { db: db.to_string(), listing: l, matched }
        })
        .collect())
}

/// Fields (with types) and tag keys of one measurement.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Fields; a conflict keeps InfluxDB's "highest" type.
    pub fields: BTreeMap<String, FieldType>,
    /// Tag keys.
    pub tags: BTreeSet<String>,
}

impl Schema {
    /// Whether a variable reference names a field of this measurement.
    pub fn is_field(&self, name: &str, dt: DataType) -> bool {
        dt != DataType::Tag && self.fields.contains_key(name)
    }
}

/// InfluxQL's type order for conflicts (`DataType.LessThan`).
pub fn type_rank(t: FieldType) -> u8 {
    match t {
        FieldType::Float => 1,
        FieldType::Integer => 2,
        FieldType::String => 3,
        FieldType::Boolean => 4,
        FieldType::Unsigned => 9,
    }
}

/// The schema of every matched measurement.
pub fn schemas(listed: &[Listed]) -> BTreeMap<String, Schema> {
    let mut out: BTreeMap<String, Schema> = BTreeMap::new();
    for l in listed {
        for &i in &l.matched {
            let s = &l.listing.series[i];
            let sc = out.entry(s.measurement.clone()).or_default();
            for (f, t) in &s.fields {
                let e = sc.fields.entry(f.clone()).or_insert(*t);
                if type_rank(*t) > type_rank(*e) {
                    *e = *t;
                }
            }
            for (k, _) in &s.tags {
                sc.tags.insert(k.clone());
            }
        }
    }
    out
}

/// One column of a series: sorted unique times and their values.
#[derive(Debug, Clone, Default)]
pub struct Col {
    /// Times.
    pub times: Vec<i64>,
    /// Values.
    pub values: Vec<Value>,
}

impl Col {
    /// The value at `t`.
    pub fn at(&self, t: i64) -> Option<&Value> {
        self.times.binary_search(&t).ok().map(|i| &self.values[i])
    }
}

/// A series with the columns read.
#[derive(Debug, Clone, Default)]
pub struct SeriesData {
    /// Escaped series key.
    pub key: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Columns by field name.
    pub cols: HashMap<String, Col>,
}

impl SeriesData {
    /// A tag's value.
    pub fn tag(&self, k: &str) -> Option<&str> {
        self.tags.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
    }
}

/// A measurement's schema and series.
#[derive(Debug, Clone, Default)]
pub struct MeasurementData {
    /// Schema.
    pub schema: Schema,
    /// Series, sorted by key.
    pub series: Vec<SeriesData>,
}

/// Reads `fields(measurement)` of the matched series that pass `cond`'s
/// tag part, in `[min, max]`, merging shards.
pub async fn read_data(
    ctx: &Context<'_>,
    listed: &[Listed],
    schemas: &BTreeMap<String, Schema>,
    fields: &(dyn Fn(&str) -> Vec<String> + Sync),
    cond: Option<&Expr>,
    re: &Regexes,
    (min, max): (i64, i64),
) -> Result<BTreeMap<String, MeasurementData>> {
    let mut wanted: HashMap<String, Vec<String>> = HashMap::new();
    let mut reads = Vec::new();
    for l in listed {
        let mut keys = Vec::new();
        let mut key_ms = Vec::new();
        let mut series = Vec::new();
        for &i in &l.matched {
            let s = &l.listing.series[i];
            let Some(sc) = schemas.get(&s.measurement) else { continue };
            if let Some(c) = cond {
                let is_field = |n: &str, dt: DataType| sc.is_field(n, dt);
                if eval_tags(c, &s.tags, &is_field, re) == Tri::False {
                    continue;
                }
            }
            let want =
                wanted.entry(s.measurement.clone()).or_insert_with(|| fields(&s.measurement));
            series.push(i);
            for f in want.iter() {
                if s.fields.iter().any(|(n, _)| n == f) {
                    keys.push((s.key.clone(), f.clone()));
                    key_ms.push(s.measurement.clone());
                }
            }
        }
        reads.push((l, series, keys, key_ms));
    }
    let futs = reads
        .iter()
        .map(|(l, _, keys, _)| read_listing(ctx.backend, &l.listing, keys.clone(), min, max));
    let cols = futures::future::join_all(futs).await;
    let mut out: BTreeMap<String, BTreeMap<String, SeriesData>> = BTreeMap::new();
    for ((l, series, keys, key_ms), cols) in reads.iter().zip(cols) {
        let cols = cols?;
        for &i in series {
            let s = &l.listing.series[i];
            out.entry(s.measurement.clone()).or_default().entry(s.key.clone()).or_insert_with(
                || SeriesData { key: s.key.clone(), tags: s.tags.clone(), cols: HashMap::new() },
            );
        }
        for (((sk, f), m), col) in keys.iter().zip(key_ms).zip(cols) {
            if col.times.is_empty() {
                continue;
            }
            let sd = out.entry(m.clone()).or_default().entry(sk.clone()).or_default();
            let c = sd.cols.entry(f.clone()).or_default();
            let n = col.values.len().min(col.times.len());
            let appended_sorted =
                c.times.last().is_none_or(|l| col.times.first().is_some_and(|f| f > l));
            c.times.extend_from_slice(&col.times[..n]);
            c.values.extend((0..n).filter_map(|i| col.values.get(i)).map(Value::from));
            if !appended_sorted {
                dedupe_sorted(c);
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(m, series)| {
            let schema = schemas.get(&m).cloned().unwrap_or_default();
            let series = series
                .into_values()
                .filter(|s| !s.cols.is_empty() || fields(&m).is_empty())
                .collect();
            (m, MeasurementData { schema, series })
        })
        .collect())
}

/// Sorts a column by time; on equal times the later value wins.
fn dedupe_sorted(c: &mut Col) {
    let mut idx: Vec<usize> = (0..c.times.len()).collect();
    idx.sort_by_key(|&i| c.times[i]);
    let mut times = Vec::with_capacity(idx.len());
    let mut values: Vec<Value> = Vec::with_capacity(idx.len());
    for i in idx {
        if times.last() == Some(&c.times[i]) {
            if let Some(v) = values.last_mut() {
                *v = c.values[i].clone();
            }
            continue;
        }
        times.push(c.times[i]);
        values.push(c.values[i].clone());
    }
    c.times = times;
    c.values = values;
}
