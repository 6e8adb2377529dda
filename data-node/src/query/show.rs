//! The series-index statements: `SHOW MEASUREMENTS`, `SHOW SERIES`,
//! `SHOW TAG KEYS`, `SHOW TAG VALUES`, `SHOW FIELD KEYS` and the
//! cardinality statements, answered from the series the shards list
//! (through one owner each), shaped as InfluxDB 1.12 shapes them.

use std::collections::{BTreeMap, BTreeSet};

use super::Context;
use super::backend::{ShardTarget, db_shards, shards_for};
use super::data::{self, Listed, Matcher, Schema};
use super::error::{QueryError, Result};
use super::eval::{Regexes, Tri, eval_tags};
use super::result::{Series, Value};
use crate::influxql::{
    CardinalityStatement, Expr, MAX_TIME, MIN_TIME, ShowFieldKeysStatement,
    ShowMeasurementsStatement, ShowSeriesStatement, ShowTagKeysStatement,
    ShowTagValuesCardinalityStatement, ShowTagValuesStatement, Source, TagKeyExpr, Valuer,
    condition_expr,
};
use crate::store::SeriesInfo;

fn database<'a>(ctx: &'a Context<'_>, db: &'a str) -> Result<&'a str> {
    let db = if db.is_empty() { ctx.database.as_str() } else { db };
    if db.is_empty() {
        return Err(QueryError::DatabaseNameRequired);
    }
    if ctx.view.database(db).is_none() {
        return Err(QueryError::DatabaseNotFound(db.to_string()));
    }
    Ok(db)
}

fn has_time(cond: Option<&Expr>) -> bool {
    cond.is_some_and(|c| {
        c.any(&|e| matches!(e, Expr::VarRef(v) if v.name.eq_ignore_ascii_case("time")))
    })
}

fn time_range(ctx: &Context<'_>, cond: Option<&Expr>) -> Result<(Option<Expr>, i64, i64)> {
    let (rest, tr) = condition_expr(cond, &Valuer { now: Some(ctx.now) })
        .map_err(|e| QueryError::invalid(e.0))?;
    Ok((rest, tr.min_nanos(), tr.max_nanos()))
}

fn matchers(sources: &[Source], re: &mut Regexes) -> Result<Vec<Matcher>> {
    let mut out = Vec::new();
    for s in sources {
        match s {
            Source::Measurement(m) => match &m.regex {
                Some(r) => {
                    re.add(&r.pattern)?;
                    out.push(Matcher::Regex(r.pattern.clone()));
                }
                None => out.push(Matcher::Name(m.name.clone())),
            },
            Source::SubQuery(_) => {
                return Err(QueryError::invalid("subqueries are not allowed in SHOW statements"));
            }
        }
    }
    if out.is_empty() {
        out.push(Matcher::All);
    }
    Ok(out)
}

/// The series of the listed shards passing the condition, deduplicated by
/// key, by measurement.
fn matching_series(
    listed: &[Listed],
    cond: Option<&Expr>,
    re: &Regexes,
) -> BTreeMap<String, BTreeMap<String, SeriesInfo>> {
    let schemas = data::schemas(listed);
    let mut out: BTreeMap<String, BTreeMap<String, SeriesInfo>> = BTreeMap::new();
    for l in listed {
        for &i in &l.matched {
            let s = &l.listing.series[i];
            if let Some(c) = cond {
                let sc = schemas.get(&s.measurement).cloned().unwrap_or_default();
                let is_field = |n: &str, dt| sc.is_field(n, dt);
                if eval_tags(c, &s.tags, &is_field, re) == Tri::False {
                    continue;
                }
            }
            out.entry(s.measurement.clone())
                .or_default()
                .entry(s.key.clone())
                .or_insert_with(|| s.clone());
        }
    }
    out
}

async fn list(
    ctx: &Context<'_>,
    db: &str,
    shards: &[ShardTarget],
    ms: &[Matcher],
    re: &Regexes,
) -> Result<Vec<Listed>> {
    let refs: Vec<&Matcher> = ms.iter().collect();
    data::list_shards(ctx, db, shards, &refs, re).await
}

