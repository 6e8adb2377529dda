//! `SELECT`: InfluxDB's compile-time validation (same checks, same
//! texts), wildcard expansion against the fields and tags of the shards in
//! range, then evaluation per output series (measurement + `GROUP BY`
//! tags):
//!
//! - raw queries: one row per (series, time) where a selected field has a
//!   value and the condition holds, merged by time;
//! - aggregates: the points of each distinct call, windowed by
//!   `GROUP BY time(...)`, reduced, filled (`fill(null|none|previous|
//!   linear|<n>)`; `count` fills 0), and joined by time. Without an
//!   interval the time is the start of the range (0 when unbounded), or,
//!   for a lone selector, the selected point's time.
//!
//! Series come out sorted by measurement then tag values (reversed with
//! `ORDER BY time DESC`), rows by time; `LIMIT`/`OFFSET` apply per series,
//! `SLIMIT`/`SOFFSET` to the series.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use portable::FieldType;

use super::Context;
use super::agg::{self, Func, Pt};
use super::data::{self, MeasurementData, Schema, SeriesData, SourceSpec};
use super::error::{QueryError, Result};
use super::eval::{Lookup, Regexes, Tri, eval, eval_bool, eval_tags, is_math_function, var_refs};
use super::result::{Series, Value};
use crate::influxql::{
    Call, DataType, Expr, Field, Fill, MAX_TIME, MIN_TIME, SelectStatement, Source, Valuer,
    WildcardType, condition_expr, is_time_string, parse_time_string,
};

/// Most `GROUP BY time()` buckets one query may fill.
pub const MAX_BUCKETS: i128 = 5_000_000;

/// A `GROUP BY` dimension before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dim {
    Tag(String),
    Wildcard,
    Regex(String),
}

/// What the field list needs, found while validating it.
#[derive(Debug, Default)]
struct FieldInfo {
    calls: usize,
    has_aux: bool,
    only_selectors: bool,
    has_distinct: bool,
    interval: i64,
    limit: i64,
    has_target: bool,
    top_bottom: Option<String>,
    /// A transformation of a nested aggregate reads one interval earlier.
    extra_interval: bool,
}

fn is_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Integer(_)
            | Expr::Unsigned(_)
            | Expr::Number(_)
            | Expr::String(_)
            | Expr::Boolean(_)
            | Expr::Duration(_)
            | Expr::Time(_)
            | Expr::Nil
            | Expr::Regex(_)
            | Expr::List(_)
    )
}

fn compile_symbol(
    name: &str,
    arg: &Expr,
    allow_wildcard: bool,
    info: &mut FieldInfo,
) -> Result<()> {
    match arg {
        Expr::VarRef(_) => Ok(()),
        Expr::Wildcard(_) => {
            if !allow_wildcard {
                return Err(QueryError::invalid(format!(
                    "unsupported expression with wildcard: {name}()"
                )));
            }
            info.only_selectors = false;
            Ok(())
        }
        Expr::Regex(_) => {
            if !allow_wildcard {
                return Err(QueryError::invalid(format!(
                    "unsupported expression with regex field: {name}()"
                )));
            }
            info.only_selectors = false;
            Ok(())
        }
        _ => Err(QueryError::invalid(format!("expected field argument in {name}()"))),
    }
}

fn compile_distinct(args: &[Expr], nested: bool, info: &mut FieldInfo) -> Result<()> {
    if args.is_empty() {
        return Err(QueryError::invalid("distinct function requires at least one argument"));
    }
    if args.len() != 1 {
        return Err(QueryError::invalid("distinct function can only have one argument"));
    }
    if !matches!(args[0], Expr::VarRef(_)) {
        return Err(QueryError::invalid("expected field argument in distinct()"));
    }
    if !nested {
        info.has_distinct = true;
    }
    info.only_selectors = false;
    Ok(())
}

const TRANSFORMS: &[&str] = &[
    "top",
    "bottom",
    "sample",
    "derivative",
    "non_negative_derivative",
    "difference",
    "non_negative_difference",
    "cumulative_sum",
    "moving_average",
    "exponential_moving_average",
    "double_exponential_moving_average",
    "triple_exponential_moving_average",
    "relative_strength_index",
    "triple_exponential_derivative",
    "kaufmans_efficiency_ratio",
    "kaufmans_adaptive_moving_average",
    "chande_momentum_oscillator",
    "elapsed",
    "integral",
    "holt_winters",
    "holt_winters_with_fit",
];

fn compile_expr(e: &Expr, allow_wildcard: &mut bool, info: &mut FieldInfo) -> Result<()> {
    match e {
        Expr::VarRef(_) => {
            info.has_aux = true;
            Ok(())
        }
        Expr::Wildcard(_) => {
            info.has_aux = true;
            if !*allow_wildcard {
                return Err(QueryError::invalid("unable to use wildcard in a binary expression"));
            }
            Ok(())
        }
        Expr::Regex(_) => {
            if !*allow_wildcard {
                return Err(QueryError::invalid("unable to use regex in a binary expression"));
            }
            info.has_aux = true;
            Ok(())
        }
        Expr::Call(c) => {
            if is_math_function(&c.name) {
                let n = if matches!(c.name.as_str(), "atan2" | "pow" | "log") { 2 } else { 1 };
                if c.args.len() != n {
                    return Err(QueryError::invalid(format!(
                        "invalid number of arguments for {}, expected {n}, got {}",
                        c.name,
                        c.args.len()
                    )));
                }
                for a in &c.args {
                    if !is_literal(a) {
                        compile_expr(a, allow_wildcard, info)?;
                    }
                }
                return Ok(());
            }
            info.calls += 1;
            match c.name.as_str() {
                "percentile" => {
                    if c.args.len() != 2 {
                        return Err(QueryError::invalid(format!(
                            "invalid number of arguments for percentile, expected 2, got {}",
                            c.args.len()
                        )));
                    }
                    if !matches!(c.args[1], Expr::Integer(_) | Expr::Number(_)) {
                        return Err(QueryError::invalid("expected float argument in percentile()"));
                    }
                    compile_symbol("percentile", &c.args[0], *allow_wildcard, info)
                }
                "distinct" => compile_distinct(&c.args, false, info),
                "max" | "min" | "first" | "last" | "count" | "sum" | "mean" | "median" | "mode"
                | "stddev" | "spread" => {
                    if !matches!(c.name.as_str(), "max" | "min" | "first" | "last") {
                        info.only_selectors = false;
                    }
                    if c.args.len() != 1 {
                        return Err(QueryError::invalid(format!(
                            "invalid number of arguments for {}, expected 1, got {}",
                            c.name,
                            c.args.len()
                        )));
                    }
                    if c.name == "count" {
                        match &c.args[0] {
                            Expr::Call(inner) if inner.name == "distinct" => {
                                return compile_distinct(&inner.args, true, info);
                            }
                            Expr::Distinct(v) => {
                                return compile_distinct(&[Expr::var(v)], true, info);
                            }
                            _ => {}
                        }
                    }
                    compile_symbol(&c.name, &c.args[0], *allow_wildcard, info)
                }
                "top" | "bottom" => compile_top_bottom(c, info),
                "derivative" | "non_negative_derivative" | "elapsed" => {
                    let name = c.name.as_str();
                    if c.args.is_empty() || c.args.len() > 2 {
                        return Err(QueryError::invalid(format!(
                            "invalid number of arguments for {name}, expected at least 1 but no more than 2, got {}",
                            c.args.len()
                        )));
                    }
                    if let Some(a) = c.args.get(1) {
                        match a {
                            Expr::Duration(d) if *d <= 0 => {
                                return Err(QueryError::invalid(format!(
                                    "duration argument must be positive, got {}",
                                    crate::influxql::format_duration(*d)
                                )));
                            }
                            Expr::Duration(_) => {}
                            other => {
                                return Err(QueryError::invalid(format!(
                                    "second argument to {name} must be a duration, got {}",
                                    other.go_type()
                                )));
                            }
                        }
                    }
                    info.only_selectors = false;
                    compile_transform_arg(name, &c.args[0], allow_wildcard, info)
                }
                "difference" | "non_negative_difference" | "cumulative_sum" => {
                    if c.args.len() != 1 {
                        return Err(QueryError::invalid(format!(
                            "invalid number of arguments for {}, expected 1, got {}",
                            c.name,
                            c.args.len()
                        )));
                    }
                    info.only_selectors = false;
                    compile_transform_arg(&c.name, &c.args[0], allow_wildcard, info)
                }
                "moving_average" => {
                    if c.args.len() != 2 {
                        return Err(QueryError::invalid(format!(
                            "invalid number of arguments for moving_average, expected 2, got {}",
                            c.args.len()
                        )));
                    }
                    match &c.args[1] {
                        Expr::Integer(n) if *n <= 1 => {
                            return Err(QueryError::invalid(format!(
                                "moving_average window must be greater than 1, got {n}"
                            )));
                        }
                        Expr::Integer(_) => {}
                        other => {
                            return Err(QueryError::invalid(format!(
                                "second argument for moving_average must be an integer, got {}",
                                other.go_type()
                            )));
                        }
                    }
                    info.only_selectors = false;
                    compile_transform_arg("moving_average", &c.args[0], allow_wildcard, info)
                }
                n if TRANSFORMS.contains(&n) => {
                    Err(QueryError::Unsupported(format!("{n}() is not supported by this testbed")))
                }
                n => Err(QueryError::invalid(format!("undefined function {n}()"))),
            }
        }
        Expr::Distinct(v) => {
            info.calls += 1;
            compile_distinct(&[Expr::var(v)], false, info)
        }
        Expr::Binary(b) => {
            *allow_wildcard = false;
            match (is_literal(&b.lhs), is_literal(&b.rhs)) {
                (true, true) => {
                    Err(QueryError::invalid("cannot perform a binary expression on two literals"))
                }
                (true, false) => compile_expr(&b.rhs, allow_wildcard, info),
                (false, true) => compile_expr(&b.lhs, allow_wildcard, info),
                (false, false) => {
                    compile_expr(&b.lhs, allow_wildcard, info)?;
                    compile_expr(&b.rhs, allow_wildcard, info)
                }
            }
        }
        Expr::Paren(p) => compile_expr(p, allow_wildcard, info),
        _ => Err(QueryError::invalid("field must contain at least one variable")),
    }
}

