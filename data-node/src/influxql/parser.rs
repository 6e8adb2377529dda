//! Recursive-descent InfluxQL parser following InfluxDB's `influxql`
//! parser step by step, so that the same queries are accepted and the
//! same errors (text and position) are reported.

use std::collections::HashMap;

use super::ast::*;
use super::scanner::{BufScanner, EOF, Pos, Scanned};
use super::time::parse_duration;
use super::token::Token;

/// A parse error. `Display` gives InfluxDB's text (without the
/// `error parsing query: ` prefix the HTTP API adds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An unexpected token.
    #[error("found {found}, expected {} at line {}, char {}", .expected.join(", "), .pos.line + 1, .pos.char + 1)]
    Unexpected {
        /// The token's text.
        found: String,
        /// What would have been accepted.
        expected: Vec<String>,
        /// Where.
        pos: Pos,
    },
    /// A message with a position.
    #[error("{message} at line {}, char {}", .pos.line + 1, .pos.char + 1)]
    Message {
        /// The message.
        message: String,
        /// Where (line 1, char 1 when InfluxDB gives none).
        pos: Pos,
    },
    /// A message without a position.
    #[error("{0}")]
    Plain(String),
}

impl ParseError {
    fn unexpected(tok: Token, lit: &str, expected: &[&str], pos: Pos) -> ParseError {
        ParseError::Unexpected {
            found: tokstr(tok, lit),
            expected: expected.iter().map(|s| s.to_string()).collect(),
            pos,
        }
    }

    fn message(message: impl Into<String>, pos: Pos) -> ParseError {
        ParseError::Message { message: message.into(), pos }
    }
}

type Result<T> = std::result::Result<T, ParseError>;

fn tokstr(tok: Token, lit: &str) -> String {
    if lit.is_empty() { tok.as_str().to_string() } else { lit.to_string() }
}

/// A bound parameter value (`params` of the `/query` API), as InfluxDB's
/// `influxql.BindValue` maps JSON values.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// `{"identifier": "x"}`
    Identifier(String),
    /// `"x"` or `{"string": "x"}`
    String(String),
    /// `{"regex": "x"}`
    Regex(String),
    /// A float.
    Number(f64),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
    /// `{"duration": "1h"}`
    Duration(String),
    /// A value that cannot be bound; using it fails with this text.
    Error(String),
}

