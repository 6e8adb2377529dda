//! The InfluxQL syntax tree. `Display` renders each node as InfluxDB's
//! `String()` methods do (this is the text InfluxDB stores for continuous
//! queries and shows in `SHOW CONTINUOUS QUERIES`).

use std::fmt::{self, Display, Formatter, Write as _};

use super::time::{format_duration, format_go_duration, format_rfc3339_nano};
use super::token::{Token, lookup};

/// A duration in nanoseconds (Go `time.Duration`).
pub type Duration = i64;

/// Smallest time InfluxDB handles (`influxql.MinTime`).
pub const MIN_TIME: i64 = i64::MIN + 2;
/// Largest time InfluxDB handles (`influxql.MaxTime`).
pub const MAX_TIME: i64 = i64::MAX - 1;

/// One InfluxQL statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `SELECT ...`
    Select(Box<SelectStatement>),
    /// `DELETE [FROM ...] [WHERE ...]`
    Delete(DeleteSeriesStatement),
    /// `DROP SERIES [FROM ...] [WHERE ...]`
    DropSeries(DeleteSeriesStatement),
    /// `SHOW CONTINUOUS QUERIES`
    ShowContinuousQueries,
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `SHOW DIAGNOSTICS [FOR 'module']` (empty module: none)
    ShowDiagnostics {
        /// Module name.
        module: String,
    },
    /// `SHOW STATS [FOR 'module']` (empty module: none)
    ShowStats {
        /// Module name.
        module: String,
    },
    /// `SHOW FIELD KEY [EXACT] CARDINALITY ...`
    ShowFieldKeyCardinality(CardinalityStatement),
    /// `SHOW FIELD KEYS ...`
    ShowFieldKeys(ShowFieldKeysStatement),
    /// `SHOW GRANTS FOR user`
    ShowGrantsForUser {
        /// User name.
        name: String,
    },
    /// `SHOW MEASUREMENT [EXACT] CARDINALITY ...`
    ShowMeasurementCardinality(CardinalityStatement),
    /// `SHOW MEASUREMENTS ...`
    ShowMeasurements(ShowMeasurementsStatement),
    /// `SHOW QUERIES`
    ShowQueries,
    /// `SHOW RETENTION POLICIES [ON db]` (empty database: default)
    ShowRetentionPolicies {
        /// Database.
        database: String,
    },
    /// `SHOW SERIES ...`
    ShowSeries(ShowSeriesStatement),
    /// `SHOW SERIES [EXACT] CARDINALITY ...`
    ShowSeriesCardinality(CardinalityStatement),
    /// `SHOW SHARD GROUPS`
    ShowShardGroups,
    /// `SHOW SHARDS`
    ShowShards,
    /// `SHOW SUBSCRIPTIONS`
    ShowSubscriptions,
    /// `SHOW TAG KEY [EXACT] CARDINALITY ...`
    ShowTagKeyCardinality(CardinalityStatement),
    /// `SHOW TAG KEYS ...`
    ShowTagKeys(ShowTagKeysStatement),
    /// `SHOW TAG VALUES ... WITH KEY ...`
    ShowTagValues(ShowTagValuesStatement),
    /// `SHOW TAG VALUES [EXACT] CARDINALITY ... WITH KEY ...`
    ShowTagValuesCardinality(ShowTagValuesCardinalityStatement),
    /// `SHOW USERS`
    ShowUsers,
    /// `CREATE CONTINUOUS QUERY ...`
    CreateContinuousQuery(Box<CreateContinuousQueryStatement>),
    /// `CREATE DATABASE ...`
    CreateDatabase(CreateDatabaseStatement),
    /// `CREATE USER ...`
    CreateUser(CreateUserStatement),
    /// `CREATE RETENTION POLICY ...`
    CreateRetentionPolicy(CreateRetentionPolicyStatement),
    /// `CREATE SUBSCRIPTION ...`
    CreateSubscription(CreateSubscriptionStatement),
    /// `DROP CONTINUOUS QUERY name ON db`
    DropContinuousQuery {
        /// Query name.
        name: String,
        /// Database.
        database: String,
    },
    /// `DROP DATABASE name`
    DropDatabase {
        /// Database.
        name: String,
    },
    /// `DROP MEASUREMENT name`
    DropMeasurement {
        /// Measurement.
        name: String,
    },
    /// `DROP RETENTION POLICY name ON db`
    DropRetentionPolicy {
        /// Policy.
        name: String,
        /// Database.
        database: String,
    },
    /// `DROP SHARD id`
    DropShard {
        /// Shard ID.
        id: u64,
    },
    /// `DROP SUBSCRIPTION name ON db.rp`
    DropSubscription {
        /// Subscription.
        name: String,
        /// Database.
        database: String,
        /// Retention policy.
        retention_policy: String,
    },
    /// `DROP USER name`
    DropUser {
        /// User.
        name: String,
    },
    /// `EXPLAIN [ANALYZE] [VERBOSE] SELECT ...`
    Explain {
        /// `ANALYZE` given.
        analyze: bool,
        /// `VERBOSE` given.
        verbose: bool,
        /// The query.
        statement: Box<SelectStatement>,
    },
    /// `GRANT READ|WRITE|ALL ON db TO user`
    Grant {
        /// Privilege.
        privilege: Privilege,
        /// Database.
        on: String,
        /// User.
        user: String,
    },
    /// `GRANT ALL [PRIVILEGES] TO user`
    GrantAdmin {
        /// User.
        user: String,
    },
    /// `REVOKE READ|WRITE|ALL ON db FROM user`
    Revoke {
        /// Privilege.
        privilege: Privilege,
        /// Database.
        on: String,
        /// User.
        user: String,
    },
    /// `REVOKE ALL [PRIVILEGES] FROM user`
    RevokeAdmin {
        /// User.
        user: String,
    },
    /// `ALTER RETENTION POLICY ...`
    AlterRetentionPolicy(AlterRetentionPolicyStatement),
    /// `SET PASSWORD FOR user = 'pw'`
    SetPassword {
        /// User.
        name: String,
        /// Clear-text password.
        password: String,
    },
    /// `KILL QUERY id [ON host]`
    KillQuery {
        /// Query ID.
        query_id: u64,
        /// Host (empty: local).
        host: String,
    },
}

