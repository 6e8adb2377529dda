//! Expression evaluation with InfluxQL's semantics (`influxql.ValuerEval`
//! with integer-to-float division): comparisons of incomparable values
//! (a missing field, a string against a number) are false, `AND`/`OR`
//! treat non-booleans as false, integer division gives a float, division
//! by zero gives zero.

use std::collections::HashMap;

use super::error::{QueryError, Result};
use super::result::Value;
use crate::influxql::{BinaryOp, DataType, Expr};

/// Compiled regular expressions of a statement, by pattern.
#[derive(Debug, Default, Clone)]
pub struct Regexes(HashMap<String, regex::Regex>);

impl Regexes {
    /// Compiles every regex literal in `exprs`.
    pub fn compile<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> Result<Regexes> {
        let mut out = Regexes::default();
        for e in exprs {
            out.add_expr(e)?;
        }
        Ok(out)
    }

    /// Compiles the regex literals in `e`.
    pub fn add_expr(&mut self, e: &Expr) -> Result<()> {
        let mut pats = Vec::new();
        collect_regexes(e, &mut pats);
        for p in pats {
            self.add(&p)?;
        }
        Ok(())
    }

    /// Compiles one pattern.
    pub fn add(&mut self, pattern: &str) -> Result<()> {
        if self.0.contains_key(pattern) {
            return Ok(());
        }
        let re = regex::Regex::new(pattern)
            .map_err(|e| QueryError::invalid(format!("error parsing regexp: {e}")))?;
        self.0.insert(pattern.to_string(), re);
        Ok(())
    }

    /// Whether `pattern` (compiled before) matches `s`.
    pub fn is_match(&self, pattern: &str, s: &str) -> bool {
        match self.0.get(pattern) {
            Some(re) => re.is_match(s),
            None => regex::Regex::new(pattern).is_ok_and(|re| re.is_match(s)),
        }
    }
}

fn collect_regexes(e: &Expr, out: &mut Vec<String>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Regex(r) => out.push(r.pattern.clone()),
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
            }
            Expr::Paren(p) => stack.push(p),
            Expr::Call(c) => stack.extend(c.args.iter()),
            _ => {}
        }
    }
}

/// Where variable values come from.
pub trait Lookup {
    /// The value of a field or tag.
    fn var(&self, name: &str, data_type: DataType) -> Value;
    /// The value of an aggregate call (by its text), if this is an
    /// aggregate row.
    fn call(&self, _key: &str) -> Option<Value> {
        None
    }
}

/// Whether `f` is one of InfluxQL's math functions.
pub fn is_math_function(name: &str) -> bool {
    matches!(
        name,
        "abs"
            | "sin"
            | "cos"
            | "tan"
            | "asin"
            | "acos"
            | "atan"
            | "atan2"
            | "exp"
            | "log"
            | "ln"
            | "log2"
            | "log10"
            | "sqrt"
            | "pow"
            | "floor"
            | "ceil"
            | "round"
    )
}

/// Evaluates `e`.
pub fn eval(e: &Expr, l: &dyn Lookup, re: &Regexes) -> Value {
    match e {
        Expr::VarRef(v) => l.var(&v.name, v.data_type),
        Expr::Call(c) => {
            if let Some(v) = l.call(&e.to_string()) {
                return v;
            }
            if is_math_function(&c.name) {
                let args: Vec<Value> = c.args.iter().map(|a| eval(a, l, re)).collect();
                return math_call(&c.name, &args);
            }
            Value::Null
        }
        Expr::Distinct(_) => l.call(&e.to_string()).unwrap_or(Value::Null),
        Expr::Paren(p) => eval(p, l, re),
        Expr::Integer(i) => Value::Integer(*i),
        Expr::Unsigned(u) => Value::Unsigned(*u),
        Expr::Number(f) => Value::Float(*f),
        Expr::String(s) => Value::String(s.clone()),
        Expr::Boolean(b) => Value::Boolean(*b),
        Expr::Duration(d) => Value::Integer(*d),
        Expr::Time(t) => Value::Integer(i64::try_from(*t).unwrap_or(0)),
        Expr::Binary(b) => {
            if matches!(b.op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
                let lhs = eval(&b.lhs, l, re);
                let Expr::Regex(r) = strip_paren(&b.rhs) else { return Value::Boolean(false) };
                return match lhs {
                    Value::String(s) => {
                        let m = re.is_match(&r.pattern, &s);
                        Value::Boolean(if b.op == BinaryOp::EqRegex { m } else { !m })
                    }
                    _ => Value::Boolean(false),
                };
            }
            let lhs = eval(&b.lhs, l, re);
            if b.op == BinaryOp::And && lhs == Value::Boolean(false) {
                return Value::Boolean(false);
            }
            if b.op == BinaryOp::Or && lhs == Value::Boolean(true) {
                return Value::Boolean(true);
            }
            let rhs = eval(&b.rhs, l, re);
            binary(b.op, lhs, rhs)
        }
        _ => Value::Null,
    }
}