impl Param {
    fn token(&self) -> (Token, String) {
        match self {
            Param::Identifier(s) => (Token::Ident, s.clone()),
            Param::String(s) => (Token::String, s.clone()),
            Param::Regex(s) => (Token::Regex, s.clone()),
            Param::Number(f) => {
                let mut s = format!("{f}");
                if s == "inf" || s == "-inf" || s == "NaN" {
                    s = String::new();
                }
                (Token::Number, s)
            }
            Param::Integer(i) => (Token::Integer, i.to_string()),
            Param::Boolean(b) => (if *b { Token::True } else { Token::False }, String::new()),
            Param::Duration(d) => (Token::DurationVal, d.clone()),
            Param::Error(e) => (Token::BoundParam, e.clone()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TargetRequirement {
    Required,
    NotRequired,
    Subquery,
}

const TOP_LEVEL: &[&str] = &[
    "SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE", "ALTER", "SET",
    "KILL",
];
const SHOW_KEYS: &[&str] = &[
    "CONTINUOUS",
    "DATABASES",
    "DIAGNOSTICS",
    "FIELD",
    "GRANTS",
    "MEASUREMENT",
    "MEASUREMENTS",
    "QUERIES",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SHARDS",
    "STATS",
    "SUBSCRIPTIONS",
    "TAG",
    "USERS",
];
const CREATE_KEYS: &[&str] = &["CONTINUOUS", "DATABASE", "USER", "RETENTION", "SUBSCRIPTION"];
const DROP_KEYS: &[&str] = &[
    "CONTINUOUS",
    "DATABASE",
    "MEASUREMENT",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SUBSCRIPTION",
    "USER",
];

/// Most nested expressions accepted (deeper input is rejected instead of
/// exhausting the stack).
const MAX_DEPTH: usize = 256;

/// Most nested subqueries accepted.
const MAX_SUBQUERY_DEPTH: usize = 48;

/// Most binary operators accepted in one query (keeps every recursive
/// walk of the tree, including `Display` and `Drop`, within thread stacks).
const MAX_OPERATORS: usize = 4000;

/// The parser.
pub struct Parser<'a> {
    s: BufScanner<'a>,
    params: Option<&'a HashMap<String, Param>>,
    depth: usize,
    selects: usize,
    operators: usize,
}

impl<'a> Parser<'a> {
    /// A parser over `query`.
    pub fn new(query: &'a str) -> Parser<'a> {
        Parser { s: BufScanner::new(query), params: None, depth: 0, selects: 0, operators: 0 }
    }

    /// A parser substituting `$name` bound parameters.
    pub fn with_params(query: &'a str, params: &'a HashMap<String, Param>) -> Parser<'a> {
        Parser {
            s: BufScanner::new(query),
            params: Some(params),
            depth: 0,
            selects: 0,
            operators: 0,
        }
    }

    // -- token helpers -----------------------------------------------------

    fn substitute(&self, t: Scanned) -> Scanned {
        let (tok, pos, lit) = t;
        if tok == Token::BoundParam {
            let k = lit.strip_prefix('$').unwrap_or(&lit);
            if !k.is_empty()
                && let Some(v) = self.params.and_then(|p| p.get(k))
            {
                let (t, l) = v.token();
                return (t, pos, l);
            }
        }
        (tok, pos, lit)
    }

    fn scan(&mut self) -> Scanned {
        let t = self.s.scan(false);
        self.substitute(t)
    }

    fn scan_regex(&mut self) -> Scanned {
        let t = self.s.scan(true);
        self.substitute(t)
    }

    fn scan_ignore_ws(&mut self) -> Scanned {
        loop {
            let t = self.scan();
            if t.0 != Token::Ws && t.0 != Token::Comment {
                return t;
            }
        }
    }

    fn unscan(&mut self) {
        self.s.unscan();
    }

    fn consume_whitespace(&mut self) {
        if self.scan().0 != Token::Ws {
            self.unscan();
        }
    }

    fn peek_rune(&mut self) -> char {
        let (r, _) = self.s.s.r.read();
        if r != EOF {
            self.s.s.r.unread();
        }
        r
    }

    fn parse_tokens(&mut self, toks: &[Token]) -> Result<()> {
        for &expected in toks {
            let (tok, pos, lit) = self.scan_ignore_ws();
            if tok != expected {
                return Err(ParseError::unexpected(tok, &lit, &[expected.as_str()], pos));
            }
        }
        Ok(())
    }

    fn expect(&mut self, t: Token) -> Result<()> {
        self.parse_tokens(&[t])
    }

    /// Scans a token; if it is `t`, returns true, else puts it back.
    fn accept(&mut self, t: Token) -> bool {
        if self.scan_ignore_ws().0 == t {
            true
        } else {
            self.unscan();
            false
        }
    }

    fn count_operator(&mut self) -> Result<()> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(ParseError::Plain(format!(
                "too many operators in query (more than {MAX_OPERATORS})"
            )));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let (_, pos) = self.s.s.r.curr();
            return Err(ParseError::message("expression nested too deeply", pos));
        }
        Ok(())
    }

    // -- entry points ------------------------------------------------------

    /// Parses `;`-separated statements up to the end of input.
    pub fn parse_query(&mut self) -> Result<Vec<Statement>> {
        let mut statements = Vec::new();
        let mut semi = true;
        loop {
            let (tok, pos, lit) = self.scan_ignore_ws();
            if tok == Token::Eof {
                return Ok(statements);
            } else if tok == Token::Semicolon {
                semi = true;
            } else {
                if !semi {
                    return Err(ParseError::unexpected(tok, &lit, &[";"], pos));
                }
                self.unscan();
                statements.push(self.parse_statement()?);
                semi = false;
            }
        }
    }

    /// Parses one statement (what follows it is left unread).
    pub fn parse_statement(&mut self) -> Result<Statement> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        let start = pos.offset;
        let next = |p: &mut Self| p.scan_ignore_ws();
        Ok(match tok {
            Token::Select => {
                Statement::Select(Box::new(self.parse_select(TargetRequirement::NotRequired)?))
            }
            Token::Delete => Statement::Delete(self.parse_delete_series(true)?),
            Token::Show => {
                let (tok, pos, lit) = next(self);
                match tok {
                    Token::Continuous => {
                        self.sub(Token::Queries)?;
                        Statement::ShowContinuousQueries
                    }
                    Token::Databases => Statement::ShowDatabases,
                    Token::Diagnostics => {
                        Statement::ShowDiagnostics { module: self.parse_for_module()? }
                    }
                    Token::Field => {
                        let (tok, pos, lit) = next(self);
                        match tok {
                            Token::Key => {
                                Statement::ShowFieldKeyCardinality(self.parse_key_cardinality()?)
                            }
                            Token::Keys => Statement::ShowFieldKeys(self.parse_show_field_keys()?),
                            _ => {
                                return Err(ParseError::unexpected(
                                    tok,
                                    &lit,
                                    &["KEY", "KEYS"],
                                    pos,
                                ));
                            }
                        }
                    }
                    Token::Grants => {
                        self.sub(Token::For)?;
                        Statement::ShowGrantsForUser { name: self.parse_ident()? }
                    }
                    Token::Measurement => {
                        let (tok, pos, lit) = next(self);
                        match tok {
                            Token::Exact => Statement::ShowMeasurementCardinality(
                                self.parse_cardinality(true, true)?,
                            ),
                            Token::Cardinality => Statement::ShowMeasurementCardinality(
                                self.parse_cardinality(false, false)?,
                            ),
                            _ => {
                                return Err(ParseError::unexpected(
                                    tok,
                                    &lit,
                                    &["EXACT", "CARDINALITY"],
                                    pos,
                                ));
                            }
                        }
                    }
                    Token::Measurements => {
                        Statement::ShowMeasurements(self.parse_show_measurements()?)
                    }
                    Token::Queries => Statement::ShowQueries,
                    Token::Retention => {
                        self.sub(Token::Policies)?;
                        let database = if self.accept(Token::On) {
                            self.parse_ident()?
                        } else {
                            String::new()
                        };
                        Statement::ShowRetentionPolicies { database }
                    }
                    Token::Series => self.parse_show_series()?,
                    Token::Shard => {
                        self.sub(Token::Groups)?;
                        Statement::ShowShardGroups
                    }
                    Token::Shards => Statement::ShowShards,
                    Token::Stats => Statement::ShowStats { module: self.parse_for_module()? },
                    Token::Subscriptions => Statement::ShowSubscriptions,
                    Token::Tag => {
                        let (tok, pos, lit) = next(self);
                        match tok {
                            Token::Key => {
                                Statement::ShowTagKeyCardinality(self.parse_key_cardinality()?)
                            }
                            Token::Keys => Statement::ShowTagKeys(self.parse_show_tag_keys()?),
                            Token::Values => self.parse_show_tag_values()?,
                            _ => {
                                return Err(ParseError::unexpected(
                                    tok,
                                    &lit,
                                    &["KEY", "KEYS", "VALUES"],
                                    pos,
                                ));
                            }
                        }
                    }
                    Token::Users => Statement::ShowUsers,
                    _ => return Err(ParseError::unexpected(tok, &lit, SHOW_KEYS, pos)),
                }
            }
            Token::Create => {
                let (tok, pos, lit) = next(self);
                match tok {
                    Token::Continuous => {
                        self.sub(Token::Query)?;
                        self.parse_create_continuous_query(start)?
                    }
                    Token::Database => Statement::CreateDatabase(self.parse_create_database()?),
                    Token::User => Statement::CreateUser(self.parse_create_user()?),
                    Token::Retention => {
                        self.sub(Token::Policy)?;
                        Statement::CreateRetentionPolicy(self.parse_create_retention_policy()?)
                    }
                    Token::Subscription => {
                        Statement::CreateSubscription(self.parse_create_subscription()?)
                    }
                    _ => return Err(ParseError::unexpected(tok, &lit, CREATE_KEYS, pos)),
                }
            }
            Token::Drop => {
                let (tok, pos, lit) = next(self);
                match tok {
                    Token::Continuous => {
                        self.sub(Token::Query)?;
                        let name = self.parse_ident()?;
                        self.expect(Token::On)?;
                        Statement::DropContinuousQuery { name, database: self.parse_ident()? }
                    }
                    Token::Database => Statement::DropDatabase { name: self.parse_ident()? },
                    Token::Measurement => Statement::DropMeasurement { name: self.parse_ident()? },
                    Token::Retention => {
                        self.sub(Token::Policy)?;
                        let name = self.parse_ident()?;
                        self.expect(Token::On)?;
                        Statement::DropRetentionPolicy { name, database: self.parse_ident()? }
                    }
                    Token::Series => Statement::DropSeries(self.parse_delete_series(false)?),
                    Token::Shard => Statement::DropShard { id: self.parse_u64()? },
                    Token::Subscription => {
                        let name = self.parse_ident()?;
                        self.expect(Token::On)?;
                        let database = self.parse_ident()?;
                        let (tok, pos, lit) = self.scan();
                        if tok != Token::Dot {
                            return Err(ParseError::unexpected(tok, &lit, &["."], pos));
                        }
                        let retention_policy = self.parse_ident()?;
                        Statement::DropSubscription { name, database, retention_policy }
                    }
                    Token::User => Statement::DropUser { name: self.parse_ident()? },
                    _ => return Err(ParseError::unexpected(tok, &lit, DROP_KEYS, pos)),
                }
            }
            Token::Explain => {
                let analyze = self.accept(Token::Analyze);
                let verbose = self.accept(Token::Verbose);
                let (tok, pos, lit) = self.scan_ignore_ws();
                if tok != Token::Select {
                    return Err(ParseError::unexpected(tok, &lit, &["SELECT"], pos));
                }
                let statement = Box::new(self.parse_select(TargetRequirement::NotRequired)?);
                Statement::Explain { analyze, verbose, statement }
            }
            Token::Grant => self.parse_grant()?,
            Token::Revoke => self.parse_revoke()?,
            Token::Alter => {
                self.sub(Token::Retention)?;
                self.sub(Token::Policy)?;
                Statement::AlterRetentionPolicy(self.parse_alter_retention_policy()?)
            }
            Token::Set => {
                self.sub(Token::Password)?;
                self.sub(Token::For)?;
                let name = self.parse_ident()?;
                let (tok, pos, lit) = self.scan_ignore_ws();
                if tok != Token::Eq {
                    return Err(ParseError::unexpected(tok, &lit, &["="], pos));
                }
                Statement::SetPassword { name, password: self.parse_string()? }
            }
            Token::Kill => {
                self.sub(Token::Query)?;
                let query_id = self.parse_u64()?;
                let host = if self.accept(Token::On) { self.parse_ident()? } else { String::new() };
                Statement::KillQuery { query_id, host }
            }
            _ => return Err(ParseError::unexpected(tok, &lit, TOP_LEVEL, pos)),
        })
    }

    /// A required keyword of the statement tree.
    fn sub(&mut self, t: Token) -> Result<()> {
        self.expect(t)
    }

    /// Parses an expression.
    pub fn parse_expr(&mut self) -> Result<Expr> {
        self.enter()?;
        let r = self.parse_expr_inner();
        self.depth -= 1;
        r
    }

