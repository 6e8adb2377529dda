//! Query authorization as InfluxDB 1.x's `QueryAuthorizer` does it: each
//! statement requires admin, or READ/WRITE on a database (the statement's
//! own or the request's `db`); admins may do everything; with no user at
//! all only `CREATE USER ... WITH ALL PRIVILEGES` is allowed.

use proto::meta;

use crate::http::auth::privilege;
use crate::influxql::{SelectStatement, Source, Statement};
use crate::meta_client::MetaView;

/// A privilege a statement needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    /// Admin only.
    pub admin: bool,
    /// Database (empty: the request's `db`).
    pub database: String,
    /// `privilege::READ`, `WRITE`, `ALL` or `NONE`.
    pub privilege: i32,
}

fn admin() -> Vec<Required> {
    vec![Required { admin: true, database: String::new(), privilege: privilege::ALL }]
}

fn on(db: &str, p: i32) -> Vec<Required> {
    vec![Required { admin: false, database: db.to_string(), privilege: p }]
}

fn sources(srcs: &[Source]) -> Vec<Required> {
    let mut out = Vec::new();
    for s in srcs {
        match s {
            Source::Measurement(m) => out.extend(on(&m.database, privilege::READ)),
            Source::SubQuery(q) => out.extend(select(q)),
        }
    }
    out
}

fn select(s: &SelectStatement) -> Vec<Required> {
    let mut out = sources(&s.sources);
    if let Some(t) = &s.target {
        out.extend(on(&t.measurement.database, privilege::WRITE));
    }
    out
}

/// The privileges `stmt` requires (`Statement.RequiredPrivileges`).
pub fn required(stmt: &Statement) -> Vec<Required> {
    use Statement::*;
    match stmt {
        CreateDatabase(_)
        | DropDatabase { .. }
        | CreateUser(_)
        | DropUser { .. }
        | Grant { .. }
        | GrantAdmin { .. }
        | SetPassword { .. }
        | Revoke { .. }
        | RevokeAdmin { .. }
        | CreateRetentionPolicy(_)
        | AlterRetentionPolicy(_)
        | DropMeasurement { .. }
        | ShowShardGroups
        | ShowShards
        | ShowUsers
        | ShowGrantsForUser { .. }
        | KillQuery { .. }
        | DropShard { .. }
        | ShowStats { .. }
        | ShowDiagnostics { .. }
        | CreateSubscription(_)
        | DropSubscription { .. }
        | ShowSubscriptions => admin(),
        DropRetentionPolicy { database, .. } => on(database, privilege::WRITE),
        Select(s) => select(s),
        Explain { statement, .. } => select(statement),
        Delete(_) | DropSeries(_) => on("", privilege::WRITE),
        ShowSeries(s) => on(&s.database, privilege::READ),
        ShowMeasurements(s) => on(&s.database, privilege::READ),
        ShowTagKeys(s) => on(&s.database, privilege::READ),
        ShowTagValues(s) => on(&s.database, privilege::READ),
        ShowFieldKeys(s) => on(&s.database, privilege::READ),
        ShowRetentionPolicies { database } => on(database, privilege::READ),
        ShowContinuousQueries | ShowQueries => on("", privilege::READ),
        ShowDatabases => on("", privilege::NONE),
        CreateContinuousQuery(s) => {
            let mut out = on(&s.database, privilege::READ);
            if let Some(t) = &s.source.target
                && !t.measurement.database.is_empty()
            {
                out.extend(on(&t.measurement.database, privilege::WRITE));
            }
            out
        }
        DropContinuousQuery { database, .. } => on(database, privilege::WRITE),
        ShowSeriesCardinality(s) | ShowMeasurementCardinality(s) => {
            if s.exact {
                sources(&s.sources)
            } else {
                on(&s.database, privilege::READ)
            }
        }
        ShowTagKeyCardinality(s) | ShowFieldKeyCardinality(s) => sources(&s.sources),
        ShowTagValuesCardinality(s) => sources(&s.sources),
    }
}

/// The privilege's name (`influxql.Privilege.String`).
pub fn privilege_name(p: i32) -> &'static str {
    match p {
        privilege::READ => "READ",
        privilege::WRITE => "WRITE",
        privilege::ALL => "ALL PRIVILEGES",
        _ => "NO PRIVILEGES",
    }
}

/// `UserInfo.AuthorizeDatabase`: admin, no privilege needed, or exactly
/// the privilege (or ALL) on that database.
pub fn authorize_database(user: &meta::UserInfo, p: i32, db: &str) -> bool {
    if user.admin || p == privilege::NONE {
        return true;
    }
    user.privileges
        .iter()
        .any(|x| x.database == db && (x.privilege == p || x.privilege == privilege::ALL))
}

/// Authorizes a query; the error text follows `error authorizing query: `.
pub fn authorize_query(
    view: &MetaView,
    user: Option<&meta::UserInfo>,
    stmts: &[Statement],
    database: &str,
) -> Result<(), String> {
    if view.data.users.is_empty() {
        if let Some(Statement::CreateUser(cu)) = stmts.first()
            && cu.admin
        {
            return Ok(());
        }
        return Err("create admin user first or disable authentication".into());
    }
    let Some(user) = user else { return Err("no user provided".into()) };
    if user.admin {
        return Ok(());
    }
    for stmt in stmts {
        for r in required(stmt) {
            if r.admin {
                return Err(format!(
                    "{} not authorized to execute statement '{stmt}', requires admin privilege",
                    user.name
                ));
            }
            let db = if r.database.is_empty() { database } else { &r.database };
            if !authorize_database(user, r.privilege, db) {
                return Err(format!(
                    "{} not authorized to execute statement '{stmt}', requires {} on {db}",
                    user.name,
                    privilege_name(r.privilege)
                ));
            }
        }
    }
    Ok(())
}
