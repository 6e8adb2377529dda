//! The byte-level scanner. It follows the scanning rules of InfluxDB 1.x
//! (`models/points.go`) step by step, so that the same bytes are accepted,
//! rejected (with the same reason) and split into the same parts.
//!
//! Notes on InfluxDB's rules that this scanner keeps on purpose:
//!
//! - a character counts as escaped when the byte before it is a backslash,
//!   even if that backslash is itself escaped (`a\\,b` keeps the comma);
//! - tags are sorted by their *escaped* key bytes and duplicates are found
//!   on escaped keys;
//! - the first byte of a tag value may be an unescaped `=`;
//! - field values are only checked by the scanner: the numeric check parses
//!   integers of 19+ digits, unsigned of 20+ digits and floats written in
//!   scientific notation or with 25+ characters.

use std::borrow::Cow;

use super::{ParseError, Precision};

/// The largest escaped series key (measurement plus tags) InfluxDB accepts.
pub const MAX_KEY_LENGTH: usize = 65535;

/// Smallest timestamp a point may have (InfluxDB `models.MinNanoTime`).
pub const MIN_NANO_TIME: i64 = i64::MIN + 2;

/// Largest timestamp a point may have (InfluxDB `models.MaxNanoTime`).
pub const MAX_NANO_TIME: i64 = i64::MAX - 1;

/// Builds a 256-entry membership table.
const fn table(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

/// Bytes the line splitter and the fields scanner act on.
static LINE_SPECIAL: [bool; 256] = table(b"\\ =,\"\n");

/// Byte at `i`, or 0 when `i` is outside `buf` (InfluxDB never reads
/// outside the buffer on those paths; this keeps the port panic-free).
#[inline]
fn at(buf: &[u8], i: usize) -> u8 {
    buf.get(i).copied().unwrap_or(0)
}

/// Skips spaces, tabs and NUL bytes.
#[inline]
pub(crate) fn skip_whitespace(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() {
        let c = buf[i];
        if c != b' ' && c != b'\t' && c != 0 {
            break;
        }
        i += 1;
    }
    i
}

/// Position of the first `\n`, `"` or `\\` at or after `i`, or `buf.len()`.
/// Scans eight bytes at a time.
#[inline]
fn find_line_special(buf: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn has_zero(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    while i + 8 <= buf.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let hit = has_zero(x ^ (ONES * u64::from(b'\n')))
            | has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')));
        if hit != 0 {
            break;
        }
        i += 8;
    }
    while i < buf.len() && !matches!(buf[i], b'\n' | b'"' | b'\\') {
        i += 1;
    }
    i
}

/// Finds the end of the line that starts at `i`: the position of the
/// newline that ends it, or the end of `buf`. A newline inside a quoted
/// string field value, or right after a backslash, does not end the line.
/// The flag tells whether the line may hold newlines (slow path taken).
pub(crate) fn scan_line(buf: &[u8], mut i: usize) -> (usize, bool) {
    // Fast path: up to the next newline there is neither a quote nor a
    // backslash, so nothing can hide that newline.
    let first = find_line_special(buf, i);
    if first >= buf.len() || buf[first] == b'\n' {
        return (first, false);
    }

    let mut quoted = false;
    let mut fields = false;
    let mut equals = 0usize;
    let mut commas = 0usize;
    while i < buf.len() {
        let c = buf[i];
        if !LINE_SPECIAL[c as usize] {
            i += 1;
            continue;
        }
        if c == b'\\' && i + 2 < buf.len() {
            i += 2;
            continue;
        }
        if c == b' ' {
            fields = true;
        }
        if fields {
            if !quoted && c == b'=' {
                i += 1;
                equals += 1;
                continue;
            } else if !quoted && c == b',' {
                i += 1;
                commas += 1;
                continue;
            } else if c == b'"' && equals > commas {
                i += 1;
                quoted = !quoted;
                continue;
            }
        }
        if c == b'\n' && !quoted {
            break;
        }
        i += 1;
    }
    (i, true)
}

/// One tag inside a line: `start..eq` is the escaped key, `eq + 1..end` the
/// escaped value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TagSpan {
    start: usize,
    eq: usize,
    end: usize,
}