    fn parse_expr_inner(&mut self) -> Result<Expr> {
        let mut root = self.parse_unary_expr()?;
        loop {
            let (op_tok, _, _) = self.scan_ignore_ws();
            let Some(op) = BinaryOp::from_token(op_tok) else {
                self.unscan();
                return Ok(root);
            };
            let rhs = if matches!(op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
                match self.parse_regex()? {
                    Some(r) => Expr::Regex(r),
                    None => {
                        let (tok, pos, lit) = self.scan_ignore_ws();
                        return Err(ParseError::unexpected(tok, &lit, &["regex"], pos));
                    }
                }
            } else {
                self.parse_unary_expr()?
            };
            // Descend the right spine while the operators there bind less
            // tightly than `op`, then make `op` the new node there.
            let mut depth = 0;
            let mut node = &root;
            while let Expr::Binary(b) = node {
                if b.op.precedence() >= op.precedence() {
                    break;
                }
                depth += 1;
                node = &b.rhs;
            }
            let mut slot = &mut root;
            for _ in 0..depth {
                match slot {
                    Expr::Binary(b) => slot = &mut b.rhs,
                    _ => break,
                }
            }
            let old = std::mem::replace(slot, Expr::Nil);
            *slot = Expr::binary(op, old, rhs);
            self.count_operator()?;
        }
    }

    fn parse_unary_expr(&mut self) -> Result<Expr> {
        self.enter()?;
        let r = self.parse_unary_expr_inner();
        self.depth -= 1;
        r
    }

