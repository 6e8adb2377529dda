//! InfluxQL, as InfluxDB 1.x parses it (`github.com/influxdata/influxql`
//! v1.4.1, the version InfluxDB 1.12 vendors: 1.8's grammar plus
//! `FUTURE`/`PAST LIMIT`, `EXPLAIN VERBOSE`, `SHOW MEASUREMENTS ON *.*`,
//! `SHOW TAG KEYS ... WITH KEY` and a retention policy in `DELETE FROM`): the same statements, the same
//! tokenization and the same error texts and positions
//! (`found X, expected Y at line 1, char Z`). The HTTP API prefixes
//! errors with `error parsing query: `; that is the caller's job.
//!
//! ```
//! use data_node::influxql::{parse_query, Statement};
//! let stmts = parse_query("SHOW DATABASES; SELECT mean(v) FROM cpu GROUP BY time(1h)").unwrap();
//! assert!(matches!(stmts[0], Statement::ShowDatabases));
//! assert_eq!(stmts[1].to_string(), "SELECT mean(v) FROM cpu GROUP BY time(1h)");
//! ```
//!
//! Known differences: regular expressions are kept as text (Go RE2
//! syntax) and only checked for the common syntax errors; `tz('...')` is
//! checked against the system zone database but time strings are always
//! read as UTC.

pub mod ast;
mod condition;
mod parser;
mod scanner;
mod time;
mod token;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use ast::*;
pub use condition::{
    ConditionError, TimeRange, Valuer, condition_expr, condition_time_bounds, reduce_expr,
};
pub use parser::{Param, ParseError, Parser, check_regex};
pub use scanner::Pos;
pub use time::{
    DurationError, format_duration, format_go_duration, format_rfc3339_nano, is_time_string,
    parse_duration, parse_time_string,
};
pub use token::Token;

/// Parses a query: `;`-separated statements (an empty query gives none).
pub fn parse_query(query: &str) -> Result<Vec<Statement>, ParseError> {
    Parser::new(query).parse_query()
}

/// [`parse_query`] with `$name` bound parameters.
pub fn parse_query_with_params(
    query: &str,
    params: &HashMap<String, Param>,
) -> Result<Vec<Statement>, ParseError> {
    Parser::with_params(query, params).parse_query()
}

/// Parses the first statement of `query` (what follows is ignored).
pub fn parse_statement(query: &str) -> Result<Statement, ParseError> {
    Parser::new(query).parse_statement()
}

/// Parses an expression (`host = 'a' AND time > now() - 1h`).
pub fn parse_expr(expr: &str) -> Result<Expr, ParseError> {
    Parser::new(expr).parse_expr()
}
