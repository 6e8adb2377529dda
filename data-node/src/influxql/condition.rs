//! Constant folding (`now()`, time and duration arithmetic) and the
//! extraction of the time range from a `WHERE` condition, with InfluxDB's
//! semantics (`influxql.Reduce` and `influxql.ConditionExpr`).

use super::ast::{BinaryOp, Expr, MAX_TIME, MIN_TIME};
use super::time::{is_time_string, parse_time_string};

/// What a condition is evaluated against: the query's `now()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Valuer {
    /// Value of `now()` in ns since the epoch; `None` leaves `now()` as is.
    pub now: Option<i64>,
}

/// An error met while extracting the time range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(pub String);

/// An inclusive time range; `None` ends are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Earliest time, ns.
    pub min: Option<i64>,
    /// Latest time, ns.
    pub max: Option<i64>,
}

impl TimeRange {
    /// Narrows to the overlap with `other`.
    pub fn intersect(self, other: TimeRange) -> TimeRange {
        TimeRange {
            min: match (self.min, other.min) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            max: match (self.max, other.max) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// The minimum, [`MIN_TIME`] when open.
    pub fn min_nanos(&self) -> i64 {
        self.min.unwrap_or(MIN_TIME)
    }

    /// The maximum, [`MAX_TIME`] when open.
    pub fn max_nanos(&self) -> i64 {
        self.max.unwrap_or(MAX_TIME)
    }
}

/// Splits a `WHERE` condition into the time range it sets and the rest,
/// as InfluxDB's `ConditionExpr` does with a `now()` valuer:
/// `time > x` gives min `x + 1`, `time >= x` min `x`, `time < x` max
/// `x - 1`, `time <= x` max `x`, `time = x` both; `x` may be an RFC3339 or
/// date string, an integer or float of ns, a duration, `now()` and
/// arithmetic on those. Time comparisons under `OR` are intersected as if
/// joined by `AND` (InfluxDB does the same). Returns
/// `(min_time, max_time, remaining condition)`, open ends being
/// [`MIN_TIME`] and [`MAX_TIME`].
pub fn condition_time_bounds(
    cond: Option<&Expr>,
    now: i64,
) -> Result<(i64, i64, Option<Expr>), ConditionError> {
    let (rest, tr) = condition_expr(cond, &Valuer { now: Some(now) })?;
    Ok((tr.min_nanos(), tr.max_nanos(), rest))
}

/// [`condition_time_bounds`] returning the open ends as `None`.
pub fn condition_expr(
    cond: Option<&Expr>,
    valuer: &Valuer,
) -> Result<(Option<Expr>, TimeRange), ConditionError> {
    let Some(cond) = cond else {
        return Ok((None, TimeRange::default()));
    };
    let (expr, tr) = condition_inner(cond, valuer)?;
    let expr = match expr {
        Some(Expr::Paren(e)) => Some(*e),
        e => e,
    };
    let expr = match expr {
        Some(Expr::Boolean(true)) => None,
        e => e,
    };
    Ok((expr, tr))
}

fn is_time_ref(e: &Expr) -> bool {
    matches!(e, Expr::VarRef(v) if v.name.eq_ignore_ascii_case("time"))
}

fn is_and_or(e: &Expr) -> bool {
    matches!(e, Expr::Binary(b) if matches!(b.op, BinaryOp::And | BinaryOp::Or))
}

fn condition_inner(
    cond: &Expr,
    valuer: &Valuer,
) -> Result<(Option<Expr>, TimeRange), ConditionError> {
    match cond {
        Expr::Binary(_) if is_and_or(cond) => {
            // Long `AND`/`OR` chains are left-deep: fold the left spine
            // bottom-up instead of recursing once per level. The operands
            // are already reduced, so only the new node is reduced.
            let mut spine = Vec::new();
            let mut cur = cond;
            while let Expr::Binary(b) = cur {
                if !matches!(b.op, BinaryOp::And | BinaryOp::Or) {
                    break;
                }
                spine.push(b);
                cur = &b.lhs;
            }
            let (mut expr, mut tr) = condition_inner(cur, valuer)?;
            for b in spine.iter().rev() {
                let (rhs, rtr) = condition_inner(&b.rhs, valuer)?;
                tr = tr.intersect(rtr);
                expr = match (expr, rhs) {
                    (l, None) => l,
                    (None, r) => r,
                    (Some(l), Some(r)) => Some(reduce_binary_parts(b.op, l, r)),
                };
            }
            Ok((expr, tr))
        }
        Expr::Binary(b) => {
            if is_time_ref(&b.lhs) {
                return Ok((None, time_range(b.op, &b.rhs, valuer)?));
            }
            if is_time_ref(&b.rhs) {
                let op = match b.op {
                    BinaryOp::Gt => BinaryOp::Lt,
                    BinaryOp::Lt => BinaryOp::Gt,
                    BinaryOp::Gte => BinaryOp::Lte,
                    BinaryOp::Lte => BinaryOp::Gte,
                    op => op,
                };
                return Ok((None, time_range(op, &b.lhs, valuer)?));
            }
            Ok((Some(reduce(cond, valuer)), TimeRange::default()))
        }
        Expr::Paren(inner) => {
            let (expr, tr) = condition_inner(inner, valuer)?;
            match expr {
                None => Ok((None, tr)),
                Some(e @ Expr::Binary(_)) => Ok((Some(Expr::Paren(Box::new(e))), tr)),
                Some(e) => Ok((Some(e), tr)),
            }
        }
        Expr::Boolean(_) => Ok((Some(cond.clone()), TimeRange::default())),
        _ => Err(ConditionError(format!("invalid condition expression: {cond}"))),
    }
}

/// Formats like Go's `time.RFC3339` (whole seconds).
fn rfc3339(t: i128) -> String {
    super::time::format_rfc3339_nano(t.div_euclid(1_000_000_000) * 1_000_000_000)
}

fn time_range(op: BinaryOp, rhs: &Expr, valuer: &Valuer) -> Result<TimeRange, ConditionError> {
    let mut rhs = rhs.clone();
    if let Expr::String(s) = &rhs
        && is_time_string(s)
    {
        match parse_time_string(s) {
            Some(t) => rhs = Expr::Time(t),
            None => return Err(ConditionError("invalid timestamp string".into())),
        }
    }
    let rhs = match reduce(&rhs, valuer) {
        Expr::Paren(e) => *e,
        e => e,
    };
    let value: i64 = match &rhs {
        Expr::Time(t) => {
            if *t > i128::from(MAX_TIME) {
                return Err(ConditionError(format!("time {} overflows time literal", rfc3339(*t))));
            } else if *t < i128::from(MIN_TIME) + 1 {
                return Err(ConditionError(format!(
                    "time {} underflows time literal",
                    rfc3339(*t)
                )));
            }
            *t as i64
        }
        Expr::Duration(d) => *d,
        Expr::Number(f) => *f as i64,
        Expr::Integer(i) => *i,
        other => {
            return Err(ConditionError(format!(
                "invalid operation: time and {} are not compatible",
                other.go_type()
            )));
        }
    };
    let mut tr = TimeRange::default();
    match op {
        BinaryOp::Gt => tr.min = Some(value.wrapping_add(1)),
        BinaryOp::Gte => tr.min = Some(value),
        BinaryOp::Lt => tr.max = Some(value.wrapping_sub(1)),
        BinaryOp::Lte => tr.max = Some(value),
        BinaryOp::Eq => {
            tr.min = Some(value);
            tr.max = Some(value);
        }
        op => {
            return Err(ConditionError(format!(
                "invalid time comparison operator: {}",
                op.as_str()
            )));
        }
    }
    Ok(tr)
}

/// Evaluates constant sub-expressions (InfluxDB `Reduce`): `now()` with a
/// valuer, arithmetic and comparisons of literals, time strings compared
/// or shifted by durations, `AND`/`OR` with boolean literals. A top-level
/// parenthesis is removed.
pub fn reduce_expr(expr: &Expr, valuer: &Valuer) -> Expr {
    match reduce(expr, valuer) {
        Expr::Paren(e) => *e,
        e => e,
    }
}

fn is_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Boolean(_)
            | Expr::BoundParameter(_)
            | Expr::Duration(_)
            | Expr::Integer(_)
            | Expr::Unsigned(_)
            | Expr::Nil
            | Expr::Number(_)
            | Expr::Regex(_)
            | Expr::List(_)
            | Expr::String(_)
            | Expr::Time(_)
    )
}