/// The first argument of a transformation: a nested aggregate (which
/// needs `GROUP BY time()`) or a field (which must not have one).
fn compile_transform_arg(
    name: &str,
    arg: &Expr,
    allow_wildcard: &mut bool,
    info: &mut FieldInfo,
) -> Result<()> {
    match arg {
        Expr::Call(_) | Expr::Distinct(_) => {
            if info.interval == 0 {
                return Err(QueryError::invalid(format!(
                    "{name} aggregate requires a GROUP BY interval"
                )));
            }
            info.extra_interval = true;
            match arg {
                Expr::Call(c) if c.name == "distinct" => {
                    info.calls += 1;
                    compile_distinct(&c.args, true, info)
                }
                Expr::Distinct(v) => {
                    info.calls += 1;
                    compile_distinct(&[Expr::var(v)], true, info)
                }
                _ => compile_expr(arg, allow_wildcard, info),
            }
        }
        _ => {
            if info.interval != 0 {
                return Err(QueryError::invalid(format!(
                    "aggregate function required inside the call to {name}"
                )));
            }
            compile_symbol(name, arg, *allow_wildcard, info)
        }
    }
}

fn compile_top_bottom(c: &Call, info: &mut FieldInfo) -> Result<()> {
    if let Some(tb) = &info.top_bottom {
        return Err(QueryError::invalid(format!(
            "selector function {tb}() cannot be combined with other functions"
        )));
    }
    if c.args.len() < 2 {
        return Err(QueryError::invalid(format!(
            "invalid number of arguments for {}, expected at least 2, got {}",
            c.name,
            c.args.len()
        )));
    }
    let last = &c.args[c.args.len() - 1];
    match last {
        Expr::Integer(n) if *n <= 0 => {
            return Err(QueryError::invalid(format!(
                "limit ({n}) in {} function must be at least 1",
                c.name
            )));
        }
        Expr::Integer(n) if info.limit > 0 && *n > info.limit => {
            return Err(QueryError::invalid(format!(
                "limit ({n}) in {} function can not be larger than the LIMIT ({}) in the select statement",
                c.name, info.limit
            )));
        }
        Expr::Integer(_) => {}
        other => {
            return Err(QueryError::invalid(format!(
                "expected integer as last argument in {}(), found {other}",
                c.name
            )));
        }
    }
    if !matches!(c.args[0], Expr::VarRef(_)) {
        return Err(QueryError::invalid(format!(
            "expected first argument to be a field in {}(), found {}",
            c.name, c.args[0]
        )));
    }
    for a in &c.args[1..c.args.len() - 1] {
        if !matches!(a, Expr::VarRef(_)) {
            return Err(QueryError::invalid(format!(
                "only fields or tags are allowed in {}(), found {a}",
                c.name
            )));
        }
        if !info.has_target {
            info.has_aux = true;
        }
    }
    info.top_bottom = Some(c.name.clone());
    Ok(())
}

fn validate_condition(e: &Expr) -> Result<()> {
    match e {
        Expr::Binary(b) => {
            validate_condition(&b.lhs)?;
            validate_condition(&b.rhs)
        }
        Expr::Paren(p) => validate_condition(p),
        Expr::Call(c) => {
            if !is_math_function(&c.name) {
                return Err(QueryError::invalid(format!(
                    "invalid function call in condition: {e}"
                )));
            }
            let n = if matches!(c.name.as_str(), "atan2" | "pow") { 2 } else { 1 };
            if c.args.len() != n {
                return Err(QueryError::invalid(format!(
                    "invalid number of arguments for {}, expected {n}, got {}",
                    c.name,
                    c.args.len()
                )));
            }
            c.args.iter().try_for_each(validate_condition)
        }
        _ => Ok(()),
    }
}

/// Go's `time.Truncate` remainder from its zero time (0001-01-01).
fn go_truncate_offset(t: i128, d: i64) -> i64 {
    const GO_ZERO_TIME: i128 = -62_135_596_800 * 1_000_000_000;
    (t - GO_ZERO_TIME).rem_euclid(i128::from(d)) as i64
}

fn compile_dimensions(stmt: &SelectStatement, now: i64) -> Result<(i64, i64, Vec<Dim>)> {
    let mut interval = 0i64;
    let mut offset = 0i64;
    let mut dims = Vec::new();
    for d in &stmt.dimensions {
        match &d.expr {
            Expr::VarRef(v) => {
                if v.name.eq_ignore_ascii_case("time") {
                    return Err(QueryError::invalid(
                        "time() is a function and expects at least one argument",
                    ));
                }
                dims.push(Dim::Tag(v.name.clone()));
            }
            Expr::Call(c) => {
                if c.name != "time" {
                    return Err(QueryError::invalid("only time() calls allowed in dimensions"));
                }
                if c.args.is_empty() || c.args.len() > 2 {
                    return Err(QueryError::invalid("time dimension expected 1 or 2 arguments"));
                }
                let Expr::Duration(dur) = c.args[0] else {
                    return Err(QueryError::invalid("time dimension must have duration argument"));
                };
                if interval != 0 {
                    return Err(QueryError::invalid("multiple time dimensions not allowed"));
                }
                interval = dur.max(0);
                if c.args.len() == 2 && interval > 0 {
                    offset = match &c.args[1] {
                        Expr::Duration(o) => o % interval,
                        Expr::Time(t) => go_truncate_offset(*t, interval),
                        Expr::Call(n) if n.name == "now" => {
                            if !n.args.is_empty() {
                                return Err(QueryError::invalid(
                                    "time dimension offset now() function requires no arguments",
                                ));
                            }
                            go_truncate_offset(i128::from(now), interval)
                        }
                        Expr::Call(_) => {
                            return Err(QueryError::invalid(
                                "time dimension offset function must be now()",
                            ));
                        }
                        Expr::String(s) if is_time_string(s) => match parse_time_string(s) {
                            Some(t) => go_truncate_offset(t, interval),
                            None => return Err(QueryError::invalid("invalid timestamp string")),
                        },
                        _ => {
                            return Err(QueryError::invalid(
                                "time dimension offset must be duration or now()",
                            ));
                        }
                    };
                }
            }
            Expr::Wildcard(_) => dims.push(Dim::Wildcard),
            Expr::Regex(r) => dims.push(Dim::Regex(r.pattern.clone())),
            _ => return Err(QueryError::invalid("only time and tag dimensions allowed")),
        }
    }
    Ok((interval, offset, dims))
}