fn limits<T>(v: Vec<T>, offset: i64, limit: i64) -> Vec<T> {
    let it = v.into_iter().skip(usize::try_from(offset.max(0)).unwrap_or(usize::MAX));
    if limit > 0 {
        it.take(usize::try_from(limit).unwrap_or(usize::MAX)).collect()
    } else {
        it.collect()
    }
}

fn strings(v: impl IntoIterator<Item = String>) -> Vec<Vec<Value>> {
    v.into_iter().map(|s| vec![Value::String(s)]).collect()
}

/// `SHOW MEASUREMENTS`.
pub async fn show_measurements(
    ctx: &Context<'_>,
    s: &ShowMeasurementsStatement,
) -> Result<Vec<Series>> {
    if has_time(s.condition.as_ref()) {
        return Err(QueryError::invalid("SHOW MEASUREMENTS doesn't support time in WHERE clause"));
    }
    let mut sources: Vec<(String, Option<String>)> = Vec::new();
    if s.wildcard_database {
        if !s.retention_policy.is_empty() {
            return Err(QueryError::invalid(
                "query 'SHOW MEASUREMENTS ON *.rp' not supported. use 'ON *.*' or specify a database",
            ));
        }
        if !s.wildcard_retention_policy {
            return Err(QueryError::invalid(
                "query 'SHOW MEASUREMENTS ON *' not supported. use 'ON *.*' or specify a database",
            ));
        }
        for d in &ctx.view.data.databases {
            for r in &d.retention_policies {
                sources.push((d.name.clone(), Some(r.name.clone())));
            }
        }
    } else if s.wildcard_retention_policy {
        let db = if s.database.is_empty() { ctx.database.as_str() } else { s.database.as_str() };
        let dbi = ctx
            .view
            .database(db)
            .ok_or_else(|| QueryError::invalid(format!("unknown database {db}")))?;
        for r in &dbi.retention_policies {
            sources.push((db.to_string(), Some(r.name.clone())));
        }
    } else {
        let db = database(ctx, &s.database)?;
        let rp = (!s.retention_policy.is_empty()).then(|| s.retention_policy.clone());
        sources.push((db.to_string(), rp));
    }
    let only_names =
        !(s.wildcard_database || s.wildcard_retention_policy || !s.retention_policy.is_empty());
    let mut re = Regexes::default();
    let ms = matchers(s.source.as_slice(), &mut re)?;
    if let Some(c) = &s.condition {
        re.add_expr(c)?;
    }
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for (db, rp) in sources {
        let shards = db_shards(&ctx.view, &db, rp.as_deref(), MIN_TIME, MAX_TIME);
        let listed = list(ctx, &db, &shards, &ms, &re).await?;
        let series = matching_series(&listed, s.condition.as_ref(), &re);
        for m in series.keys() {
            rows.push((m.clone(), db.clone(), rp.clone().unwrap_or_default()));
        }
    }
    let rows = limits(rows, s.offset, s.limit);
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (columns, values) = if only_names {
        (vec!["name".to_string()], strings(rows.into_iter().map(|r| r.0)))
    } else {
        (
            vec!["name".to_string(), "database".to_string(), "retention policy".to_string()],
            rows.into_iter()
                .map(|(m, d, r)| vec![Value::String(m), Value::String(d), Value::String(r)])
                .collect(),
        )
    };
    Ok(vec![Series { name: "measurements".into(), columns, values, ..Default::default() }])
}

/// The (db, rp, matchers) a `SHOW SERIES` / `SHOW FIELD KEYS` covers: its
/// `FROM` sources, else the database's default RP.
fn default_rp_sources(
    ctx: &Context<'_>,
    db: &str,
    sources: &[Source],
    re: &mut Regexes,
) -> Result<Vec<(String, String, Matcher)>> {
    let mut out = Vec::new();
    for s in sources {
        let Source::Measurement(m) = s else {
            return Err(QueryError::invalid("subqueries are not allowed in SHOW statements"));
        };
        let mdb = if m.database.is_empty() { db } else { m.database.as_str() };
        let (d, r) = data::resolve_db_rp(ctx, mdb, &m.retention_policy)?;
        let matcher = match &m.regex {
            Some(r) => {
                re.add(&r.pattern)?;
                Matcher::Regex(r.pattern.clone())
            }
            None => Matcher::Name(m.name.clone()),
        };
        out.push((d, r, matcher));
    }
    if out.is_empty() {
        let (d, r) = data::resolve_db_rp(ctx, db, "")?;
        out.push((d, r, Matcher::All));
    }
    Ok(out)
}

