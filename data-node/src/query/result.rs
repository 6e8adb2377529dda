//! Query results and their JSON encoding, shaped as InfluxDB 1.x's
//! `query.Result` / `models.Row` marshal them with Go's `encoding/json`:
//! empty members are omitted, tags are an object with sorted keys, floats
//! use Go's formatting (`1`, `0.5`, `1e-7`, `1.5e+21`), `<`, `>` and `&`
//! are escaped as `\u003c`, `\u003e`, `\u0026`, and `pretty=true` indents
//! by four spaces as `json.MarshalIndent` does.

use std::fmt::Write as _;

use portable::FieldValue;

use crate::influxql::format_rfc3339_nano;

/// One cell of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// JSON `null`.
    Null,
    /// A float.
    Float(f64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
    /// A timestamp (ns): an RFC3339 string, or an integer with `epoch`
    /// when it is the first column.
    Time(i64),
    /// A list of strings (`SHOW SUBSCRIPTIONS` destinations).
    Strings(Vec<String>),
}

impl Value {
    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a float, if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            Value::Unsigned(u) => Some(*u as f64),
            _ => None,
        }
    }
}

impl From<FieldValue> for Value {
    fn from(v: FieldValue) -> Value {
        match v {
            FieldValue::Float(f) => Value::Float(f),
            FieldValue::Integer(i) => Value::Integer(i),
            FieldValue::Unsigned(u) => Value::Unsigned(u),
            FieldValue::Boolean(b) => Value::Boolean(b),
            FieldValue::String(s) => Value::String(s),
        }
    }
}

/// One series of a result (`models.Row`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Measurement (empty: omitted).
    pub name: String,
    /// Tags, sorted by key (empty: omitted).
    pub tags: Vec<(String, String)>,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub values: Vec<Vec<Value>>,
    /// More rows follow in another chunk.
    pub partial: bool,
}

/// An informational message attached to a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `warning`, `info`, ...
    pub level: String,
    /// The text.
    pub text: String,
}

impl Message {
    /// InfluxDB's warning for a write statement sent with GET.
    pub fn read_only_warning(stmt: &str) -> Message {
        Message {
            level: "warning".into(),
            text: format!(
                "deprecated use of '{stmt}' in a read only context, please use a POST request instead"
            ),
        }
    }
}

/// The result of one statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    /// Position of the statement in the query.
    pub statement_id: usize,
    /// Series.
    pub series: Vec<Series>,
    /// Messages.
    pub messages: Vec<Message>,
    /// More results follow (chunked responses).
    pub partial: bool,
    /// The statement's error.
    pub error: Option<String>,
}

/// How timestamps in the first column are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Epoch {
    /// RFC3339 with nanoseconds, trailing zeros trimmed.
    #[default]
    Rfc3339,
    /// Integers: ns since the epoch divided by this.
    Divisor(i64),
}

impl Epoch {
    /// The `epoch` parameter: empty is RFC3339; `u`, `ms`, `s`, `m`, `h`
    /// divide; anything else (`n`, `ns`, ...) gives nanoseconds.
    pub fn parse(s: &str) -> Epoch {
        match s.trim() {
            "" => Epoch::Rfc3339,
            "u" => Epoch::Divisor(1_000),
            "ms" => Epoch::Divisor(1_000_000),
            "s" => Epoch::Divisor(1_000_000_000),
            "m" => Epoch::Divisor(60_000_000_000),
            "h" => Epoch::Divisor(3_600_000_000_000),
            _ => Epoch::Divisor(1),
        }
    }
}

/// Encoding options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonOptions {
    /// Indent as `json.MarshalIndent(v, "", "    ")`.
    pub pretty: bool,
    /// Timestamp rendering.
    pub epoch: Epoch,
}