/// Splits `time` out of the field list: the time column's name, the rest.
fn strip_time_fields(fields: &[Field]) -> (String, Vec<Field>) {
    let mut alias = "time".to_string();
    let mut out = Vec::new();
    for f in fields {
        if let Expr::VarRef(v) = &f.expr
            && v.name == "time"
        {
            if !f.alias.is_empty() {
                alias = f.alias.clone();
            }
            continue;
        }
        out.push(f.clone());
    }
    (alias, out)
}

fn has_wildcard_or_regex(e: &Expr) -> bool {
    e.any(&|x| matches!(x, Expr::Wildcard(_) | Expr::Regex(_)))
}

fn field_name(f: &Field) -> String {
    f.name()
}

/// InfluxDB's `RewriteFields`: expands `*`, `*::field`, `*::tag`, `/re/`
/// (also inside calls, as `<call>_<field>` columns) and `GROUP BY *`.
fn expand(
    fields: &[Field],
    dims: &[Dim],
    schemas: &BTreeMap<String, Schema>,
    re: &Regexes,
) -> Result<(Vec<Field>, Vec<String>)> {
    let has_field_wc = fields.iter().any(|f| has_wildcard_or_regex(&f.expr));
    let has_dim_wc = dims.iter().any(|d| !matches!(d, Dim::Tag(_)));
    let plain_dims = || {
        dims.iter()
            .filter_map(|d| if let Dim::Tag(t) = d { Some(t.clone()) } else { None })
            .collect()
    };
    if !has_field_wc && !has_dim_wc {
        return Ok((fields.to_vec(), plain_dims()));
    }
    let mut field_set: BTreeMap<String, FieldType> = BTreeMap::new();
    let mut dim_set: BTreeSet<String> = BTreeSet::new();
    for sc in schemas.values() {
        for (f, t) in &sc.fields {
            let e = field_set.entry(f.clone()).or_insert(*t);
            if data::type_rank(*t) > data::type_rank(*e) {
                *e = *t;
            }
        }
        dim_set.extend(sc.tags.iter().cloned());
    }
    if !has_dim_wc {
        for d in dims {
            if let Dim::Tag(t) = d {
                dim_set.remove(t);
            }
        }
    }
    // (name, None = tag / Some(type) = field), sorted by name then type.
    let mut refs: Vec<(String, Option<FieldType>)> =
        field_set.iter().map(|(k, t)| (k.clone(), Some(*t))).collect();
    if !has_dim_wc {
        refs.extend(dim_set.iter().map(|k| (k.clone(), None)));
        dim_set.clear();
    }
    refs.sort_by(|a, b| a.0.cmp(&b.0).then(ref_rank(a.1).cmp(&ref_rank(b.1))));
    let var = |name: &str, t: Option<FieldType>| {
        Expr::VarRef(crate::influxql::VarRef {
            name: name.to_string(),
            data_type: match t {
                None => DataType::Tag,
                Some(t) => influx_type(t),
            },
        })
    };
    let mut out = Vec::new();
    for f in fields {
        if !has_field_wc {
            out.push(f.clone());
            continue;
        }
        match &f.expr {
            Expr::Wildcard(kind) => {
                for (name, t) in &refs {
                    if (*kind == WildcardType::Field && t.is_none())
                        || (*kind == WildcardType::Tag && t.is_some())
                    {
                        continue;
                    }
                    out.push(Field { expr: var(name, *t), alias: String::new() });
                }
            }
            Expr::Regex(r) => {
                for (name, t) in &refs {
                    if re.is_match(&r.pattern, name) {
                        out.push(Field { expr: var(name, *t), alias: String::new() });
                    }
                }
            }
            Expr::Call(c) => {
                // The innermost call: count(distinct(*)) → distinct(*).
                let mut path = Vec::new();
                let mut cur = c;
                while let Some(Expr::Call(inner)) = cur.args.first() {
                    path.push(0usize);
                    cur = inner;
                }
                let Some(arg0) = cur.args.first() else {
                    out.push(f.clone());
                    continue;
                };
                let pattern = match arg0 {
                    Expr::Wildcard(WildcardType::Tag) => {
                        return Err(QueryError::invalid(format!(
                            "unable to use tag wildcard in {}()",
                            cur.name
                        )));
                    }
                    Expr::Wildcard(_) => None,
                    Expr::Regex(r) => Some(r.pattern.clone()),
                    _ => {
                        out.push(f.clone());
                        continue;
                    }
                };
                let mut types = vec![FieldType::Float, FieldType::Integer, FieldType::Unsigned];
                match cur.name.as_str() {
                    "count" | "first" | "last" | "distinct" | "elapsed" | "mode" | "sample" => {
                        types.push(FieldType::String);
                        types.push(FieldType::Boolean);
                    }
                    "min" | "max" => types.push(FieldType::Boolean),
                    _ => {}
                }
                let base = field_name(f);
                for (name, t) in &refs {
                    let Some(t) = t else { continue };
                    if !types.contains(t) {
                        continue;
                    }
                    if let Some(p) = &pattern
                        && !re.is_match(p, name)
                    {
                        continue;
                    }
                    let expr = replace_innermost_arg(&f.expr, var(name, Some(*t)));
                    out.push(Field { expr, alias: format!("{base}_{name}") });
                }
            }
            Expr::Binary(_) => {
                if f.expr.any(&|x| matches!(x, Expr::Wildcard(_))) {
                    return Err(QueryError::invalid(format!(
                        "unsupported expression with wildcard: {}",
                        f.expr
                    )));
                }
                if f.expr.any(&|x| matches!(x, Expr::Regex(_))) {
                    return Err(QueryError::invalid(format!(
                        "unsupported expression with regex field: {}",
                        f.expr
                    )));
                }
                out.push(f.clone());
            }
            _ => out.push(f.clone()),
        }
    }
    let mut out_dims = Vec::new();
    let dim_list: Vec<String> = dim_set.into_iter().collect();
    for d in dims {
        match d {
            Dim::Tag(t) => out_dims.push(t.clone()),
            Dim::Wildcard => out_dims.extend(dim_list.iter().cloned()),
            Dim::Regex(p) => {
                out_dims.extend(dim_list.iter().filter(|n| re.is_match(p, n)).cloned())
            }
        }
    }
    Ok((out, out_dims))
}

fn ref_rank(t: Option<FieldType>) -> u8 {
    match t {
        Some(t) => data::type_rank(t),
        None => 7,
    }
}

fn influx_type(t: FieldType) -> DataType {
    match t {
        FieldType::Float => DataType::Float,
        FieldType::Integer => DataType::Integer,
        FieldType::Unsigned => DataType::Unsigned,
        FieldType::Boolean => DataType::Boolean,
        FieldType::String => DataType::String,
    }
}

fn replace_innermost_arg(e: &Expr, with: Expr) -> Expr {
    match e {
        Expr::Call(c) => {
            let mut c2 = c.clone();
            match c2.args.first() {
                Some(Expr::Call(_)) => c2.args[0] = replace_innermost_arg(&c.args[0], with),
                Some(_) => c2.args[0] = with,
                None => {}
            }
            Expr::Call(c2)
        }
        other => other.clone(),
    }
}

/// InfluxDB's `ColumnNames`: the time column, then aliases, then
/// generated names with `_1`, `_2`... on conflicts.
fn column_names(time_alias: &str, fields: &[Field]) -> Vec<String> {
    let mut names: Vec<Option<String>> = vec![None; fields.len()];
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, f) in fields.iter().enumerate() {
        if !f.alias.is_empty() {
            names[i] = Some(f.alias.clone());
            seen.insert(f.alias.clone(), 1);
        }
    }
    for (i, f) in fields.iter().enumerate() {
        if names[i].is_some() {
            continue;
        }
        let mut name = field_name(f);
        if let Some(&count) = seen.get(&name) {
            let mut count = count;
            loop {
                let resolved = format!("{name}_{count}");
                if !seen.contains_key(&resolved) {
                    seen.insert(name.clone(), count + 1);
                    name = resolved;
                    break;
                }
                count += 1;
            }
        }
        *seen.entry(name.clone()).or_insert(0) += 1;
        names[i] = Some(name);
    }
    let mut out = vec![time_alias.to_string()];
    out.extend(names.into_iter().map(Option::unwrap_or_default));
    out
}