/// `SELECT` statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectStatement {
    /// Selected expressions.
    pub fields: Vec<Field>,
    /// `INTO` target.
    pub target: Option<Target>,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WHERE` condition.
    pub condition: Option<Expr>,
    /// `GROUP BY` dimensions.
    pub dimensions: Vec<Dimension>,
    /// `fill(...)`.
    pub fill: Fill,
    /// `ORDER BY`.
    pub sort_fields: Vec<SortField>,
    /// `LIMIT` (0: none).
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
    /// `SLIMIT` (0: none).
    pub slimit: i64,
    /// `SOFFSET`.
    pub soffset: i64,
    /// `tz('...')` location name.
    pub location: Option<String>,
    /// No function call among the fields.
    pub is_raw_query: bool,
}

impl SelectStatement {
    /// The `GROUP BY time(...)` interval, 0 if none; an error text if the
    /// `time()` call is malformed (InfluxDB `GroupByInterval`).
    pub fn group_by_interval(&self) -> Result<Duration, String> {
        for d in &self.dimensions {
            if let Expr::Call(call) = &d.expr
                && call.name == "time"
            {
                if call.args.is_empty() || call.args.len() > 2 {
                    return Err("time dimension expected 1 or 2 arguments".into());
                }
                return match call.args[0] {
                    Expr::Duration(d) => Ok(d),
                    _ => Err("time dimension must have duration argument".into()),
                };
            }
        }
        Ok(0)
    }

    /// The `GROUP BY time(interval, offset)` offset (InfluxDB
    /// `GroupByOffset`): a duration modulo the interval, or a time's
    /// distance from its truncation to the interval.
    pub fn group_by_offset(&self) -> Result<Duration, String> {
        let interval = self.group_by_interval()?;
        // Go truncates times from its zero time, 0001-01-01T00:00:00Z.
        const GO_ZERO_TIME: i128 = -62_135_596_800 * 1_000_000_000;
        for d in &self.dimensions {
            if let Expr::Call(call) = &d.expr
                && call.name == "time"
            {
                if call.args.len() == 2 {
                    return match &call.args[1] {
                        Expr::Duration(o) if interval != 0 => Ok(o.wrapping_rem(interval)),
                        Expr::Duration(_) => Ok(0),
                        Expr::Time(t) if interval > 0 => {
                            Ok((t - GO_ZERO_TIME).rem_euclid(i128::from(interval)) as i64)
                        }
                        Expr::Time(_) => Ok(0),
                        e => Err(format!("invalid time dimension offset: {e}")),
                    };
                }
                return Ok(0);
            }
        }
        Ok(0)
    }

    /// True when a field or dimension is `*` or a regex.
    pub fn has_wildcard(&self) -> bool {
        let field = self
            .fields
            .iter()
            .any(|f| f.expr.any(&|e| matches!(e, Expr::Wildcard(_) | Expr::Regex(_))));
        let dim =
            self.dimensions.iter().any(|d| matches!(d.expr, Expr::Wildcard(_) | Expr::Regex(_)));
        field || dim
    }
}

/// One selected expression, with its `AS` alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// Alias (empty: none).
    pub alias: String,
}

impl Field {
    /// The column name: the alias, else the call or variable name, else the
    /// names of a binary expression's operands joined by `_`.
    pub fn name(&self) -> String {
        if !self.alias.is_empty() {
            return self.alias.clone();
        }
        fn inner(e: &Expr) -> String {
            match e {
                Expr::Call(c) => c.name.clone(),
                Expr::VarRef(v) => v.name.clone(),
                Expr::Paren(p) => inner(p),
                Expr::Binary(_) => {
                    let mut names = Vec::new();
                    fn walk(e: &Expr, names: &mut Vec<String>) {
                        match e {
                            Expr::VarRef(v) => names.push(v.name.clone()),
                            Expr::Call(c) => names.push(c.name.clone()),
                            Expr::Binary(b) => {
                                walk(&b.lhs, names);
                                walk(&b.rhs, names);
                            }
                            Expr::Paren(p) => walk(p, names),
                            _ => {}
                        }
                    }
                    walk(e, &mut names);
                    names.join("_")
                }
                _ => String::new(),
            }
        }
        inner(&self.expr)
    }
}

/// `INTO` target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Destination; an empty name means `:MEASUREMENT` (the source's).
    pub measurement: Measurement,
}

/// A `FROM` source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A measurement (or regex of measurements).
    Measurement(Measurement),
    /// A subquery `(SELECT ...)`.
    SubQuery(Box<SelectStatement>),
}

/// A measurement reference: `[db.][rp.]name` or `[db.][rp.]/regex/`.
/// Empty strings stand for "not given".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measurement {
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// Name.
    pub name: String,
    /// Regex instead of a name.
    pub regex: Option<Regex>,
    /// Used as an `INTO` target.
    pub is_target: bool,
}

/// A regular expression literal (the pattern, `\/` already unescaped).
/// The pattern is Go RE2 syntax; it is not compiled here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regex {
    /// Pattern text.
    pub pattern: String,
}

/// A `GROUP BY` dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    /// `time(...)` call, tag reference, `*` or regex.
    pub expr: Expr,
}

/// `ORDER BY` item.
#[derive(Debug, Clone, PartialEq)]
pub struct SortField {
    /// Field name (empty for a bare `ASC`/`DESC`).
    pub name: String,
    /// Ascending.
    pub ascending: bool,
}

/// `fill(...)` option.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Fill {
    /// `fill(null)` (the default).
    #[default]
    Null,
    /// `fill(none)`.
    None,
    /// `fill(<integer>)`.
    Integer(i64),
    /// `fill(<float>)`.
    Float(f64),
    /// `fill(previous)`.
    Previous,
    /// `fill(linear)`.
    Linear,
}

/// Data type of a `::type` cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DataType {
    /// No cast.
    #[default]
    Unknown,
    /// `::float`
    Float,
    /// `::integer`
    Integer,
    /// `::string`
    String,
    /// `::boolean`
    Boolean,
    /// time
    Time,
    /// duration
    Duration,
    /// `::tag`
    Tag,
    /// `::field`
    AnyField,
    /// `::unsigned`
    Unsigned,
}

impl DataType {
    /// InfluxDB's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Float => "float",
            DataType::Integer => "integer",
            DataType::Unsigned => "unsigned",
            DataType::String => "string",
            DataType::Boolean => "boolean",
            DataType::Time => "time",
            DataType::Duration => "duration",
            DataType::Tag => "tag",
            DataType::AnyField => "field",
            DataType::Unknown => "unknown",
        }
    }
}

/// Kind of `*` wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WildcardType {
    /// `*`
    #[default]
    All,
    /// `*::field`
    Field,
    /// `*::tag`
    Tag,
}

/// A reference to a field or tag: `name[::type]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    /// Name (segments joined by `.`).
    pub name: String,
    /// Cast.
    pub data_type: DataType,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Lower-case function name.
    pub name: String,
    /// Arguments.
    pub args: Vec<Expr>,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitwiseAnd,
    BitwiseOr,
    BitwiseXor,
    And,
    Or,
    Eq,
    Neq,
    EqRegex,
    NeqRegex,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl BinaryOp {
    pub(crate) fn from_token(t: Token) -> Option<BinaryOp> {
        Some(match t {
            Token::Add => BinaryOp::Add,
            Token::Sub => BinaryOp::Sub,
            Token::Mul => BinaryOp::Mul,
            Token::Div => BinaryOp::Div,
            Token::Mod => BinaryOp::Mod,
            Token::BitwiseAnd => BinaryOp::BitwiseAnd,
            Token::BitwiseOr => BinaryOp::BitwiseOr,
            Token::BitwiseXor => BinaryOp::BitwiseXor,
            Token::And => BinaryOp::And,
            Token::Or => BinaryOp::Or,
            Token::Eq => BinaryOp::Eq,
            Token::Neq => BinaryOp::Neq,
            Token::EqRegex => BinaryOp::EqRegex,
            Token::NeqRegex => BinaryOp::NeqRegex,
            Token::Lt => BinaryOp::Lt,
            Token::Lte => BinaryOp::Lte,
            Token::Gt => BinaryOp::Gt,
            Token::Gte => BinaryOp::Gte,
            _ => return None,
        })
    }

    /// The operator's text (`+`, `AND`, `=~`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::BitwiseAnd => "&",
            BinaryOp::BitwiseOr => "|",
            BinaryOp::BitwiseXor => "^",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::EqRegex => "=~",
            BinaryOp::NeqRegex => "!~",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
        }
    }

    /// Precedence: OR 1, AND 2, comparisons 3, `+ - | ^` 4, `* / % &` 5.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::EqRegex
            | BinaryOp::NeqRegex
            | BinaryOp::Lt
            | BinaryOp::Lte
            | BinaryOp::Gt
            | BinaryOp::Gte => 3,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::BitwiseOr | BinaryOp::BitwiseXor => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::BitwiseAnd => 5,
        }
    }

    /// A comparison (`=`, `!=`, `=~`, `!~`, `<`, `<=`, `>`, `>=`).
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }
}

