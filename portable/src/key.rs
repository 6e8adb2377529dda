//! Series keys and TSM composite keys, escaped exactly as InfluxDB 1.x
//! escapes them (`models/points.go`, `pkg/escape`).
//!
//! - measurement: `,` and space are escaped with a backslash;
//! - tag keys and values: `,`, `=` and space are escaped;
//! - backslashes themselves are never escaped;
//! - TSM key = series key + `#!~#` + raw (unescaped) field name.

/// Separator between the series key and the field name in a TSM key.
pub const FIELD_SEPARATOR: &[u8] = b"#!~#";

/// Escapes a measurement name (`,` and space).
pub fn escape_measurement(s: &str, out: &mut String) {
    for c in s.chars() {
        if c == ',' || c == ' ' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Escapes a tag key or value (`,`, `=` and space).
pub fn escape_tag(s: &str, out: &mut String) {
    for c in s.chars() {
        if c == ',' || c == ' ' || c == '=' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Builds the escaped series key from an unescaped measurement and tags that
/// are already sorted by key. Tags with an empty value are left out.
pub fn series_key(measurement: &str, tags: &[(String, String)]) -> String {
    let mut out = String::with_capacity(measurement.len() + tags.len() * 16);
    escape_measurement(measurement, &mut out);
    for (k, v) in tags {
        if v.is_empty() {
            continue;
        }
        out.push(',');
        escape_tag(k, &mut out);
        out.push('=');
        escape_tag(v, &mut out);
    }
    out
}

/// Builds a TSM composite key: series key, `#!~#`, raw field name.
pub fn composite_key(series_key: &[u8], field: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(series_key.len() + FIELD_SEPARATOR.len() + field.len());
    k.extend_from_slice(series_key);
    k.extend_from_slice(FIELD_SEPARATOR);
    k.extend_from_slice(field);
    k
}

/// Splits a TSM composite key at the first `#!~#` into (series key, field).
/// A key without the separator is all series key with an empty field.
pub fn split_composite_key(key: &[u8]) -> (&[u8], &[u8]) {
    match key.windows(FIELD_SEPARATOR.len()).position(|w| w == FIELD_SEPARATOR) {
        Some(i) => (&key[..i], &key[i + FIELD_SEPARATOR.len()..]),
        None => (key, &[]),
    }
}

/// Splits an escaped series key into its unescaped measurement and tags.
/// Malformed input never panics: a dangling `=`-less tag gets an empty value.
pub fn parse_series_key(key: &str) -> (String, Vec<(String, String)>) {
    let parts = split_unescaped(key, ',');
    let mut iter = parts.into_iter();
    let measurement = unescape(iter.next().unwrap_or_default());
    let mut tags = Vec::new();
    for part in iter {
        let kv = split_unescaped(part, '=');
        let k = kv.first().copied().unwrap_or_default();
        let v = if kv.len() > 1 { &part[k.len() + 1..] } else { "" };
        tags.push((unescape(k), unescape(v)));
    }
    (measurement, tags)
}

/// Splits at every `sep` not preceded by a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// Removes the backslash before `,`, `=` and space.
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && (n == ',' || n == '=' || n == ' ')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_key_escapes_and_round_trips() {
        let tags = vec![
            ("host".to_string(), "web 01".to_string()),
            ("rack".to_string(), "rack,row=3".to_string()),
        ];
        let key = series_key("http requests", &tags);
        assert_eq!(key, r"http\ requests,host=web\ 01,rack=rack\,row\=3");
        let (m, t) = parse_series_key(&key);
        assert_eq!(m, "http requests");
        assert_eq!(t, tags);
    }

    #[test]
    fn composite_key_splits_at_first_separator() {
        let k = composite_key(b"cpu,host=a", b"usage idle");
        assert_eq!(split_composite_key(&k), (&b"cpu,host=a"[..], &b"usage idle"[..]));
        assert_eq!(split_composite_key(b"nosep"), (&b"nosep"[..], &b""[..]));
    }
}