async fn list_default_rp(
    ctx: &Context<'_>,
    sources: &[(String, String, Matcher)],
    min: i64,
    max: i64,
    re: &Regexes,
) -> Result<Vec<Listed>> {
    let mut by_rp: BTreeMap<(String, String), Vec<Matcher>> = BTreeMap::new();
    for (d, r, m) in sources {
        by_rp.entry((d.clone(), r.clone())).or_default().push(m.clone());
    }
    let mut out = Vec::new();
    for ((d, r), ms) in by_rp {
        let shards = shards_for(&ctx.view, &d, &r, min, max);
        out.extend(list(ctx, &d, &shards, &ms, re).await?);
    }
    Ok(out)
}

/// `SHOW SERIES`.
pub async fn show_series(ctx: &Context<'_>, s: &ShowSeriesStatement) -> Result<Vec<Series>> {
    let db = database(ctx, &s.database)?.to_string();
    let mut re = Regexes::default();
    let sources = default_rp_sources(ctx, &db, &s.sources, &mut re)?;
    let (cond, min, max) = time_range(ctx, s.condition.as_ref())?;
    if let Some(c) = &cond {
        re.add_expr(c)?;
    }
    let listed = list_default_rp(ctx, &sources, min, max, &re).await?;
    let mut keys: Vec<(String, String)> = Vec::new();
    if has_time(s.condition.as_ref()) {
        // Only series with points in the range.
        let schemas = data::schemas(&listed);
        let all_fields = |m: &str| -> Vec<String> {
            schemas.get(m).map(|sc| sc.fields.keys().cloned().collect()).unwrap_or_default()
        };
        let data =
            data::read_data(ctx, &listed, &schemas, &all_fields, cond.as_ref(), &re, (min, max))
                .await?;
        for (m, md) in data {
            for sd in md.series {
                if sd.cols.values().any(|c| !c.times.is_empty()) {
                    keys.push((m.clone(), sd.key));
                }
            }
        }
    } else {
        for (m, series) in matching_series(&listed, cond.as_ref(), &re) {
            keys.extend(series.into_keys().map(|k| (m.clone(), k)));
        }
    }
    keys.sort();
    keys.dedup();
    let keys = limits(keys, s.offset, s.limit);
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Series {
        columns: vec!["key".into()],
        values: strings(keys.into_iter().map(|k| k.1)),
        ..Default::default()
    }])
}

