//! InfluxDB 1.x line protocol: a parser that accepts and rejects exactly
//! what InfluxDB 1.x (`models/points.go`) does, with the same error texts,
//! and a writer of canonical lines.
//!
//! ```text
//! measurement[,tag=value...] field=value[,field2=value2...] [timestamp]
//! ```
//!
//! The main entry point is [`parse_lines`]: it parses a whole `/write` body
//! and returns the good points and one [`LineError`] per bad line. A
//! `/write` handler answers 400 with [`join_errors`] of the errors (and
//! writes the good points, as InfluxDB does).
//!
//! Differences from a naive reading of the format that InfluxDB has, and
//! this parser keeps:
//!
//! - no CRLF support: a `\r` before the newline is part of the line, so
//!   `cpu v=1 10\r` fails with `bad timestamp` and `cpu v=1\r` with
//!   `invalid number`;
//! - a newline inside a quoted string field value, or right after a
//!   backslash, does not end the line;
//! - blank lines (spaces, tabs and NUL bytes only) and lines whose first
//!   non-blank byte is `#` are skipped;
//! - the default time (no timestamp on the line) is truncated to the
//!   precision, like InfluxDB's `SetPrecision`;
//! - duplicate field keys are all kept, in line order (the later wins when
//!   the point is stored);
//! - tags are sorted by their escaped bytes, as InfluxDB's series keys are;
//! - the measurement name is unescaped as InfluxDB's `Point.Name()` does
//!   (`\,`, `\ `, `\=`, `\"`), although only `\,` and `\ ` matter when
//!   splitting the line: `cpu\=x v=1` is measurement `cpu=x` (what a real
//!   influxd 1.6 lists in `SHOW MEASUREMENTS`), while [`RawPoint::series_key`]
//!   keeps InfluxDB's raw key `cpu\=x`.
//!
//! Without building [`Point`]s, [`lines`] and [`Parser::parse_raw`] give
//! the escaped series key and raw fields of each line, borrowed from the
//! body:
//!
//! ```
//! use portable::lineproto::{lines, ParseOptions, Parser, Precision};
//! let body = b"cpu,host=a,az=1 v=1.5,n=2i 10\nbad line";
//! let opts = ParseOptions::new(Precision::Nanosecond, 0);
//! let mut parser = Parser::new();
//! for (line_no, line) in lines(body) {
//!     match parser.parse_raw(line, &opts) {
//!         Ok(raw) => assert_eq!(raw.series_key(), b"cpu,az=1,host=a"),
//!         Err(e) => assert_eq!((line_no, e.to_string().as_str()), (2, "invalid field format")),
//!     }
//! }
//! ```
//!
//! Unsigned integers (`1u`) are off in stock InfluxDB 1.x builds (they
//! need the `uint` build tag) and answer `invalid number` there. They are
//! on by default here; [`ParseOptions::allow_unsigned`] turns them off.

mod scan;
mod write;

#[cfg(test)]
mod tests;

use std::fmt;

pub use scan::{
    MAX_KEY_LENGTH, MAX_NANO_TIME, MIN_NANO_TIME, RawPoint, unescape_field_key,
    unescape_measurement, unescape_string_field, unescape_tag,
};
pub use write::{
    append_float, escape_field_key, escape_string_field, write_field_value, write_point,
    write_points,
};

use crate::Point;