fn reduce(expr: &Expr, valuer: &Valuer) -> Expr {
    match expr {
        Expr::Binary(_) => {
            // Reduce the left spine bottom-up (no recursion per level).
            let mut spine = Vec::new();
            let mut cur = expr;
            while let Expr::Binary(b) = cur {
                spine.push(b);
                cur = &b.lhs;
            }
            let mut acc = reduce(cur, valuer);
            for b in spine.iter().rev() {
                let rhs = reduce(&b.rhs, valuer);
                acc = reduce_binary_parts(b.op, acc, rhs);
            }
            acc
        }
        Expr::Call(c) => {
            let args: Vec<Expr> = c.args.iter().map(|a| reduce(a, valuer)).collect();
            if args.iter().all(is_literal)
                && c.name == "now"
                && args.is_empty()
                && let Some(now) = valuer.now
            {
                return Expr::Time(i128::from(now));
            }
            Expr::Call(super::ast::Call { name: c.name.clone(), args })
        }
        Expr::Paren(p) => match reduce(p, valuer) {
            e @ Expr::Binary(_) => Expr::Paren(Box::new(e)),
            e => e,
        },
        e => e.clone(),
    }
}

fn boolean(v: bool) -> Expr {
    Expr::Boolean(v)
}

fn unreduced(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr::binary(op, lhs, rhs)
}