/// A transformation of a stream of points (`derivative()` & co).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Transform {
    /// `derivative` / `non_negative_derivative`, per unit (0: the interval or 1s).
    Derivative { unit: i64, non_negative: bool },
    /// `difference` / `non_negative_difference`.
    Difference { non_negative: bool },
    /// `cumulative_sum`.
    CumulativeSum,
    /// `moving_average(f, n)`.
    MovingAverage(usize),
    /// `elapsed(f, unit)`.
    Elapsed(i64),
}

/// What a call computes.
#[derive(Debug, Clone)]
enum Kind {
    /// An aggregate or selector over each window.
    Agg(Func),
    /// A transformation of the raw points or of a nested aggregate.
    Transform(Transform, Option<Box<CallSpec>>),
    /// `top()` / `bottom()`, with tag arguments and the count.
    TopBottom { bottom: bool, tags: Vec<String>, n: usize },
}

/// One distinct call of the statement.
#[derive(Debug, Clone)]
struct CallSpec {
    key: String,
    kind: Kind,
    field: String,
    data_type: DataType,
}

impl CallSpec {
    fn is_selector(&self) -> bool {
        match &self.kind {
            Kind::Agg(f) => f.is_selector(),
            Kind::TopBottom { .. } => true,
            Kind::Transform(..) => false,
        }
    }

    fn fills_zero(&self) -> bool {
        matches!(&self.kind, Kind::Agg(f) if f.fills_zero())
    }
}

fn call_spec(e: &Expr) -> Option<CallSpec> {
    let key = e.to_string();
    let arg_name = |a: &Expr| match a {
        Expr::VarRef(v) => Some((v.name.clone(), v.data_type)),
        _ => None,
    };
    let agg = |func: Func, (field, data_type): (String, DataType)| {
        Some(CallSpec { key: key.clone(), kind: Kind::Agg(func), field, data_type })
    };
    match e {
        Expr::Distinct(v) => agg(Func::Distinct, (v.clone(), DataType::Unknown)),
        Expr::Call(Call { name, args }) => {
            let first = args.first()?;
            let func = match name.as_str() {
                "count" => match first {
                    Expr::Call(inner) if inner.name == "distinct" => {
                        return agg(Func::CountDistinct, arg_name(inner.args.first()?)?);
                    }
                    Expr::Distinct(v) => {
                        return agg(Func::CountDistinct, (v.clone(), DataType::Unknown));
                    }
                    _ => Func::Count,
                },
                "sum" => Func::Sum,
                "mean" => Func::Mean,
                "median" => Func::Median,
                "mode" => Func::Mode,
                "spread" => Func::Spread,
                "stddev" => Func::Stddev,
                "min" => Func::Min,
                "max" => Func::Max,
                "first" => Func::First,
                "last" => Func::Last,
                "distinct" => Func::Distinct,
                "percentile" => match args.get(1)? {
                    Expr::Integer(i) => Func::Percentile(*i as f64),
                    Expr::Number(f) => Func::Percentile(*f),
                    _ => return None,
                },
                "top" | "bottom" => {
                    let (field, data_type) = arg_name(first)?;
                    let n = match args.last()? {
                        Expr::Integer(n) => usize::try_from(*n).ok()?,
                        _ => return None,
                    };
                    let tags = args
                        .get(1..args.len().saturating_sub(1))
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(|a| arg_name(a).map(|x| x.0))
                        .collect();
                    let bottom = name == "bottom";
                    return Some(CallSpec {
                        key,
                        kind: Kind::TopBottom { bottom, tags, n },
                        field,
                        data_type,
                    });
                }
                "derivative"
                | "non_negative_derivative"
                | "difference"
                | "non_negative_difference"
                | "cumulative_sum"
                | "moving_average"
                | "elapsed" => {
                    let t = match name.as_str() {
                        "derivative" | "non_negative_derivative" => Transform::Derivative {
                            unit: match args.get(1) {
                                Some(Expr::Duration(d)) => *d,
                                _ => 0,
                            },
                            non_negative: name.starts_with("non_negative"),
                        },
                        "difference" | "non_negative_difference" => {
                            Transform::Difference { non_negative: name.starts_with("non_negative") }
                        }
                        "cumulative_sum" => Transform::CumulativeSum,
                        "moving_average" => match args.get(1)? {
                            Expr::Integer(n) => Transform::MovingAverage(usize::try_from(*n).ok()?),
                            _ => return None,
                        },
                        _ => Transform::Elapsed(match args.get(1) {
                            Some(Expr::Duration(d)) => *d,
                            _ => 1,
                        }),
                    };
                    return match first {
                        Expr::VarRef(v) => Some(CallSpec {
                            key,
                            kind: Kind::Transform(t, None),
                            field: v.name.clone(),
                            data_type: v.data_type,
                        }),
                        inner @ (Expr::Call(_) | Expr::Distinct(_)) => {
                            let inner = call_spec(inner)?;
                            Some(CallSpec {
                                key,
                                field: inner.field.clone(),
                                data_type: inner.data_type,
                                kind: Kind::Transform(t, Some(Box::new(inner))),
                            })
                        }
                        _ => None,
                    };
                }
                _ => return None,
            };
            agg(func, arg_name(first)?)
        }
        _ => None,
    }
}

fn collect_calls(e: &Expr, out: &mut Vec<CallSpec>) {
    match e {
        Expr::Call(c) if is_math_function(&c.name) => {
            c.args.iter().for_each(|a| collect_calls(a, out));
        }
        Expr::Call(_) | Expr::Distinct(_) => {
            if let Some(spec) = call_spec(e)
                && !out.iter().any(|c| c.key == spec.key)
            {
                out.push(spec);
            }
        }
        Expr::Binary(b) => {
            collect_calls(&b.lhs, out);
            collect_calls(&b.rhs, out);
        }
        Expr::Paren(p) => collect_calls(p, out),
        _ => {}
    }
}

/// The window start of `t` (`IteratorOptions.Window`).
pub fn window(t: i64, interval: i64, offset: i64) -> i64 {
    if interval <= 0 {
        return t;
    }
    let t2 = i128::from(t) - i128::from(offset);
    let dt = t2.rem_euclid(i128::from(interval));
    let start = if i128::from(MIN_TIME) + dt >= t2 { i128::from(MIN_TIME) } else { t2 - dt };
    (start + i128::from(offset)).clamp(i128::from(MIN_TIME), i128::from(MAX_TIME)) as i64
}

/// The statement with everything resolved, ready to evaluate.
struct Plan {
    fields: Vec<Field>,
    dims: Vec<String>,
    calls: Vec<CallSpec>,
    cond: Option<Expr>,
    re: Regexes,
    interval: i64,
    offset: i64,
    tmin: i64,
    tmax: i64,
    fill: Fill,
    ascending: bool,
    limit_rows: i64,
    offset_rows: i64,
}

/// A series of the output: its measurement data and member series.
struct Group<'a> {
    measurement: &'a str,
    tag_values: Vec<String>,
    schema: &'a Schema,
    series: Vec<&'a SeriesData>,
}

/// Variables of a raw row (or an aggregate's auxiliary fields).
struct RowLookup<'a> {
    schema: &'a Schema,
    series: &'a SeriesData,
    time: i64,
    /// Conditions see missing tags as ''; output shows them as null.
    condition: bool,
}

impl Lookup for RowLookup<'_> {
    fn var(&self, name: &str, dt: DataType) -> Value {
        if self.schema.is_field(name, dt) {
            if dt == DataType::Tag {
                return Value::Null;
            }
            let v = self.series.cols.get(name).and_then(|c| c.at(self.time)).cloned();
            return cast(v.unwrap_or(Value::Null), dt);
        }
        match self.series.tag(name) {
            Some(v) if !v.is_empty() => Value::String(v.to_string()),
            _ if self.condition => Value::String(String::new()),
            _ => Value::Null,
        }
    }
}

/// A `::type` cast of a field value, as InfluxDB's cursors cast: numbers
/// convert between float, integer and unsigned; other mismatches are null.
fn cast(v: Value, dt: DataType) -> Value {
    match (dt, v) {
        (_, Value::Null) => Value::Null,
        (DataType::Integer, Value::Float(f)) => Value::Integer(f as i64),
        (DataType::Integer, Value::Unsigned(u)) => Value::Integer(u as i64),
        (DataType::Integer, v @ Value::Integer(_)) => v,
        (DataType::Float, Value::Integer(i)) => Value::Float(i as f64),
        (DataType::Float, Value::Unsigned(u)) => Value::Float(u as f64),
        (DataType::Float, v @ Value::Float(_)) => v,
        (DataType::Unsigned, Value::Float(f)) => Value::Unsigned(f as u64),
        (DataType::Unsigned, Value::Integer(i)) => Value::Unsigned(i as u64),
        (DataType::Unsigned, v @ Value::Unsigned(_)) => v,
        (DataType::String, v @ Value::String(_)) => v,
        (DataType::Boolean, v @ Value::Boolean(_)) => v,
        (
            DataType::Integer
            | DataType::Float
            | DataType::Unsigned
            | DataType::String
            | DataType::Boolean,
            _,
        ) => Value::Null,
        (_, v) => v,
    }
}