fn strip_paren(e: &Expr) -> &Expr {
    let mut e = e;
    while let Expr::Paren(p) = e {
        e = p;
    }
    e
}

/// Whether `e` evaluates to `true`.
pub fn eval_bool(e: &Expr, l: &dyn Lookup, re: &Regexes) -> bool {
    eval(e, l, re) == Value::Boolean(true)
}

fn cmp_result(op: BinaryOp, ord: Option<std::cmp::Ordering>) -> Value {
    use std::cmp::Ordering::*;
    let Some(o) = ord else { return Value::Boolean(false) };
    Value::Boolean(match op {
        BinaryOp::Eq => o == Equal,
        BinaryOp::Neq => o != Equal,
        BinaryOp::Lt => o == Less,
        BinaryOp::Lte => o != Greater,
        BinaryOp::Gt => o == Greater,
        BinaryOp::Gte => o != Less,
        _ => return Value::Null,
    })
}

/// Applies a binary operator to two values.
pub fn binary(op: BinaryOp, lhs: Value, rhs: Value) -> Value {
    use Value::*;
    match op {
        BinaryOp::And => {
            return Boolean(matches!(lhs, Boolean(true)) && matches!(rhs, Boolean(true)));
        }
        BinaryOp::Or => {
            return Boolean(matches!(lhs, Boolean(true)) || matches!(rhs, Boolean(true)));
        }
        _ => {}
    }
    if op.is_comparison() {
        let ord = match (&lhs, &rhs) {
            (Integer(a), Integer(b)) => Some(a.cmp(b)),
            (Unsigned(a), Unsigned(b)) => Some(a.cmp(b)),
            (Integer(a), Unsigned(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
            (Unsigned(a), Integer(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
            (String(a), String(b)) => Some(a.cmp(b)),
            (Boolean(a), Boolean(b)) => match op {
                BinaryOp::Eq | BinaryOp::Neq => Some(a.cmp(b)),
                _ => None,
            },
            (Time(a), Time(b)) => Some(a.cmp(b)),
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => None,
            },
        };
        return cmp_result(op, ord);
    }
    match (lhs, rhs) {
        (Integer(a), Integer(b)) => match op {
            BinaryOp::Add => Integer(a.wrapping_add(b)),
            BinaryOp::Sub => Integer(a.wrapping_sub(b)),
            BinaryOp::Mul => Integer(a.wrapping_mul(b)),
            BinaryOp::Div => Float(if b == 0 { 0.0 } else { a as f64 / b as f64 }),
            BinaryOp::Mod => Integer(if b == 0 { 0 } else { a.wrapping_rem(b) }),
            BinaryOp::BitwiseAnd => Integer(a & b),
            BinaryOp::BitwiseOr => Integer(a | b),
            BinaryOp::BitwiseXor => Integer(a ^ b),
            _ => Null,
        },
        (Unsigned(a), Unsigned(b)) => match op {
            BinaryOp::Add => Unsigned(a.wrapping_add(b)),
            BinaryOp::Sub => Unsigned(a.wrapping_sub(b)),
            BinaryOp::Mul => Unsigned(a.wrapping_mul(b)),
            BinaryOp::Div => Float(if b == 0 { 0.0 } else { a as f64 / b as f64 }),
            BinaryOp::Mod => Unsigned(a.checked_rem(b).unwrap_or(0)),
            BinaryOp::BitwiseAnd => Unsigned(a & b),
            BinaryOp::BitwiseOr => Unsigned(a | b),
            BinaryOp::BitwiseXor => Unsigned(a ^ b),
            _ => Null,
        },
        (Boolean(a), Boolean(b)) => match op {
            BinaryOp::BitwiseAnd => Boolean(a & b),
            BinaryOp::BitwiseOr => Boolean(a | b),
            BinaryOp::BitwiseXor => Boolean(a ^ b),
            _ => Null,
        },
        (a, b) => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else { return Null };
            match op {
                BinaryOp::Add => Float(x + y),
                BinaryOp::Sub => Float(x - y),
                BinaryOp::Mul => Float(x * y),
                BinaryOp::Div => Float(if y == 0.0 { 0.0 } else { x / y }),
                BinaryOp::Mod => Float(x % y),
                _ => Null,
            }
        }
    }
}

fn math_call(name: &str, args: &[Value]) -> Value {
    let f = |i: usize| args.get(i).and_then(Value::as_f64);
    let Some(x) = f(0) else { return Value::Null };
    let out = match name {
        "abs" => {
            return match args[0] {
                Value::Integer(i) => Value::Integer(i.wrapping_abs()),
                Value::Unsigned(u) => Value::Unsigned(u),
                _ => Value::Float(x.abs()),
            };
        }
        "floor" | "ceil" | "round" => {
            if matches!(args[0], Value::Integer(_) | Value::Unsigned(_)) {
                return args[0].clone();
            }
            match name {
                "floor" => x.floor(),
                "ceil" => x.ceil(),
                _ => x.round(),
            }
        }
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "atan" => x.atan(),
        "exp" => x.exp(),
        "ln" => x.ln(),
        "log2" => x.log2(),
        "log10" => x.log10(),
        "sqrt" => x.sqrt(),
        "atan2" => match f(1) {
            Some(y) => x.atan2(y),
            None => return Value::Null,
        },
        "pow" => match f(1) {
            Some(y) => x.powf(y),
            None => return Value::Null,
        },
        "log" => match f(1) {
            Some(b) => x.ln() / b.ln(),
            None => return Value::Null,
        },
        _ => return Value::Null,
    };
    Value::Float(out)
}

/// Three-valued result of evaluating a condition on a series' tags alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    /// True whatever the fields.
    True,
    /// False whatever the fields.
    False,
    /// Depends on field values.
    Unknown,
}

/// Evaluates a condition on tags only: comparisons that involve a field
/// (`is_field(name, type)`) are unknown, tags missing from the series are
/// the empty string.
pub fn eval_tags(
    e: &Expr,
    tags: &[(String, String)],
    is_field: &dyn Fn(&str, DataType) -> bool,
    re: &Regexes,
) -> Tri {
    match e {
        Expr::Paren(p) => eval_tags(p, tags, is_field, re),
        Expr::Boolean(b) => {
            if *b {
                Tri::True
            } else {
                Tri::False
            }
        }
        Expr::Binary(b) if b.op == BinaryOp::And => {
            let l = eval_tags(&b.lhs, tags, is_field, re);
            if l == Tri::False {
                return Tri::False;
            }
            match (l, eval_tags(&b.rhs, tags, is_field, re)) {
                (_, Tri::False) => Tri::False,
                (Tri::True, Tri::True) => Tri::True,
                _ => Tri::Unknown,
            }
        }
        Expr::Binary(b) if b.op == BinaryOp::Or => {
            let l = eval_tags(&b.lhs, tags, is_field, re);
            if l == Tri::True {
                return Tri::True;
            }
            match (l, eval_tags(&b.rhs, tags, is_field, re)) {
                (_, Tri::True) => Tri::True,
                (Tri::False, Tri::False) => Tri::False,
                _ => Tri::Unknown,
            }
        }
        _ => {
            let has_field =
                e.any(&|x| matches!(x, Expr::VarRef(v) if is_field(&v.name, v.data_type)));
            if has_field {
                return Tri::Unknown;
            }
            let l = TagLookup(tags);
            match eval(e, &l, re) {
                Value::Boolean(true) => Tri::True,
                _ => Tri::False,
            }
        }
    }
}

/// Tags as variables (missing ones are the empty string).
pub struct TagLookup<'a>(pub &'a [(String, String)]);