/// `lhs op rhs`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// Operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Expr,
    /// Right operand.
    pub rhs: Expr,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Field or tag reference.
    VarRef(VarRef),
    /// Function call.
    Call(Call),
    /// `DISTINCT name`.
    Distinct(String),
    /// Binary operation.
    Binary(Box<BinaryExpr>),
    /// Parenthesized expression.
    Paren(Box<Expr>),
    /// `*`, `*::field`, `*::tag`.
    Wildcard(WildcardType),
    /// `/regex/`.
    Regex(Regex),
    /// Integer literal.
    Integer(i64),
    /// Integer literal above i64::MAX.
    Unsigned(u64),
    /// Float literal.
    Number(f64),
    /// `'string'`.
    String(String),
    /// `true` / `false`.
    Boolean(bool),
    /// Duration literal, ns.
    Duration(Duration),
    /// Point in time, ns since the epoch (wider than i64, as Go's
    /// `time.Time`). Produced by evaluation, never by the parser.
    Time(i128),
    /// `nil` (internal).
    Nil,
    /// `(a, b)` list of identifiers (`WITH KEY IN (...)`).
    List(Vec<String>),
    /// `$name` bound parameter (internal).
    BoundParameter(String),
}

impl Expr {
    /// A binary expression.
    pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary(Box::new(BinaryExpr { op, lhs, rhs }))
    }

    /// A plain variable reference.
    pub fn var(name: &str) -> Expr {
        Expr::VarRef(VarRef { name: name.to_string(), data_type: DataType::Unknown })
    }

    /// True if `f` holds for this node or any node below it.
    pub fn any(&self, f: &dyn Fn(&Expr) -> bool) -> bool {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            if f(e) {
                return true;
            }
            match e {
                Expr::Call(c) => stack.extend(c.args.iter().rev()),
                Expr::Binary(b) => {
                    stack.push(&b.rhs);
                    stack.push(&b.lhs);
                }
                Expr::Paren(p) => stack.push(p),
                _ => {}
            }
        }
        false
    }

    /// InfluxDB's Go type name for this node (used in error texts).
    pub(crate) fn go_type(&self) -> &'static str {
        match self {
            Expr::VarRef(_) => "*influxql.VarRef",
            Expr::Call(_) => "*influxql.Call",
            Expr::Distinct(_) => "*influxql.Distinct",
            Expr::Binary(_) => "*influxql.BinaryExpr",
            Expr::Paren(_) => "*influxql.ParenExpr",
            Expr::Wildcard(_) => "*influxql.Wildcard",
            Expr::Regex(_) => "*influxql.RegexLiteral",
            Expr::Integer(_) => "*influxql.IntegerLiteral",
            Expr::Unsigned(_) => "*influxql.UnsignedLiteral",
            Expr::Number(_) => "*influxql.NumberLiteral",
            Expr::String(_) => "*influxql.StringLiteral",
            Expr::Boolean(_) => "*influxql.BooleanLiteral",
            Expr::Duration(_) => "*influxql.DurationLiteral",
            Expr::Time(_) => "*influxql.TimeLiteral",
            Expr::Nil => "*influxql.NilLiteral",
            Expr::List(_) => "*influxql.ListLiteral",
            Expr::BoundParameter(_) => "*influxql.BoundParameter",
        }
    }
}