    fn parse_unary_expr_inner(&mut self) -> Result<Expr> {
        if self.scan_ignore_ws().0 == Token::LParen {
            let expr = self.parse_expr()?;
            let (tok, pos, lit) = self.scan_ignore_ws();
            if tok != Token::RParen {
                return Err(ParseError::unexpected(tok, &lit, &[")"], pos));
            }
            return Ok(Expr::Paren(Box::new(expr)));
        }
        self.unscan();

        let (tok, pos, lit) = self.scan_ignore_ws();
        match tok {
            Token::Ident => {
                if self.scan().0 == Token::LParen {
                    return Ok(Expr::Call(self.parse_call(&lit)?));
                }
                self.unscan();
                self.unscan();
                Ok(Expr::VarRef(self.parse_var_ref()?))
            }
            Token::Distinct => {
                let (tok0, pos0, lit0) = self.scan();
                if tok0 == Token::LParen {
                    return Ok(Expr::Call(self.parse_call("distinct")?));
                } else if tok0 == Token::Ws {
                    let (tok1, pos1, lit1) = self.scan_ignore_ws();
                    if tok1 != Token::Ident {
                        return Err(ParseError::unexpected(tok1, &lit1, &["identifier"], pos1));
                    }
                    return Ok(Expr::Distinct(lit1));
                }
                Err(ParseError::unexpected(tok0, &lit0, &["(", "identifier"], pos0))
            }
            Token::String => Ok(Expr::String(lit)),
            Token::Number => match lit.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Expr::Number(v)),
                _ => Err(ParseError::message("unable to parse number", pos)),
            },
            Token::Integer => {
                if let Ok(v) = lit.parse::<i64>() {
                    Ok(Expr::Integer(v))
                } else if let Some(v) = parse_go_uint(&lit) {
                    Ok(Expr::Unsigned(v))
                } else {
                    Err(ParseError::message("unable to parse integer", pos))
                }
            }
            Token::True => Ok(Expr::Boolean(true)),
            Token::False => Ok(Expr::Boolean(false)),
            Token::DurationVal => parse_duration(&lit)
                .map(Expr::Duration)
                .map_err(|e| ParseError::Plain(e.to_string())),
            Token::Mul => {
                let mut wc = WildcardType::All;
                if self.scan().0 == Token::DoubleColon {
                    let (tok, pos, lit) = self.scan();
                    wc = match tok {
                        Token::Field => WildcardType::Field,
                        Token::Tag => WildcardType::Tag,
                        _ => return Err(ParseError::unexpected(tok, &lit, &["field", "tag"], pos)),
                    };
                } else {
                    self.unscan();
                }
                Ok(Expr::Wildcard(wc))
            }
            Token::Regex => {
                check_regex(&lit).map_err(|m| ParseError::message(m, pos))?;
                Ok(Expr::Regex(Regex { pattern: lit }))
            }
            Token::BoundParam => {
                let k = lit.strip_prefix('$').unwrap_or(&lit);
                if k.is_empty() {
                    return Err(ParseError::Plain("empty bound parameter".into()));
                }
                match self.params.and_then(|p| p.get(k)) {
                    None => Err(ParseError::Plain(format!("missing parameter: {k}"))),
                    Some(v) => Err(ParseError::Plain(v.token().1)),
                }
            }
            Token::Add | Token::Sub => {
                let negative = tok == Token::Sub;
                let (tok0, pos0, lit0) = self.scan_ignore_ws();
                match tok0 {
                    Token::Number
                    | Token::Integer
                    | Token::DurationVal
                    | Token::LParen
                    | Token::Ident => {
                        self.unscan();
                        let e = self.parse_unary_expr()?;
                        let mul: i64 = if negative { -1 } else { 1 };
                        Ok(match e {
                            Expr::Number(v) => Expr::Number(v * mul as f64),
                            Expr::Integer(v) => Expr::Integer(v.wrapping_mul(mul)),
                            Expr::Unsigned(v) if negative => {
                                if v == 1u64 << 63 {
                                    Expr::Integer(i64::MIN)
                                } else {
                                    return Err(ParseError::Plain(format!(
                                        "constant -{v} underflows int64"
                                    )));
                                }
                            }
                            Expr::Unsigned(v) => Expr::Unsigned(v),
                            Expr::Duration(v) => Expr::Duration(v.wrapping_mul(mul)),
                            e @ (Expr::VarRef(_) | Expr::Call(_) | Expr::Paren(_)) => {
                                self.count_operator()?;
                                Expr::binary(BinaryOp::Mul, Expr::Integer(mul), e)
                            }
                            e => {
                                return Err(ParseError::Plain(format!("unexpected literal: {e}")));
                            }
                        })
                    }
                    _ => Err(ParseError::unexpected(
                        tok0,
                        &lit0,
                        &["identifier", "number", "duration", "("],
                        pos0,
                    )),
                }
            }
            _ => Err(ParseError::unexpected(
                tok,
                &lit,
                &["identifier", "string", "number", "bool"],
                pos,
            )),
        }
    }

    fn parse_call(&mut self, name: &str) -> Result<Call> {
        let name = name.to_lowercase();
        let mut args = Vec::new();
        if let Some(re) = self.parse_regex()? {
            args.push(Expr::Regex(re));
        } else {
            if self.scan().0 == Token::RParen {
                return Ok(Call { name, args });
            }
            self.unscan();
            args.push(self.parse_expr()?);
        }
        loop {
            if self.scan_ignore_ws().0 != Token::Comma {
                self.unscan();
                break;
            }
            if let Some(re) = self.parse_regex()? {
                args.push(Expr::Regex(re));
                continue;
            }
            args.push(self.parse_expr()?);
        }
        let (tok, pos, lit) = self.scan();
        if tok != Token::RParen {
            return Err(ParseError::unexpected(tok, &lit, &[")"], pos));
        }
        Ok(Call { name, args })
    }

    fn parse_var_ref(&mut self) -> Result<VarRef> {
        let segments = self.parse_segmented_idents()?;
        let mut data_type = DataType::Unknown;
        if self.scan().0 == Token::DoubleColon {
            let (tok, pos, lit) = self.scan();
            data_type = match tok {
                Token::Ident => match lit.to_lowercase().as_str() {
                    "float" => DataType::Float,
                    "integer" => DataType::Integer,
                    "unsigned" => DataType::Unsigned,
                    "string" => DataType::String,
                    "boolean" => DataType::Boolean,
                    _ => {
                        return Err(ParseError::unexpected(
                            tok,
                            &lit,
                            &["float", "integer", "unsigned", "string", "boolean", "field", "tag"],
                            pos,
                        ));
                    }
                },
                Token::Field => DataType::AnyField,
                Token::Tag => DataType::Tag,
                _ => {
                    return Err(ParseError::unexpected(
                        tok,
                        &lit,
                        &["float", "integer", "string", "boolean", "field", "tag"],
                        pos,
                    ));
                }
            };
        } else {
            self.unscan();
        }
        Ok(VarRef { name: segments.join("."), data_type })
    }

    fn parse_regex(&mut self) -> Result<Option<Regex>> {
        let next = self.peek_rune();
        if next == ' ' || next == '\t' || next == '\n' {
            self.consume_whitespace();
        }
        let next = self.peek_rune();
        if next == '$' {
            let tok = self.scan().0;
            self.unscan();
            if tok != Token::Regex {
                return Ok(None);
            }
        } else if next != '/' {
            return Ok(None);
        }
        let (tok, pos, lit) = self.scan_regex();
        match tok {
            Token::BadEscape => Err(ParseError::message(format!("bad escape: {lit}"), pos)),
            Token::BadRegex => Err(ParseError::message(format!("bad regex: {lit}"), pos)),
            Token::Regex => {
                check_regex(&lit).map_err(|m| ParseError::message(m, pos))?;
                Ok(Some(Regex { pattern: lit }))
            }
            _ => Err(ParseError::unexpected(tok, &lit, &["regex"], pos)),
        }
    }

    // -- identifiers, strings, numbers ---------------------------------------

    fn parse_ident(&mut self) -> Result<String> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::Ident {
            return Err(ParseError::unexpected(tok, &lit, &["identifier"], pos));
        }
        Ok(lit)
    }

    fn parse_ident_list(&mut self) -> Result<Vec<String>> {
        let mut idents = vec![self.parse_ident()?];
        loop {
            if self.scan_ignore_ws().0 != Token::Comma {
                self.unscan();
                return Ok(idents);
            }
            idents.push(self.parse_ident()?);
        }
    }

    fn parse_segmented_idents(&mut self) -> Result<Vec<String>> {
        let mut idents = vec![self.parse_ident()?];
        loop {
            if self.scan().0 != Token::Dot {
                self.unscan();
                break;
            }
            match self.peek_rune() {
                '/' | ':' => break,
                '.' => {
                    idents.push(String::new());
                    continue;
                }
                _ => {}
            }
            idents.push(self.parse_ident()?);
        }
        if idents.len() > 3 {
            let segs: Vec<&str> = idents.iter().map(String::as_str).collect();
            return Err(ParseError::message(
                format!("too many segments in {}", quote_ident_segments(&segs)),
                Pos::default(),
            ));
        }
        Ok(idents)
    }

    fn parse_string(&mut self) -> Result<String> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::String {
            return Err(ParseError::unexpected(tok, &lit, &["string"], pos));
        }
        Ok(lit)
    }

    fn parse_string_list(&mut self) -> Result<Vec<String>> {
        let mut strs = vec![self.parse_string()?];
        loop {
            if self.scan_ignore_ws().0 != Token::Comma {
                self.unscan();
                return Ok(strs);
            }
            strs.push(self.parse_string()?);
        }
    }

    fn parse_int(&mut self, min: i64, max: i64) -> Result<i64> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::Integer {
            return Err(ParseError::unexpected(tok, &lit, &["integer"], pos));
        }
        let n: i64 = lit.parse().map_err(|_| {
            ParseError::message(format!("strconv.Atoi: parsing {lit:?}: value out of range"), pos)
        })?;
        if n < min || n > max {
            return Err(ParseError::message(
                format!("invalid value {n}: must be {min} <= n <= {max}"),
                pos,
            ));
        }
        Ok(n)
    }

    fn parse_u64(&mut self) -> Result<u64> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::Integer {
            return Err(ParseError::unexpected(tok, &lit, &["integer"], pos));
        }
        parse_go_uint(&lit).ok_or_else(|| {
            ParseError::message(
                format!("strconv.ParseUint: parsing {lit:?}: value out of range"),
                pos,
            )
        })
    }

    /// `DURATION` value: a duration literal or `INF` (0).
    fn parse_duration_value(&mut self) -> Result<i64> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::DurationVal && tok != Token::Inf {
            return Err(ParseError::unexpected(tok, &lit, &["duration"], pos));
        }
        if tok == Token::Inf {
            return Ok(0);
        }
        parse_duration(&lit).map_err(|e| ParseError::message(e.to_string(), pos))
    }

    /// A `SHARD DURATION` value: like [`Self::parse_duration_value`] but
    /// `INF` is refused.
    fn parse_shard_duration(&mut self) -> Result<i64> {
        let (tok, pos, _) = self.scan_ignore_ws();
        if tok == Token::Inf {
            return Err(ParseError::message("invalid duration INF for shard duration", pos));
        }
        self.unscan();
        self.parse_duration_value()
    }

    /// `LIMIT <duration>` after `FUTURE` or `PAST`.
    fn parse_write_limit(&mut self) -> Result<i64> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::Limit {
            return Err(ParseError::unexpected(tok, &lit, &["LIMIT"], pos));
        }
        self.parse_duration_value()
    }

    fn parse_optional_token_and_int(&mut self, t: Token) -> Result<i64> {
        if self.scan_ignore_ws().0 != t {
            self.unscan();
            return Ok(0);
        }
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::Integer {
            return Err(ParseError::unexpected(tok, &lit, &["integer"], pos));
        }
        // Go's ParseInt saturates on overflow; the error is ignored there.
        Ok(lit.parse::<i64>().unwrap_or(i64::MAX))
    }

    fn parse_for_module(&mut self) -> Result<String> {
        if self.accept(Token::For) { self.parse_string() } else { Ok(String::new()) }
    }

    fn parse_on_database(&mut self) -> Result<String> {
        if self.accept(Token::On) { self.parse_ident() } else { Ok(String::new()) }
    }

    fn parse_optional_from(&mut self) -> Result<Vec<Source>> {
        if self.accept(Token::From) { self.parse_sources(false) } else { Ok(Vec::new()) }
    }

    // -- SELECT ------------------------------------------------------------

    fn parse_select(&mut self, tr: TargetRequirement) -> Result<SelectStatement> {
        self.selects += 1;
        if self.selects > MAX_SUBQUERY_DEPTH {
            let (_, pos) = self.s.s.r.curr();
            return Err(ParseError::message("subqueries nested too deeply", pos));
        }
        self.enter()?;
        let r = self.parse_select_inner(tr);
        self.depth -= 1;
        self.selects -= 1;
        r
    }

    fn parse_select_inner(&mut self, tr: TargetRequirement) -> Result<SelectStatement> {
        let mut stmt = SelectStatement { fields: self.parse_fields()?, ..Default::default() };
        stmt.target = self.parse_target(tr)?;
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::From {
            return Err(ParseError::unexpected(tok, &lit, &["FROM"], pos));
        }
        stmt.sources = self.parse_sources(true)?;
        stmt.condition = self.parse_condition()?;
        stmt.dimensions = self.parse_dimensions()?;
        stmt.fill = self.parse_fill()?;
        stmt.sort_fields = self.parse_order_by()?;
        stmt.limit = self.parse_optional_token_and_int(Token::Limit)?;
        stmt.offset = self.parse_optional_token_and_int(Token::Offset)?;
        stmt.slimit = self.parse_optional_token_and_int(Token::Slimit)?;
        stmt.soffset = self.parse_optional_token_and_int(Token::Soffset)?;
        stmt.location = self.parse_location()?;
        stmt.is_raw_query =
            !stmt.fields.iter().any(|f| f.expr.any(&|e| matches!(e, Expr::Call(_))));
        Ok(stmt)
    }

    fn parse_fields(&mut self) -> Result<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            fields.push(self.parse_field()?);
            if self.scan().0 != Token::Comma {
                self.unscan();
                break;
            }
        }
        Ok(fields)
    }

    fn parse_field(&mut self) -> Result<Field> {
        let expr = if let Some(re) = self.parse_regex()? {
            Expr::Regex(re)
        } else {
            let (_, pos, _) = self.scan_ignore_ws();
            self.unscan();
            let expr = self.parse_expr()?;
            if let Some(op) = invalid_select_operator(&expr) {
                return Err(ParseError::Plain(format!(
                    "invalid operator {} in SELECT clause at line {}, char {}; operator is intended for WHERE clause",
                    op.as_str(),
                    pos.line + 1,
                    pos.char + 1
                )));
            }
            expr
        };
        let alias = self.parse_alias()?;
        self.consume_whitespace();
        Ok(Field { expr, alias })
    }

    fn parse_alias(&mut self) -> Result<String> {
        if self.scan_ignore_ws().0 != Token::As {
            self.unscan();
            return Ok(String::new());
        }
        self.parse_ident()
    }

    fn parse_target(&mut self, tr: TargetRequirement) -> Result<Option<Target>> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::Into {
            if tr == TargetRequirement::Required {
                return Err(ParseError::unexpected(tok, &lit, &["INTO"], pos));
            }
            self.unscan();
            return Ok(None);
        }
        let mut idents = self.parse_segmented_idents()?;
        if idents.len() < 3 && self.peek_rune() == ':' {
            self.parse_tokens(&[Token::Colon, Token::Measurement])?;
            idents.push(String::new());
        }
        let mut m = Measurement { is_target: true, ..Default::default() };
        let mut it = idents.into_iter();
        match it.len() {
            1 => m.name = it.next().unwrap_or_default(),
            2 => {
                m.retention_policy = it.next().unwrap_or_default();
                m.name = it.next().unwrap_or_default();
            }
            _ => {
                m.database = it.next().unwrap_or_default();
                m.retention_policy = it.next().unwrap_or_default();
                m.name = it.next().unwrap_or_default();
            }
        }
        Ok(Some(Target { measurement: m }))
    }

    fn parse_sources(&mut self, subqueries: bool) -> Result<Vec<Source>> {
        let mut sources = Vec::new();
        loop {
            sources.push(self.parse_source(subqueries)?);
            if self.scan_ignore_ws().0 != Token::Comma {
                self.unscan();
                break;
            }
        }
        Ok(sources)
    }

    fn parse_source(&mut self, subqueries: bool) -> Result<Source> {
        if let Some(re) = self.parse_regex()? {
            return Ok(Source::Measurement(Measurement { regex: Some(re), ..Default::default() }));
        }
        if subqueries {
            if self.scan_ignore_ws().0 == Token::LParen {
                self.expect(Token::Select)?;
                let stmt = self.parse_select(TargetRequirement::Subquery)?;
                self.expect(Token::RParen)?;
                return Ok(Source::SubQuery(Box::new(stmt)));
            }
            self.unscan();
        }
        let idents = self.parse_segmented_idents()?;
        let mut m = Measurement::default();
        let mut it = idents.into_iter();
        if it.len() == 3 {
            m.database = it.next().unwrap_or_default();
            m.retention_policy = it.next().unwrap_or_default();
            m.name = it.next().unwrap_or_default();
            return Ok(Source::Measurement(m));
        }
        let re = self.parse_regex()?;
        match (it.len(), re.is_some()) {
            (1, true) => m.retention_policy = it.next().unwrap_or_default(),
            (1, false) => m.name = it.next().unwrap_or_default(),
            (_, true) => {
                m.database = it.next().unwrap_or_default();
                m.retention_policy = it.next().unwrap_or_default();
            }
            (_, false) => {
                m.retention_policy = it.next().unwrap_or_default();
                m.name = it.next().unwrap_or_default();
            }
        }
        m.regex = re;
        Ok(Source::Measurement(m))
    }

    fn parse_condition(&mut self) -> Result<Option<Expr>> {
        if self.scan_ignore_ws().0 != Token::Where {
            self.unscan();
            return Ok(None);
        }
        Ok(Some(self.parse_expr()?))
    }

    fn parse_dimensions(&mut self) -> Result<Vec<Dimension>> {
        if self.scan_ignore_ws().0 != Token::Group {
            self.unscan();
            return Ok(Vec::new());
        }
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::By {
            return Err(ParseError::unexpected(tok, &lit, &["BY"], pos));
        }
        let mut dims = Vec::new();
        loop {
            dims.push(self.parse_dimension()?);
            if self.scan().0 != Token::Comma {
                self.unscan();
                break;
            }
        }
        Ok(dims)
    }

    fn parse_dimension(&mut self) -> Result<Dimension> {
        if let Some(re) = self.parse_regex()? {
            return Ok(Dimension { expr: Expr::Regex(re) });
        }
        let expr = self.parse_expr()?;
        self.consume_whitespace();
        Ok(Dimension { expr })
    }

    fn parse_fill(&mut self) -> Result<Fill> {
        let (tok, _, lit) = self.scan_ignore_ws();
        self.unscan();
        if tok != Token::Ident || !lit.eq_ignore_ascii_case("fill") {
            return Ok(Fill::Null);
        }
        let Expr::Call(call) = self.parse_expr()? else {
            return Err(ParseError::Plain("fill must be a function call".into()));
        };
        if call.args.len() != 1 {
            return Err(ParseError::Plain(
                "fill requires an argument, e.g.: 0, null, none, previous, linear".into(),
            ));
        }
        let arg = &call.args[0];
        Ok(match arg.to_string().as_str() {
            "null" => Fill::Null,
            "none" => Fill::None,
            "previous" => Fill::Previous,
            "linear" => Fill::Linear,
            _ => match arg {
                Expr::Integer(i) => Fill::Integer(*i),
                Expr::Number(f) => Fill::Float(*f),
                _ => return Err(ParseError::Plain("expected number argument in fill()".into())),
            },
        })
    }

    fn parse_location(&mut self) -> Result<Option<String>> {
        let (tok, _, lit) = self.scan_ignore_ws();
        self.unscan();
        if tok != Token::Ident || !lit.eq_ignore_ascii_case("tz") {
            return Ok(None);
        }
        let Expr::Call(call) = self.parse_expr()? else {
            return Err(ParseError::Plain("tz must be a function call".into()));
        };
        if call.args.len() != 1 {
            return Err(ParseError::Plain("tz requires exactly one argument".into()));
        }
        let Expr::String(name) = &call.args[0] else {
            return Err(ParseError::Plain("expected string argument in tz()".into()));
        };
        if !time_zone_exists(name) {
            return Err(ParseError::Plain(format!("unable to find time zone {name}")));
        }
        Ok(Some(name.clone()))
    }

    fn parse_order_by(&mut self) -> Result<Vec<SortField>> {
        if self.scan_ignore_ws().0 != Token::Order {
            self.unscan();
            return Ok(Vec::new());
        }
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::By {
            return Err(ParseError::unexpected(tok, &lit, &["BY"], pos));
        }
        let only_time = || ParseError::Plain("only ORDER BY time supported at this time".into());
        let mut fields = Vec::new();
        let (tok, pos, lit) = self.scan_ignore_ws();
        match tok {
            Token::Asc | Token::Desc => {
                fields.push(SortField { name: String::new(), ascending: tok == Token::Asc })
            }
            Token::Ident => {
                self.unscan();
                let field = self.parse_sort_field()?;
                if lit != "time" {
                    return Err(only_time());
                }
                fields.push(field);
            }
            _ => {
                return Err(ParseError::unexpected(tok, &lit, &["identifier", "ASC", "DESC"], pos));
            }
        }
        loop {
            if self.scan_ignore_ws().0 != Token::Comma {
                self.unscan();
                break;
            }
            fields.push(self.parse_sort_field()?);
        }
        if fields.len() > 1 {
            return Err(only_time());
        }
        Ok(fields)
    }

    fn parse_sort_field(&mut self) -> Result<SortField> {
        let name = self.parse_ident()?;
        let tok = self.scan_ignore_ws().0;
        let ascending = match tok {
            Token::Asc => true,
            Token::Desc => false,
            _ => {
                self.unscan();
                true
            }
        };
        Ok(SortField { name, ascending })
    }

    // -- other statements ----------------------------------------------------

    /// `DELETE` (a retention policy may be named) or `DROP SERIES` (not).
    fn parse_delete_series(&mut self, allow_rp: bool) -> Result<DeleteSeriesStatement> {
        let mut stmt = DeleteSeriesStatement::default();
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok == Token::From {
            stmt.sources = self.parse_sources(false)?;
            let mut err = None;
            for s in &stmt.sources {
                if let Source::Measurement(m) = s {
                    if !m.database.is_empty() {
                        err = Some("database not supported");
                    }
                    if !allow_rp && !m.retention_policy.is_empty() {
                        err = Some("retention policy not supported");
                    }
                }
            }
            if let Some(e) = err {
                return Err(ParseError::message(e, Pos::default()));
            }
        } else {
            self.unscan();
        }
        stmt.condition = self.parse_condition()?;
        if stmt.condition.is_none() && stmt.sources.is_empty() {
            return Err(ParseError::unexpected(tok, &lit, &["FROM", "WHERE"], pos));
        }
        Ok(stmt)
    }

    fn parse_show_series(&mut self) -> Result<Statement> {
        let exact = self.accept(Token::Exact);
        if self.scan_ignore_ws().0 == Token::Cardinality {
            return Ok(Statement::ShowSeriesCardinality(self.parse_cardinality(exact, false)?));
        }
        self.unscan();
        let mut stmt =
            ShowSeriesStatement { database: self.parse_on_database()?, ..Default::default() };
        stmt.sources = self.parse_optional_from()?;
        stmt.condition = self.parse_condition()?;
        stmt.sort_fields = self.parse_order_by()?;
        stmt.limit = self.parse_optional_token_and_int(Token::Limit)?;
        stmt.offset = self.parse_optional_token_and_int(Token::Offset)?;
        Ok(Statement::ShowSeries(stmt))
    }

    /// The body of a `... [EXACT] CARDINALITY` statement. With
    /// `need_cardinality`, `CARDINALITY` must come next (after `EXACT`).
    fn parse_cardinality(
        &mut self,
        exact: bool,
        need_cardinality: bool,
    ) -> Result<CardinalityStatement> {
        if need_cardinality {
            self.expect(Token::Cardinality)?;
        }
        let mut stmt = CardinalityStatement { exact, ..Default::default() };
        stmt.database = self.parse_on_database()?;
        stmt.sources = self.parse_optional_from()?;
        stmt.condition = self.parse_condition()?;
        stmt.dimensions = self.parse_dimensions()?;
        stmt.limit = self.parse_optional_token_and_int(Token::Limit)?;
        stmt.offset = self.parse_optional_token_and_int(Token::Offset)?;
        Ok(stmt)
    }

    /// `SHOW TAG KEY ...` / `SHOW FIELD KEY ...`: `[EXACT] CARDINALITY`.
    fn parse_key_cardinality(&mut self) -> Result<CardinalityStatement> {
        let exact = self.accept(Token::Exact);
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::Cardinality {
            let expected: &[&str] =
                if exact { &["CARDINALITY"] } else { &["EXACT", "CARDINALITY"] };
            return Err(ParseError::unexpected(tok, &lit, expected, pos));
        }
        self.parse_cardinality(exact, false)
    }

    fn parse_show_measurements(&mut self) -> Result<ShowMeasurementsStatement> {
        let mut stmt = ShowMeasurementsStatement::default();
        if self.accept(Token::On) {
            let (tok, pos, lit) = self.scan_ignore_ws();
            match tok {
                Token::Ident => stmt.database = lit,
                Token::Mul => stmt.wildcard_database = true,
                _ => return Err(ParseError::unexpected(tok, &lit, &["identifier or *"], pos)),
            }
            if self.accept(Token::Dot) {
                let (tok, pos, lit) = self.scan_ignore_ws();
                match tok {
                    Token::Ident => stmt.retention_policy = lit,
                    Token::Mul => stmt.wildcard_retention_policy = true,
                    _ => return Err(ParseError::unexpected(tok, &lit, &["identifier or *"], pos)),
                }
            }
        }
        if self.scan_ignore_ws().0 == Token::With {
            self.expect(Token::Measurement)?;
            let (tok, pos, lit) = self.scan_ignore_ws();
            match tok {
                Token::Eq | Token::EqRegex => stmt.source = Some(self.parse_source(false)?),
                _ => return Err(ParseError::unexpected(tok, &lit, &["=", "=~"], pos)),
            }
        } else {
            self.unscan();
        }
        stmt.condition = self.parse_condition()?;
        stmt.sort_fields = self.parse_order_by()?;
        stmt.limit = self.parse_optional_token_and_int(Token::Limit)?;
        stmt.offset = self.parse_optional_token_and_int(Token::Offset)?;
        Ok(stmt)
    }

    fn parse_show_tag_keys(&mut self) -> Result<ShowTagKeysStatement> {
        let mut stmt =
            ShowTagKeysStatement { database: self.parse_on_database()?, ..Default::default() };
        stmt.sources = self.parse_optional_from()?;
        if self.scan_ignore_ws().0 == Token::With {
            self.unscan();
            stmt.tag_key = Some(self.parse_tag_key_expr()?);
        } else {
            self.unscan();
        }
        stmt.condition = self.parse_condition()?;
        stmt.sort_fields = self.parse_order_by()?;
        stmt.limit = self.parse_optional_token_and_int(Token::Limit)?;
        stmt.offset = self.parse_optional_token_and_int(Token::Offset)?;
        stmt.slimit = self.parse_optional_token_and_int(Token::Slimit)?;
        stmt.soffset = self.parse_optional_token_and_int(Token::Soffset)?;
        Ok(stmt)
    }

    fn parse_show_tag_values(&mut self) -> Result<Statement> {
        match self.scan_ignore_ws().0 {
            Token::Exact => {
                self.expect(Token::Cardinality)?;
                return self.parse_show_tag_values_cardinality(true);
            }
            Token::Cardinality => return self.parse_show_tag_values_cardinality(false),
            _ => self.unscan(),
        }
        let database = self.parse_on_database()?;
        let sources = self.parse_optional_from()?;
        let tag_key = self.parse_tag_key_expr()?;
        let condition = self.parse_condition()?;
        let sort_fields = self.parse_order_by()?;
        let limit = self.parse_optional_token_and_int(Token::Limit)?;
        let offset = self.parse_optional_token_and_int(Token::Offset)?;
        Ok(Statement::ShowTagValues(ShowTagValuesStatement {
            database,
            sources,
            tag_key,
            condition,
            sort_fields,
            limit,
            offset,
        }))
    }

    fn parse_show_tag_values_cardinality(&mut self, exact: bool) -> Result<Statement> {
        let database = self.parse_on_database()?;
        let sources = self.parse_optional_from()?;
        let tag_key = self.parse_tag_key_expr()?;
        let condition = self.parse_condition()?;
        let dimensions = self.parse_dimensions()?;
        let limit = self.parse_optional_token_and_int(Token::Limit)?;
        let offset = self.parse_optional_token_and_int(Token::Offset)?;
        Ok(Statement::ShowTagValuesCardinality(ShowTagValuesCardinalityStatement {
            exact,
            database,
            sources,
            tag_key,
            condition,
            dimensions,
            limit,
            offset,
        }))
    }

    fn parse_tag_key_expr(&mut self) -> Result<TagKeyExpr> {
        self.parse_tokens(&[Token::With, Token::Key])?;
        let (tok, pos, lit) = self.scan_ignore_ws();
        match tok {
            Token::In => {
                let (tok, pos, lit) = self.scan_ignore_ws();
                if tok != Token::LParen {
                    return Err(ParseError::unexpected(tok, &lit, &["("], pos));
                }
                let keys = self.parse_ident_list()?;
                let (tok, pos, lit) = self.scan_ignore_ws();
                if tok != Token::RParen {
                    return Err(ParseError::unexpected(tok, &lit, &[")"], pos));
                }
                Ok(TagKeyExpr::In(keys))
            }
            Token::Eq => Ok(TagKeyExpr::Eq(self.parse_ident()?)),
            Token::Neq => Ok(TagKeyExpr::Neq(self.parse_ident()?)),
            Token::EqRegex | Token::NeqRegex => match self.parse_regex()? {
                Some(re) if tok == Token::EqRegex => Ok(TagKeyExpr::EqRegex(re)),
                Some(re) => Ok(TagKeyExpr::NeqRegex(re)),
                None => {
                    let (tok, pos, lit) = self.scan_ignore_ws();
                    Err(ParseError::unexpected(tok, &lit, &["regex"], pos))
                }
            },
            _ => Err(ParseError::unexpected(tok, &lit, &["IN", "=", "=~"], pos)),
        }
    }

    fn parse_show_field_keys(&mut self) -> Result<ShowFieldKeysStatement> {
        let mut stmt =
            ShowFieldKeysStatement { database: self.parse_on_database()?, ..Default::default() };
        stmt.sources = self.parse_optional_from()?;
        stmt.sort_fields = self.parse_order_by()?;
        stmt.limit = self.parse_optional_token_and_int(Token::Limit)?;
        stmt.offset = self.parse_optional_token_and_int(Token::Offset)?;
        Ok(stmt)
    }

    fn parse_create_continuous_query(&mut self, start: usize) -> Result<Statement> {
        let name = self.parse_ident()?;
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::On {
            return Err(ParseError::unexpected(tok, &lit, &["ON"], pos));
        }
        let database = self.parse_ident()?;
        let (mut resample_every, mut resample_for) = (0, 0);
        if self.scan_ignore_ws().0 == Token::Resample {
            (resample_every, resample_for) = self.parse_resample()?;
        } else {
            self.unscan();
        }
        self.parse_tokens(&[Token::Begin, Token::Select])?;
        let source = self.parse_select(TargetRequirement::Required)?;
        let interval = source.group_by_interval();
        if !source.is_raw_query && !matches!(interval, Ok(d) if d != 0) {
            self.unscan();
            self.unscan();
            let (tok, pos, lit) = self.scan_ignore_ws();
            let mut expected = vec!["GROUP BY time(...)".to_string()];
            if let Err(e) = &interval {
                expected.push(e.clone());
            }
            return Err(ParseError::Unexpected { found: tokstr(tok, &lit), expected, pos });
        }
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::End {
            return Err(ParseError::unexpected(tok, &lit, &["END"], pos));
        }
        let end = (pos.offset + 3).min(self.s.s.r.src().len());
        let text = self.s.s.r.src().get(start..end).unwrap_or_default().to_string();
        let interval = interval.map_err(ParseError::Plain)?;
        if resample_for != 0 {
            let mut interval = interval;
            if resample_every != 0 && resample_every > interval {
                interval = resample_every;
            }
            if interval > resample_for {
                return Err(ParseError::Plain(format!(
                    "FOR duration must be >= GROUP BY time duration: must be a minimum of {}, got {}",
                    super::time::format_duration(interval),
                    super::time::format_duration(resample_for)
                )));
            }
        }
        Ok(Statement::CreateContinuousQuery(Box::new(CreateContinuousQueryStatement {
            name,
            database,
            source,
            resample_every,
            resample_for,
            text,
        })))
    }

    fn parse_resample(&mut self) -> Result<(i64, i64)> {
        let mut every = 0;
        if self.scan_ignore_ws().0 == Token::Every {
            every = self.parse_resample_duration()?;
        } else {
            self.unscan();
        }
        let mut for_ = 0;
        if self.scan_ignore_ws().0 == Token::For {
            for_ = self.parse_resample_duration()?;
        } else {
            self.unscan();
        }
        if every == 0 && for_ == 0 {
            let (tok, pos, lit) = self.scan_ignore_ws();
            return Err(ParseError::unexpected(tok, &lit, &["EVERY", "FOR"], pos));
        }
        Ok((every, for_))
    }

    fn parse_resample_duration(&mut self) -> Result<i64> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok != Token::DurationVal {
            return Err(ParseError::unexpected(tok, &lit, &["duration"], pos));
        }
        parse_duration(&lit).map_err(|e| ParseError::message(e.to_string(), pos))
    }

    fn parse_create_database(&mut self) -> Result<CreateDatabaseStatement> {
        let mut stmt = CreateDatabaseStatement { name: self.parse_ident()?, ..Default::default() };
        if self.scan_ignore_ws().0 != Token::With {
            self.unscan();
            return Ok(stmt);
        }
        let (tok, pos, lit) = self.scan_ignore_ws();
        if !matches!(
            tok,
            Token::Duration
                | Token::Name
                | Token::Replication
                | Token::Shard
                | Token::Future
                | Token::Past
        ) {
            return Err(ParseError::unexpected(
                tok,
                &lit,
                &["DURATION", "NAME", "REPLICATION", "SHARD", "FUTURE", "PAST"],
                pos,
            ));
        }
        self.unscan();
        stmt.retention_policy_create = true;
        if self.scan_ignore_ws().0 == Token::Duration {
            stmt.retention_policy_duration = Some(self.parse_duration_value()?);
        } else {
            self.unscan();
        }
        if self.scan_ignore_ws().0 == Token::Replication {
            stmt.retention_policy_replication = Some(self.parse_int(1, i64::from(i32::MAX))?);
        } else {
            self.unscan();
        }
        if self.scan_ignore_ws().0 == Token::Shard {
            let (tok, pos, lit) = self.scan_ignore_ws();
            if tok != Token::Duration {
                return Err(ParseError::unexpected(tok, &lit, &["DURATION"], pos));
            }
            stmt.retention_policy_shard_group_duration = self.parse_duration_value()?;
        } else {
            self.unscan();
        }
        if self.scan_ignore_ws().0 == Token::Future {
            stmt.future_write_limit = Some(self.parse_write_limit()?);
        } else {
            self.unscan();
        }
        if self.scan_ignore_ws().0 == Token::Past {
            stmt.past_write_limit = Some(self.parse_write_limit()?);
        } else {
            self.unscan();
        }
        if self.scan_ignore_ws().0 == Token::Name {
            stmt.retention_policy_name = self.parse_ident()?;
        } else {
            self.unscan();
        }
        Ok(stmt)
    }

    fn parse_create_user(&mut self) -> Result<CreateUserStatement> {
        let name = self.parse_ident()?;
        self.parse_tokens(&[Token::With, Token::Password])?;
        let password = self.parse_string()?;
        let mut stmt = CreateUserStatement { name, password, admin: false };
        if self.scan_ignore_ws().0 != Token::With {
            self.unscan();
            return Ok(stmt);
        }
        self.parse_tokens(&[Token::All, Token::Privileges])?;
        stmt.admin = true;
        Ok(stmt)
    }

    fn parse_create_retention_policy(&mut self) -> Result<CreateRetentionPolicyStatement> {
        let mut stmt =
            CreateRetentionPolicyStatement { name: self.parse_ident()?, ..Default::default() };
        self.expect(Token::On)?;
        stmt.database = self.parse_ident()?;
        self.expect(Token::Duration)?;
        stmt.duration = self.parse_duration_value()?;
        self.expect(Token::Replication)?;
        stmt.replication = self.parse_int(1, i64::from(i32::MAX))?;
        if self.scan_ignore_ws().0 == Token::Shard {
            self.expect(Token::Duration)?;
            stmt.shard_group_duration = self.parse_shard_duration()?;
        } else {
            self.unscan();
        }
        stmt.default = self.accept(Token::Default);
        if self.accept(Token::Future) {
            stmt.future_write_limit = self.parse_write_limit()?;
        }
        if self.accept(Token::Past) {
            stmt.past_write_limit = self.parse_write_limit()?;
        }
        Ok(stmt)
    }

    fn parse_alter_retention_policy(&mut self) -> Result<AlterRetentionPolicyStatement> {
        let mut stmt = AlterRetentionPolicyStatement::default();
        let (tok, pos, lit) = self.scan_ignore_ws();
        stmt.name = match tok {
            Token::Default => "default".to_string(),
            Token::Ident => lit,
            _ => return Err(ParseError::unexpected(tok, &lit, &["identifier"], pos)),
        };
        self.expect(Token::On)?;
        stmt.database = self.parse_ident()?;
        let mut found: Vec<Token> = Vec::new();
        loop {
            let (tok, pos, lit) = self.scan_ignore_ws();
            if found.contains(&tok) {
                return Err(ParseError::message(
                    format!("found duplicate {} option", tok.as_str()),
                    pos,
                ));
            }
            match tok {
                Token::Duration => stmt.duration = Some(self.parse_duration_value()?),
                Token::Replication => {
                    stmt.replication = Some(self.parse_int(1, i64::from(i32::MAX))?)
                }
                Token::Shard => {
                    let (tok, pos, lit) = self.scan_ignore_ws();
                    if tok != Token::Duration {
                        return Err(ParseError::unexpected(tok, &lit, &["DURATION"], pos));
                    }
                    stmt.shard_group_duration = Some(self.parse_shard_duration()?);
                }
                Token::Default => stmt.default = true,
                Token::Future => stmt.future_write_limit = Some(self.parse_write_limit()?),
                Token::Past => stmt.past_write_limit = Some(self.parse_write_limit()?),
                _ => {
                    if found.is_empty() {
                        return Err(ParseError::unexpected(
                            tok,
                            &lit,
                            &["DURATION", "REPLICATION", "SHARD", "DEFAULT", "FUTURE", "PAST"],
                            pos,
                        ));
                    }
                    self.unscan();
                    break;
                }
            }
            found.push(tok);
        }
        Ok(stmt)
    }

    fn parse_create_subscription(&mut self) -> Result<CreateSubscriptionStatement> {
        let name = self.parse_ident()?;
        self.expect(Token::On)?;
        let database = self.parse_ident()?;
        let (tok, pos, lit) = self.scan();
        if tok != Token::Dot {
            return Err(ParseError::unexpected(tok, &lit, &["."], pos));
        }
        let retention_policy = self.parse_ident()?;
        self.expect(Token::Destinations)?;
        let (tok, pos, lit) = self.scan_ignore_ws();
        let mode = match tok {
            Token::All | Token::Any => tok.as_str().to_string(),
            _ => return Err(ParseError::unexpected(tok, &lit, &["ALL", "ANY"], pos)),
        };
        let destinations = self.parse_string_list()?;
        Ok(CreateSubscriptionStatement { name, database, retention_policy, destinations, mode })
    }

    fn parse_privilege(&mut self) -> Result<Privilege> {
        let (tok, pos, lit) = self.scan_ignore_ws();
        match tok {
            Token::Read => Ok(Privilege::Read),
            Token::Write => Ok(Privilege::Write),
            Token::All => {
                if self.scan_ignore_ws().0 != Token::Privileges {
                    self.unscan();
                }
                Ok(Privilege::All)
            }
            _ => {
                Err(ParseError::unexpected(tok, &lit, &["READ", "WRITE", "ALL [PRIVILEGES]"], pos))
            }
        }
    }

    fn parse_grant(&mut self) -> Result<Statement> {
        let privilege = self.parse_privilege()?;
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok == Token::On {
            let on = self.parse_ident()?;
            self.expect(Token::To)?;
            return Ok(Statement::Grant { privilege, on, user: self.parse_ident()? });
        } else if tok == Token::To {
            if privilege != Privilege::All {
                return Err(ParseError::unexpected(tok, &lit, &["ON"], pos));
            }
            return Ok(Statement::GrantAdmin { user: self.parse_ident()? });
        }
        let expected: &[&str] = if privilege == Privilege::All { &["ON", "TO"] } else { &["ON"] };
        Err(ParseError::unexpected(tok, &lit, expected, pos))
    }

    fn parse_revoke(&mut self) -> Result<Statement> {
        let privilege = self.parse_privilege()?;
        let (tok, pos, lit) = self.scan_ignore_ws();
        if tok == Token::On {
            let on = self.parse_ident()?;
            self.expect(Token::From)?;
            return Ok(Statement::Revoke { privilege, on, user: self.parse_ident()? });
        } else if tok == Token::From {
            if privilege != Privilege::All {
                return Err(ParseError::unexpected(tok, &lit, &["ON"], pos));
            }
            return Ok(Statement::RevokeAdmin { user: self.parse_ident()? });
        }
        let expected: &[&str] = if privilege == Privilege::All { &["ON", "FROM"] } else { &["ON"] };
        Err(ParseError::unexpected(tok, &lit, expected, pos))
    }
}