impl Lookup for TagLookup<'_> {
    fn var(&self, name: &str, _t: DataType) -> Value {
        Value::String(
            self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default(),
        )
    }
}

/// The names of the variables in `e`.
pub fn var_refs(e: &Expr, out: &mut Vec<(String, DataType)>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::VarRef(v) => out.push((v.name.clone(), v.data_type)),
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
            }
            Expr::Paren(p) => stack.push(p),
            Expr::Call(c) => stack.extend(c.args.iter()),
            Expr::Distinct(d) => out.push((d.clone(), DataType::Unknown)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::influxql::parse_expr;

    struct M(Vec<(&'static str, Value)>);
    impl Lookup for M {
        fn var(&self, name: &str, _t: DataType) -> Value {
            self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).unwrap_or(Value::Null)
        }
    }

    #[test]
    fn semantics() {
        let m = M(vec![
            ("a", Value::Integer(3)),
            ("b", Value::Float(1.5)),
            ("s", Value::String("web01".into())),
        ]);
        let t = |q: &str| {
            let e = parse_expr(q).unwrap();
            let re = Regexes::compile([&e]).unwrap();
            eval(&e, &m, &re)
        };
        assert_eq!(t("a > b"), Value::Boolean(true));
        assert_eq!(t("a / 2"), Value::Float(1.5));
        assert_eq!(t("a + 1"), Value::Integer(4));
        assert_eq!(t("missing != 1"), Value::Boolean(false));
        assert_eq!(t("s =~ /^web/ AND a = 3"), Value::Boolean(true));
        assert_eq!(t("s !~ /^web/ OR b < 1"), Value::Boolean(false));
        assert_eq!(t("a / 0"), Value::Float(0.0));
    }
}