/// What follows the part just scanned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    Tags,
    Fields,
}

fn scan_measurement(buf: &[u8], mut i: usize) -> Result<(Next, usize), ParseError> {
    if i >= buf.len() || buf[i] == b',' {
        return Err(ParseError::MissingMeasurement);
    }
    loop {
        i += 1;
        if i >= buf.len() {
            return Err(ParseError::MissingFields);
        }
        if buf[i - 1] == b'\\' {
            continue;
        }
        match buf[i] {
            b',' => return Ok((Next::Tags, i + 1)),
            b' ' => return Ok((Next::Fields, i)),
            _ => {}
        }
    }
}

/// Scans one tag key; returns the position just after its `=`.
fn scan_tag_key(buf: &[u8], mut i: usize) -> Result<usize, ParseError> {
    if i >= buf.len() || matches!(buf[i], b' ' | b',' | b'=') {
        return Err(ParseError::MissingTagKey);
    }
    loop {
        i += 1;
        if i >= buf.len() {
            return Err(ParseError::MissingTagValue);
        }
        let c = buf[i];
        let escaped = buf[i - 1] == b'\\';
        if (c == b' ' || c == b',') && !escaped {
            return Err(ParseError::MissingTagValue);
        }
        if c == b'=' && !escaped {
            return Ok(i + 1);
        }
    }
}

/// Scans one tag value. Returns what follows and the position where the
/// value ends (the `,` or space after it).
fn scan_tag_value(buf: &[u8], mut i: usize) -> Result<(Next, usize), ParseError> {
    if i >= buf.len() || buf[i] == b',' || buf[i] == b' ' {
        return Err(ParseError::MissingTagValue);
    }
    loop {
        i += 1;
        if i >= buf.len() {
            return Err(ParseError::MissingFields);
        }
        let c = buf[i];
        if buf[i - 1] == b'\\' {
            continue;
        }
        match c {
            b'=' => return Err(ParseError::InvalidTagFormat),
            b',' => return Ok((Next::Tags, i)),
            b' ' => return Ok((Next::Fields, i)),
            _ => {}
        }
    }
}

/// Scans the measurement and tags. Returns the position of the space that
/// ends the key, the key (escaped, tags sorted) and the length of the
/// escaped measurement inside it.
pub(crate) fn scan_key<'a>(
    buf: &'a [u8],
    tags: &mut Vec<TagSpan>,
) -> Result<(usize, Cow<'a, [u8]>, usize), ParseError> {
    tags.clear();
    let start = skip_whitespace(buf, 0);
    let (mut next, mut i) = scan_measurement(buf, start)?;
    let name_end = if next == Next::Tags { i - 1 } else { i };
    while next == Next::Tags {
        let key_start = i;
        i = scan_tag_key(buf, i)?;
        let eq = i - 1;
        let (n, end) = scan_tag_value(buf, i)?;
        tags.push(TagSpan { start: key_start, eq, end });
        next = n;
        i = if n == Next::Tags { end + 1 } else { end };
    }

    let key_of = |t: &TagSpan| &buf[t.start..t.eq];
    let mut sorted = true;
    for w in tags.windows(2) {
        match key_of(&w[0]).cmp(key_of(&w[1])) {
            std::cmp::Ordering::Greater => {
                sorted = false;
                break;
            }
            std::cmp::Ordering::Equal => return Err(ParseError::DuplicateTags),
            std::cmp::Ordering::Less => {}
        }
    }
    if sorted {
        return Ok((i, Cow::Borrowed(&buf[start..i]), name_end - start));
    }

    tags.sort_by(|a, b| key_of(a).cmp(key_of(b)));
    if tags.windows(2).any(|w| key_of(&w[0]) == key_of(&w[1])) {
        return Err(ParseError::DuplicateTags);
    }
    let mut key = Vec::with_capacity(i - start);
    key.extend_from_slice(&buf[start..name_end]);
    for t in tags.iter() {
        key.push(b',');
        key.extend_from_slice(&buf[t.start..t.end]);
    }
    Ok((i, Cow::Owned(key), name_end - start))
}