/// Go's `strconv.ParseUint(s, 10, 64)` for scanner digits.
fn parse_go_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The operator InfluxDB refuses in a SELECT field (comparisons, AND, OR):
/// the last one met walking the tree, not looking inside one found.
fn invalid_select_operator(e: &Expr) -> Option<BinaryOp> {
    let mut found = None;
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary(b) => {
                if b.op.is_comparison() || matches!(b.op, BinaryOp::And | BinaryOp::Or) {
                    found = Some(b.op);
                    continue;
                }
                stack.push(&b.rhs);
                stack.push(&b.lhs);
            }
            Expr::Paren(p) => stack.push(p),
            Expr::Call(c) => stack.extend(c.args.iter().rev()),
            _ => {}
        }
    }
    found
}

/// Whether Go's `time.LoadLocation` would find this zone.
fn time_zone_exists(name: &str) -> bool {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return true;
    }
    if name.contains("..") || name.starts_with('/') || name.contains('\\') {
        return false;
    }
    let dirs = ["/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/"];
    let mut any_dir = false;
    for d in dirs {
        if std::path::Path::new(d).is_dir() {
            any_dir = true;
            if std::path::Path::new(&format!("{d}{name}")).is_file() {
                return true;
            }
        }
    }
    // Without a zone database, accept names that look like zone names.
    !any_dir && name.chars().all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c))
}