/// A small JSON tree, so compact and indented output share one encoder.
enum J {
    Null,
    Raw(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
    Map(Vec<(String, J)>),
}

fn value_json(v: &Value, first: bool, epoch: Epoch) -> J {
    match v {
        Value::Null => J::Null,
        Value::Float(f) => match go_float(*f) {
            Some(s) => J::Raw(s),
            None => J::Null,
        },
        Value::Integer(i) => J::Raw(i.to_string()),
        Value::Unsigned(u) => J::Raw(u.to_string()),
        Value::Boolean(b) => J::Raw(if *b { "true".into() } else { "false".into() }),
        Value::String(s) => J::Str(s.clone()),
        Value::Time(t) => match (first, epoch) {
            (true, Epoch::Divisor(d)) => J::Raw((t / d).to_string()),
            _ => J::Str(format_rfc3339_nano(i128::from(*t))),
        },
        Value::Strings(v) => J::Arr(v.iter().map(|s| J::Str(s.clone())).collect()),
    }
}

fn series_json(s: &Series, epoch: Epoch) -> J {
    let mut o = Vec::new();
    if !s.name.is_empty() {
        o.push(("name", J::Str(s.name.clone())));
    }
    if !s.tags.is_empty() {
        let mut tags = s.tags.clone();
        tags.sort();
        tags.dedup_by(|a, b| a.0 == b.0);
        o.push(("tags", J::Map(tags.into_iter().map(|(k, v)| (k, J::Str(v))).collect())));
    }
    if !s.columns.is_empty() {
        o.push(("columns", J::Arr(s.columns.iter().map(|c| J::Str(c.clone())).collect())));
    }
    if !s.values.is_empty() {
        let rows = s
            .values
            .iter()
            .map(|r| {
                J::Arr(r.iter().enumerate().map(|(i, v)| value_json(v, i == 0, epoch)).collect())
            })
            .collect();
        o.push(("values", J::Arr(rows)));
    }
    if s.partial {
        o.push(("partial", J::Raw("true".into())));
    }
    J::Obj(o)
}

fn result_json(r: &StatementResult, epoch: Epoch) -> J {
    let mut o = vec![("statement_id", J::Raw(r.statement_id.to_string()))];
    if !r.series.is_empty() {
        o.push(("series", J::Arr(r.series.iter().map(|s| series_json(s, epoch)).collect())));
    }
    if !r.messages.is_empty() {
        let msgs = r
            .messages
            .iter()
            .map(|m| {
                J::Obj(vec![("level", J::Str(m.level.clone())), ("text", J::Str(m.text.clone()))])
            })
            .collect();
        o.push(("messages", J::Arr(msgs)));
    }
    if r.partial {
        o.push(("partial", J::Raw("true".into())));
    }
    if let Some(e) = &r.error {
        o.push(("error", J::Str(e.clone())));
    }
    J::Obj(o)
}

/// Encodes an HTTP response body (`httpd.Response`): the results, or a
/// top-level error. Ends with a newline, as InfluxDB's writer does.
pub fn encode_response(
    results: &[StatementResult],
    error: Option<&str>,
    opts: JsonOptions,
) -> String {
    let mut o = Vec::new();
    if !results.is_empty() {
        o.push(("results", J::Arr(results.iter().map(|r| result_json(r, opts.epoch)).collect())));
    }
    if let Some(e) = error {
        o.push(("error", J::Str(e.to_string())));
    }
    let mut out = String::new();
    write_json(&J::Obj(o), opts.pretty, 0, &mut out);
    out.push('\n');
    out
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_json(j: &J, pretty: bool, level: usize, out: &mut String) {
    match j {
        J::Null => out.push_str("null"),
        J::Raw(s) => out.push_str(s),
        J::Str(s) => write_str(s, out),
        J::Arr(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if pretty {
                    indent(out, level + 1);
                }
                write_json(it, pretty, level + 1, out);
            }
            if pretty {
                indent(out, level);
            }
            out.push(']');
        }
        J::Obj(members) => {
            let members: Vec<(&str, &J)> = members.iter().map(|(k, v)| (*k, v)).collect();
            write_object(&members, pretty, level, out);
        }
        J::Map(members) => {
            let members: Vec<(&str, &J)> = members.iter().map(|(k, v)| (k.as_str(), v)).collect();
            write_object(&members, pretty, level, out);
        }
    }
}

fn write_object(members: &[(&str, &J)], pretty: bool, level: usize, out: &mut String) {
    if members.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if pretty {
            indent(out, level + 1);
        }
        write_str(k, out);
        out.push(':');
        if pretty {
            out.push(' ');
        }
        write_json(v, pretty, level + 1, out);
    }
    if pretty {
        indent(out, level);
    }
    out.push('}');
}

/// A JSON string as Go's `encoding/json` writes it (HTML-safe).
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as Go's `encoding/json` writes it; None for NaN and infinities
/// (which InfluxDB turns into null).
pub fn go_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        return Some(if exp < 0 {
            format!("{mant}e-{}", -exp)
        } else {
            format!("{mant}e+{exp:02}")
        });
    }
    Some(format!("{f}"))
}

/// InfluxDB's CSV answer writer (`Accept: application/csv`): a header
/// `name,tags,<columns>` per statement (again when the columns change),
/// one line per row, times as integers, statement errors left out. It
/// keeps state across chunks, as InfluxDB's does.
#[derive(Debug, Clone)]
pub struct CsvWriter {
    statement_id: Option<usize>,
    columns: Vec<String>,
    epoch: Epoch,
}

fn csv_field(s: &str, out: &mut String) {
    // Go's `csv.Writer.fieldNeedsQuotes`.
    let quote = s == "\\."
        || s.contains([',', '"', '\r', '\n'])
        || s.chars().next().is_some_and(char::is_whitespace);
    if !quote {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

fn csv_line(fields: &[String], out: &mut String) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(f, out);
    }
    out.push('\n');
}

impl CsvWriter {
    /// A writer rendering times per `epoch` (integers either way).
    pub fn new(epoch: Epoch) -> CsvWriter {
        CsvWriter { statement_id: None, columns: Vec::new(), epoch }
    }

    /// The CSV body of an error answer.
    pub fn error(msg: &str) -> String {
        let mut out = String::new();
        csv_line(&["error".to_string()], &mut out);
        csv_line(&[msg.to_string()], &mut out);
        out
    }