impl Drop for BinaryExpr {
    /// Takes long chains apart without recursing once per level.
    fn drop(&mut self) {
        fn nests(e: &Expr) -> bool {
            matches!(e, Expr::Binary(_) | Expr::Paren(_) | Expr::Call(_))
        }
        if !nests(&self.lhs) && !nests(&self.rhs) {
            return;
        }
        let mut stack = vec![std::mem::replace(&mut self.lhs, Expr::Nil)];
        stack.push(std::mem::replace(&mut self.rhs, Expr::Nil));
        while let Some(mut e) = stack.pop() {
            match &mut e {
                Expr::Binary(b) => {
                    stack.push(std::mem::replace(&mut b.lhs, Expr::Nil));
                    stack.push(std::mem::replace(&mut b.rhs, Expr::Nil));
                }
                Expr::Paren(p) => stack.push(std::mem::replace(&mut **p, Expr::Nil)),
                Expr::Call(c) => stack.append(&mut c.args),
                _ => {}
            }
        }
    }
}

/// `DELETE` / `DROP SERIES`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteSeriesStatement {
    /// `FROM` sources (empty: none).
    pub sources: Vec<Source>,
    /// `WHERE` condition.
    pub condition: Option<Expr>,
}

/// `SHOW MEASUREMENTS`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowMeasurementsStatement {
    /// `ON` database (empty: default).
    pub database: String,
    /// `ON db.rp` retention policy (empty: all).
    pub retention_policy: String,
    /// `ON *`.
    pub wildcard_database: bool,
    /// `ON db.*`.
    pub wildcard_retention_policy: bool,
    /// `WITH MEASUREMENT = name | =~ /re/`.
    pub source: Option<Source>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub sort_fields: Vec<SortField>,
    /// `LIMIT`.
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
}

/// `SHOW SERIES`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowSeriesStatement {
    /// `ON` database.
    pub database: String,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub sort_fields: Vec<SortField>,
    /// `LIMIT`.
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
}

/// `SHOW {SERIES|MEASUREMENT|TAG KEY|FIELD KEY} [EXACT] CARDINALITY`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardinalityStatement {
    /// `EXACT`.
    pub exact: bool,
    /// `ON` database.
    pub database: String,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `GROUP BY`.
    pub dimensions: Vec<Dimension>,
    /// `LIMIT`.
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
}

/// `SHOW TAG KEYS`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowTagKeysStatement {
    /// `ON` database.
    pub database: String,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WITH KEY ...` (not rendered by `Display`, as in InfluxDB).
    pub tag_key: Option<TagKeyExpr>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub sort_fields: Vec<SortField>,
    /// `LIMIT`.
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
    /// `SLIMIT`.
    pub slimit: i64,
    /// `SOFFSET`.
    pub soffset: i64,
}

/// `WITH KEY ...` of `SHOW TAG VALUES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagKeyExpr {
    /// `= key`
    Eq(String),
    /// `!= key`
    Neq(String),
    /// `=~ /re/`
    EqRegex(Regex),
    /// `!~ /re/`
    NeqRegex(Regex),
    /// `IN (k1, k2)`
    In(Vec<String>),
}

/// `SHOW TAG VALUES`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowTagValuesStatement {
    /// `ON` database.
    pub database: String,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WITH KEY`.
    pub tag_key: TagKeyExpr,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub sort_fields: Vec<SortField>,
    /// `LIMIT`.
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
}

/// `SHOW TAG VALUES [EXACT] CARDINALITY`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowTagValuesCardinalityStatement {
    /// `EXACT`.
    pub exact: bool,
    /// `ON` database.
    pub database: String,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WITH KEY`.
    pub tag_key: TagKeyExpr,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `GROUP BY`.
    pub dimensions: Vec<Dimension>,
    /// `LIMIT`.
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
}

/// `SHOW FIELD KEYS`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowFieldKeysStatement {
    /// `ON` database.
    pub database: String,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `ORDER BY`.
    pub sort_fields: Vec<SortField>,
    /// `LIMIT`.
    pub limit: i64,
    /// `OFFSET`.
    pub offset: i64,
}

