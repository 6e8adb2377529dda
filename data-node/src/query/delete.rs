//! `DELETE`, `DROP SERIES` and `DROP MEASUREMENT`: fanned out to EVERY
//! owner of every affected shard (unlike reads, which use one owner), each
//! owner listing its own series so diverged replicas are cleaned too.

use proto::meta;

use super::Context;
use super::backend::{ShardTarget, db_shards};
use super::data::Matcher;
use super::error::{QueryError, Result};
use super::eval::{Regexes, Tri, eval_tags, var_refs};
use crate::influxql::{
    DeleteSeriesStatement, Expr, MAX_TIME, MIN_TIME, Source, Valuer, condition_expr, reduce_expr,
};

fn database<'a>(ctx: &'a Context<'_>) -> Result<&'a meta::DatabaseInfo> {
    ctx.view
        .database(&ctx.database)
        .ok_or_else(|| QueryError::DatabaseNotFound(ctx.database.clone()))
}

fn has_time(cond: Option<&Expr>) -> bool {
    cond.is_some_and(|c| {
        c.any(&|e| matches!(e, Expr::VarRef(v) if v.name.eq_ignore_ascii_case("time")))
    })
}

/// Runs `f(owner, shard)` for every owner of every shard, all at once;
/// the first error wins (the other owners are still processed).
async fn for_every_owner<'a, F, Fut>(shards: &'a [ShardTarget], f: F) -> Result<()>
where
    F: Fn(u64, &'a ShardTarget) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let futs = shards.iter().flat_map(|s| s.owners.iter().map(move |o| (*o, s))).map(|(o, s)| {
        let fut = f(o, s);
        async move { fut.await.map_err(|e| format!("shard {}: node {o}: {e}", s.id)) }
    });
    let results = futures::future::join_all(futs).await;
    match results.into_iter().find_map(|r| r.err()) {
        Some(e) => Err(QueryError::Shard(e)),
        None => Ok(()),
    }
}

/// `DELETE` (with `time` in the condition) and `DROP SERIES` (without).
pub async fn delete_series(
    ctx: &Context<'_>,
    s: &DeleteSeriesStatement,
    drop_series: bool,
) -> Result<()> {
    database(ctx)?;
    if drop_series && has_time(s.condition.as_ref()) {
        return Err(QueryError::invalid("DROP SERIES doesn't support time in WHERE clause"));
    }
    let valuer = Valuer { now: Some(ctx.now) };
    let cond = s.condition.as_ref().map(|c| reduce_expr(c, &valuer));
    let (cond, tr) =
        condition_expr(cond.as_ref(), &valuer).map_err(|e| QueryError::invalid(e.0))?;
    let (min, max) = (tr.min.unwrap_or(MIN_TIME), tr.max.unwrap_or(MAX_TIME));
    let mut re = Regexes::default();
    if let Some(c) = &cond {
        re.add_expr(c)?;
    }
    let mut matchers = Vec::new();
    let mut rp: Option<String> = None;
    for (i, src) in s.sources.iter().enumerate() {
        let Source::Measurement(m) = src else {
            return Err(QueryError::invalid(format!("unsupported source type in delete {src}")));
        };
        if i == 0 {
            rp = Some(m.retention_policy.clone());
        } else if rp.as_deref() != Some(m.retention_policy.as_str()) {
            return Err(QueryError::invalid(format!(
                "mixed retention policies not supported, wanted {:?} got {:?}",
                rp.unwrap_or_default(),
                m.retention_policy
            )));
        }
        match &m.regex {
            Some(r) => {
                re.add(&r.pattern)?;
                matchers.push(Matcher::Regex(r.pattern.clone()));
            }
            None => matchers.push(Matcher::Name(m.name.clone())),
        }
    }
    if matchers.is_empty() {
        matchers.push(Matcher::All);
    }
    let rp = rp.filter(|r| !r.is_empty());
    let shards = db_shards(&ctx.view, &ctx.database, rp.as_deref(), min, max);
    let single = match matchers.as_slice() {
        [Matcher::Name(n)] => Some(n.clone()),
        _ => None,
    };
    let backend = ctx.backend;
    let (cond, re, matchers) = (&cond, &re, &matchers);
    for_every_owner(&shards, |owner, shard| {
        let single = single.clone();
        async move {
            let Some(series) = backend.shard_series(owner, shard.id, single).await? else {
                return Ok(());
            };
            let mut keys = Vec::new();
            for sr in series {
                if !matchers.iter().any(|m| m.matches(&sr.measurement, re)) {
                    continue;
                }
                if let Some(c) = cond {
                    let mut refs = Vec::new();
                    var_refs(c, &mut refs);
                    if refs.iter().any(|(n, dt)| {
                        *dt != crate::influxql::DataType::Tag
                            && sr.fields.iter().any(|(f, _)| f == n)
                    }) {
                        return Err(
                            "fields not supported in WHERE clause during deletion".to_string()
                        );
                    }
                    let no_fields = |_: &str, _| false;
                    if eval_tags(c, &sr.tags, &no_fields, re) != Tri::True {
                        continue;
                    }
                }
                keys.push(sr.key);
            }
            if keys.is_empty() {
                return Ok(());
            }
            backend.delete_shard_data(owner, shard.id, keys, min, max, None).await
        }
    })
    .await
    .map_err(|e| match e {
        QueryError::Shard(m)
            if m.ends_with("fields not supported in WHERE clause during deletion") =>
        {
            QueryError::invalid("fields not supported in WHERE clause during deletion")
        }
        e => e,
    })
}

/// `DROP MEASUREMENT`: on every owner of every shard of the database.
pub async fn drop_measurement(ctx: &Context<'_>, name: &str) -> Result<()> {
    database(ctx)?;
    let shards = db_shards(&ctx.view, &ctx.database, None, MIN_TIME, MAX_TIME);
    let backend = ctx.backend;
    for_every_owner(&shards, |owner, shard| {
        let name = name.to_string();
        async move {
            match backend.shard_series(owner, shard.id, Some(name.clone())).await? {
                Some(s) if !s.is_empty() => {
                    backend
                        .delete_shard_data(
                            owner,
                            shard.id,
                            Vec::new(),
                            MIN_TIME,
                            MAX_TIME,
                            Some(name),
                        )
                        .await
                }
                _ => Ok(()),
            }
        }
    })
    .await
}
