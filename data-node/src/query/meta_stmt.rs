//! Statements answered from, or applied to, the metastore: databases,
//! retention policies, users and privileges, continuous queries,
//! subscriptions, shards. Preconditions are checked against the local view
//! first so that the errors carry InfluxDB's exact texts (`database not
//! found: x`, `user not found`, no-ops for dropping what does not exist);
//! the metastore's own errors pass through unchanged.

use proto::cluster::{self, command::Cmd};
use proto::meta;

use super::Context;
use super::error::{QueryError, Result};
use super::result::{Series, Value};
use crate::http::auth::privilege;
use crate::influxql::{
    AlterRetentionPolicyStatement, CreateContinuousQueryStatement, CreateDatabaseStatement,
    CreateRetentionPolicyStatement, CreateSubscriptionStatement, CreateUserStatement, Privilege,
    Source, Statement, format_go_duration,
};

const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;
/// bcrypt cost InfluxDB uses (`bcrypt.DefaultCost`).
pub const BCRYPT_COST: u32 = 10;

/// `meta.ValidName`: printable, not empty, not `.`/`..`, no slashes.
pub fn valid_name(name: &str) -> bool {
    name.chars().all(|c| !c.is_control())
        && !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
}

/// Default shard group duration for a retention duration.
pub fn shard_group_duration(d: i64) -> i64 {
    if d >= 180 * DAY || d == 0 {
        7 * DAY
    } else if d >= 2 * DAY {
        DAY
    } else {
        HOUR
    }
}

/// `normalisedShardDuration`.
pub fn normalised_shard_duration(sgd: i64, d: i64) -> i64 {
    if sgd == 0 {
        shard_group_duration(d)
    } else if sgd < HOUR {
        shard_group_duration(HOUR)
    } else {
        sgd
    }
}

async fn exec(ctx: &Context<'_>, cmd: Cmd) -> Result<()> {
    ctx.backend.execute_meta(cmd).await.map_err(QueryError::Meta)
}

fn check_duration(d: Option<i64>) -> Result<()> {
    if let Some(d) = d
        && d != 0
        && d < HOUR
    {
        return Err(QueryError::Meta("retention policy duration must be at least 1h0m0s".into()));
    }
    Ok(())
}

fn hash(password: &str) -> Result<String> {
    bcrypt::hash(password, BCRYPT_COST).map_err(|e| QueryError::Meta(e.to_string()))
}

fn priv_value(p: Privilege) -> i32 {
    match p {
        Privilege::NoPrivileges => privilege::NONE,
        Privilege::Read => privilege::READ,
        Privilege::Write => privilege::WRITE,
        Privilege::All => privilege::ALL,
    }
}

/// `CREATE DATABASE`.
pub async fn create_database(ctx: &Context<'_>, s: &CreateDatabaseStatement) -> Result<()> {
    if !valid_name(&s.name) {
        return Err(QueryError::InvalidName);
    }
    if !s.retention_policy_create {
        return exec(
            ctx,
            Cmd::CreateDatabase(cluster::CreateDatabase {
                name: s.name.clone(),
                retention_policy: None,
                default_replica_n: 0,
                skip_default_rp: false,
            }),
        )
        .await;
    }
    if !s.retention_policy_name.is_empty() && !valid_name(&s.retention_policy_name) {
        return Err(QueryError::InvalidName);
    }
    check_duration(s.retention_policy_duration)?;
    let name = if s.retention_policy_name.is_empty() {
        "autogen".to_string()
    } else {
        s.retention_policy_name.clone()
    };
    let replica_n = match s.retention_policy_replication {
        Some(r) if r < 1 => {
            return Err(QueryError::Meta("replication factor must be greater than 0".into()));
        }
        Some(r) => Some(u32::try_from(r).unwrap_or(u32::MAX)),
        None => None,
    };
    let sgd = (s.retention_policy_shard_group_duration > 0)
        .then_some(s.retention_policy_shard_group_duration);
    if let Some(db) = ctx.view.database(&s.name)
        && !db.retention_policies.is_empty()
    {
        // Idempotent only when the spec matches the existing default RP.
        let matches = db.retention_policies.iter().find(|r| r.name == name).is_some_and(|r| {
            s.retention_policy_duration.is_none_or(|d| d == r.duration)
                && replica_n.is_none_or(|n| n == r.replica_n)
                && sgd.is_none_or(|g| {
                    normalised_shard_duration(g, s.retention_policy_duration.unwrap_or(r.duration))
                        == r.shard_group_duration
                })
        });
        if !matches || db.default_retention_policy != name {
            return Err(QueryError::Meta(
                "retention policy conflicts with an existing policy".into(),
            ));
        }
        return Ok(());
    }
    exec(
        ctx,
        Cmd::CreateDatabase(cluster::CreateDatabase {
            name: s.name.clone(),
            retention_policy: Some(cluster::RetentionPolicySpec {
                name,
                duration: s.retention_policy_duration,
                shard_group_duration: sgd,
                replica_n,
            }),
            default_replica_n: 0,
            skip_default_rp: false,
        }),
    )
    .await
}