#[inline]
fn is_numeric(c: u8) -> bool {
    c.is_ascii_digit() || c == b'.'
}

/// Scans the fields section that starts at `i`. Returns the position where
/// it ends and the raw section.
pub(crate) fn scan_fields(
    buf: &[u8],
    i: usize,
    allow_unsigned: bool,
) -> Result<(usize, &[u8]), ParseError> {
    let start = skip_whitespace(buf, i);
    let mut i = start;
    let mut quoted = false;
    let mut equals = 0usize;
    let mut commas = 0usize;
    while i < buf.len() {
        let c = buf[i];
        if !LINE_SPECIAL[c as usize] {
            i += 1;
            continue;
        }
        if c == b'\\' && i + 1 < buf.len() {
            i += 2;
            continue;
        }
        if c == b'"' && equals > commas {
            quoted = !quoted;
            i += 1;
            continue;
        }
        if c == b'=' && !quoted {
            equals += 1;
            let prev = at(buf, i.wrapping_sub(1));
            let prev2 = at(buf, i.wrapping_sub(2));
            if (prev == b' ' || prev == b',') && prev2 != b'\\' {
                return Err(ParseError::MissingFieldKey);
            }
            if i + 1 >= buf.len() {
                return Err(ParseError::MissingFieldValue);
            }
            let n = buf[i + 1];
            if n == b',' || n == b' ' {
                return Err(ParseError::MissingFieldValue);
            }
            if is_numeric(n) || n == b'-' || n == b'N' || n == b'n' {
                i = scan_number(buf, i + 1, allow_unsigned)?;
                continue;
            }
            if n != b'"' {
                i = scan_boolean(buf, i + 1)?;
                continue;
            }
        }
        if !quoted {
            if c == b',' {
                commas += 1;
            } else if c == b' ' {
                break;
            }
        }
        i += 1;
    }
    if quoted {
        return Err(ParseError::UnbalancedQuotes);
    }
    if equals == 0 || commas != equals - 1 {
        return Err(ParseError::InvalidFieldFormat);
    }
    Ok((i, &buf[start..i]))
}

fn scan_number(buf: &[u8], mut i: usize, allow_unsigned: bool) -> Result<usize, ParseError> {
    let start = i;
    let mut is_int = false;
    let mut is_unsigned = false;
    if i < buf.len() && buf[i] == b'-' {
        i += 1;
        if i == buf.len() {
            return Err(ParseError::InvalidNumber);
        }
    }
    let mut decimal = false;
    let mut scientific = false;
    while i < buf.len() {
        let c = buf[i];
        if c == b',' || c == b' ' {
            break;
        }
        if c == b'i' && i > start && !(is_int || is_unsigned) {
            is_int = true;
            i += 1;
            continue;
        } else if c == b'u' && i > start && !(is_int || is_unsigned) {
            is_unsigned = true;
            i += 1;
            continue;
        }
        if c == b'.' {
            if decimal {
                return Err(ParseError::InvalidNumber);
            }
            decimal = true;
        }
        if i > start && (c == b'e' || c == b'E') {
            scientific = true;
            i += 1;
            continue;
        }
        if (c == b'+' || c == b'-') && matches!(at(buf, i.wrapping_sub(1)), b'e' | b'E') {
            i += 1;
            continue;
        }
        if i + 2 < buf.len() && (c == b'N' || c == b'n') {
            return Err(ParseError::InvalidNumber);
        }
        if !is_numeric(c) {
            return Err(ParseError::InvalidNumber);
        }
        i += 1;
    }

    if (is_int || is_unsigned) && (decimal || scientific) {
        return Err(ParseError::InvalidNumber);
    }
    let mut digits = i - start;
    if is_int {
        digits -= 1;
    }
    if decimal {
        digits -= 1;
    }
    if buf[start] == b'-' {
        digits = digits.saturating_sub(1);
    }
    if digits == 0 {
        return Err(ParseError::InvalidNumber);
    }

    if is_int {
        if buf[i - 1] != b'i' {
            return Err(ParseError::InvalidNumber);
        }
        let num = &buf[start..i - 1];
        if num.len() >= 19 && parse_i64(num).is_none() {
            return Err(ParseError::IntegerOutOfRange(ascii(num)));
        }
    } else if is_unsigned {
        if !allow_unsigned || buf[i - 1] != b'u' || buf[start] == b'-' {
            return Err(ParseError::InvalidNumber);
        }
        let num = &buf[start..i - 1];
        if num.len() >= 20 && parse_u64(num).is_none() {
            return Err(ParseError::UnsignedOutOfRange(ascii(num)));
        }
    } else if (scientific || i - start >= 25) && parse_f64(&buf[start..i]).is_none() {
        return Err(ParseError::InvalidFloat);
    }
    Ok(i)
}