/// Checks a pattern for the RE2 syntax errors InfluxDB reports most (Go's
/// `regexp.Compile` texts). Patterns are not compiled here; the query
/// engine compiles them.
pub fn check_regex(pattern: &str) -> std::result::Result<(), String> {
    let err = |code: &str, expr: &str| Err(format!("error parsing regexp: {code}: `{expr}`"));
    let chars: Vec<char> = pattern.chars().collect();
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the previous item can take a repetition operator, and whether
    // it already is a repetition.
    let mut can_repeat = false;
    let mut repeated = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                if i + 1 >= chars.len() {
                    return err("trailing backslash at end of expression", "");
                }
                let e = chars[i + 1];
                if e.is_ascii_alphanumeric() && !"afnrtvdDsSwWbBAzpPQEx01234567".contains(e) {
                    return err("invalid escape sequence", &format!("\\{e}"));
                }
                i += 2;
                can_repeat = true;
                repeated = false;
                continue;
            }
            '[' => {
                let start = i;
                i += 1;
                if i < chars.len() && chars[i] == '^' {
                    i += 1;
                }
                // A `]` first in the class is literal.
                if i < chars.len() && chars[i] == ']' {
                    i += 1;
                }
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '\\' => i += 2,
                        '[' if i + 1 < chars.len() && chars[i + 1] == ':' => {
                            match chars[i + 2..].windows(2).position(|w| w == [':', ']']) {
                                Some(p) => i += p + 4,
                                None => i += 1,
                            }
                        }
                        ']' => {
                            closed = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if !closed {
                    let expr: String = chars[start..].iter().collect();
                    return err("missing closing ]", &expr);
                }
                can_repeat = true;
                repeated = false;
            }
            '(' => {
                depth += 1;
                can_repeat = false;
                repeated = false;
                if i + 1 < chars.len() && chars[i + 1] == '?' {
                    i += 1;
                }
            }
            ')' => {
                if depth == 0 {
                    return err("unexpected )", pattern);
                }
                depth -= 1;
                can_repeat = true;
                repeated = false;
            }
            '|' => {
                can_repeat = false;
                repeated = false;
            }
            '*' | '+' | '?' => {
                let mut op = c.to_string();
                if i + 1 < chars.len() && chars[i + 1] == '?' {
                    op.push('?');
                }
                if repeated {
                    let prev: String = chars[i - 1..i + op.len()].iter().collect();
                    return err("invalid nested repetition operator", &prev);
                }
                if !can_repeat {
                    return err("missing argument to repetition operator", &op);
                }
                i += op.len();
                repeated = true;
                continue;
            }
            _ => {
                can_repeat = true;
                repeated = false;
            }
        }
        i += 1;
    }
    if depth > 0 {
        return err("missing closing )", pattern);
    }
    Ok(())
}
