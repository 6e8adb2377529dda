//! Just enough line protocol to know which point a line writes: its
//! measurement, tag set and timestamp. Field values are not parsed (only
//! skipped, honouring string quotes), so malformed lines are the server's
//! business: the runner sends them as they are.

use std::collections::BTreeMap;

/// The identity of one point: two lines with the same key overwrite each
/// other in InfluxDB.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PointKey {
    /// Measurement name, unescaped.
    pub measurement: String,
    /// Tags, unescaped and sorted.
    pub tags: BTreeMap<String, String>,
    /// Timestamp in nanoseconds, when the line has one.
    pub time: Option<i64>,
}

/// Nanoseconds per unit of a `precision` parameter.
pub fn precision_ns(precision: &str) -> Option<i64> {
    Some(match precision {
        "" | "n" | "ns" => 1,
        "u" | "us" | "µ" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Splits `s` at unescaped occurrences of `sep` (backslash escapes).
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Removes backslash escapes of `,`, `=` and space.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && matches!(n, ',' | '=' | ' ')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// The key of the point a line writes; `None` for blank lines, comments and
/// lines without fields. `precision_ns` scales the timestamp.
pub fn point_key(line: &str, precision_ns: i64) -> Option<PointKey> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // Series key: up to the first unescaped space.
    let mut escaped = false;
    let mut series_end = None;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ' ' {
            series_end = Some(i);
            break;
        }
    }
    let series_end = series_end?;
    let series = &line[..series_end];
    let rest = line[series_end..].trim_start();
    // Fields: up to the first unescaped space outside a string value.
    let mut in_str = false;
    let mut escaped = false;
    let mut fields_end = rest.len();
    for (i, c) in rest.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_str = !in_str;
        } else if c == ' ' && !in_str {
            fields_end = i;
            break;
        }
    }
    if fields_end == 0 {
        return None;
    }
    let ts = rest[fields_end..].trim();
    let time = if ts.is_empty() { None } else { ts.parse::<i64>().ok().map(|t| t * precision_ns) };
    let mut parts = split_unescaped(series, ',').into_iter();
    let measurement = unescape(parts.next()?);
    let mut tags = BTreeMap::new();
    for kv in parts {
        let mut it = split_unescaped(kv, '=').into_iter();
        let k = unescape(it.next().unwrap_or_default());
        let v = unescape(it.next().unwrap_or_default());
        tags.insert(k, v);
    }
    Some(PointKey { measurement, tags, time })
}

/// Escapes a measurement name for line protocol.
pub fn escape_measurement(s: &str) -> String {
    s.replace(',', "\\,").replace(' ', "\\ ")
}

/// Escapes a tag key or value for line protocol.
pub fn escape_tag(s: &str) -> String {
    s.replace(',', "\\,").replace('=', "\\=").replace(' ', "\\ ")
}

/// Quotes an identifier for InfluxQL (`"http requests"`).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_fixture_style_lines() {
        let k = point_key(
            r#"http\ requests,host=web\ 01,rack=rack\,row\=3 status="a \"b\" c",count=3i 1793491200000000000"#,
            1,
        )
        .unwrap();
        assert_eq!(k.measurement, "http requests");
        assert_eq!(k.tags.get("host").map(String::as_str), Some("web 01"));
        assert_eq!(k.tags.get("rack").map(String::as_str), Some("rack,row=3"));
        assert_eq!(k.time, Some(1_793_491_200_000_000_000));
    }

    #[test]
    fn string_field_with_spaces_and_digits_is_not_a_timestamp() {
        let k = point_key(r#"m f="a 123""#, 1).unwrap();
        assert_eq!(k.time, None);
        let k = point_key(r#"m f="x y" 17"#, 1_000_000_000).unwrap();
        assert_eq!(k.time, Some(17_000_000_000));
    }

    #[test]
    fn blank_comment_and_fieldless_lines() {
        assert_eq!(point_key("", 1), None);
        assert_eq!(point_key("# DDL", 1), None);
        assert_eq!(point_key("cpu", 1), None);
    }

    #[test]
    fn escaping_round_trips() {
        let line = format!(
            "{},{}={} v=1i 5",
            escape_measurement("a b,c"),
            escape_tag("k=1"),
            escape_tag("v, w")
        );
        let k = point_key(&line, 1).unwrap();
        assert_eq!(k.measurement, "a b,c");
        assert_eq!(k.tags.get("k=1").map(String::as_str), Some("v, w"));
        assert_eq!(quote_ident(r#"a "b""#), r#""a \"b\"""#);
        assert_eq!(precision_ns("ms"), Some(1_000_000));
        assert_eq!(precision_ns("x"), None);
    }
}