fn scan_boolean(buf: &[u8], mut i: usize) -> Result<usize, ParseError> {
    let start = i;
    if i < buf.len() && !matches!(buf[i], b't' | b'f' | b'T' | b'F') {
        return Err(ParseError::InvalidBoolean);
    }
    i += 1;
    while i < buf.len() && buf[i] != b',' && buf[i] != b' ' {
        i += 1;
    }
    let word = buf.get(start..i).unwrap_or_default();
    if word.len() == 1 {
        return Ok(i);
    }
    let valid = match at(buf, start) {
        b't' => word == b"true",
        b'f' => word == b"false",
        b'T' => word == b"TRUE" || word == b"True",
        b'F' => word == b"FALSE" || word == b"False",
        _ => false,
    };
    if valid { Ok(i) } else { Err(ParseError::InvalidBoolean) }
}

/// Scans the optional timestamp.
pub(crate) fn scan_time(buf: &[u8], i: usize) -> Result<(usize, &[u8]), ParseError> {
    let start = skip_whitespace(buf, i);
    let mut i = start;
    while i < buf.len() {
        let c = buf[i];
        if c == b'\n' || c == b' ' {
            break;
        }
        if i == start && c == b'-' {
            i += 1;
            continue;
        }
        if !c.is_ascii_digit() {
            return Err(ParseError::BadTimestamp);
        }
        i += 1;
    }
    Ok((i, &buf[start..i]))
}

/// Position of the first `stop` byte not preceded by a backslash.
#[inline]
pub(crate) fn scan_to(buf: &[u8], mut i: usize, stop: u8) -> usize {
    while i < buf.len() {
        if buf[i] == stop && (i == 0 || buf[i - 1] != b'\\') {
            break;
        }
        i += 1;
    }
    i
}

/// End of a tag value inside a series key: the next unescaped comma.
#[inline]
fn scan_tag_value_in_key(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() {
        if buf[i] == b',' && at(buf, i.wrapping_sub(1)) != b'\\' {
            break;
        }
        i += 1;
    }
    i
}

/// End of a field value: the next comma outside a quoted string.
#[inline]
pub(crate) fn scan_field_value(buf: &[u8], mut i: usize) -> usize {
    let mut quoted = false;
    while i < buf.len() {
        let c = buf[i];
        if c == b'\\' && i + 1 < buf.len() && (buf[i + 1] == b'"' || buf[i + 1] == b'\\') {
            i += 2;
            continue;
        }
        if c == b'"' {
            quoted = !quoted;
        } else if c == b',' && !quoted {
            break;
        }
        i += 1;
    }
    i
}