/// `CREATE DATABASE name [WITH ...]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateDatabaseStatement {
    /// Database.
    pub name: String,
    /// A `WITH` clause was given.
    pub retention_policy_create: bool,
    /// `DURATION` (0: infinite).
    pub retention_policy_duration: Option<Duration>,
    /// `REPLICATION`.
    pub retention_policy_replication: Option<i64>,
    /// `SHARD DURATION` (0: default).
    pub retention_policy_shard_group_duration: Duration,
    /// `FUTURE LIMIT`.
    pub future_write_limit: Option<Duration>,
    /// `PAST LIMIT`.
    pub past_write_limit: Option<Duration>,
    /// `NAME` (empty: autogen).
    pub retention_policy_name: String,
}

/// `CREATE RETENTION POLICY`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateRetentionPolicyStatement {
    /// Policy.
    pub name: String,
    /// Database.
    pub database: String,
    /// `DURATION` (0: infinite).
    pub duration: Duration,
    /// `REPLICATION`.
    pub replication: i64,
    /// `SHARD DURATION` (0: default).
    pub shard_group_duration: Duration,
    /// `DEFAULT`.
    pub default: bool,
    /// `FUTURE LIMIT` (0: none).
    pub future_write_limit: Duration,
    /// `PAST LIMIT` (0: none).
    pub past_write_limit: Duration,
}

/// `ALTER RETENTION POLICY`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlterRetentionPolicyStatement {
    /// Policy.
    pub name: String,
    /// Database.
    pub database: String,
    /// `DURATION`.
    pub duration: Option<Duration>,
    /// `REPLICATION`.
    pub replication: Option<i64>,
    /// `SHARD DURATION`.
    pub shard_group_duration: Option<Duration>,
    /// `DEFAULT`.
    pub default: bool,
    /// `FUTURE LIMIT`.
    pub future_write_limit: Option<Duration>,
    /// `PAST LIMIT`.
    pub past_write_limit: Option<Duration>,
}

/// `CREATE USER`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateUserStatement {
    /// User.
    pub name: String,
    /// Clear-text password.
    pub password: String,
    /// `WITH ALL PRIVILEGES`.
    pub admin: bool,
}

/// `CREATE CONTINUOUS QUERY`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateContinuousQueryStatement {
    /// Query name.
    pub name: String,
    /// Database.
    pub database: String,
    /// The `SELECT` between `BEGIN` and `END`.
    pub source: SelectStatement,
    /// `RESAMPLE EVERY` (0: none).
    pub resample_every: Duration,
    /// `RESAMPLE FOR` (0: none).
    pub resample_for: Duration,
    /// The statement as written, from `CREATE` to `END`.
    pub text: String,
}

/// `CREATE SUBSCRIPTION`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateSubscriptionStatement {
    /// Subscription.
    pub name: String,
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// Destination URLs.
    pub destinations: Vec<String>,
    /// `ALL` or `ANY`.
    pub mode: String,
}

/// A user privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Privilege {
    /// None.
    #[default]
    NoPrivileges,
    /// `READ`.
    Read,
    /// `WRITE`.
    Write,
    /// `ALL [PRIVILEGES]`.
    All,
}

impl Display for Privilege {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Privilege::NoPrivileges => "NO PRIVILEGES",
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL PRIVILEGES",
        })
    }
}

// ---------------------------------------------------------------------------
// Quoting

/// Quotes a string literal: `'...'` with `\n`, `\\` and `\'` escaped.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether an identifier must be double-quoted: a keyword, or a character
/// outside `[A-Za-z_][A-Za-z0-9_]*`.
pub fn ident_needs_quotes(ident: &str) -> bool {
    if lookup(ident) != Token::Ident {
        return true;
    }
    for (i, c) in ident.chars().enumerate() {
        if (i == 0 && !super::scanner::is_ident_first_char(c))
            || (i > 0 && !super::scanner::is_ident_char(c))
        {
            return true;
        }
    }
    false
}

/// Quotes a dotted identifier as InfluxDB's `QuoteIdent(segments...)`:
/// each segment is double-quoted when it needs it, and also every
/// non-empty segment but the last, and an empty first or last segment.
pub fn quote_ident_segments(segments: &[&str]) -> String {
    let mut out = String::new();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let need = ident_needs_quotes(seg)
            || (i < last && !seg.is_empty())
            || ((i == 0 || i == last) && seg.is_empty());
        if need {
            out.push('"');
        }
        for c in seg.chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        if need {
            out.push('"');
        }
        if i < last {
            out.push('.');
        }
    }
    out
}

/// Quotes one identifier (InfluxDB `QuoteIdent(s)`).
pub fn quote_ident(s: &str) -> String {
    quote_ident_segments(&[s])
}

// ---------------------------------------------------------------------------
// Display

fn join<T: Display>(items: &[T], sep: &str) -> String {
    let mut out = String::new();
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        let _ = write!(out, "{it}");
    }
    out
}

impl Display for Regex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.pattern.replace('/', "\\/"))
    }
}

impl Display for VarRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&quote_ident(&self.name))?;
        if self.data_type != DataType::Unknown {
            write!(f, "::{}", self.data_type.as_str())?;
        }
        Ok(())
    }
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, join(&self.args, ", "))
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::VarRef(v) => v.fmt(f),
            Expr::Call(c) => c.fmt(f),
            Expr::Distinct(v) => write!(f, "DISTINCT {v}"),
            Expr::Binary(_) => {
                // Walk the left spine without recursion: long `a OR b OR ...`
                // chains are left-deep.
                let mut spine = Vec::new();
                let mut cur = self;
                while let Expr::Binary(b) = cur {
                    spine.push(b);
                    cur = &b.lhs;
                }
                cur.fmt(f)?;
                for b in spine.iter().rev() {
                    write!(f, " {} {}", b.op.as_str(), b.rhs)?;
                }
                Ok(())
            }
            Expr::Paren(e) => write!(f, "({e})"),
            Expr::Wildcard(WildcardType::All) => f.write_str("*"),
            Expr::Wildcard(WildcardType::Field) => f.write_str("*::field"),
            Expr::Wildcard(WildcardType::Tag) => f.write_str("*::tag"),
            Expr::Regex(r) => r.fmt(f),
            Expr::Integer(i) => write!(f, "{i}"),
            Expr::Unsigned(u) => write!(f, "{u}"),
            Expr::Number(n) => f.write_str(&format_number(*n)),
            Expr::String(s) => f.write_str(&quote_string(s)),
            Expr::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Expr::Duration(d) => f.write_str(&format_duration(*d)),
            Expr::Time(t) => write!(f, "'{}'", format_rfc3339_nano(*t)),
            Expr::Nil => f.write_str("nil"),
            Expr::List(l) => {
                f.write_str("(")?;
                for (i, k) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote_ident(k))?;
                }
                f.write_str(")")
            }
            Expr::BoundParameter(n) => write!(f, "${}", quote_ident(n)),
        }
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)?;
        if !self.alias.is_empty() {
            write!(f, " AS {}", quote_ident(&self.alias))?;
        }
        Ok(())
    }
}