/// `DROP DATABASE` (dropping a missing database is not an error).
pub async fn drop_database(ctx: &Context<'_>, name: &str) -> Result<()> {
    if ctx.view.database(name).is_none() {
        return Ok(());
    }
    exec(ctx, Cmd::DropDatabase(cluster::DropDatabase { name: name.to_string() })).await
}

/// `CREATE RETENTION POLICY`.
pub async fn create_retention_policy(
    ctx: &Context<'_>,
    s: &CreateRetentionPolicyStatement,
) -> Result<()> {
    if !valid_name(&s.name) {
        return Err(QueryError::InvalidName);
    }
    check_duration(Some(s.duration))?;
    if s.replication < 1 {
        return Err(QueryError::Meta("replication factor must be greater than 0".into()));
    }
    let db = ctx
        .view
        .database(&s.database)
        .ok_or_else(|| QueryError::DatabaseNotFound(s.database.clone()))?;
    let sgd = normalised_shard_duration(s.shard_group_duration, s.duration);
    if s.duration > 0 && s.duration < sgd {
        return Err(QueryError::Meta(
            "retention policy duration must be greater than the shard duration".into(),
        ));
    }
    if let Some(r) = db.retention_policies.iter().find(|r| r.name == s.name) {
        if i64::from(r.replica_n) != s.replication
            || r.duration != s.duration
            || r.shard_group_duration != sgd
        {
            return Err(QueryError::Meta("retention policy already exists".into()));
        }
        if s.default && db.default_retention_policy != s.name {
            return Err(QueryError::Meta(
                "retention policy conflicts with an existing policy".into(),
            ));
        }
        return Ok(());
    }
    exec(
        ctx,
        Cmd::CreateRetentionPolicy(cluster::CreateRetentionPolicy {
            database: s.database.clone(),
            spec: Some(cluster::RetentionPolicySpec {
                name: s.name.clone(),
                duration: Some(s.duration),
                shard_group_duration: Some(sgd),
                replica_n: Some(u32::try_from(s.replication).unwrap_or(u32::MAX)),
            }),
            make_default: s.default,
        }),
    )
    .await
}

/// `ALTER RETENTION POLICY`.
pub async fn alter_retention_policy(
    ctx: &Context<'_>,
    s: &AlterRetentionPolicyStatement,
) -> Result<()> {
    let db = ctx
        .view
        .database(&s.database)
        .ok_or_else(|| QueryError::DatabaseNotFound(s.database.clone()))?;
    if !db.retention_policies.iter().any(|r| r.name == s.name) {
        return Err(QueryError::RetentionPolicyNotFound(s.name.clone()));
    }
    check_duration(s.duration)?;
    if s.replication.is_some_and(|r| r < 1) {
        return Err(QueryError::Meta("replication factor must be greater than 0".into()));
    }
    exec(
        ctx,
        Cmd::UpdateRetentionPolicy(cluster::UpdateRetentionPolicy {
            database: s.database.clone(),
            name: s.name.clone(),
            update: Some(cluster::RetentionPolicySpec {
                name: String::new(),
                duration: s.duration,
                shard_group_duration: s.shard_group_duration,
                replica_n: s.replication.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
            }),
            make_default: s.default,
        }),
    )
    .await
}

/// `DROP RETENTION POLICY` (missing database or policy: no-op).
pub async fn drop_retention_policy(ctx: &Context<'_>, name: &str, database: &str) -> Result<()> {
    if ctx.view.retention_policy(database, name).is_none() {
        return Ok(());
    }
    exec(
        ctx,
        Cmd::DropRetentionPolicy(cluster::DropRetentionPolicy {
            database: database.to_string(),
            name: name.to_string(),
        }),
    )
    .await
}

fn user<'a>(ctx: &'a Context<'_>, name: &str) -> Result<&'a meta::UserInfo> {
    ctx.view.user(name).ok_or(QueryError::UserNotFound)
}