/// Why a line was rejected. `Display` gives InfluxDB's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line starts with a comma (or is empty).
    #[error("missing measurement")]
    MissingMeasurement,
    /// The line ends before the fields.
    #[error("missing fields")]
    MissingFields,
    /// A tag without a key (`cpu,=a`, `cpu,`).
    #[error("missing tag key")]
    MissingTagKey,
    /// A tag key without `=value`.
    #[error("missing tag value")]
    MissingTagValue,
    /// An unescaped `=` inside a tag value.
    #[error("invalid tag format")]
    InvalidTagFormat,
    /// The same tag key twice.
    #[error("duplicate tags")]
    DuplicateTags,
    /// Series key (or series key plus a field key plus 4) too long.
    #[error("max key length exceeded: {0} > 65535")]
    MaxKeyLength(usize),
    /// `=value` without a key.
    #[error("missing field key")]
    MissingFieldKey,
    /// `key=` without a value.
    #[error("missing field value")]
    MissingFieldValue,
    /// A malformed number (also `NaN`, `-Inf`, and `1u` when unsigned
    /// integers are off).
    #[error("invalid number")]
    InvalidNumber,
    /// A float that does not parse or overflows (`1e400`).
    #[error("invalid float")]
    InvalidFloat,
    /// An integer outside the i64 range.
    #[error("unable to parse integer {0}: strconv.ParseInt: parsing \"{0}\": value out of range")]
    IntegerOutOfRange(String),
    /// An unsigned integer outside the u64 range.
    #[error("unable to parse unsigned {0}: strconv.ParseUint: parsing \"{0}\": value out of range")]
    UnsignedOutOfRange(String),
    /// A bare word that is not a boolean.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A string field value without its closing quote.
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
    /// Fields that do not pair keys and values.
    #[error("invalid field format")]
    InvalidFieldFormat,
    /// A field key with nothing after it.
    #[error("invalid value: field-key={0}")]
    InvalidValue(String),
    /// A timestamp with something else than digits.
    #[error("bad timestamp")]
    BadTimestamp,
    /// A timestamp that does not parse as an i64.
    #[error("strconv.ParseInt: parsing \"{text}\": {reason}")]
    TimestampSyntax {
        /// The timestamp text.
        text: String,
        /// `invalid syntax` or `value out of range`.
        reason: &'static str,
    },
    /// A timestamp outside [`MIN_NANO_TIME`]..=[`MAX_NANO_TIME`] once
    /// multiplied by the precision.
    #[error("time outside range -9223372036854775806 - 9223372036854775806")]
    TimeOutOfRange,
    /// Something after the timestamp.
    #[error("point is invalid")]
    InvalidPoint,
    /// A field value that passed the scanner but does not convert (only
    /// reachable with odd escapes).
    #[error("unable to unmarshal field {field}: {msg}")]
    FieldUnmarshal {
        /// The unescaped field key.
        field: String,
        /// Go's conversion error text.
        msg: String,
    },
    /// No usable field left after conversion.
    #[error("point without fields is unsupported")]
    NoFields,
}

/// One rejected line of a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse '{text}': {error}")]
pub struct LineError {
    /// 1-based number of the physical line where the bad line starts.
    pub line: usize,
    /// The line as InfluxDB quotes it: leading blanks removed, invalid
    /// UTF-8 replaced.
    pub text: String,
    /// The reason.
    pub error: ParseError,
}

/// Joins line errors the way InfluxDB does (one per line, `\n` between).
pub fn join_errors(errors: &[LineError]) -> String {
    let mut out = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        use fmt::Write;
        let _ = write!(out, "{e}");
    }
    out
}

/// Timestamp precision of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// `n`, `ns` or empty.
    #[default]
    Nanosecond,
    /// `u`.
    Microsecond,
    /// `ms`.
    Millisecond,
    /// `s`.
    Second,
    /// `m`.
    Minute,
    /// `h`.
    Hour,
}

/// An unknown `precision` parameter; `Display` gives InfluxDB's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid precision {0:?} (use {1})")]
pub struct InvalidPrecision(pub String, pub &'static str);

impl Precision {
    /// Parses the `precision` parameter of `/write` as InfluxDB 1.8 does:
    /// empty, `n`, `ns`, `u`, `ms`, `s`, `m` or `h`. Anything else is
    /// `invalid precision "x" (use n, u, ms, s, m or h)`. (InfluxDB 1.6 did
    /// not check and treated unknown values as nanoseconds; see
    /// [`Precision::parse_lenient`].)
    pub fn parse(s: &str) -> Result<Precision, InvalidPrecision> {
        Ok(match s {
            "" | "n" | "ns" => Precision::Nanosecond,
            "u" => Precision::Microsecond,
            "ms" => Precision::Millisecond,
            "s" => Precision::Second,
            "m" => Precision::Minute,
            "h" => Precision::Hour,
            _ => return Err(InvalidPrecision(s.to_string(), "n, u, ms, s, m or h")),
        })
    }

    /// InfluxDB 1.6 behaviour: unknown values (`us`, `µ`, ...) mean ns.
    pub fn parse_lenient(s: &str) -> Precision {
        Precision::parse(s).unwrap_or(Precision::Nanosecond)
    }

    /// Parses the `precision` of `/api/v2/write`: `ns`, `us`, `ms`, `s` or
    /// empty; the error is `invalid precision "x" (use ns, us, ms or s)`.
    pub fn parse_v2(s: &str) -> Result<Precision, InvalidPrecision> {
        Ok(match s {
            "" | "ns" => Precision::Nanosecond,
            "us" => Precision::Microsecond,
            "ms" => Precision::Millisecond,
            "s" => Precision::Second,
            _ => return Err(InvalidPrecision(s.to_string(), "ns, us, ms or s")),
        })
    }

    /// Nanoseconds in one unit.
    pub fn multiplier(self) -> i64 {
        match self {
            Precision::Nanosecond => 1,
            Precision::Microsecond => 1_000,
            Precision::Millisecond => 1_000_000,
            Precision::Second => 1_000_000_000,
            Precision::Minute => 60_000_000_000,
            Precision::Hour => 3_600_000_000_000,
        }
    }

    /// The short name (`n`, `u`, `ms`, `s`, `m`, `h`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Nanosecond => "n",
            Precision::Microsecond => "u",
            Precision::Millisecond => "ms",
            Precision::Second => "s",
            Precision::Minute => "m",
            Precision::Hour => "h",
        }
    }

    /// Rounds `ns` down to a whole number of units (Go `Time.Truncate`).
    pub fn truncate(self, ns: i64) -> i64 {
        let m = self.multiplier();
        ns.checked_sub(ns.rem_euclid(m)).unwrap_or(ns)
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options of a parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Unit of the timestamps on the lines.
    pub precision: Precision,
    /// Time of points without a timestamp, in ns (truncated to the
    /// precision). InfluxDB uses the time the request arrived.
    pub default_time_ns: i64,
    /// Accept `1u` unsigned integers (stock InfluxDB 1.x: no).
    pub allow_unsigned: bool,
}