impl Display for Dimension {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl Display for SortField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.name.is_empty() {
            write!(f, "{} ", self.name)?;
        }
        f.write_str(if self.ascending { "ASC" } else { "DESC" })
    }
}

impl Display for Measurement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.database.is_empty() {
            write!(f, "{}.", quote_ident(&self.database))?;
        }
        if !self.retention_policy.is_empty() {
            f.write_str(&quote_ident(&self.retention_policy))?;
        }
        if !self.database.is_empty() || !self.retention_policy.is_empty() {
            f.write_str(".")?;
        }
        if !self.name.is_empty() {
            f.write_str(&quote_ident(&self.name))?;
        } else if let Some(r) = &self.regex {
            r.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Source::Measurement(m) => m.fmt(f),
            Source::SubQuery(s) => write!(f, "({s})"),
        }
    }
}

impl Display for Target {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "INTO {}", self.measurement)?;
        if self.measurement.name.is_empty() {
            f.write_str(":MEASUREMENT")?;
        }
        Ok(())
    }
}

impl Display for TagKeyExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TagKeyExpr::Eq(k) => write!(f, "= {}", quote_ident(k)),
            TagKeyExpr::Neq(k) => write!(f, "!= {}", quote_ident(k)),
            TagKeyExpr::EqRegex(r) => write!(f, "=~ {r}"),
            TagKeyExpr::NeqRegex(r) => write!(f, "!~ {r}"),
            TagKeyExpr::In(l) => write!(f, "IN {}", Expr::List(l.clone())),
        }
    }
}

impl Display for SelectStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "SELECT {}", join(&self.fields, ", "))?;
        if let Some(t) = &self.target {
            write!(f, " {t}")?;
        }
        if !self.sources.is_empty() {
            write!(f, " FROM {}", join(&self.sources, ", "))?;
        }
        if let Some(c) = &self.condition {
            write!(f, " WHERE {c}")?;
        }
        if !self.dimensions.is_empty() {
            write!(f, " GROUP BY {}", join(&self.dimensions, ", "))?;
        }
        match &self.fill {
            Fill::Null => {}
            Fill::None => f.write_str(" fill(none)")?,
            Fill::Integer(i) => write!(f, " fill({i})")?,
            Fill::Float(v) => {
                let mut s = String::new();
                portable::lineproto::append_float(*v, &mut s);
                write!(f, " fill({s})")?
            }
            Fill::Linear => f.write_str(" fill(linear)")?,
            Fill::Previous => f.write_str(" fill(previous)")?,
        }
        if !self.sort_fields.is_empty() {
            write!(f, " ORDER BY {}", join(&self.sort_fields, ", "))?;
        }
        limits(f, &[("LIMIT", self.limit), ("OFFSET", self.offset)])?;
        limits(f, &[("SLIMIT", self.slimit), ("SOFFSET", self.soffset)])?;
        if let Some(l) = &self.location {
            write!(f, " TZ('{l}')")?;
        }
        Ok(())
    }
}

fn limits(f: &mut Formatter<'_>, items: &[(&str, i64)]) -> fmt::Result {
    for (k, v) in items {
        if *v > 0 {
            write!(f, " {k} {v}")?;
        }
    }
    Ok(())
}

fn on_db(f: &mut Formatter<'_>, db: &str) -> fmt::Result {
    if !db.is_empty() {
        write!(f, " ON {}", quote_ident(db))?;
    }
    Ok(())
}

fn from_where(f: &mut Formatter<'_>, sources: &[Source], cond: &Option<Expr>) -> fmt::Result {
    if !sources.is_empty() {
        write!(f, " FROM {}", join(sources, ", "))?;
    }
    if let Some(c) = cond {
        write!(f, " WHERE {c}")?;
    }
    Ok(())
}

fn order_by(f: &mut Formatter<'_>, s: &[SortField]) -> fmt::Result {
    if !s.is_empty() {
        write!(f, " ORDER BY {}", join(s, ", "))?;
    }
    Ok(())
}

