//! Writing canonical line protocol, as InfluxDB's `influx_inspect export`
//! writes it: Go `%g`-style floats (`1e-09`, `1.5e+10`), `i` and `u`
//! suffixes, `true`/`false`, quoted and escaped strings.

use std::fmt::Write as _;

use crate::key::{escape_measurement, escape_tag};
use crate::{FieldValue, Point};

/// Escapes a field key: `,`, `=`, space and `"` get a backslash (InfluxDB
/// `escape.String`).
pub fn escape_field_key(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, ',' | '=' | ' ' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Escapes the inside of a string field value: `\` and `"` get a backslash.
pub fn escape_string_field(s: &str, out: &mut String) {
    for c in s.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Appends a float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does: the
/// shortest text that reads back to the same value, in exponent form
/// (`1e-09`, `1.5e+10`) when the exponent is below -4 or at least 6.
/// NaN and infinities give `NaN`, `+Inf` and `-Inf` (which line protocol
/// rejects, as InfluxDB does).
pub fn append_float(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `d[.ddd]e[-]x`.
    let mut sci = String::with_capacity(32);
    let _ = write!(sci, "{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        let _ = write!(out, "{a}");
    } else {
        // Decimal point after `dp` digits.
        let dp = exp + 1;
        if dp <= 0 {
            out.push_str("0.");
            for _ in 0..-dp {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let dp = dp as usize;
            if dp >= digits.len() {
                out.push_str(&digits);
                for _ in digits.len()..dp {
                    out.push('0');
                }
            } else {
                out.push_str(&digits[..dp]);
                out.push('.');
                out.push_str(&digits[dp..]);
            }
        }
    }
}

/// Appends one field value in line-protocol form.
pub fn write_field_value(v: &FieldValue, out: &mut String) {
    match v {
        FieldValue::Float(f) => append_float(*f, out),
        FieldValue::Integer(i) => {
            let _ = write!(out, "{i}i");
        }
        FieldValue::Unsigned(u) => {
            let _ = write!(out, "{u}u");
        }
        FieldValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        FieldValue::String(s) => {
            out.push('"');
            escape_string_field(s, out);
            out.push('"');
        }
    }
}

/// Appends `p` as one line of line protocol, without a newline:
/// `measurement[,tags] fields time`. Tags with an empty value are left out
/// (as InfluxDB does in series keys). The time is always written, in ns.
///
/// What line protocol cannot carry is written as InfluxDB would and will
/// not read back: NaN/Inf floats, names ending in a backslash, names or
/// tags with a newline, a point without fields.
pub fn write_point(p: &Point, out: &mut String) {
    escape_measurement(&p.measurement, out);
    for (k, v) in &p.tags {
        if v.is_empty() {
            continue;
        }
        out.push(',');
        escape_tag(k, out);
        out.push('=');
        escape_tag(v, out);
    }
    out.push(' ');
    for (i, (k, v)) in p.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        escape_field_key(k, out);
        out.push('=');
        write_field_value(v, out);
    }
    let _ = write!(out, " {}", p.time);
}

/// Appends each point with [`write_point`], each followed by `\n`.
pub fn write_points<'a>(points: impl IntoIterator<Item = &'a Point>, out: &mut String) {
    for p in points {
        write_point(p, out);
        out.push('\n');
    }
}