/// Folds `lhs op rhs` whose operands are already reduced.
fn reduce_binary_parts(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    if op == BinaryOp::And {
        if lhs == Expr::Boolean(false) || rhs == Expr::Boolean(false) {
            return boolean(false);
        } else if lhs == Expr::Boolean(true) {
            return rhs;
        } else if rhs == Expr::Boolean(true) {
            return lhs;
        }
    } else if op == BinaryOp::Or {
        if lhs == Expr::Boolean(true) || rhs == Expr::Boolean(true) {
            return boolean(true);
        } else if lhs == Expr::Boolean(false) {
            return rhs;
        } else if rhs == Expr::Boolean(false) {
            return lhs;
        }
    }
    match lhs {
        Expr::Boolean(l) => reduce_boolean(op, l, rhs),
        Expr::Duration(l) => reduce_duration(op, l, rhs),
        Expr::Integer(l) => reduce_integer(op, l, rhs),
        Expr::Unsigned(l) => reduce_unsigned(op, l, rhs),
        Expr::Nil => match op {
            BinaryOp::Eq | BinaryOp::Neq => boolean(false),
            _ => unreduced(op, Expr::Nil, rhs),
        },
        Expr::Number(l) => reduce_number(op, l, rhs),
        Expr::String(l) => reduce_string(op, l, rhs),
        Expr::Time(l) => reduce_time(op, l, rhs),
        lhs => unreduced(op, lhs, rhs),
    }
}

fn reduce_boolean(op: BinaryOp, l: bool, rhs: Expr) -> Expr {
    match rhs {
        Expr::Boolean(r) => match op {
            BinaryOp::Eq => boolean(l == r),
            BinaryOp::Neq => boolean(l != r),
            BinaryOp::And | BinaryOp::BitwiseAnd => boolean(l && r),
            BinaryOp::Or | BinaryOp::BitwiseOr => boolean(l || r),
            BinaryOp::BitwiseXor => boolean(l != r),
            _ => unreduced(op, Expr::Boolean(l), rhs),
        },
        Expr::Nil => boolean(false),
        rhs => unreduced(op, Expr::Boolean(l), rhs),
    }
}

/// Go's `time.Duration(float64)` conversion.
fn f64_to_i64(f: f64) -> i64 {
    f as i64
}

fn reduce_duration(op: BinaryOp, l: i64, rhs: Expr) -> Expr {
    match &rhs {
        Expr::Duration(r) => {
            let r = *r;
            return match op {
                BinaryOp::Add => Expr::Duration(l.wrapping_add(r)),
                BinaryOp::Sub => Expr::Duration(l.wrapping_sub(r)),
                BinaryOp::Eq => boolean(l == r),
                BinaryOp::Neq => boolean(l != r),
                BinaryOp::Gt => boolean(l > r),
                BinaryOp::Gte => boolean(l >= r),
                BinaryOp::Lt => boolean(l < r),
                BinaryOp::Lte => boolean(l <= r),
                _ => unreduced(op, Expr::Duration(l), rhs),
            };
        }
        Expr::Number(r) => match op {
            BinaryOp::Mul => return Expr::Duration(l.wrapping_mul(f64_to_i64(*r))),
            BinaryOp::Div => {
                let d = f64_to_i64(*r);
                return Expr::Duration(if *r == 0.0 || d == 0 { 0 } else { l.wrapping_div(d) });
            }
            _ => {}
        },
        Expr::Integer(r) => match op {
            BinaryOp::Mul => return Expr::Duration(l.wrapping_mul(*r)),
            BinaryOp::Div => {
                return Expr::Duration(if *r == 0 { 0 } else { l.wrapping_div(*r) });
            }
            _ => {}
        },
        Expr::Time(t) if op == BinaryOp::Add => return Expr::Time(t + i128::from(l)),
        Expr::String(s) => {
            if let Some(t) = to_time(s) {
                let e = reduce_duration(op, l, Expr::Time(t));
                if !matches!(e, Expr::Binary(_)) {
                    return e;
                }
            }
        }
        Expr::Nil => return boolean(false),
        _ => {}
    }
    unreduced(op, Expr::Duration(l), rhs)
}

