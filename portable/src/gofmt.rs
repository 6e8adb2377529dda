//! Go text formatting that InfluxDB's files depend on, reproduced exactly:
//! `strconv.FormatFloat(v, 'g', -1, 64)` (export files) and InfluxQL's
//! `QuoteIdent` (export DDL).

/// Appends `v` formatted as Go's `strconv.FormatFloat(v, 'g', -1, 64)`:
/// the shortest digits that round-trip, in `%e` form (`d.ddde±XX`, at
/// least two exponent digits) when the decimal exponent is `< -4` or `>= 6`,
/// else in `%f` form with no trailing zeros. Infinities are `+Inf`/`-Inf`,
/// NaN is `NaN`.
///
/// In shortest mode Go fixes the `%e`/`%f` decision precision at 6 (the
/// `>= 21` rule belongs to `encoding/json`, not to `strconv`). The tests pin
/// this against every float row of the real export fixtures (`1e-09`,
/// `2.5e-07`, `1.5e+10`, `0.001`, ...).
pub fn format_float(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde-X".
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let nd = digits.len() as i32;
    if neg {
        out.push('-');
    }
    if use_exponent(exp) {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
    } else {
        // %f with exactly the needed fractional digits.
        let dp = exp + 1; // position of the decimal point in `digits`
        if dp <= 0 {
            out.push_str("0.");
            for _ in 0..-dp {
                out.push('0');
            }
            out.push_str(&digits);
        } else if dp >= nd {
            out.push_str(&digits);
            for _ in 0..dp - nd {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..dp as usize]);
            out.push('.');
            out.push_str(&digits[dp as usize..]);
        }
    }
}

/// Go's `%e` versus `%f` decision for `'g'` in shortest mode:
/// `exp < -4 || exp >= eprec` with `eprec = 6`.
fn use_exponent(exp: i32) -> bool {
    !(-4..6).contains(&exp)
}

/// Formats a float as [`format_float`] does, into a new string.
pub fn float_string(v: f64) -> String {
    let mut s = String::new();
    format_float(v, &mut s);
    s
}

/// InfluxQL keywords (case-insensitive) that force an identifier to be
/// quoted, as in the `influxql` package vendored by InfluxDB 1.6, plus
/// `and`, `or`, `true`, `false`.
const KEYWORDS: &[&str] = &[
    "all",
    "alter",
    "analyze",
    "and",
    "any",
    "as",
    "asc",
    "begin",
    "by",
    "cardinality",
    "create",
    "continuous",
    "database",
    "databases",
    "default",
    "delete",
    "desc",
    "destinations",
    "diagnostics",
    "distinct",
    "drop",
    "duration",
    "end",
    "every",
    "exact",
    "explain",
    "false",
    "field",
    "for",
    "from",
    "grant",
    "grants",
    "group",
    "groups",
    "in",
    "inf",
    "insert",
    "into",
    "key",
    "keys",
    "kill",
    "limit",
    "measurement",
    "measurements",
    "name",
    "offset",
    "on",
    "or",
    "order",
    "password",
    "policy",
    "policies",
    "privileges",
    "queries",
    "query",
    "read",
    "replication",
    "resample",
    "retention",
    "revoke",
    "select",
    "series",
    "set",
    "shard",
    "shards",
    "show",
    "slimit",
    "soffset",
    "stats",
    "subscription",
    "subscriptions",
    "tag",
    "to",
    "true",
    "user",
    "users",
    "values",
    "where",
    "with",
    "write",
];

/// Whether InfluxQL needs `ident` in double quotes: empty, a keyword, not
/// starting with an ASCII letter or `_`, or holding anything but ASCII
/// letters, digits and `_`.
pub fn ident_needs_quotes(ident: &str) -> bool {
    let lower = ident.to_ascii_lowercase();
    if ident.is_empty() || KEYWORDS.contains(&lower.as_str()) {
        return true;
    }
    ident.chars().enumerate().any(|(i, c)| {
        let letter = c.is_ascii_alphabetic() || c == '_';
        if i == 0 { !letter } else { !(letter || c.is_ascii_digit()) }
    })
}

/// InfluxQL `QuoteIdent` for one identifier: quoted when needed, with `\n`,
/// `\` and `"` escaped inside the quotes.
pub fn quote_ident(ident: &str) -> String {
    let escaped = ident.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    if ident_needs_quotes(ident) { format!("\"{escaped}\"") } else { escaped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_format_vectors() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100000.0, "100000"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1.5e10, "1.5e+10"),
            (2.5e-7, "2.5e-07"),
            (1e21, "1e+21"),
            (12.5004, "12.5004"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-9, "1e-09"),
            (123.456, "123.456"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for &(v, want) in cases {
            assert_eq!(float_string(v), want, "{v:?}");
        }
    }

    #[test]
    fn quote_ident_rules() {
        assert_eq!(quote_ident("telegraf"), "telegraf");
        assert_eq!(quote_ident("_x1"), "_x1");
        assert_eq!(quote_ident("1x"), "\"1x\"");
        assert_eq!(quote_ident("my db"), "\"my db\"");
        assert_eq!(quote_ident("Name"), "\"Name\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(quote_ident("autogen"), "autogen");
    }
}