/// `SHOW FIELD KEYS`.
pub async fn show_field_keys(ctx: &Context<'_>, s: &ShowFieldKeysStatement) -> Result<Vec<Series>> {
    let db = database(ctx, &s.database)?.to_string();
    let mut re = Regexes::default();
    let sources = default_rp_sources(ctx, &db, &s.sources, &mut re)?;
    let listed = list_default_rp(ctx, &sources, MIN_TIME, MAX_TIME, &re).await?;
    let mut per: BTreeMap<String, BTreeSet<(String, u8, &'static str)>> = BTreeMap::new();
    for l in &listed {
        for &i in &l.matched {
            let sr = &l.listing.series[i];
            let e = per.entry(sr.measurement.clone()).or_default();
            for (f, t) in &sr.fields {
                e.insert((f.clone(), data::type_rank(*t), t.influxql_name()));
            }
        }
    }
    let mut out = Vec::new();
    for (m, fields) in per {
        let mut seen = BTreeSet::new();
        let rows: Vec<Vec<Value>> = fields
            .into_iter()
            .filter(|(f, _, t)| seen.insert((f.clone(), *t)))
            .map(|(f, _, t)| vec![Value::String(f), Value::String(t.to_string())])
            .collect();
        let rows = limits(rows, s.offset, s.limit);
        if rows.is_empty() {
            continue;
        }
        out.push(Series {
            name: m,
            columns: vec!["fieldKey".into(), "fieldType".into()],
            values: rows,
            ..Default::default()
        });
    }
    Ok(out)
}

fn tag_key_matches(e: &TagKeyExpr, k: &str, re: &Regexes) -> bool {
    match e {
        TagKeyExpr::Eq(x) => x == k,
        TagKeyExpr::Neq(x) => x != k,
        TagKeyExpr::EqRegex(r) => re.is_match(&r.pattern, k),
        TagKeyExpr::NeqRegex(r) => !re.is_match(&r.pattern, k),
        TagKeyExpr::In(l) => l.iter().any(|x| x == k),
    }
}

fn add_tag_key_regex(e: &TagKeyExpr, re: &mut Regexes) -> Result<()> {
    match e {
        TagKeyExpr::EqRegex(r) | TagKeyExpr::NeqRegex(r) => re.add(&r.pattern),
        _ => Ok(()),
    }
}

/// Lists the series (all RPs, or the one RP named in `FROM`) for the tag
/// statements, in the condition's time range.
async fn tag_series(
    ctx: &Context<'_>,
    db: &str,
    sources: &[Source],
    cond: Option<&Expr>,
    re: &mut Regexes,
) -> Result<BTreeMap<String, BTreeMap<String, SeriesInfo>>> {
    let ms = matchers(sources, re)?;
    let mut rps: Vec<&str> = Vec::new();
    for s in sources {
        if let Source::Measurement(m) = s
            && !m.retention_policy.is_empty()
        {
            rps.push(&m.retention_policy);
        }
    }
    if let Some(first) = rps.first()
        && let Some(other) = rps.iter().find(|r| *r != first)
    {
        return Err(QueryError::invalid(format!(
            "only one retention policy allowed in SHOW TAG VALUES query: \"{other}\", \"{first}\""
        )));
    }
    let (rest, min, max) = time_range(ctx, cond)?;
    if let Some(c) = &rest {
        re.add_expr(c)?;
    }
    let shards = db_shards(&ctx.view, db, rps.first().copied(), min, max);
    let listed = list(ctx, db, &shards, &ms, re).await?;
    Ok(matching_series(&listed, rest.as_ref(), re))
}

/// `SHOW TAG KEYS`.
pub async fn show_tag_keys(ctx: &Context<'_>, s: &ShowTagKeysStatement) -> Result<Vec<Series>> {
    let db = database(ctx, &s.database)?.to_string();
    let mut re = Regexes::default();
    if let Some(k) = &s.tag_key {
        add_tag_key_regex(k, &mut re)?;
    }
    let series = tag_series(ctx, &db, &s.sources, s.condition.as_ref(), &mut re).await?;
    let mut out = Vec::new();
    for (m, ss) in series {
        let keys: BTreeSet<String> = ss
            .values()
            .flat_map(|sr| sr.tags.iter().map(|(k, _)| k.clone()))
            .filter(|k| s.tag_key.as_ref().is_none_or(|e| tag_key_matches(e, k, &re)))
            .collect();
        let keys = limits(keys.into_iter().collect(), s.offset, s.limit);
        if keys.is_empty() {
            continue;
        }
        out.push(Series {
            name: m,
            columns: vec!["tagKey".into()],
            values: strings(keys),
            ..Default::default()
        });
    }
    Ok(limits(out, s.soffset, s.slimit))
}

/// `SHOW TAG VALUES`.
pub async fn show_tag_values(ctx: &Context<'_>, s: &ShowTagValuesStatement) -> Result<Vec<Series>> {
    let db = database(ctx, &s.database)?.to_string();
    let mut re = Regexes::default();
    add_tag_key_regex(&s.tag_key, &mut re)?;
    let series = tag_series(ctx, &db, &s.sources, s.condition.as_ref(), &mut re).await?;
    let mut out = Vec::new();
    for (m, ss) in series {
        let pairs: BTreeSet<(String, String)> = ss
            .values()
            .flat_map(|sr| sr.tags.iter().cloned())
            .filter(|(k, _)| tag_key_matches(&s.tag_key, k, &re))
            .collect();
        let pairs = limits(pairs.into_iter().collect(), s.offset, s.limit);
        if pairs.is_empty() {
            continue;
        }
        out.push(Series {
            name: m,
            columns: vec!["key".into(), "value".into()],
            values: pairs
                .into_iter()
                .map(|(k, v)| vec![Value::String(k), Value::String(v)])
                .collect(),
            ..Default::default()
        });
    }
    Ok(out)
}

/// What a cardinality statement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// Series.
    Series,
    /// Measurements.
    Measurement,
    /// Tag keys.
    TagKey,
    /// Field keys.
    FieldKey,
}