fn reduce_integer(op: BinaryOp, l: i64, rhs: Expr) -> Expr {
    match &rhs {
        Expr::Number(_) => return reduce_number(op, l as f64, rhs),
        Expr::Integer(r) => {
            let r = *r;
            return match op {
                BinaryOp::Add => Expr::Integer(l.wrapping_add(r)),
                BinaryOp::Sub => Expr::Integer(l.wrapping_sub(r)),
                BinaryOp::Mul => Expr::Integer(l.wrapping_mul(r)),
                BinaryOp::Div => {
                    if r == 0 {
                        Expr::Number(0.0)
                    } else {
                        Expr::Number(l as f64 / r as f64)
                    }
                }
                BinaryOp::Mod => Expr::Integer(if r == 0 { 0 } else { l.wrapping_rem(r) }),
                BinaryOp::BitwiseAnd => Expr::Integer(l & r),
                BinaryOp::BitwiseOr => Expr::Integer(l | r),
                BinaryOp::BitwiseXor => Expr::Integer(l ^ r),
                BinaryOp::Eq => boolean(l == r),
                BinaryOp::Neq => boolean(l != r),
                BinaryOp::Gt => boolean(l > r),
                BinaryOp::Gte => boolean(l >= r),
                BinaryOp::Lt => boolean(l < r),
                BinaryOp::Lte => boolean(l <= r),
                _ => unreduced(op, Expr::Integer(l), rhs),
            };
        }
        Expr::Unsigned(_) => {
            if l < 0 {
                match op {
                    BinaryOp::Lt | BinaryOp::Lte => return boolean(true),
                    BinaryOp::Gt | BinaryOp::Gte => return boolean(false),
                    _ => {}
                }
            }
            return reduce_unsigned(op, l as u64, rhs);
        }
        Expr::Duration(d) => match op {
            BinaryOp::Add => return Expr::Time(i128::from(l) + i128::from(*d)),
            BinaryOp::Sub => return Expr::Time(i128::from(l) - i128::from(*d)),
            _ => {}
        },
        Expr::Time(_) => {
            let e = reduce_duration(op, l, rhs.clone());
            if !matches!(e, Expr::Binary(_)) {
                return e;
            }
        }
        Expr::String(s) => {
            if let Some(t) = to_time(s) {
                let e = reduce_duration(op, l, Expr::Time(t));
                if !matches!(e, Expr::Binary(_)) {
                    return e;
                }
            }
        }
        Expr::Nil => return boolean(false),
        _ => {}
    }
    unreduced(op, Expr::Integer(l), rhs)
}

fn reduce_unsigned(op: BinaryOp, l: u64, rhs: Expr) -> Expr {
    match &rhs {
        Expr::Number(_) => return reduce_number(op, l as f64, rhs),
        Expr::Integer(r) => {
            if *r < 0 {
                match op {
                    BinaryOp::Lt | BinaryOp::Lte => return boolean(false),
                    BinaryOp::Gt | BinaryOp::Gte => return boolean(true),
                    _ => {}
                }
            }
            return reduce_unsigned(op, l, Expr::Unsigned(*r as u64));
        }
        Expr::Unsigned(r) => {
            let r = *r;
            return match op {
                BinaryOp::Add => Expr::Unsigned(l.wrapping_add(r)),
                BinaryOp::Sub => Expr::Unsigned(l.wrapping_sub(r)),
                BinaryOp::Mul => Expr::Unsigned(l.wrapping_mul(r)),
                BinaryOp::Div => Expr::Unsigned(l.checked_div(r).unwrap_or(0)),
                BinaryOp::Mod => Expr::Unsigned(l.checked_rem(r).unwrap_or(0)),
                BinaryOp::Eq => boolean(l == r),
                BinaryOp::Neq => boolean(l != r),
                BinaryOp::Gt => boolean(l > r),
                BinaryOp::Gte => boolean(l >= r),
                BinaryOp::Lt => boolean(l < r),
                BinaryOp::Lte => boolean(l <= r),
                _ => unreduced(op, Expr::Unsigned(l), rhs),
            };
        }
        _ => {}
    }
    unreduced(op, Expr::Unsigned(l), rhs)
}