/// Walks the fields as InfluxDB does after scanning them, checking that
/// every field key has a value and that no series key plus field key is
/// longer than [`MAX_KEY_LENGTH`].
fn walk_fields(mut buf: &[u8], key_len: usize) -> Result<(), ParseError> {
    while !buf.is_empty() {
        let i = scan_to(buf, 0, b'=');
        if i + 2 > buf.len() {
            return Err(ParseError::InvalidValue(String::from_utf8_lossy(&buf[..i]).into_owned()));
        }
        let key = &buf[..i];
        buf = &buf[i + 1..];
        let j = scan_field_value(buf, 0);
        buf = &buf[j..];
        let size = key_len + 4 + key.len();
        if size > MAX_KEY_LENGTH {
            return Err(ParseError::MaxKeyLength(size));
        }
        if !buf.is_empty() {
            buf = &buf[1..];
        }
    }
    Ok(())
}

#[inline]
pub(crate) fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses `[+-]?[0-9]+` as Go's `strconv.ParseInt(s, 10, 64)` does.
#[inline]
pub(crate) fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN fits.
    let mut n: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    if neg { Some(n) } else { n.checked_neg() }
}

/// Parses `[0-9]+` as Go's `strconv.ParseUint(s, 10, 64)` does.
#[inline]
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// Parses a float as Go's `strconv.ParseFloat` does for the characters the
/// scanner lets through; `None` on a syntax error or an overflow to ±Inf.
#[inline]
pub(crate) fn parse_f64(b: &[u8]) -> Option<f64> {
    // The scanner only lets digits, `.`, `e`, `E`, `+` and `-` through, so
    // Rust's extra spellings (`inf`, `nan`) cannot appear here.
    let v: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    if v.is_finite() { Some(v) } else { None }
}

/// A line that scanned without error, borrowing from the input.
///
/// Nothing is unescaped or converted yet: [`RawPoint::to_point`] does that.
#[derive(Debug, Clone)]
pub struct RawPoint<'a> {
    key: Cow<'a, [u8]>,
    name_len: usize,
    fields: &'a [u8],
    time: i64,
}

impl<'a> RawPoint<'a> {
    /// The escaped series key with tags sorted, byte-identical to the key
    /// InfluxDB stores for this line (`measurement,k1=v1,k2=v2`).
    pub fn series_key(&self) -> &[u8] {
        &self.key
    }

    /// The escaped measurement name.
    pub fn measurement_escaped(&self) -> &[u8] {
        &self.key[..self.name_len]
    }