/// `CREATE USER` (an identical existing user is not an error).
pub async fn create_user(ctx: &Context<'_>, s: &CreateUserStatement) -> Result<()> {
    if s.name.is_empty() {
        return Err(QueryError::Meta("username required".into()));
    }
    if let Some(u) = ctx.view.user(&s.name) {
        if u.admin == s.admin && bcrypt::verify(&s.password, &u.hash).unwrap_or(false) {
            return Ok(());
        }
        return Err(QueryError::Meta("user already exists".into()));
    }
    let hash = hash(&s.password)?;
    exec(ctx, Cmd::CreateUser(cluster::CreateUser { name: s.name.clone(), hash, admin: s.admin }))
        .await
}

/// `DROP USER`.
pub async fn drop_user(ctx: &Context<'_>, name: &str) -> Result<()> {
    user(ctx, name)?;
    exec(ctx, Cmd::DropUser(cluster::DropUser { name: name.to_string() })).await
}

/// `SET PASSWORD FOR`.
pub async fn set_password(ctx: &Context<'_>, name: &str, password: &str) -> Result<()> {
    user(ctx, name)?;
    let hash = hash(password)?;
    exec(ctx, Cmd::UpdateUser(cluster::UpdateUser { name: name.to_string(), hash })).await
}

async fn set_privilege(ctx: &Context<'_>, name: &str, db: &str, p: i32) -> Result<()> {
    user(ctx, name)?;
    if ctx.view.database(db).is_none() {
        return Err(QueryError::DatabaseNotFound(db.to_string()));
    }
    exec(
        ctx,
        Cmd::SetPrivilege(cluster::SetPrivilege {
            username: name.to_string(),
            database: db.to_string(),
            privilege: p,
        }),
    )
    .await
}

/// `GRANT ... ON db TO user`.
pub async fn grant(ctx: &Context<'_>, p: Privilege, on: &str, name: &str) -> Result<()> {
    set_privilege(ctx, name, on, priv_value(p)).await
}

/// `REVOKE ... ON db FROM user`: clears the revoked bits.
pub async fn revoke(ctx: &Context<'_>, p: Privilege, on: &str, name: &str) -> Result<()> {
    let u = user(ctx, name)?;
    let new = if p == Privilege::All {
        privilege::NONE
    } else {
        let cur =
            u.privileges.iter().find(|x| x.database == on).map_or(privilege::NONE, |x| x.privilege);
        cur & !priv_value(p)
    };
    set_privilege(ctx, name, on, new).await
}

/// `GRANT ALL PRIVILEGES TO` / `REVOKE ALL PRIVILEGES FROM`.
pub async fn set_admin(ctx: &Context<'_>, name: &str, admin: bool) -> Result<()> {
    user(ctx, name)?;
    exec(
        ctx,
        Cmd::SetAdminPrivilege(cluster::SetAdminPrivilege { username: name.to_string(), admin }),
    )
    .await
}

/// `CREATE CONTINUOUS QUERY`: stored with its measurements qualified.
pub async fn create_continuous_query(
    ctx: &Context<'_>,
    s: &CreateContinuousQueryStatement,
) -> Result<()> {
    if ctx.view.database(&s.database).is_none() {
        return Err(QueryError::DatabaseNotFound(s.database.clone()));
    }
    let mut q = s.clone();
    let qualify = |m: &mut crate::influxql::Measurement| -> Result<()> {
        if m.database.is_empty() {
            m.database = s.database.clone();
        }
        let dbi = ctx
            .view
            .database(&m.database)
            .ok_or_else(|| QueryError::DatabaseNotFound(m.database.clone()))?;
        if m.retention_policy.is_empty() {
            m.retention_policy = if ctx.retention_policy.is_empty() {
                dbi.default_retention_policy.clone()
            } else {
                ctx.retention_policy.clone()
            };
        }
        if ctx.view.retention_policy(&m.database, &m.retention_policy).is_none() {
            return Err(QueryError::Meta(format!(
                "retention policy not found: {}.{}",
                m.database, m.retention_policy
            )));
        }
        Ok(())
    };
    for src in &mut q.source.sources {
        if let Source::Measurement(m) = src {
            qualify(m)?;
        }
    }
    if let Some(t) = &mut q.source.target {
        qualify(&mut t.measurement)?;
    }
    let text = Statement::CreateContinuousQuery(Box::new(q)).to_string();
    exec(
        ctx,
        Cmd::CreateContinuousQuery(cluster::CreateContinuousQuery {
            database: s.database.clone(),
            name: s.name.clone(),
            query: text,
        }),
    )
    .await
}