impl ParseOptions {
    /// Options with unsigned integers allowed.
    pub fn new(precision: Precision, default_time_ns: i64) -> ParseOptions {
        ParseOptions { precision, default_time_ns, allow_unsigned: true }
    }
}

/// Splits a body into lines as InfluxDB does, skipping blank and comment
/// lines. Yields `(line number, line)`; the line has no leading blanks and
/// no newline.
pub struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    line_no: usize,
}

/// The lines of `body`; see [`Lines`].
pub fn lines(body: &[u8]) -> Lines<'_> {
    Lines { buf: body, pos: 0, line_no: 1 }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        while self.pos < self.buf.len() {
            let (end, slow) = scan::scan_line(self.buf, self.pos);
            let mut block = &self.buf[self.pos..end];
            self.pos = end + 1;
            let line_no = self.line_no;
            self.line_no += 1;
            if slow {
                self.line_no += block.iter().filter(|&&c| c == b'\n').count();
            }
            if block.is_empty() {
                continue;
            }
            let start = scan::skip_whitespace(block, 0);
            if start >= block.len() || block[start] == b'#' {
                continue;
            }
            if block[block.len() - 1] == b'\n' {
                block = &block[..block.len() - 1];
            }
            return Some((line_no, &block[start..]));
        }
        None
    }
}

/// A reusable parser: keeps scratch space between lines.
#[derive(Default)]
pub struct Parser {
    scratch: scan::Scratch,
}

impl Parser {
    /// A new parser.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Scans one line (as yielded by [`lines`]) without converting it.
    pub fn parse_raw<'a>(
        &mut self,
        line: &'a [u8],
        opts: &ParseOptions,
    ) -> Result<RawPoint<'a>, ParseError> {
        scan::parse_point(
            line,
            opts.precision,
            opts.default_time_ns,
            opts.allow_unsigned,
            &mut self.scratch,
        )
    }

    /// Parses one line (as yielded by [`lines`]) into a [`Point`].
    pub fn parse_line(&mut self, line: &[u8], opts: &ParseOptions) -> Result<Point, ParseError> {
        self.parse_raw(line, opts)?.to_point()
    }
}

/// Parses one line (no newline) into a [`Point`], unsigned integers allowed.
pub fn parse_line(
    line: &[u8],
    precision: Precision,
    default_time_ns: i64,
) -> Result<Point, ParseError> {
    let line = &line[scan::skip_whitespace(line, 0)..];
    Parser::new().parse_line(line, &ParseOptions::new(precision, default_time_ns))
}

/// Parses a whole `/write` body: the good points, and one error per bad
/// line (in body order). Unsigned integers are allowed.
pub fn parse_lines(
    body: &[u8],
    precision: Precision,
    default_time_ns: i64,
) -> (Vec<Point>, Vec<LineError>) {
    parse_lines_with(body, &ParseOptions::new(precision, default_time_ns))
}

/// [`parse_lines`] with explicit options.
pub fn parse_lines_with(body: &[u8], opts: &ParseOptions) -> (Vec<Point>, Vec<LineError>) {
    let mut points = Vec::with_capacity(body.iter().filter(|&&c| c == b'\n').count() + 1);
    let mut errors = Vec::new();
    let mut parser = Parser::new();
    for (line_no, line) in lines(body) {
        match parser.parse_line(line, opts) {
            Ok(p) => points.push(p),
            Err(error) => errors.push(LineError {
                line: line_no,
                text: String::from_utf8_lossy(line).into_owned(),
                error,
            }),
        }
    }
    (points, errors)
}