    /// The raw (escaped) fields section: `f1=1,f2="x"`.
    pub fn fields_raw(&self) -> &'a [u8] {
        self.fields
    }

    /// The point's time in nanoseconds.
    pub fn time(&self) -> i64 {
        self.time
    }

    /// Calls `f` with each escaped tag key and value, in series-key order.
    pub fn for_each_tag_escaped(&self, mut f: impl FnMut(&[u8], &[u8])) {
        let key: &[u8] = &self.key;
        let mut i = self.name_len + 1;
        while i < key.len() {
            let eq = scan_to(key, i, b'=');
            if eq >= key.len() {
                break;
            }
            let end = scan_tag_value_in_key(key, eq + 1);
            f(&key[i..eq], &key[eq + 1..end]);
            i = end + 1;
        }
    }

    /// Calls `f` with each raw field key and raw value, in line order.
    pub fn for_each_field_raw(&self, mut f: impl FnMut(&'a [u8], &'a [u8])) {
        let buf = self.fields;
        let mut i = 0;
        while i < buf.len() {
            let eq = scan_to(buf, i, b'=');
            if eq >= buf.len() {
                break;
            }
            let end = scan_field_value(buf, eq + 1);
            f(&buf[i..eq], &buf[eq + 1..end]);
            i = end + 1;
        }
    }

    /// Unescapes and converts everything into an owned [`crate::Point`].
    /// Invalid UTF-8 is replaced (U+FFFD), as InfluxDB's JSON output does.
    pub fn to_point(&self) -> Result<crate::Point, ParseError> {
        // Validate once; every split point below is an ASCII byte, hence a
        // char boundary.
        let (key, name_len) = match std::str::from_utf8(&self.key) {
            Ok(k) => (Cow::Borrowed(k), self.name_len),
            Err(_) => {
                let k = String::from_utf8_lossy(&self.key).into_owned();
                let n = scan_to(k.as_bytes(), 0, b',');
                (Cow::Owned(k), n)
            }
        };
        let fields_text = match std::str::from_utf8(self.fields) {
            Ok(f) => Cow::Borrowed(f),
            Err(_) => Cow::Owned(String::from_utf8_lossy(self.fields).into_owned()),
        };

        // As InfluxDB's `Point.Name()` (the name its index and queries use):
        // `\=` and `\"` are unescaped too, although they do not end the
        // measurement when scanning.
        let measurement = unescape_str(key.get(..name_len).unwrap_or_default(), is_field_key_esc);
        let mut tags = Vec::with_capacity(4);
        let kb = key.as_bytes();
        let mut i = name_len + 1;
        while i < kb.len() {
            let eq = scan_to(kb, i, b'=');
            if eq >= kb.len() {
                break;
            }
            let end = scan_tag_value_in_key(kb, eq + 1);
            let k = key.get(i..eq).unwrap_or_default();
            let v = key.get(eq + 1..end).unwrap_or_default();
            tags.push((unescape_str(k, is_tag_esc), unescape_str(v, is_tag_esc)));
            i = end + 1;
        }

        let mut fields = Vec::with_capacity(4);
        let fb = fields_text.as_bytes();
        let mut i = 0;
        while i < fb.len() {
            let eq = scan_to(fb, i, b'=');
            if eq >= fb.len() {
                break;
            }
            let end = scan_field_value(fb, eq + 1);
            let (k, v) = (i, eq + 1);
            i = end + 1;
            if v >= end {
                continue;
            }
            let k = unescape_str(fields_text.get(k..eq).unwrap_or_default(), is_field_key_esc);
            if k.is_empty() {
                continue;
            }
            match field_value(fields_text.get(v..end).unwrap_or_default()) {
                Ok(value) => fields.push((k, value)),
                Err(msg) => return Err(ParseError::FieldUnmarshal { field: k, msg }),
            }
        }
        if fields.is_empty() {
            return Err(ParseError::NoFields);
        }
        Ok(crate::Point { measurement, tags, fields, time: self.time })
    }
}

/// Converts one raw field value, as InfluxDB's field iterator types it by
/// its first byte. Errors carry InfluxDB's text.
fn field_value(v: &str) -> Result<crate::FieldValue, String> {
    use crate::FieldValue;
    let b = v.as_bytes();
    let Some(&c) = b.first() else {
        return Err("empty value".to_string());
    };
    if c == b'"' {
        let inner = v.get(1..v.len().saturating_sub(1).max(1)).unwrap_or_default();
        return Ok(FieldValue::String(unescape_str(inner, is_string_esc)));
    }
    if b"0123456789-.nNiIu".contains(&c) {
        let last = b[b.len() - 1];
        let body = v.get(..v.len() - 1).unwrap_or_default();
        return if last == b'i' {
            parse_i64(body.as_bytes()).map(FieldValue::Integer).ok_or_else(|| {
                format!(
                    "unable to parse integer value {body:?}: strconv.ParseInt: parsing {body:?}: {}",
                    num_err(body.as_bytes())
                )
            })
        } else if last == b'u' {
            parse_u64(body.as_bytes()).map(FieldValue::Unsigned).ok_or_else(|| {
                format!(
                    "unable to parse unsigned value {body:?}: strconv.ParseUint: parsing {body:?}: {}",
                    num_err(body.as_bytes())
                )
            })
        } else {
            parse_f64(b).map(FieldValue::Float).ok_or_else(|| {
                format!(
                    "unable to parse floating point value {v:?}: strconv.ParseFloat: parsing {v:?}: invalid syntax"
                )
            })
        };
    }
    match b {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Ok(FieldValue::Boolean(true)),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Ok(FieldValue::Boolean(false)),
        _ => Err(format!(
            "unable to parse bool value {v:?}: strconv.ParseBool: parsing {v:?}: invalid syntax"
        )),
    }
}