/// `DROP CONTINUOUS QUERY` (missing: no-op).
pub async fn drop_continuous_query(ctx: &Context<'_>, name: &str, database: &str) -> Result<()> {
    let exists = ctx
        .view
        .database(database)
        .is_some_and(|d| d.continuous_queries.iter().any(|q| q.name == name));
    if !exists {
        return Ok(());
    }
    exec(
        ctx,
        Cmd::DropContinuousQuery(cluster::DropContinuousQuery {
            database: database.to_string(),
            name: name.to_string(),
        }),
    )
    .await
}

/// `CREATE SUBSCRIPTION`.
pub async fn create_subscription(ctx: &Context<'_>, s: &CreateSubscriptionStatement) -> Result<()> {
    if ctx.view.database(&s.database).is_none() {
        return Err(QueryError::DatabaseNotFound(s.database.clone()));
    }
    if ctx.view.retention_policy(&s.database, &s.retention_policy).is_none() {
        return Err(QueryError::RetentionPolicyNotFound(s.retention_policy.clone()));
    }
    exec(
        ctx,
        Cmd::CreateSubscription(cluster::CreateSubscription {
            database: s.database.clone(),
            policy: s.retention_policy.clone(),
            name: s.name.clone(),
            mode: s.mode.clone(),
            destinations: s.destinations.clone(),
        }),
    )
    .await
}

/// `DROP SUBSCRIPTION`.
pub async fn drop_subscription(ctx: &Context<'_>, name: &str, db: &str, rp: &str) -> Result<()> {
    if ctx.view.database(db).is_none() {
        return Err(QueryError::DatabaseNotFound(db.to_string()));
    }
    if ctx.view.retention_policy(db, rp).is_none() {
        return Err(QueryError::RetentionPolicyNotFound(rp.to_string()));
    }
    exec(
        ctx,
        Cmd::DropSubscription(cluster::DropSubscription {
            database: db.to_string(),
            policy: rp.to_string(),
            name: name.to_string(),
        }),
    )
    .await
}

