//! The InfluxQL query engine of a data node.
//!
//! [`execute`] runs parsed statements one after the other, as InfluxDB's
//! query executor does: each gets a [`StatementResult`]; the first error
//! stops the query and every later statement reports `not executed`.
//!
//! STRUCTURE
//!
//! - [`backend`]: the [`Backend`] trait (metastore view and commands,
//!   per-owner shard series / reads / deletes, point writes) and the shard
//!   fan-out on top of it (one owner per shard, this node first, the next
//!   owner on failure). [`node_backend::NodeBackend`] implements it for a
//!   running node (store or `Data` RPCs), [`memory::MemoryBackend`] in
//!   memory for tests.
//! - [`data`]: sources → shards → series listings → columns read and
//!   merged across shards.
//! - [`select`] (+ [`agg`], [`eval`]): `SELECT`, raw and aggregate,
//!   `GROUP BY time()/tags/*`, `fill()`, `ORDER BY time DESC`, limits,
//!   wildcards; `INTO` is written here through [`Backend::write_points`].
//! - [`show`]: the series-index `SHOW` statements; [`meta_stmt`]: the
//!   metastore statements; [`delete`]: `DELETE`, `DROP SERIES`,
//!   `DROP MEASUREMENT` on every owner.
//! - [`auth`]: InfluxDB's statement privileges; [`result`]: results and
//!   their JSON, byte for byte as InfluxDB writes them.

pub mod agg;
pub mod auth;
pub mod backend;
pub mod data;
pub mod delete;
pub mod error;
pub mod eval;
pub mod memory;
pub mod meta_stmt;
pub mod node_backend;
pub mod result;
pub mod select;
pub mod show;

use std::sync::Arc;

use portable::{FieldValue, Point};
use proto::meta;

pub use backend::Backend;
pub use error::{QueryError, Result};
pub use result::{
    CsvWriter, Epoch, JsonOptions, Message, Series, StatementResult, Value, encode_response,
};

use crate::influxql::{SelectStatement, Statement};
use crate::meta_client::MetaView;
use show::Cardinality;

/// How a query is run.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// The `db` parameter.
    pub database: String,
    /// The `rp` parameter.
    pub retention_policy: String,
    /// A GET request: write statements get a deprecation warning.
    pub read_only: bool,
    /// Authentication is on; `user` is the authenticated user (None before
    /// the first admin exists).
    pub auth_enabled: bool,
    /// The user.
    pub user: Option<meta::UserInfo>,
    /// `now()` in ns (None: the clock).
    pub now: Option<i64>,
}

/// What a statement runs with.
pub struct Context<'a> {
    /// The cluster.
    pub backend: &'a dyn Backend,
    /// The metastore as of the statement's start.
    pub view: Arc<MetaView>,
    /// Default database.
    pub database: String,
    /// Default retention policy (`rp` parameter).
    pub retention_policy: String,
    /// `now()`, ns.
    pub now: i64,
    /// Options of the query.
    pub opts: &'a QueryOptions,
}