fn num_err(b: &[u8]) -> &'static str {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        "value out of range"
    } else {
        "invalid syntax"
    }
}

fn is_tag_esc(c: u8) -> bool {
    c == b',' || c == b' ' || c == b'='
}

fn is_field_key_esc(c: u8) -> bool {
    c == b',' || c == b' ' || c == b'=' || c == b'"'
}

fn is_string_esc(c: u8) -> bool {
    c == b'\\' || c == b'"'
}

/// Removes the backslash before each byte for which `special` is true;
/// every other backslash stays. `special` only accepts ASCII bytes.
#[inline]
fn unescape_str(s: &str, special: fn(u8) -> bool) -> String {
    let b = s.as_bytes();
    let Some(first) = b.iter().position(|&c| c == b'\\') else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = first;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && special(b[i + 1]) {
            out.push_str(s.get(last..i).unwrap_or_default());
            last = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push_str(s.get(last..).unwrap_or_default());
    out
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Unescapes a measurement name as InfluxDB's `Point.Name()` does:
/// `\,`, `\ `, `\=` and `\"` (only `\,` and `\ ` matter when scanning).
pub fn unescape_measurement(b: &[u8]) -> String {
    unescape_str(&lossy(b), is_field_key_esc)
}

/// Unescapes a tag key or value: `\,`, `\=` and `\ `.
pub fn unescape_tag(b: &[u8]) -> String {
    unescape_str(&lossy(b), is_tag_esc)
}

/// Unescapes a field key: `\,`, `\=`, `\ ` and `\"`.
pub fn unescape_field_key(b: &[u8]) -> String {
    unescape_str(&lossy(b), is_field_key_esc)
}

/// Unescapes the inside of a string field value: `\\` and `\"`.
pub fn unescape_string_field(b: &[u8]) -> String {
    unescape_str(&lossy(b), is_string_esc)
}

/// Scratch space reused from line to line.
#[derive(Default)]
pub(crate) struct Scratch {
    tags: Vec<TagSpan>,
}

/// Parses one line (no leading whitespace, no trailing newline), as
/// InfluxDB's `parsePoint` does.
pub(crate) fn parse_point<'a>(
    buf: &'a [u8],
    precision: Precision,
    default_time_ns: i64,
    allow_unsigned: bool,
    scratch: &mut Scratch,
) -> Result<RawPoint<'a>, ParseError> {
    let (pos, key, name_len) = scan_key(buf, &mut scratch.tags)?;
    if key.is_empty() {
        return Err(ParseError::MissingMeasurement);
    }
    if key.len() > MAX_KEY_LENGTH {
        return Err(ParseError::MaxKeyLength(key.len()));
    }
    let (pos, fields) = scan_fields(buf, pos, allow_unsigned)?;
    if fields.is_empty() {
        return Err(ParseError::MissingFields);
    }
    walk_fields(fields, key.len())?;
    let (mut pos, ts) = scan_time(buf, pos)?;
    let time = if ts.is_empty() {
        precision.truncate(default_time_ns)
    } else {
        let Some(t) = parse_i64(ts) else {
            let kind = if ts == b"-" { "invalid syntax" } else { "value out of range" };
            return Err(ParseError::TimestampSyntax { text: ascii(ts), reason: kind });
        };
        let t = t.checked_mul(precision.multiplier()).ok_or(ParseError::TimeOutOfRange)?;
        if !(MIN_NANO_TIME..=MAX_NANO_TIME).contains(&t) {
            return Err(ParseError::TimeOutOfRange);
        }
        while pos < buf.len() {
            if buf[pos] != b' ' {
                return Err(ParseError::InvalidPoint);
            }
            pos += 1;
        }
        t
    };
    Ok(RawPoint { key, name_len, fields, time })
}