/// `DROP SHARD`: removes the shard from the metastore.
pub async fn drop_shard(ctx: &Context<'_>, id: u64) -> Result<()> {
    if ctx.view.shard(id).is_none() {
        return Ok(());
    }
    exec(ctx, Cmd::DropShard(cluster::DropShard { id })).await
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// `SHOW DATABASES` (only readable or writable ones for a non-admin).
pub fn show_databases(ctx: &Context<'_>) -> Vec<Series> {
    let values = ctx
        .view
        .data
        .databases
        .iter()
        .filter(|d| ctx.may_see(&d.name))
        .map(|d| vec![s(&d.name)])
        .collect();
    vec![Series {
        name: "databases".into(),
        columns: vec!["name".into()],
        values,
        ..Default::default()
    }]
}

/// `SHOW RETENTION POLICIES`.
pub fn show_retention_policies(ctx: &Context<'_>, database: &str) -> Result<Vec<Series>> {
    let db = if database.is_empty() { ctx.database.as_str() } else { database };
    if db.is_empty() {
        return Err(QueryError::DatabaseNameRequired);
    }
    let dbi = ctx.view.database(db).ok_or_else(|| QueryError::DatabaseNotFound(db.to_string()))?;
    let values = dbi
        .retention_policies
        .iter()
        .map(|r| {
            vec![
                s(&r.name),
                s(&format_go_duration(r.duration)),
                s(&format_go_duration(r.shard_group_duration)),
                Value::Integer(i64::from(r.replica_n)),
                s(&format_go_duration(r.future_write_limit.unwrap_or(0))),
                s(&format_go_duration(r.past_write_limit.unwrap_or(0))),
                Value::Boolean(dbi.default_retention_policy == r.name),
            ]
        })
        .collect();
    let columns = [
        "name",
        "duration",
        "shardGroupDuration",
        "replicaN",
        "futureWriteLimit",
        "pastWriteLimit",
        "default",
    ];
    Ok(vec![Series { columns: columns.map(String::from).to_vec(), values, ..Default::default() }])
}

/// `SHOW USERS`.
pub fn show_users(ctx: &Context<'_>) -> Vec<Series> {
    let values =
        ctx.view.data.users.iter().map(|u| vec![s(&u.name), Value::Boolean(u.admin)]).collect();
    vec![Series { columns: vec!["user".into(), "admin".into()], values, ..Default::default() }]
}

/// `SHOW GRANTS FOR`.
pub fn show_grants(ctx: &Context<'_>, name: &str) -> Result<Vec<Series>> {
    let u = user(ctx, name)?;
    let mut privs: Vec<&meta::UserPrivilege> = u.privileges.iter().collect();
    privs.sort_by(|a, b| a.database.cmp(&b.database));
    let values = privs
        .iter()
        .map(|p| vec![s(&p.database), s(super::auth::privilege_name(p.privilege))])
        .collect();
    Ok(vec![Series {
        columns: vec!["database".into(), "privilege".into()],
        values,
        ..Default::default()
    }])
}

/// `SHOW CONTINUOUS QUERIES`.
pub fn show_continuous_queries(ctx: &Context<'_>) -> Vec<Series> {
    ctx.view
        .data
        .databases
        .iter()
        .filter(|d| ctx.may_see(&d.name))
        .map(|d| Series {
            name: d.name.clone(),
            columns: vec!["name".into(), "query".into()],
            values: d.continuous_queries.iter().map(|q| vec![s(&q.name), s(&q.query)]).collect(),
            ..Default::default()
        })
        .collect()
}

fn rfc3339(ns: i64) -> String {
    crate::influxql::format_rfc3339_nano(i128::from(ns).div_euclid(1_000_000_000) * 1_000_000_000)
}

/// `SHOW SHARDS`: one series per database, owners as `1,2`.
pub fn show_shards(ctx: &Context<'_>) -> Vec<Series> {
    let columns = [
        "id",
        "database",
        "retention_policy",
        "shard_group",
        "start_time",
        "end_time",
        "expiry_time",
        "owners",
    ];
    ctx.view
        .data
        .databases
        .iter()
        .map(|d| {
            let mut values = Vec::new();
            for r in &d.retention_policies {
                for g in r.shard_groups.iter().filter(|g| g.deleted_at == 0) {
                    for sh in &g.shards {
                        let owners: Vec<String> =
                            sh.owners.iter().map(|o| o.node_id.to_string()).collect();
                        let expiry = if r.duration != 0 {
                            rfc3339(g.end_time.saturating_add(r.duration))
                        } else {
                            String::new()
                        };
                        values.push(vec![
                            Value::Unsigned(sh.id),
                            s(&d.name),
                            s(&r.name),
                            Value::Unsigned(g.id),
                            s(&rfc3339(g.start_time)),
                            s(&rfc3339(g.end_time)),
                            s(&expiry),
                            s(&owners.join(",")),
                        ]);
                    }
                }
            }
            Series {
                name: d.name.clone(),
                columns: columns.map(String::from).to_vec(),
                values,
                ..Default::default()
            }
        })
        .collect()
}

/// `SHOW SHARD GROUPS`.
pub fn show_shard_groups(ctx: &Context<'_>) -> Vec<Series> {
    let mut values = Vec::new();
    for d in &ctx.view.data.databases {
        for r in &d.retention_policies {
            for g in r.shard_groups.iter().filter(|g| g.deleted_at == 0) {
                values.push(vec![
                    Value::Unsigned(g.id),
                    s(&d.name),
                    s(&r.name),
                    s(&rfc3339(g.start_time)),
                    s(&rfc3339(g.end_time)),
                    s(&rfc3339(g.end_time.saturating_add(r.duration))),
                ]);
            }
        }
    }
    let columns = ["id", "database", "retention_policy", "start_time", "end_time", "expiry_time"];
    vec![Series {
        name: "shard groups".into(),
        columns: columns.map(String::from).to_vec(),
        values,
        ..Default::default()
    }]
}

/// `SHOW SUBSCRIPTIONS`.
pub fn show_subscriptions(ctx: &Context<'_>) -> Vec<Series> {
    let mut out = Vec::new();
    for d in &ctx.view.data.databases {
        let mut values = Vec::new();
        for r in &d.retention_policies {
            for sub in &r.subscriptions {
                values.push(vec![
                    s(&r.name),
                    s(&sub.name),
                    s(&sub.mode),
                    Value::Strings(sub.destinations.clone()),
                ]);
            }
        }
        if !values.is_empty() {
            out.push(Series {
                name: d.name.clone(),
                columns: ["retention_policy", "name", "mode", "destinations"]
                    .map(String::from)
                    .to_vec(),
                values,
                ..Default::default()
            });
        }
    }
    out
}