fn group_by(f: &mut Formatter<'_>, d: &[Dimension]) -> fmt::Result {
    if !d.is_empty() {
        write!(f, " GROUP BY {}", join(d, ", "))?;
    }
    Ok(())
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Select(s) => s.fmt(f),
            Statement::Delete(s) => {
                f.write_str("DELETE")?;
                from_where(f, &s.sources, &s.condition)
            }
            Statement::DropSeries(s) => {
                f.write_str("DROP SERIES")?;
                from_where(f, &s.sources, &s.condition)
            }
            Statement::ShowContinuousQueries => f.write_str("SHOW CONTINUOUS QUERIES"),
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::ShowDiagnostics { module } => {
                f.write_str("SHOW DIAGNOSTICS")?;
                if !module.is_empty() {
                    write!(f, " FOR {}", quote_string(module))?;
                }
                Ok(())
            }
            Statement::ShowStats { module } => {
                f.write_str("SHOW STATS")?;
                if !module.is_empty() {
                    write!(f, " FOR {}", quote_string(module))?;
                }
                Ok(())
            }
            Statement::ShowFieldKeyCardinality(s) => cardinality(f, "SHOW FIELD KEY ", s, true),
            Statement::ShowMeasurementCardinality(s) => {
                cardinality(f, "SHOW MEASUREMENT", s, false)
            }
            Statement::ShowSeriesCardinality(s) => cardinality(f, "SHOW SERIES", s, false),
            Statement::ShowTagKeyCardinality(s) => cardinality(f, "SHOW TAG KEY ", s, true),
            Statement::ShowFieldKeys(s) => {
                f.write_str("SHOW FIELD KEYS")?;
                on_db(f, &s.database)?;
                from_where(f, &s.sources, &None)?;
                order_by(f, &s.sort_fields)?;
                limits(f, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowGrantsForUser { name } => {
                write!(f, "SHOW GRANTS FOR {}", quote_ident(name))
            }
            Statement::ShowMeasurements(s) => {
                f.write_str("SHOW MEASUREMENTS")?;
                if !s.database.is_empty() || s.wildcard_database {
                    // InfluxDB writes these names unquoted.
                    f.write_str(" ON ")?;
                    f.write_str(if s.wildcard_database { "*" } else { &s.database })?;
                    if s.wildcard_retention_policy {
                        f.write_str(".*")?;
                    } else if !s.retention_policy.is_empty() {
                        write!(f, ".{}", s.retention_policy)?;
                    }
                }
                if let Some(src) = &s.source {
                    f.write_str(" WITH MEASUREMENT ")?;
                    match src {
                        Source::Measurement(m) if m.regex.is_some() => f.write_str("=~ ")?,
                        _ => f.write_str("= ")?,
                    }
                    src.fmt(f)?;
                }
                from_where(f, &[], &s.condition)?;
                order_by(f, &s.sort_fields)?;
                limits(f, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowQueries => f.write_str("SHOW QUERIES"),
            Statement::ShowRetentionPolicies { database } => {
                f.write_str("SHOW RETENTION POLICIES")?;
                on_db(f, database)
            }
            Statement::ShowSeries(s) => {
                f.write_str("SHOW SERIES")?;
                on_db(f, &s.database)?;
                from_where(f, &s.sources, &s.condition)?;
                order_by(f, &s.sort_fields)?;
                limits(f, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowShardGroups => f.write_str("SHOW SHARD GROUPS"),
            Statement::ShowShards => f.write_str("SHOW SHARDS"),
            Statement::ShowSubscriptions => f.write_str("SHOW SUBSCRIPTIONS"),
            Statement::ShowTagKeys(s) => {
                f.write_str("SHOW TAG KEYS")?;
                on_db(f, &s.database)?;
                from_where(f, &s.sources, &s.condition)?;
                order_by(f, &s.sort_fields)?;
                limits(f, &[("LIMIT", s.limit), ("OFFSET", s.offset)])?;
                limits(f, &[("SLIMIT", s.slimit), ("SOFFSET", s.soffset)])
            }
            Statement::ShowTagValues(s) => {
                f.write_str("SHOW TAG VALUES")?;
                on_db(f, &s.database)?;
                from_where(f, &s.sources, &None)?;
                write!(f, " WITH KEY {}", s.tag_key)?;
                from_where(f, &[], &s.condition)?;
                order_by(f, &s.sort_fields)?;
                limits(f, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowTagValuesCardinality(s) => {
                f.write_str("SHOW TAG VALUES ")?;
                if s.exact {
                    f.write_str("EXACT ")?;
                }
                f.write_str("CARDINALITY")?;
                on_db(f, &s.database)?;
                from_where(f, &s.sources, &None)?;
                write!(f, " WITH KEY {}", s.tag_key)?;
                from_where(f, &[], &s.condition)?;
                group_by(f, &s.dimensions)?;
                limits(f, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowUsers => f.write_str("SHOW USERS"),
            Statement::CreateContinuousQuery(s) => {
                write!(
                    f,
                    "CREATE CONTINUOUS QUERY {} ON {} ",
                    quote_ident(&s.name),
                    quote_ident(&s.database)
                )?;
                if s.resample_every > 0 || s.resample_for > 0 {
                    f.write_str("RESAMPLE ")?;
                    if s.resample_every > 0 {
                        write!(f, "EVERY {} ", format_duration(s.resample_every))?;
                    }
                    if s.resample_for > 0 {
                        write!(f, "FOR {} ", format_duration(s.resample_for))?;
                    }
                }
                write!(f, "BEGIN {} END", s.source)
            }
            Statement::CreateDatabase(s) => {
                write!(f, "CREATE DATABASE {}", quote_ident(&s.name))?;
                if s.retention_policy_create {
                    f.write_str(" WITH")?;
                    if let Some(d) = s.retention_policy_duration {
                        // InfluxDB uses Go's time.Duration.String() here.
                        write!(f, " DURATION {}", format_go_duration(d))?;
                    }
                    if let Some(r) = s.retention_policy_replication {
                        write!(f, " REPLICATION {r}")?;
                    }
                    if s.retention_policy_shard_group_duration > 0 {
                        write!(
                            f,
                            " SHARD DURATION {}",
                            format_go_duration(s.retention_policy_shard_group_duration)
                        )?;
                    }
                    write_limits(f, s.future_write_limit, s.past_write_limit, |d| d > 0)?;
                    if !s.retention_policy_name.is_empty() {
                        write!(f, " NAME {}", quote_ident(&s.retention_policy_name))?;
                    }
                }
                Ok(())
            }
            Statement::CreateUser(s) => {
                write!(f, "CREATE USER {} WITH PASSWORD [REDACTED]", quote_ident(&s.name))?;
                if s.admin {
                    f.write_str(" WITH ALL PRIVILEGES")?;
                }
                Ok(())
            }
            Statement::CreateRetentionPolicy(s) => {
                write!(
                    f,
                    "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION {}",
                    quote_ident(&s.name),
                    quote_ident(&s.database),
                    format_duration(s.duration),
                    s.replication
                )?;
                if s.shard_group_duration > 0 {
                    write!(f, " SHARD DURATION {}", format_duration(s.shard_group_duration))?;
                }
                if s.default {
                    f.write_str(" DEFAULT")?;
                }
                write_limits(f, Some(s.future_write_limit), Some(s.past_write_limit), |d| d != 0)
            }
            Statement::CreateSubscription(s) => {
                write!(
                    f,
                    "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS {} ",
                    quote_ident(&s.name),
                    quote_ident(&s.database),
                    quote_ident(&s.retention_policy),
                    s.mode
                )?;
                for (i, d) in s.destinations.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote_string(d))?;
                }
                Ok(())
            }
            Statement::DropContinuousQuery { name, database } => write!(
                f,
                "DROP CONTINUOUS QUERY {} ON {}",
                quote_ident(name),
                quote_ident(database)
            ),
            Statement::DropDatabase { name } => write!(f, "DROP DATABASE {}", quote_ident(name)),
            Statement::DropMeasurement { name } => {
                write!(f, "DROP MEASUREMENT {}", quote_ident(name))
            }
            Statement::DropRetentionPolicy { name, database } => write!(
                f,
                "DROP RETENTION POLICY {} ON {}",
                quote_ident(name),
                quote_ident(database)
            ),
            Statement::DropShard { id } => write!(f, "DROP SHARD {id}"),
            Statement::DropSubscription { name, database, retention_policy } => write!(
                f,
                "DROP SUBSCRIPTION {} ON {}.{}",
                quote_ident(name),
                quote_ident(database),
                quote_ident(retention_policy)
            ),
            Statement::DropUser { name } => write!(f, "DROP USER {}", quote_ident(name)),
            Statement::Explain { analyze, verbose, statement } => {
                f.write_str("EXPLAIN ")?;
                if *analyze {
                    f.write_str("ANALYZE ")?;
                }
                if *verbose {
                    f.write_str("VERBOSE ")?;
                }
                statement.fmt(f)
            }
            Statement::Grant { privilege, on, user } => {
                write!(f, "GRANT {privilege} ON {} TO {}", quote_ident(on), quote_ident(user))
            }
            Statement::GrantAdmin { user } => {
                write!(f, "GRANT ALL PRIVILEGES TO {}", quote_ident(user))
            }
            Statement::Revoke { privilege, on, user } => {
                write!(f, "REVOKE {privilege} ON {} FROM {}", quote_ident(on), quote_ident(user))
            }
            Statement::RevokeAdmin { user } => {
                write!(f, "REVOKE ALL PRIVILEGES FROM {}", quote_ident(user))
            }
            Statement::AlterRetentionPolicy(s) => {
                write!(
                    f,
                    "ALTER RETENTION POLICY {} ON {}",
                    quote_ident(&s.name),
                    quote_ident(&s.database)
                )?;
                if let Some(d) = s.duration {
                    write!(f, " DURATION {}", format_duration(d))?;
                }
                if let Some(r) = s.replication {
                    write!(f, " REPLICATION {r}")?;
                }
                if let Some(d) = s.shard_group_duration {
                    write!(f, " SHARD DURATION {}", format_duration(d))?;
                }
                if s.default {
                    f.write_str(" DEFAULT")?;
                }
                write_limits(f, s.future_write_limit, s.past_write_limit, |d| d != 0)
            }
            Statement::SetPassword { name, .. } => {
                write!(f, "SET PASSWORD FOR {} = [REDACTED]", quote_ident(name))
            }
            Statement::KillQuery { query_id, host } => {
                write!(f, "KILL QUERY {query_id}")?;
                if !host.is_empty() {
                    write!(f, " ON {}", quote_ident(host))?;
                }
                Ok(())
            }
        }
    }
}

fn write_limits(
    f: &mut Formatter<'_>,
    future: Option<Duration>,
    past: Option<Duration>,
    shown: fn(Duration) -> bool,
) -> fmt::Result {
    if let Some(d) = future.filter(|d| shown(*d)) {
        write!(f, " FUTURE LIMIT {}", format_duration(d))?;
    }
    if let Some(d) = past.filter(|d| shown(*d)) {
        write!(f, " PAST LIMIT {}", format_duration(d))?;
    }
    Ok(())
}

fn cardinality(
    f: &mut Formatter<'_>,
    head: &str,
    s: &CardinalityStatement,
    exact_after_space: bool,
) -> fmt::Result {
    f.write_str(head)?;
    if exact_after_space {
        if s.exact {
            f.write_str("EXACT ")?;
        }
        f.write_str("CARDINALITY")?;
    } else {
        if s.exact {
            f.write_str(" EXACT")?;
        }
        f.write_str(" CARDINALITY")?;
    }
    on_db(f, &s.database)?;
    from_where(f, &s.sources, &s.condition)?;
    group_by(f, &s.dimensions)?;
    limits(f, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
}

/// A float literal as InfluxDB writes it: shortest decimal text, with
/// `.0` added to whole numbers so that it reads back as a float.
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{v}");
    if s.contains('.') { s } else { s + ".0" }
}

/// Renders statements as InfluxDB's `Query.String()`: joined by `;\n`.
pub fn statements_to_string(stmts: &[Statement]) -> String {
    join(stmts, ";\n")
}