struct AggLookup<'a> {
    calls: &'a HashMap<&'a str, Value>,
    aux: Option<RowLookup<'a>>,
}

impl Lookup for AggLookup<'_> {
    fn var(&self, name: &str, dt: DataType) -> Value {
        match &self.aux {
            Some(l) => l.var(name, dt),
            None => Value::Null,
        }
    }
    fn call(&self, key: &str) -> Option<Value> {
        Some(self.calls.get(key).cloned().unwrap_or(Value::Null))
    }
}

fn nan_to_null(v: Value) -> Value {
    match v {
        Value::Float(f) if !f.is_finite() => Value::Null,
        v => v,
    }
}

fn tri_for(plan: &Plan, schema: &Schema, s: &SeriesData) -> Tri {
    match &plan.cond {
        None => Tri::True,
        Some(c) => {
            let is_field = |n: &str, dt: DataType| schema.is_field(n, dt);
            eval_tags(c, &s.tags, &is_field, &plan.re)
        }
    }
}

fn eval_raw(plan: &Plan, g: &Group<'_>) -> Vec<Vec<Value>> {
    let mut refs = Vec::new();
    for f in &plan.fields {
        var_refs(&f.expr, &mut refs);
    }
    let drivers: Vec<String> = refs
        .into_iter()
        .filter(|(n, dt)| g.schema.is_field(n, *dt))
        .map(|(n, _)| n)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut rows: Vec<(i64, usize, Vec<Value>)> = Vec::new();
    for (si, s) in g.series.iter().enumerate() {
        let tri = tri_for(plan, g.schema, s);
        if tri == Tri::False {
            continue;
        }
        let mut times: Vec<i64> = drivers
            .iter()
            .filter_map(|d| s.cols.get(d))
            .flat_map(|c| c.times.iter().copied())
            .collect();
        times.sort_unstable();
        times.dedup();
        for t in times {
            if t < plan.tmin || t > plan.tmax {
                continue;
            }
            if tri == Tri::Unknown
                && let Some(c) = &plan.cond
            {
                let l = RowLookup { schema: g.schema, series: s, time: t, condition: true };
                if !eval_bool(c, &l, &plan.re) {
                    continue;
                }
            }
            let l = RowLookup { schema: g.schema, series: s, time: t, condition: false };
            let mut row = Vec::with_capacity(plan.fields.len() + 1);
            row.push(Value::Time(t));
            for f in &plan.fields {
                row.push(nan_to_null(eval(&f.expr, &l, &plan.re)));
            }
            rows.push((t, si, row));
        }
    }
    rows.sort_by_key(|(t, si, _)| (*t, *si));
    if !plan.ascending {
        rows.reverse();
    }
    rows.into_iter().map(|(_, _, r)| r).collect()
}

/// One reduced value of a call.
#[derive(Debug, Clone)]
struct Reduced {
    time: i64,
    value: Value,
    origin: Option<(usize, i64)>,
}

fn fill_value(plan: &Plan, call: &CallSpec, kind: &Value) -> Value {
    match &plan.fill {
        Fill::Null if call.fills_zero() => Value::Integer(0),
        Fill::Integer(i) => match kind {
            Value::Float(_) => Value::Float(*i as f64),
            Value::Unsigned(_) => Value::Unsigned(*i as u64),
            _ => Value::Integer(*i),
        },
        Fill::Float(f) => match kind {
            Value::Integer(_) => Value::Integer(*f as i64),
            Value::Unsigned(_) => Value::Unsigned(*f as u64),
            _ => Value::Float(*f),
        },
        _ => Value::Null,
    }
}

/// The points of `field` in the group's series within `[tmin, tmax]` that
/// pass the condition, sorted by time then series.
fn gather(plan: &Plan, g: &Group<'_>, field: &str, dt: DataType, tmin: i64) -> Vec<Pt> {
    let mut pts: Vec<Pt> = Vec::new();
    if !g.schema.is_field(field, dt) {
        return pts;
    }
    for (si, s) in g.series.iter().enumerate() {
        let Some(col) = s.cols.get(field) else { continue };
        let tri = tri_for(plan, g.schema, s);
        if tri == Tri::False {
            continue;
        }
        let lo = col.times.partition_point(|t| *t < tmin);
        for (t, v) in col.times[lo..].iter().zip(&col.values[lo..]) {
            if *t > plan.tmax {
                break;
            }
            if tri == Tri::Unknown
                && let Some(c) = &plan.cond
            {
                let l = RowLookup { schema: g.schema, series: s, time: *t, condition: true };
                if !eval_bool(c, &l, &plan.re) {
                    continue;
                }
            }
            pts.push(Pt { time: *t, value: cast(v.clone(), dt), series: si });
        }
    }
    pts.sort_by_key(|p| (p.time, p.series));
    pts
}

fn reduce_call(
    plan: &Plan,
    g: &Group<'_>,
    call: &CallSpec,
    selector_mode: bool,
    tmin: i64,
) -> Result<Vec<Reduced>> {
    let func = match &call.kind {
        Kind::Agg(f) => *f,
        Kind::TopBottom { bottom, tags, n } => {
            let pts = gather(plan, g, &call.field, call.data_type, tmin);
            return Ok(top_bottom(plan, g, pts, *bottom, tags, *n));
        }
        Kind::Transform(t, inner) => {
            let input: Vec<(i64, Value)> = match inner {
                None => {
                    let mut pts = gather(plan, g, &call.field, call.data_type, tmin);
                    if !plan.ascending {
                        pts.reverse();
                    }
                    pts.into_iter().map(|p| (p.time, p.value)).collect()
                }
                Some(inner) => {
                    // All but cumulative_sum see one more window before the range.
                    let ext = if plan.interval > 0 && *t != Transform::CumulativeSum {
                        tmin.saturating_sub(plan.interval)
                    } else {
                        tmin
                    };
                    reduce_call(plan, g, inner, false, ext)?
                        .into_iter()
                        .filter(|r| !r.value.is_null())
                        .map(|r| (r.time, r.value))
                        .collect()
                }
            };
            return Ok(transform(plan, *t, input));
        }
    };
    let pts = gather(plan, g, &call.field, call.data_type, tmin);
    let mut out: Vec<Reduced> = Vec::new();
    let base_time = if tmin == MIN_TIME { 0 } else { tmin };
    if plan.interval <= 0 {
        for o in agg::reduce(func, &pts) {
            let origin = o.series.zip(o.time);
            let time = if selector_mode { o.time.unwrap_or(base_time) } else { base_time };
            out.push(Reduced { time, value: o.value, origin });
        }
        return Ok(out);
    }
    let mut i = 0;
    while i < pts.len() {
        let w = window(pts[i].time, plan.interval, plan.offset);
        let mut j = i;
        while j < pts.len() && window(pts[j].time, plan.interval, plan.offset) == w {
            j += 1;
        }
        let time = if w == MIN_TIME { 0 } else { w };
        for o in agg::reduce(func, &pts[i..j]) {
            out.push(Reduced { time, value: o.value, origin: o.series.zip(o.time) });
        }
        i = j;
    }
    if plan.fill == Fill::None || out.is_empty() {
        if !plan.ascending {
            reverse_runs(&mut out);
        }
        return Ok(out);
    }
    // Fill every window from the range's start (or the first point) to the
    // range's end.
    let first =
        if tmin == MIN_TIME { out[0].time } else { window(tmin, plan.interval, plan.offset) };
    let last = window(plan.tmax, plan.interval, plan.offset);
    let n = (i128::from(last) - i128::from(first)) / i128::from(plan.interval) + 1;
    if n > MAX_BUCKETS {
        return Err(QueryError::invalid(format!(
            "max-select-buckets limit exceeded: ({n}/{MAX_BUCKETS})"
        )));
    }
    let kind =
        out.iter().map(|r| r.value.clone()).find(|v| !v.is_null()).unwrap_or(Value::Float(0.0));
    let mut by_time: BTreeMap<i64, Vec<Reduced>> = BTreeMap::new();
    for r in out {
        by_time.entry(r.time).or_default().push(r);
    }
    let mut windows: Vec<i64> = Vec::with_capacity(n.max(0) as usize);
    let mut w = i128::from(first);
    while w <= i128::from(last) {
        windows.push(w as i64);
        w += i128::from(plan.interval);
    }
    // Points before `first` or after `last` (can't happen with a bounded
    // range) are kept as they are.
    for t in by_time.keys() {
        if (*t < first || *t > last) && !windows.contains(t) {
            windows.push(*t);
        }
    }
    windows.sort_unstable();
    if !plan.ascending {
        windows.reverse();
    }
    let known: Vec<(i64, Value)> = windows
        .iter()
        .filter_map(|w| by_time.get(w).and_then(|v| v.first()).map(|r| (*w, r.value.clone())))
        .collect();
    let mut filled = Vec::with_capacity(windows.len());
    let mut prev: Option<(i64, Value)> = None;
    let mut next_known = 0usize;
    for w in windows {
        if let Some(rs) = by_time.remove(&w) {
            if let Some(r) = rs.first() {
                prev = Some((w, r.value.clone()));
                next_known += 1;
            }
            filled.extend(rs);
            continue;
        }
        let value = match &plan.fill {
            Fill::Previous => prev.as_ref().map(|p| p.1.clone()).unwrap_or(Value::Null),
            Fill::Linear => match (&prev, known.get(next_known)) {
                (Some((pt, pv)), Some((nt, nv))) => agg::linear(
                    w / plan.interval,
                    (pt / plan.interval, pv),
                    (nt / plan.interval, nv),
                ),
                _ => Value::Null,
            },
            _ => fill_value(plan, call, &kind),
        };
        filled.push(Reduced { time: w, value, origin: None });
    }
    Ok(filled)
}