fn count_row(name: String, n: usize) -> Series {
    Series {
        name,
        columns: vec!["count".into()],
        values: vec![vec![Value::Integer(n as i64)]],
        ..Default::default()
    }
}

/// `SHOW {SERIES|MEASUREMENT|TAG KEY|FIELD KEY} [EXACT] CARDINALITY`.
pub async fn show_cardinality(
    ctx: &Context<'_>,
    s: &CardinalityStatement,
    what: Cardinality,
) -> Result<Vec<Series>> {
    let db = database(ctx, &s.database)?.to_string();
    let estimate = !s.exact
        && s.sources.is_empty()
        && s.condition.is_none()
        && s.dimensions.is_empty()
        && s.limit == 0
        && s.offset == 0
        && matches!(what, Cardinality::Series | Cardinality::Measurement);
    if has_time(s.condition.as_ref()) {
        let label = match what {
            Cardinality::Series => "SHOW SERIES EXACT CARDINALITY",
            Cardinality::Measurement => "SHOW MEASUREMENT EXACT CARDINALITY",
            Cardinality::TagKey => "SHOW TAG KEY CARDINALITY",
            Cardinality::FieldKey => "SHOW FIELD KEY CARDINALITY",
        };
        return Err(QueryError::invalid(format!("{label} doesn't support time in WHERE clause")));
    }
    let mut re = Regexes::default();
    let ms = matchers(&s.sources, &mut re)?;
    if let Some(c) = &s.condition {
        re.add_expr(c)?;
    }
    let shards = db_shards(&ctx.view, &db, None, MIN_TIME, MAX_TIME);
    let listed = list(ctx, &db, &shards, &ms, &re).await?;
    let series = matching_series(&listed, s.condition.as_ref(), &re);
    if estimate {
        let n = match what {
            Cardinality::Series => series.values().map(BTreeMap::len).sum(),
            _ => series.len(),
        };
        return Ok(vec![Series {
            columns: vec!["cardinality estimation".into()],
            values: vec![vec![Value::Integer(n as i64)]],
            ..Default::default()
        }]);
    }
    let schemas: BTreeMap<String, Schema> = data::schemas(&listed);
    let mut out = Vec::new();
    for (m, ss) in series {
        let n = match what {
            Cardinality::Series => ss.len(),
            Cardinality::Measurement => 1,
            Cardinality::TagKey => ss
                .values()
                .flat_map(|sr| sr.tags.iter().map(|(k, _)| k.clone()))
                .collect::<BTreeSet<_>>()
                .len(),
            Cardinality::FieldKey => schemas.get(&m).map_or(0, |sc| sc.fields.len()),
        };
        out.push(count_row(m, n));
    }
    if what == Cardinality::Measurement {
        let n = out.len();
        return Ok(if n == 0 { Vec::new() } else { vec![count_row(String::new(), n)] });
    }
    Ok(limits(out, s.offset, s.limit))
}

/// `SHOW TAG VALUES [EXACT] CARDINALITY WITH KEY ...`.
pub async fn show_tag_values_cardinality(
    ctx: &Context<'_>,
    s: &ShowTagValuesCardinalityStatement,
) -> Result<Vec<Series>> {
    let db = database(ctx, &s.database)?.to_string();
    let mut re = Regexes::default();
    add_tag_key_regex(&s.tag_key, &mut re)?;
    let series = tag_series(ctx, &db, &s.sources, s.condition.as_ref(), &mut re).await?;
    let mut out = Vec::new();
    for (m, ss) in series {
        let n = ss
            .values()
            .flat_map(|sr| sr.tags.iter().cloned())
            .filter(|(k, _)| tag_key_matches(&s.tag_key, k, &re))
            .collect::<BTreeSet<_>>()
            .len();
        if n > 0 {
            out.push(count_row(m, n));
        }
    }
    Ok(limits(out, s.offset, s.limit))
}