impl Context<'_> {
    /// Whether the user may see database `db` in listings.
    pub fn may_see(&self, db: &str) -> bool {
        if !self.opts.auth_enabled {
            return true;
        }
        match &self.opts.user {
            None => true,
            Some(u) => {
                auth::authorize_database(u, crate::http::auth::privilege::READ, db)
                    || auth::authorize_database(u, crate::http::auth::privilege::WRITE, db)
            }
        }
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The database a statement names itself (InfluxDB's `DefaultDatabase`),
/// used when the request has no `db`.
fn statement_database(stmt: &Statement) -> &str {
    use Statement::*;
    match stmt {
        DropRetentionPolicy { database, .. } | ShowRetentionPolicies { database } => database,
        Grant { on, .. } | Revoke { on, .. } => on,
        CreateRetentionPolicy(s) => &s.database,
        AlterRetentionPolicy(s) => &s.database,
        ShowSeries(s) => &s.database,
        ShowSeriesCardinality(s)
        | ShowMeasurementCardinality(s)
        | ShowTagKeyCardinality(s)
        | ShowFieldKeyCardinality(s) => &s.database,
        CreateContinuousQuery(s) => &s.database,
        DropContinuousQuery { database, .. } => database,
        ShowMeasurements(s) => &s.database,
        CreateSubscription(s) => &s.database,
        DropSubscription { database, .. } => database,
        ShowTagKeys(s) => &s.database,
        ShowTagValues(s) => &s.database,
        ShowTagValuesCardinality(s) => &s.database,
        ShowFieldKeys(s) => &s.database,
        _ => "",
    }
}

/// Whether InfluxDB warns about `stmt` in a GET request.
fn is_write_statement(stmt: &Statement) -> bool {
    use Statement::*;
    matches!(
        stmt,
        AlterRetentionPolicy(_)
            | CreateContinuousQuery(_)
            | CreateDatabase(_)
            | CreateRetentionPolicy(_)
            | CreateSubscription(_)
            | CreateUser(_)
            | DropContinuousQuery { .. }
            | DropDatabase { .. }
            | DropMeasurement { .. }
            | DropSeries(_)
            | DropRetentionPolicy { .. }
            | DropShard { .. }
            | DropSubscription { .. }
            | DropUser { .. }
            | Grant { .. }
            | GrantAdmin { .. }
            | Revoke { .. }
            | RevokeAdmin { .. }
            | SetPassword { .. }
    )
}

/// Runs every statement; one result per statement.
pub async fn execute(
    backend: &dyn Backend,
    stmts: &[Statement],
    opts: &QueryOptions,
) -> Vec<StatementResult> {
    let mut out = Vec::with_capacity(stmts.len());
    for (i, stmt) in stmts.iter().enumerate() {
        let database = if opts.database.is_empty() {
            statement_database(stmt).to_string()
        } else {
            opts.database.clone()
        };
        let ctx = Context {
            backend,
            view: backend.view(),
            database,
            retention_policy: opts.retention_policy.clone(),
            now: opts.now.unwrap_or_else(now_ns),
            opts,
        };
        match execute_statement(&ctx, stmt).await {
            Ok((series, mut messages)) => {
                if opts.read_only && is_write_statement(stmt) {
                    messages.insert(0, Message::read_only_warning(&stmt.to_string()));
                }
                out.push(StatementResult {
                    statement_id: i,
                    series,
                    messages,
                    ..Default::default()
                });
            }
            Err(e) => {
                out.push(StatementResult {
                    statement_id: i,
                    error: Some(e.to_string()),
                    ..Default::default()
                });
                for j in i + 1..stmts.len() {
                    out.push(StatementResult {
                        statement_id: j,
                        error: Some("not executed".into()),
                        ..Default::default()
                    });
                }
                break;
            }
        }
    }
    out
}

type Output = (Vec<Series>, Vec<Message>);

fn rows(series: Vec<Series>) -> Result<Output> {
    Ok((series, Vec::new()))
}

fn done() -> Result<Output> {
    Ok((Vec::new(), Vec::new()))
}

/// Runs one statement.
pub async fn execute_statement(ctx: &Context<'_>, stmt: &Statement) -> Result<Output> {
    use Statement::*;
    match stmt {
        Select(s) => {
            if s.target.is_some() {
                select_into(ctx, s).await
            } else {
                rows(select::select(ctx, s).await?)
            }
        }
        ShowDatabases => rows(meta_stmt::show_databases(ctx)),
        ShowRetentionPolicies { database } => {
            rows(meta_stmt::show_retention_policies(ctx, database)?)
        }
        ShowUsers => rows(meta_stmt::show_users(ctx)),
        ShowGrantsForUser { name } => rows(meta_stmt::show_grants(ctx, name)?),
        ShowContinuousQueries => rows(meta_stmt::show_continuous_queries(ctx)),
        ShowShards => rows(meta_stmt::show_shards(ctx)),
        ShowShardGroups => rows(meta_stmt::show_shard_groups(ctx)),
        ShowSubscriptions => rows(meta_stmt::show_subscriptions(ctx)),
        ShowMeasurements(s) => rows(show::show_measurements(ctx, s).await?),
        ShowSeries(s) => rows(show::show_series(ctx, s).await?),
        ShowTagKeys(s) => rows(show::show_tag_keys(ctx, s).await?),
        ShowTagValues(s) => rows(show::show_tag_values(ctx, s).await?),
        ShowFieldKeys(s) => rows(show::show_field_keys(ctx, s).await?),
        ShowSeriesCardinality(s) => {
            rows(show::show_cardinality(ctx, s, Cardinality::Series).await?)
        }
        ShowMeasurementCardinality(s) => {
            rows(show::show_cardinality(ctx, s, Cardinality::Measurement).await?)
        }
        ShowTagKeyCardinality(s) => {
            rows(show::show_cardinality(ctx, s, Cardinality::TagKey).await?)
        }
        ShowFieldKeyCardinality(s) => {
            rows(show::show_cardinality(ctx, s, Cardinality::FieldKey).await?)
        }
        ShowTagValuesCardinality(s) => rows(show::show_tag_values_cardinality(ctx, s).await?),
        CreateDatabase(s) => meta_stmt::create_database(ctx, s).await.and_then(|_| done()),
        DropDatabase { name } => meta_stmt::drop_database(ctx, name).await.and_then(|_| done()),
        CreateRetentionPolicy(s) => {
            meta_stmt::create_retention_policy(ctx, s).await.and_then(|_| done())
        }
        AlterRetentionPolicy(s) => {
            meta_stmt::alter_retention_policy(ctx, s).await.and_then(|_| done())
        }
        DropRetentionPolicy { name, database } => {
            meta_stmt::drop_retention_policy(ctx, name, database).await.and_then(|_| done())
        }
        CreateUser(s) => meta_stmt::create_user(ctx, s).await.and_then(|_| done()),
        DropUser { name } => meta_stmt::drop_user(ctx, name).await.and_then(|_| done()),
        SetPassword { name, password } => {
            meta_stmt::set_password(ctx, name, password).await.and_then(|_| done())
        }
        Grant { privilege, on, user } => {
            meta_stmt::grant(ctx, *privilege, on, user).await.and_then(|_| done())
        }
        Revoke { privilege, on, user } => {
            meta_stmt::revoke(ctx, *privilege, on, user).await.and_then(|_| done())
        }
        GrantAdmin { user } => meta_stmt::set_admin(ctx, user, true).await.and_then(|_| done()),
        RevokeAdmin { user } => meta_stmt::set_admin(ctx, user, false).await.and_then(|_| done()),
        CreateContinuousQuery(s) => {
            meta_stmt::create_continuous_query(ctx, s).await.and_then(|_| done())
        }
        DropContinuousQuery { name, database } => {
            meta_stmt::drop_continuous_query(ctx, name, database).await.and_then(|_| done())
        }
        CreateSubscription(s) => meta_stmt::create_subscription(ctx, s).await.and_then(|_| done()),
        DropSubscription { name, database, retention_policy } => {
            meta_stmt::drop_subscription(ctx, name, database, retention_policy)
                .await
                .and_then(|_| done())
        }
        DropShard { id } => meta_stmt::drop_shard(ctx, *id).await.and_then(|_| done()),
        Delete(s) => delete::delete_series(ctx, s, false).await.and_then(|_| done()),
        DropSeries(s) => delete::delete_series(ctx, s, true).await.and_then(|_| done()),
        DropMeasurement { name } => delete::drop_measurement(ctx, name).await.and_then(|_| done()),
        ShowQueries => rows(vec![Series {
            columns: ["qid", "query", "database", "duration", "status"].map(String::from).to_vec(),
            values: vec![vec![
                Value::Integer(1),
                Value::String(stmt.to_string()),
                Value::String(ctx.database.clone()),
                Value::String("0s".into()),
                Value::String("running".into()),
            ]],
            ..Default::default()
        }]),
        KillQuery { query_id, .. } => {
            Err(QueryError::invalid(format!("no such query id: {query_id}")))
        }
        ShowStats { .. } | ShowDiagnostics { .. } => done(),
        Explain { .. } => {
            Err(QueryError::Unsupported("EXPLAIN is not supported by this testbed".into()))
        }
    }
}

/// Converts a result series into points for `INTO`: the series' tags
/// (empty values dropped), every non-null column but time as a field.
fn series_points(name: &str, s: &Series) -> Vec<Point> {
    let mut tags: Vec<(String, String)> =
        s.tags.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
    tags.sort();
    let time_idx = 0;
    let mut out = Vec::with_capacity(s.values.len());
    for row in &s.values {
        let Some(Value::Time(t)) = row.get(time_idx) else { continue };
        let mut fields = Vec::new();
        for (c, v) in s.columns.iter().zip(row).skip(1) {
            let f = match v {
                Value::Float(f) if f.is_finite() => FieldValue::Float(*f),
                Value::Integer(i) => FieldValue::Integer(*i),
                Value::Unsigned(u) => FieldValue::Unsigned(*u),
                Value::Boolean(b) => FieldValue::Boolean(*b),
                Value::String(x) => FieldValue::String(x.clone()),
                Value::Time(t) => FieldValue::Integer(*t),
                _ => continue,
            };
            fields.push((c.clone(), f));
        }
        if fields.is_empty() {
            continue;
        }
        out.push(Point { measurement: name.to_string(), tags: tags.clone(), fields, time: *t });
    }
    out
}

/// `SELECT ... INTO`: runs the query, writes its rows as points, answers
/// with the number written.
async fn select_into(ctx: &Context<'_>, s: &SelectStatement) -> Result<Output> {
    let Some(target) = &s.target else { return rows(Vec::new()) };
    let (db, rp) = data::resolve_db_rp(
        ctx,
        &target.measurement.database,
        &target.measurement.retention_policy,
    )?;
    let series = select::select(ctx, s).await?;
    let mut written = 0i64;
    let mut batch = Vec::new();
    for sr in &series {
        let name =
            if target.measurement.name.is_empty() { &sr.name } else { &target.measurement.name };
        let pts = series_points(name, sr);
        written += pts.len() as i64;
        batch.extend(pts);
        if batch.len() >= 10_000 {
            ctx.backend
                .write_points(db.clone(), rp.clone(), std::mem::take(&mut batch))
                .await
                .map_err(QueryError::Shard)?;
        }
    }
    if !batch.is_empty() {
        ctx.backend.write_points(db, rp, batch).await.map_err(QueryError::Shard)?;
    }
    let mut messages = Vec::new();
    if ctx.opts.read_only {
        messages
            .push(Message::read_only_warning(&Statement::Select(Box::new(s.clone())).to_string()));
    }
    Ok((
        vec![Series {
            name: "result".into(),
            columns: vec!["time".into(), "written".into()],
            values: vec![vec![Value::Time(0), Value::Integer(written)]],
            ..Default::default()
        }],
        messages,
    ))
}

#[cfg(test)]
mod tests;

#[allow(dead_code)]
fn assert_send(b: &dyn Backend, s: &[Statement], o: &QueryOptions) {
    fn is_send<T: Send>(_: T) {}
    is_send(execute(b, s, o));
}