/// `top()` / `bottom()`: the `n` largest (smallest) points of each window
/// (of the best point per tag combination when tags are given), in time
/// order, with their own timestamps.
fn top_bottom(
    plan: &Plan,
    g: &Group<'_>,
    pts: Vec<Pt>,
    bottom: bool,
    tags: &[String],
    n: usize,
) -> Vec<Reduced> {
    use std::cmp::Ordering;
    let better = |a: &Pt, b: &Pt| -> bool {
        let o = a.value.as_f64().partial_cmp(&b.value.as_f64()).unwrap_or(Ordering::Equal);
        let o = if bottom { o.reverse() } else { o };
        o == Ordering::Greater || (o == Ordering::Equal && a.time < b.time)
    };
    let pts: Vec<Pt> = pts.into_iter().filter(|p| p.value.as_f64().is_some()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < pts.len() {
        let w = window(pts[i].time, plan.interval, plan.offset);
        let mut j = i;
        while j < pts.len()
            && (plan.interval <= 0 || window(pts[j].time, plan.interval, plan.offset) == w)
        {
            j += 1;
        }
        let slice = &pts[i..j];
        let mut cands: Vec<&Pt> = if tags.is_empty() {
            slice.iter().collect()
        } else {
            let mut best: BTreeMap<Vec<String>, &Pt> = BTreeMap::new();
            for p in slice {
                let key: Vec<String> = tags
                    .iter()
                    .map(|t| {
                        g.series.get(p.series).and_then(|s| s.tag(t)).unwrap_or("").to_string()
                    })
                    .collect();
                match best.get(&key) {
                    Some(b) if !better(p, b) => {}
                    _ => {
                        best.insert(key, p);
                    }
                }
            }
            best.into_values().collect()
        };
        cands.sort_by(|a, b| {
            if better(a, b) {
                std::cmp::Ordering::Less
            } else if better(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        cands.truncate(n);
        cands.sort_by_key(|p| p.time);
        out.extend(cands.into_iter().map(|p| Reduced {
            time: p.time,
            value: p.value.clone(),
            origin: Some((p.series, p.time)),
        }));
        i = j;
    }
    if !plan.ascending {
        out.reverse();
    }
    out
}

/// Applies a transformation to a stream of points (in query order).
fn transform(plan: &Plan, t: Transform, input: Vec<(i64, Value)>) -> Vec<Reduced> {
    let mut out = Vec::new();
    let emit = |out: &mut Vec<Reduced>, time: i64, value: Value| {
        out.push(Reduced { time, value, origin: None });
    };
    match t {
        Transform::Derivative { unit, non_negative } => {
            let unit = if unit > 0 {
                unit
            } else if plan.interval > 0 {
                plan.interval
            } else {
                1_000_000_000
            };
            let mut prev: Option<(i64, f64)> = None;
            for (time, v) in input {
                let Some(x) = v.as_f64() else { continue };
                match prev {
                    Some((pt, _)) if pt == time => continue,
                    Some((pt, pv)) => {
                        let diff = x - pv;
                        let mut elapsed = time.saturating_sub(pt);
                        if !plan.ascending {
                            elapsed = -elapsed;
                        }
                        if !(non_negative && diff < 0.0) {
                            emit(
                                &mut out,
                                time,
                                Value::Float(diff / (elapsed as f64 / unit as f64)),
                            );
                        }
                    }
                    None => {}
                }
                prev = Some((time, x));
            }
        }
        Transform::Difference { non_negative } => {
            let mut prev: Option<(i64, Value)> = None;
            for (time, v) in input {
                if v.as_f64().is_none() {
                    continue;
                }
                if let Some((pt, pv)) = &prev {
                    if *pt == time {
                        continue;
                    }
                    let d = match (pv, &v) {
                        (Value::Integer(a), Value::Integer(b)) => {
                            Value::Integer(b.wrapping_sub(*a))
                        }
                        (Value::Unsigned(a), Value::Unsigned(b)) => {
                            Value::Unsigned(b.wrapping_sub(*a))
                        }
                        (a, b) => {
                            Value::Float(b.as_f64().unwrap_or(0.0) - a.as_f64().unwrap_or(0.0))
                        }
                    };
                    let negative = match &d {
                        Value::Integer(i) => *i < 0,
                        Value::Float(f) => *f < 0.0,
                        _ => false,
                    };
                    if !(non_negative && negative) {
                        emit(&mut out, time, d);
                    }
                }
                prev = Some((time, v));
            }
        }
        Transform::CumulativeSum => {
            let mut acc: Option<Value> = None;
            for (time, v) in input {
                let next = match (acc.take(), &v) {
                    (None, v) if v.as_f64().is_some() => v.clone(),
                    (Some(Value::Integer(a)), Value::Integer(b)) => {
                        Value::Integer(a.wrapping_add(*b))
                    }
                    (Some(Value::Unsigned(a)), Value::Unsigned(b)) => {
                        Value::Unsigned(a.wrapping_add(*b))
                    }
                    (Some(a), b) if b.as_f64().is_some() => {
                        Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0))
                    }
                    (a, _) => {
                        acc = a;
                        continue;
                    }
                };
                emit(&mut out, time, next.clone());
                acc = Some(next);
            }
        }
        Transform::MovingAverage(n) => {
            // A ring buffer with a running sum, as InfluxDB keeps it.
            let n = n.max(1);
            let mut buf: Vec<Value> = Vec::with_capacity(n);
            let mut pos = 0usize;
            let mut fsum = 0.0f64;
            let mut isum = 0i64;
            for (time, v) in input {
                if v.as_f64().is_none() {
                    continue;
                }
                if buf.len() == n {
                    match &buf[pos] {
                        Value::Integer(i) => isum = isum.wrapping_sub(*i),
                        old => fsum -= old.as_f64().unwrap_or(0.0),
                    }
                    buf[pos] = v.clone();
                } else {
                    buf.push(v.clone());
                }
                match &v {
                    Value::Integer(i) => isum = isum.wrapping_add(*i),
                    other => fsum += other.as_f64().unwrap_or(0.0),
                }
                pos = (pos + 1) % n;
                if buf.len() == n {
                    let avg = (isum as f64 + fsum) / n as f64;
                    emit(&mut out, time, Value::Float(avg));
                }
            }
        }
        Transform::Elapsed(unit) => {
            let unit = unit.max(1);
            let mut prev: Option<i64> = None;
            for (time, _) in input {
                if let Some(pt) = prev {
                    emit(&mut out, time, Value::Integer(time.saturating_sub(pt) / unit));
                }
                prev = Some(time);
            }
        }
    }
    out
}

/// Reverses the order of windows but keeps the order inside one window
/// (distinct values).
fn reverse_runs(v: &mut Vec<Reduced>) {
    let mut runs: Vec<Vec<Reduced>> = Vec::new();
    for r in v.drain(..) {
        match runs.last_mut() {
            Some(run) if run[0].time == r.time => run.push(r),
            _ => runs.push(vec![r]),
        }
    }
    runs.reverse();
    v.extend(runs.into_iter().flatten());
}

/// A joined aggregate row: time, one value per call, the selected point.
type JoinedRow = (i64, Vec<Value>, Option<(usize, i64)>);

fn eval_agg(plan: &Plan, g: &Group<'_>) -> Result<Vec<Vec<Value>>> {
    let selector_mode = plan.calls.len() == 1 && plan.calls[0].is_selector();
    let per_call: Vec<Vec<Reduced>> = plan
        .calls
        .iter()
        .map(|c| {
            // LIMIT and OFFSET apply to each call's points, before the join.
            reduce_call(plan, g, c, selector_mode, plan.tmin)
                .map(|r| apply_limits(r, plan.offset_rows, plan.limit_rows))
        })
        .collect::<Result<_>>()?;
    // Rows: (time, one value per call, origin of the selected point).
    let mut rows: Vec<JoinedRow> = Vec::new();
    if per_call.len() == 1 {
        for r in &per_call[0] {
            rows.push((r.time, vec![r.value.clone()], r.origin));
        }
    } else {
        let mut by_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        for (ci, rs) in per_call.iter().enumerate() {
            for r in rs {
                let row =
                    by_time.entry(r.time).or_insert_with(|| vec![Value::Null; per_call.len()]);
                if row[ci].is_null() {
                    row[ci] = r.value.clone();
                }
            }
        }
        rows.extend(by_time.into_iter().map(|(t, v)| (t, v, None)));
        if !plan.ascending {
            rows.reverse();
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (t, vals, origin) in rows {
        let calls: HashMap<&str, Value> =
            plan.calls.iter().map(|c| c.key.as_str()).zip(vals).collect();
        let aux = origin.and_then(|(si, pt)| {
            g.series.get(si).map(|s| RowLookup {
                schema: g.schema,
                series: s,
                time: pt,
                condition: false,
            })
        });
        let l = AggLookup { calls: &calls, aux };
        let mut row = Vec::with_capacity(plan.fields.len() + 1);
        row.push(Value::Time(t));
        for f in &plan.fields {
            row.push(nan_to_null(eval(&f.expr, &l, &plan.re)));
        }
        out.push(row);
    }
    Ok(out)
}

fn apply_limits<T>(v: Vec<T>, offset: i64, limit: i64) -> Vec<T> {
    let off = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
    let it = v.into_iter().skip(off);
    if limit > 0 {
        it.take(usize::try_from(limit).unwrap_or(usize::MAX)).collect()
    } else {
        it.collect()
    }
}

/// Runs a `SELECT` (without writing `INTO` targets).
pub fn select<'a>(
    ctx: &'a Context<'_>,
    stmt: &'a SelectStatement,
) -> super::backend::BoxFuture<'a, Result<Vec<Series>>> {
    Box::pin(select_inner(ctx, stmt))
}

async fn select_inner(ctx: &Context<'_>, stmt: &SelectStatement) -> Result<Vec<Series>> {
    let valuer = Valuer { now: Some(ctx.now) };
    let (cond, tr) =
        condition_expr(stmt.condition.as_ref(), &valuer).map_err(|e| QueryError::invalid(e.0))?;
    if let Some(c) = &cond {
        validate_condition(c)?;
    }
    let (interval, offset, dims) = compile_dimensions(stmt, ctx.now)?;
    let (time_alias, fields) = strip_time_fields(&stmt.fields);
    let mut info = FieldInfo {
        only_selectors: true,
        interval,
        limit: stmt.limit,
        has_target: stmt.target.is_some(),
        ..Default::default()
    };
    for f in &fields {
        let mut allow = true;
        compile_expr(&f.expr, &mut allow, &mut info)?;
    }
    validate_fields(&info, &fields, interval, &stmt.fill)?;
    let tmin = tr.min.unwrap_or(MIN_TIME);
    let tmax = tr.max.unwrap_or(if interval > 0 { ctx.now } else { MAX_TIME });

    let mut specs: Vec<SourceSpec> = Vec::new();
    let mut subqueries: Vec<&SelectStatement> = Vec::new();
    let mut re = Regexes::default();
    for s in &stmt.sources {
        match s {
            Source::Measurement(m) => {
                if let Some(r) = &m.regex {
                    re.add(&r.pattern)?;
                }
                specs.push(data::resolve_measurement(ctx, m)?);
            }
            Source::SubQuery(q) => subqueries.push(q),
        }
    }
    if !subqueries.is_empty() && !specs.is_empty() {
        return Err(QueryError::Unsupported(
            "mixing measurements and subqueries in FROM is not supported by this testbed".into(),
        ));
    }
    let ascending = stmt.sort_fields.first().is_none_or(|s| s.ascending);
    if let Some(c) = &cond {
        re.add_expr(c)?;
    }
    for f in &fields {
        re.add_expr(&f.expr)?;
    }
    for d in &dims {
        if let Dim::Regex(p) = d {
            re.add(p)?;
        }
    }
    if tmin > tmax {
        return Ok(Vec::new());
    }
    let read_min = if info.extra_interval { tmin.saturating_sub(interval) } else { tmin };
    let (listed, schemas, sub_data) = if subqueries.is_empty() {
        let listed = data::list_sources(ctx, &specs, read_min, tmax, &re).await?;
        let schemas = data::schemas(&listed);
        (listed, schemas, None)
    } else {
        let outer =
            Outer { tmin: read_min, tmax, interval, offset, ascending, tr_given: (tr.min, tr.max) };
        let d = subquery_data(ctx, &subqueries, &outer).await?;
        let schemas = d.iter().map(|(m, md)| (m.clone(), md.schema.clone())).collect();
        (Vec::new(), schemas, Some(d))
    };
    let (fields, dims) = expand(&fields, &dims, &schemas, &re)?;
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    // top()/bottom() tag arguments become columns of their own.
    let fields: Vec<Field> = if stmt.target.is_none() {
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            let extra: Vec<Expr> = match &f.expr {
                Expr::Call(c)
                    if matches!(c.name.as_str(), "top" | "bottom") && c.args.len() > 2 =>
                {
                    c.args[1..c.args.len() - 1].to_vec()
                }
                _ => Vec::new(),
            };
            out.push(f);
            out.extend(extra.into_iter().map(|expr| Field { expr, alias: String::new() }));
        }
        out
    } else {
        fields
    };
    let columns = column_names(&time_alias, &fields);
    let mut calls = Vec::new();
    for f in &fields {
        collect_calls(&f.expr, &mut calls);
    }
    // Fields each measurement must read: those selected, aggregated or in
    // the condition.
    let mut refs = Vec::new();
    for f in &fields {
        var_refs(&f.expr, &mut refs);
    }
    if let Some(c) = &cond {
        var_refs(c, &mut refs);
    }
    for c in &calls {
        refs.push((c.field.clone(), c.data_type));
    }
    let wanted = |m: &str| -> Vec<String> {
        let Some(sc) = schemas.get(m) else { return Vec::new() };
        let set: BTreeSet<String> =
            refs.iter().filter(|(n, dt)| sc.is_field(n, *dt)).map(|(n, _)| n.clone()).collect();
        set.into_iter().collect()
    };
    let data = match sub_data {
        Some(d) => d,
        None => {
            data::read_data(ctx, &listed, &schemas, &wanted, cond.as_ref(), &re, (read_min, tmax))
                .await?
        }
    };
    let plan = Plan {
        fields,
        dims,
        calls,
        cond,
        re,
        interval,
        offset,
        tmin,
        tmax,
        fill: stmt.fill.clone(),
        ascending,
        limit_rows: stmt.limit,
        offset_rows: stmt.offset,
    };
    // Evaluation is CPU work: keep it off the async workers.
    let (soffset, slimit) = (stmt.soffset, stmt.slimit);
    tokio::task::spawn_blocking(move || evaluate(&plan, &data, &columns, soffset, slimit))
        .await
        .map_err(|e| QueryError::Shard(format!("query evaluation failed: {e}")))?
}

/// Evaluates every output series.
fn evaluate(
    plan: &Plan,
    data: &BTreeMap<String, MeasurementData>,
    columns: &[String],
    soffset: i64,
    slimit: i64,
) -> Result<Vec<Series>> {
    let groups = make_groups(data, &plan.dims);
    let mut out = Vec::new();
    for g in &groups {
        let rows = if plan.calls.is_empty() {
            apply_limits(eval_raw(plan, g), plan.offset_rows, plan.limit_rows)
        } else {
            eval_agg(plan, g)?
        };
        if rows.is_empty() {
            continue;
        }
        out.push(Series {
            name: g.measurement.to_string(),
            tags: plan.dims.iter().cloned().zip(g.tag_values.iter().cloned()).collect(),
            columns: columns.to_vec(),
            values: rows,
            partial: false,
        });
    }
    if !plan.ascending {
        out.reverse();
    }
    Ok(apply_limits(out, soffset, slimit))
}

/// What a subquery inherits from the query around it.
struct Outer {
    tmin: i64,
    tmax: i64,
    interval: i64,
    offset: i64,
    ascending: bool,
    tr_given: (Option<i64>, Option<i64>),
}

fn time_literal(op: crate::influxql::BinaryOp, t: i64) -> Expr {
    Expr::binary(op, Expr::var("time"), Expr::Time(i128::from(t)))
}

/// Runs the subqueries as InfluxDB compiles them (the outer time range
/// intersected in, the outer `GROUP BY time()` inherited by aggregates
/// without one, `fill(null)` turned into `fill(none)`, the outer order)
/// and turns their rows into series: each result series (name and tags)
/// becomes a series whose fields are the result's columns.
async fn subquery_data(
    ctx: &Context<'_>,
    subs: &[&SelectStatement],
    outer: &Outer,
) -> Result<BTreeMap<String, MeasurementData>> {
    use crate::influxql::{BinaryOp, Dimension, SortField};
    let mut out: BTreeMap<String, BTreeMap<String, SeriesData>> = BTreeMap::new();
    let mut schemas: BTreeMap<String, Schema> = BTreeMap::new();
    for sub in subs {
        let mut q = (*sub).clone();
        if q.sort_fields.first().is_some_and(|s| s.ascending != outer.ascending) {
            return Err(QueryError::invalid(
                "subqueries must be ordered in the same direction as the query itself",
            ));
        }
        q.sort_fields = vec![SortField { name: String::new(), ascending: outer.ascending }];
        let mut cond = q.condition.take().map(|c| Expr::Paren(Box::new(c)));
        let mut add = |e: Expr| {
            cond = Some(match cond.take() {
                Some(c) => Expr::binary(BinaryOp::And, c, e),
                None => e,
            });
        };
        if outer.tr_given.0.is_some() || outer.tmin != MIN_TIME {
            add(time_literal(BinaryOp::Gte, outer.tmin));
        }
        if outer.tr_given.1.is_some() || outer.interval > 0 {
            add(time_literal(BinaryOp::Lte, outer.tmax));
        }
        q.condition = cond;
        let (inner_interval, _, _) = compile_dimensions(&q, ctx.now)?;
        let is_aggregate = !q.is_raw_query;
        if inner_interval == 0 && outer.interval > 0 && is_aggregate {
            q.dimensions.push(Dimension {
                expr: Expr::Call(Call {
                    name: "time".into(),
                    args: vec![Expr::Duration(outer.interval), Expr::Duration(outer.offset)],
                }),
            });
        }
        if (inner_interval > 0 || (outer.interval > 0 && is_aggregate)) && q.fill == Fill::Null {
            q.fill = Fill::None;
        }
        for series in select(ctx, &q).await? {
            let sc = schemas.entry(series.name.clone()).or_default();
            let mut tags: Vec<(String, String)> = series.tags.clone();
            tags.sort();
            for (k, _) in &tags {
                sc.tags.insert(k.clone());
            }
            let key = portable::key::series_key(&series.name, &tags);
            let sd =
                out.entry(series.name.clone()).or_default().entry(key.clone()).or_insert_with(
                    || SeriesData { key, tags: tags.clone(), cols: HashMap::new() },
                );
            for row in &series.values {
                let Some(Value::Time(t)) = row.first() else { continue };
                for (c, v) in series.columns.iter().zip(row).skip(1) {
                    let ft = match v {
                        Value::Float(_) => FieldType::Float,
                        Value::Integer(_) | Value::Time(_) => FieldType::Integer,
                        Value::Unsigned(_) => FieldType::Unsigned,
                        Value::Boolean(_) => FieldType::Boolean,
                        Value::String(_) => FieldType::String,
                        _ => continue,
                    };
                    sc.fields.entry(c.clone()).or_insert(ft);
                    let col = sd.cols.entry(c.clone()).or_default();
                    col.times.push(*t);
                    col.values.push(v.clone());
                }
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(m, series)| {
            let mut series: Vec<SeriesData> = series.into_values().collect();
            for s in &mut series {
                for c in s.cols.values_mut() {
                    sort_col(c);
                }
            }
            (m.clone(), MeasurementData { schema: schemas.remove(&m).unwrap_or_default(), series })
        })
        .collect())
}

/// Sorts a column by time (stable), keeping every value.
fn sort_col(c: &mut data::Col) {
    if c.times.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut idx: Vec<usize> = (0..c.times.len()).collect();
    idx.sort_by_key(|&i| c.times[i]);
    c.times = idx.iter().map(|&i| c.times[i]).collect();
    c.values = idx.iter().map(|&i| c.values[i].clone()).collect();
}

fn validate_fields(info: &FieldInfo, fields: &[Field], interval: i64, fill: &Fill) -> Result<()> {
    if fields.is_empty() {
        return Err(QueryError::invalid("at least 1 non-time field must be queried"));
    }
    if info.calls > 1
        && let Some(tb) = &info.top_bottom
    {
        return Err(QueryError::invalid(format!(
            "selector function {tb}() cannot be combined with other functions"
        )));
    }
    if info.calls == 0 {
        match fill {
            Fill::None => {
                return Err(QueryError::invalid("fill(none) must be used with a function"));
            }
            Fill::Linear => {
                return Err(QueryError::invalid("fill(linear) must be used with a function"));
            }
            _ => {}
        }
        if interval != 0 {
            return Err(QueryError::invalid("GROUP BY requires at least one aggregate function"));
        }
    }
    if info.has_distinct && (info.calls != 1 || info.has_aux) {
        return Err(QueryError::invalid(
            "aggregate function distinct() cannot be combined with other functions or fields",
        ));
    }
    if info.has_aux && info.calls > 0 {
        if !info.only_selectors {
            return Err(QueryError::invalid(
                "mixing aggregate and non-aggregate queries is not supported",
            ));
        }
        if info.calls > 1 {
            return Err(QueryError::invalid(
                "mixing multiple selector functions with tags or fields is not supported",
            ));
        }
    }
    Ok(())
}

fn make_groups<'a>(data: &'a BTreeMap<String, MeasurementData>, dims: &[String]) -> Vec<Group<'a>> {
    let mut out = Vec::new();
    for (m, md) in data {
        let mut groups: BTreeMap<Vec<String>, Vec<&SeriesData>> = BTreeMap::new();
        for s in &md.series {
            let key: Vec<String> =
                dims.iter().map(|d| s.tag(d).unwrap_or("").to_string()).collect();
            groups.entry(key).or_default().push(s);
        }
        for (tag_values, series) in groups {
            out.push(Group { measurement: m, tag_values, schema: &md.schema, series });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let h = 3_600_000_000_000;
        assert_eq!(window(h + 5, h, 0), h);
        assert_eq!(window(-5, h, 0), -h);
        assert_eq!(window(h + 5, h, 60), 60);
        assert_eq!(window(h + 65, h, 60), h + 60);
        assert_eq!(window(MIN_TIME, h, 0), MIN_TIME);
    }

    #[test]
    fn names() {
        let f = |e: &str, a: &str| Field {
            expr: crate::influxql::parse_expr(e).unwrap(),
            alias: a.into(),
        };
        assert_eq!(
            column_names("time", &[f("mean(a)", ""), f("mean(b)", ""), f("max(a)", "mean_1")]),
            vec!["time", "mean", "mean_2", "mean_1"]
        );
    }
}