fn reduce_number(op: BinaryOp, l: f64, rhs: Expr) -> Expr {
    let r = match &rhs {
        Expr::Number(r) => *r,
        Expr::Integer(r) => *r as f64,
        Expr::Unsigned(r) => *r as f64,
        Expr::Nil => return boolean(false),
        _ => return unreduced(op, Expr::Number(l), rhs),
    };
    match op {
        BinaryOp::Add => Expr::Number(l + r),
        BinaryOp::Sub => Expr::Number(l - r),
        BinaryOp::Mul => Expr::Number(l * r),
        BinaryOp::Div => Expr::Number(if r == 0.0 { 0.0 } else { l / r }),
        BinaryOp::Mod => Expr::Number(l % r),
        BinaryOp::Eq => boolean(l == r),
        BinaryOp::Neq => boolean(l != r),
        BinaryOp::Gt => boolean(l > r),
        BinaryOp::Gte => boolean(l >= r),
        BinaryOp::Lt => boolean(l < r),
        BinaryOp::Lte => boolean(l <= r),
        _ => unreduced(op, Expr::Number(l), rhs),
    }
}

fn to_time(s: &str) -> Option<i128> {
    if is_time_string(s) { parse_time_string(s) } else { None }
}

fn reduce_string(op: BinaryOp, l: String, rhs: Expr) -> Expr {
    match &rhs {
        Expr::String(r) => match op {
            BinaryOp::Eq | BinaryOp::Neq => {
                let plain = if op == BinaryOp::Eq { l == *r } else { l != *r };
                if let (Some(a), Some(b)) = (to_time(&l), to_time(r)) {
                    let t = reduce_time(op, a, Expr::Time(b));
                    if !matches!(t, Expr::Binary(_)) {
                        return t;
                    }
                }
                return boolean(plain);
            }
            BinaryOp::Add => return Expr::String(format!("{l}{r}")),
            _ => {
                if let Some(t) = to_time(&l) {
                    let e = reduce_time(op, t, rhs.clone());
                    if !matches!(e, Expr::Binary(_)) {
                        return e;
                    }
                }
            }
        },
        Expr::Duration(_) | Expr::Time(_) | Expr::Integer(_) => {
            if let Some(t) = to_time(&l) {
                let e = reduce_time(op, t, rhs.clone());
                if !matches!(e, Expr::Binary(_)) {
                    return e;
                }
            }
        }
        Expr::Nil => {
            if matches!(op, BinaryOp::Eq | BinaryOp::Neq) {
                return boolean(false);
            }
        }
        _ => {}
    }
    unreduced(op, Expr::String(l), rhs)
}

/// Go's `Time.Sub`: a duration, saturated to the i64 range.
fn sub_times(a: i128, b: i128) -> i64 {
    let d = a - b;
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn reduce_time(op: BinaryOp, l: i128, rhs: Expr) -> Expr {
    match &rhs {
        Expr::Duration(d) => match op {
            BinaryOp::Add => return Expr::Time(l + i128::from(*d)),
            BinaryOp::Sub => return Expr::Time(l - i128::from(*d)),
            _ => {}
        },
        Expr::Integer(i) => {
            let e = reduce_time(op, l, Expr::Duration(*i));
            if !matches!(e, Expr::Binary(_)) {
                return e;
            }
        }
        Expr::Time(r) => {
            let r = *r;
            return match op {
                BinaryOp::Sub => Expr::Duration(sub_times(l, r)),
                BinaryOp::Eq => boolean(l == r),
                BinaryOp::Neq => boolean(l != r),
                BinaryOp::Gt => boolean(l > r),
                BinaryOp::Gte => boolean(l >= r),
                BinaryOp::Lt => boolean(l < r),
                BinaryOp::Lte => boolean(l <= r),
                _ => unreduced(op, Expr::Time(l), rhs),
            };
        }
        Expr::String(s) => {
            if let Some(t) = to_time(s) {
                let e = reduce_time(op, l, Expr::Time(t));
                if !matches!(e, Expr::Binary(_)) {
                    return e;
                }
            }
        }
        Expr::Nil => return boolean(false),
        _ => {}
    }
    unreduced(op, Expr::Time(l), rhs)
}