    fn header(&mut self, columns: &[String], out: &mut String) {
        self.columns = Vec::with_capacity(columns.len() + 2);
        self.columns.push("name".into());
        self.columns.push("tags".into());
        self.columns.extend(columns.iter().cloned());
        csv_line(&self.columns, out);
    }

    /// Appends results.
    pub fn write(&mut self, results: &[StatementResult], out: &mut String) {
        for r in results {
            if self.statement_id != Some(r.statement_id) {
                let Some(first) = r.series.first() else { continue };
                if self.statement_id.is_some() {
                    out.push('\n');
                }
                self.statement_id = Some(r.statement_id);
                self.header(&first.columns, out);
            }
            for (i, s) in r.series.iter().enumerate() {
                if i > 0 && r.series[i - 1].columns != s.columns {
                    out.push('\n');
                    self.header(&s.columns, out);
                }
                let mut tags: Vec<&(String, String)> =
                    s.tags.iter().filter(|(_, v)| !v.is_empty()).collect();
                tags.sort();
                let tags: Vec<String> = tags
                    .iter()
                    .map(|(k, v)| {
                        let mut t = String::new();
                        portable::key::escape_tag(k, &mut t);
                        t.push('=');
                        portable::key::escape_tag(v, &mut t);
                        t
                    })
                    .collect();
                let mut line = Vec::with_capacity(s.columns.len() + 2);
                for row in &s.values {
                    line.clear();
                    line.push(s.name.clone());
                    line.push(tags.join(","));
                    for (j, v) in row.iter().enumerate() {
                        line.push(match v {
                            Value::Null => String::new(),
                            Value::Float(f) if f.is_finite() => format!("{f}"),
                            Value::Float(_) => String::new(),
                            Value::Integer(i) => i.to_string(),
                            Value::Unsigned(u) => u.to_string(),
                            Value::Boolean(b) => b.to_string(),
                            Value::String(x) => x.clone(),
                            Value::Time(t) => match (j, self.epoch) {
                                (0, Epoch::Divisor(d)) => (t / d).to_string(),
                                _ => t.to_string(),
                            },
                            Value::Strings(v) => format!("[{}]", v.join(" ")),
                        });
                    }
                    csv_line(&line, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(go_float(1.0).unwrap(), "1");
        assert_eq!(go_float(0.5).unwrap(), "0.5");
        assert_eq!(go_float(1e-9).unwrap(), "1e-9");
        assert_eq!(go_float(1.5e10).unwrap(), "15000000000");
        assert_eq!(go_float(1.5e21).unwrap(), "1.5e+21");
        assert_eq!(go_float(-2.25e-7).unwrap(), "-2.25e-7");
        assert_eq!(go_float(0.1 + 0.2).unwrap(), "0.30000000000000004");
        assert!(go_float(f64::NAN).is_none());
    }

    #[test]
    fn shapes() {
        let r = StatementResult {
            statement_id: 0,
            series: vec![Series {
                name: "cpu".into(),
                tags: vec![("host".into(), "a<b".into())],
                columns: vec!["time".into(), "value".into()],
                values: vec![vec![Value::Time(1_500_000_000), Value::Float(2.0)]],
                partial: false,
            }],
            ..Default::default()
        };
        let s = encode_response(std::slice::from_ref(&r), None, JsonOptions::default());
        assert_eq!(
            s,
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\\u003cb\"},\"columns\":[\"time\",\"value\"],\"values\":[[\"1970-01-01T00:00:01.5Z\",2]]}]}]}\n"
        );
        let s =
            encode_response(&[r], None, JsonOptions { pretty: false, epoch: Epoch::parse("ms") });
        assert!(s.contains("[[1500,2]]"), "{s}");
        let empty = StatementResult::default();
        assert_eq!(
            encode_response(&[empty], None, JsonOptions { pretty: true, ..Default::default() }),
            "{\n    \"results\": [\n        {\n            \"statement_id\": 0\n        }\n    ]\n}\n"
        );
        assert_eq!(encode_response(&[], Some("x"), JsonOptions::default()), "{\"error\":\"x\"}\n");
    }

    #[test]
    fn csv() {
        let r = StatementResult {
            statement_id: 0,
            series: vec![Series {
                name: "cpu".into(),
                tags: vec![("host".into(), "a,b".into())],
                columns: vec!["time".into(), "value".into(), "s".into()],
                values: vec![vec![
                    Value::Time(5),
                    Value::Float(1.5),
                    Value::String("x \"y\"".into()),
                ]],
                partial: false,
            }],
            ..Default::default()
        };
        let mut out = String::new();
        CsvWriter::new(Epoch::Rfc3339).write(&[r], &mut out);
        assert_eq!(out, "name,tags,time,value,s\ncpu,\"host=a\\,b\",5,1.5,\"x \"\"y\"\"\"\n");
        assert_eq!(CsvWriter::error("bad"), "error\nbad\n");
    }
}
