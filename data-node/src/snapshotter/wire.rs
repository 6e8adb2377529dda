//! The snapshotter protocol's messages (portable-format spec §5.7), shared
//! by the data node's server and the `data-node backup`/`restore` client.
//!
//! After the mux byte 3, a client sends one request-type byte, then (for
//! every type but ShardUpdate) a JSON `Request` followed by `\n`, as Go's
//! `json.Encoder` writes it. The JSON keys are Go's field names; Go's
//! decoder matches them case-insensitively and ignores unknown keys, and so
//! does [`Request::from_json`]. Times are Go `time.Time` values in RFC3339
//! with optional fractional seconds; the zero time is
//! `0001-01-01T00:00:00Z`, which does not fit in an `i64` of nanoseconds:
//! [`GoTime`] keeps seconds and nanoseconds apart and reproduces Go's
//! wrapping `UnixNano` where the protocol depends on it (§3.4).

use std::fmt::Write as _;

/// The snapshotter's mux header byte.
pub const MUX_HEADER: u8 = 3;

/// The metastore blob and MetaStoreUpdate reply magic (u64 BE).
pub const BACKUP_MAGIC: u64 = 0x5959_0101;

/// Largest JSON request accepted.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// A request type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// 0: a shard as a tar stream (optionally only files changed since).
    ShardBackup,
    /// 1: the metastore blob.
    MetastoreBackup,
    /// 2: defined by InfluxDB, never handled.
    SeriesFileBackup,
    /// 3: the shard paths of a database (or of all).
    DatabaseInfo,
    /// 4: the shard paths of one retention policy.
    RetentionPolicyInfo,
    /// 5: a shard as a tar stream filtered by time.
    ShardExport,
    /// 6: import a backup's metadata; the reply maps old to new shard IDs.
    MetaStoreUpdate,
    /// 7: a tar stream into an existing shard.
    ShardUpdate,
}

impl RequestType {
    /// The type of a request byte, if InfluxDB defines it.
    pub fn from_byte(b: u8) -> Option<RequestType> {
        Some(match b {
            0 => RequestType::ShardBackup,
            1 => RequestType::MetastoreBackup,
            2 => RequestType::SeriesFileBackup,
            3 => RequestType::DatabaseInfo,
            4 => RequestType::RetentionPolicyInfo,
            5 => RequestType::ShardExport,
            6 => RequestType::MetaStoreUpdate,
            7 => RequestType::ShardUpdate,
            _ => return None,
        })
    }

    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            RequestType::ShardBackup => 0,
            RequestType::MetastoreBackup => 1,
            RequestType::SeriesFileBackup => 2,
            RequestType::DatabaseInfo => 3,
            RequestType::RetentionPolicyInfo => 4,
            RequestType::ShardExport => 5,
            RequestType::MetaStoreUpdate => 6,
            RequestType::ShardUpdate => 7,
        }
    }

    /// A name for logs.
    pub fn name(self) -> &'static str {
        match self {
            RequestType::ShardBackup => "ShardBackup",
            RequestType::MetastoreBackup => "MetastoreBackup",
            RequestType::SeriesFileBackup => "SeriesFileBackup",
            RequestType::DatabaseInfo => "DatabaseInfo",
            RequestType::RetentionPolicyInfo => "RetentionPolicyInfo",
            RequestType::ShardExport => "ShardExport",
            RequestType::MetaStoreUpdate => "MetaStoreUpdate",
            RequestType::ShardUpdate => "ShardUpdate",
        }
    }
}

/// A bad message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not JSON, or JSON of the wrong shape (Go's decoder texts where known).
    #[error("{0}")]
    Json(String),
    /// The request JSON is larger than [`MAX_REQUEST_BYTES`].
    #[error("request larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
}

// ---------------------------------------------------------------------------
// Go time.Time

/// A Go `time.Time` as the protocol carries it: Unix seconds, nanoseconds
/// and the UTC offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch (year 1 is about -6.2e10).
    pub secs: i64,
    /// 0..1e9.
    pub nanos: u32,
    /// Offset east of UTC, seconds (0 is written `Z`).
    pub offset: i32,
}

/// Unix seconds of 0001-01-01T00:00:00Z, Go's zero time.
const GO_ZERO_SECS: i64 = -62_135_596_800;

impl Default for GoTime {
    fn default() -> Self {
        GoTime::ZERO
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl GoTime {
    /// Go's zero `time.Time`.
    pub const ZERO: GoTime = GoTime { secs: GO_ZERO_SECS, nanos: 0, offset: 0 };

    /// Whether this is Go's zero time (`IsZero`).
    pub fn is_zero(&self) -> bool {
        self.secs == GO_ZERO_SECS && self.nanos == 0
    }

    /// The time of Unix nanoseconds, in UTC.
    pub fn from_unix_nanos(ns: i64) -> GoTime {
        GoTime {
            secs: ns.div_euclid(1_000_000_000),
            nanos: ns.rem_euclid(1_000_000_000) as u32,
            offset: 0,
        }
    }

    /// The current time, in UTC.
    pub fn now() -> GoTime {
        let d =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        GoTime { secs: d.as_secs() as i64, nanos: d.subsec_nanos(), offset: 0 }
    }

    /// Go's `UnixNano`, including its wrap-around outside 1678..2262 (the
    /// zero time gives -6795364578871345152, which §3.4's quirks depend on).
    pub fn unix_nano_wrapping(&self) -> i64 {
        self.secs.wrapping_mul(1_000_000_000).wrapping_add(i64::from(self.nanos))
    }

    /// Nanoseconds since the epoch without wrapping.
    pub fn unix_nano_i128(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// Go's `t.After(u)`.
    pub fn after(&self, other: &GoTime) -> bool {
        self.unix_nano_i128() > other.unix_nano_i128()
    }

    /// Go's `t.Before(u)`.
    pub fn before(&self, other: &GoTime) -> bool {
        self.unix_nano_i128() < other.unix_nano_i128()
    }

    /// Parses RFC3339 with optional fractional seconds, as Go's
    /// `time.Parse(time.RFC3339, s)` and `Time.UnmarshalJSON` accept it.
    pub fn parse_rfc3339(s: &str) -> Option<GoTime> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(r)?;
            if !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(part).ok()?.parse().ok()
        };
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (y, mo, d) = (i64::from(num(0..4)?), num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
            return None;
        }
        if h > 23 || mi > 59 || se > 59 {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' || b[i] == b',' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &s[start..i];
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
        }
        let offset = match &b[i..] {
            b"Z" => 0,
            [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest[2] == b':' => {
                let oh = num(i + 1..i + 3)?;
                let om = num(i + 4..i + 6)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let o = (oh * 3600 + om * 60) as i32;
                if *sign == b'-' { -o } else { o }
            }
            _ => return None,
        };
        let local = days_from_civil(y, mo, d) * 86_400
            + i64::from(h) * 3600
            + i64::from(mi) * 60
            + i64::from(se);
        Some(GoTime { secs: local - i64::from(offset), nanos, offset })
    }

    fn fmt_base(&self, out: &mut String) {
        let local = self.secs + i64::from(self.offset);
        let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
        let sod = local.rem_euclid(86_400);
        let _ = write!(
            out,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        );
    }

    fn fmt_offset(&self, out: &mut String) {
        if self.offset == 0 {
            out.push('Z');
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let a = self.offset.unsigned_abs();
            let _ = write!(out, "{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
        }
    }

    /// Go's `Format(time.RFC3339)`: whole seconds.
    pub fn format_rfc3339(&self) -> String {
        let mut s = String::with_capacity(25);
        self.fmt_base(&mut s);
        self.fmt_offset(&mut s);
        s
    }

    /// Go's `Format(time.RFC3339Nano)` (what `MarshalJSON` writes):
    /// fractional seconds without trailing zeros.
    pub fn format_rfc3339_nano(&self) -> String {
        let mut s = String::with_capacity(35);
        self.fmt_base(&mut s);
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        self.fmt_offset(&mut s);
        s
    }
}

// ---------------------------------------------------------------------------
// JSON

/// Appends `s` as Go's `encoding/json` writes a string (HTML-safe escapes).
pub fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
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

/// Finds where the first JSON value of a byte stream ends, one byte at a
/// time, as Go's `json.Decoder` does before it decodes (so the bytes after
/// the value stay unread: MetaStoreUpdate's payload follows its JSON).
#[derive(Debug, Default)]
pub struct JsonFramer {
    buf: Vec<u8>,
    depth: usize,
    in_string: bool,
    escape: bool,
    started: bool,
}

impl JsonFramer {
    /// A framer for one value.
    pub fn new() -> JsonFramer {
        JsonFramer::default()
    }

    /// Feeds one byte; `Ok(true)` when the value is complete (the byte was
    /// its last). Only objects and arrays are accepted at the top level.
    pub fn push(&mut self, b: u8) -> Result<bool, WireError> {
        if !self.started {
            if b.is_ascii_whitespace() {
                return Ok(false);
            }
            if b != b'{' && b != b'[' {
                return Err(WireError::Json(format!(
                    "invalid character {} looking for beginning of value",
                    go_quote_char(b)
                )));
            }
            self.started = true;
        }
        if self.buf.len() >= MAX_REQUEST_BYTES {
            return Err(WireError::TooLarge);
        }
        self.buf.push(b);
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return Ok(false);
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Ok(true);
                }
            }
            _ => {}
        }
        Ok(false)
    }

    /// Bytes taken so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no byte of the value was seen.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The value's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// How Go's JSON scanner quotes an unexpected byte in its errors.
pub fn go_quote_char(b: u8) -> String {
    match b {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("'\\x{b:02x}'"),
    }
}

/// A snapshotter request (Go's `snapshotter.Request`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `Type` (informational: the type byte decides).
    pub typ: u8,
    /// `BackupDatabase`.
    pub backup_database: String,
    /// `RestoreDatabase`.
    pub restore_database: String,
    /// `BackupRetentionPolicy`.
    pub backup_retention_policy: String,
    /// `RestoreRetentionPolicy`.
    pub restore_retention_policy: String,
    /// `ShardID`.
    pub shard_id: u64,
    /// `Since`.
    pub since: GoTime,
    /// `ExportStart`.
    pub export_start: GoTime,
    /// `ExportEnd`.
    pub export_end: GoTime,
    /// `UploadSize`.
    pub upload_size: i64,
}

impl Request {
    /// A request of type `t` with every other field zero.
    pub fn new(t: RequestType) -> Request {
        Request { typ: t.byte(), ..Default::default() }
    }

    /// The JSON Go's encoder writes for this request, without the newline.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(320);
        let _ = write!(s, "{{\"Type\":{},\"BackupDatabase\":", self.typ);
        go_json_string(&self.backup_database, &mut s);
        s.push_str(",\"RestoreDatabase\":");
        go_json_string(&self.restore_database, &mut s);
        s.push_str(",\"BackupRetentionPolicy\":");
        go_json_string(&self.backup_retention_policy, &mut s);
        s.push_str(",\"RestoreRetentionPolicy\":");
        go_json_string(&self.restore_retention_policy, &mut s);
        let _ = write!(
            s,
            ",\"ShardID\":{},\"Since\":\"{}\",\"ExportStart\":\"{}\",\"ExportEnd\":\"{}\",\"UploadSize\":{}}}",
            self.shard_id,
            self.since.format_rfc3339_nano(),
            self.export_start.format_rfc3339_nano(),
            self.export_end.format_rfc3339_nano(),
            self.upload_size
        );
        s
    }

    /// Decodes a request the way Go's `json.Decoder` fills the struct:
    /// keys matched case-insensitively, unknown keys ignored, `null` leaves
    /// a field zero; a value of the wrong type is an error.
    pub fn from_json(b: &[u8]) -> Result<Request, WireError> {
        let v: serde_json::Value =
            serde_json::from_slice(b).map_err(|e| WireError::Json(e.to_string()))?;
        let serde_json::Value::Object(map) = v else {
            return Err(WireError::Json(
                "json: cannot unmarshal array into Go value of type snapshotter.Request".into(),
            ));
        };
        let mut r = Request::default();
        for (k, v) in &map {
            if v.is_null() {
                continue;
            }
            let type_err = |go: &str| {
                WireError::Json(format!(
                    "json: cannot unmarshal {} into Go struct field Request.{k} of type {go}",
                    json_kind(v)
                ))
            };
            let string = |go: &str| v.as_str().map(str::to_string).ok_or_else(|| type_err(go));
            let time = || -> Result<GoTime, WireError> {
                let s = v.as_str().ok_or_else(|| type_err("time.Time"))?;
                GoTime::parse_rfc3339(s).ok_or_else(|| {
                    WireError::Json(format!(
                        "parsing time \"\\\"{s}\\\"\" as \"\\\"2006-01-02T15:04:05Z07:00\\\"\": invalid time"
                    ))
                })
            };
            match k.to_ascii_lowercase().as_str() {
                "type" => {
                    r.typ = v
                        .as_u64()
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or_else(|| type_err("snapshotter.RequestType"))?;
                }
                "backupdatabase" => r.backup_database = string("string")?,
                "restoredatabase" => r.restore_database = string("string")?,
                "backupretentionpolicy" => r.backup_retention_policy = string("string")?,
                "restoreretentionpolicy" => r.restore_retention_policy = string("string")?,
                "shardid" => r.shard_id = v.as_u64().ok_or_else(|| type_err("uint64"))?,
                "since" => r.since = time()?,
                "exportstart" => r.export_start = time()?,
                "exportend" => r.export_end = time()?,
                "uploadsize" => r.upload_size = v.as_i64().ok_or_else(|| type_err("int64"))?,
                _ => {}
            }
        }
        Ok(r)
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The DatabaseInfo / RetentionPolicyInfo answer: `{"Paths":[...]}` plus a
/// newline (`null` when there is no shard), as Go's encoder writes it.
pub fn paths_json(paths: &[String]) -> String {
    let mut s = String::from("{\"Paths\":");
    if paths.is_empty() {
        s.push_str("null");
    } else {
        s.push('[');
        for (i, p) in paths.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            go_json_string(p, &mut s);
        }
        s.push(']');
    }
    s.push_str("}\n");
    s
}

/// Decodes a DatabaseInfo / RetentionPolicyInfo answer.
pub fn parse_paths(b: &[u8]) -> Result<Vec<String>, WireError> {
    let v: serde_json::Value =
        serde_json::from_slice(b).map_err(|e| WireError::Json(e.to_string()))?;
    let serde_json::Value::Object(map) = v else {
        return Err(WireError::Json(format!(
            "json: cannot unmarshal {} into Go value of type snapshotter.Response",
            json_kind(&v)
        )));
    };
    let mut out = Vec::new();
    for (k, v) in &map {
        if !k.eq_ignore_ascii_case("paths") || v.is_null() {
            continue;
        }
        let arr = v.as_array().ok_or_else(|| {
            WireError::Json(format!(
                "json: cannot unmarshal {} into Go struct field Response.Paths of type []string",
                json_kind(v)
            ))
        })?;
        out.clear();
        for p in arr {
            out.push(p.as_str().map(str::to_string).ok_or_else(|| {
                WireError::Json(format!(
                    "json: cannot unmarshal {} into Go struct field Response.Paths of type string",
                    json_kind(p)
                ))
            })?);
        }
    }
    Ok(out)
}

/// The MetaStoreUpdate reply: magic, the number of pairs, then each pair
/// (old shard ID, new shard ID), all u64 BE. No pairs means "not imported".
pub fn encode_id_map(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * (pairs.len() + 1));
    out.extend_from_slice(&BACKUP_MAGIC.to_be_bytes());
    out.extend_from_slice(&(pairs.len() as u64).to_be_bytes());
    for (old, new) in pairs {
        out.extend_from_slice(&old.to_be_bytes());
        out.extend_from_slice(&new.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_zero_time_round_trips_and_wraps_like_go() {
        let z = GoTime::parse_rfc3339("0001-01-01T00:00:00Z").unwrap();
        assert!(z.is_zero());
        assert_eq!(z, GoTime::ZERO);
        assert_eq!(z.format_rfc3339(), "0001-01-01T00:00:00Z");
        assert_eq!(z.unix_nano_wrapping(), -6_795_364_578_871_345_152);
        let t = GoTime::parse_rfc3339("2026-11-21T14:36:00Z").unwrap();
        assert_eq!(t.unix_nano_wrapping(), 1_795_271_760_000_000_000);
        assert_eq!(t.format_rfc3339(), "2026-11-21T14:36:00Z");
        let f = GoTime::parse_rfc3339("2017-04-28T06:49:00.120+02:00").unwrap();
        assert_eq!(f.format_rfc3339_nano(), "2017-04-28T06:49:00.12+02:00");
        assert_eq!(f.format_rfc3339(), "2017-04-28T06:49:00+02:00");
        assert_eq!(f.secs, GoTime::parse_rfc3339("2017-04-28T04:49:00Z").unwrap().secs);
        for bad in ["", "2017-04-28", "2017-02-30T00:00:00Z", "2017-04-28T06:49:00", "x"] {
            assert!(GoTime::parse_rfc3339(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn request_json_is_gos_and_decodes_case_insensitively() {
        let mut r = Request::new(RequestType::MetaStoreUpdate);
        r.backup_database = "a<b".into();
        r.upload_size = 770;
        let j = r.to_json();
        assert_eq!(
            j,
            "{\"Type\":6,\"BackupDatabase\":\"a\\u003cb\",\"RestoreDatabase\":\"\",\"BackupRetentionPolicy\":\"\",\"RestoreRetentionPolicy\":\"\",\"ShardID\":0,\"Since\":\"0001-01-01T00:00:00Z\",\"ExportStart\":\"0001-01-01T00:00:00Z\",\"ExportEnd\":\"0001-01-01T00:00:00Z\",\"UploadSize\":770}"
        );
        assert_eq!(Request::from_json(j.as_bytes()).unwrap(), r);
        let r2 = Request::from_json(br#"{"shardid":5,"SINCE":null,"x":1}"#).unwrap();
        assert_eq!(r2.shard_id, 5);
        assert!(Request::from_json(br#"{"ShardID":"5"}"#).is_err());
        assert!(Request::from_json(b"[1]").is_err());
    }

    #[test]
    fn framer_stops_at_the_end_of_the_value() {
        let input = b"  {\"a\":\"}{\\\"\",\"b\":[1,{}]}\nPAYLOAD";
        let mut f = JsonFramer::new();
        let mut end = 0;
        for (i, b) in input.iter().enumerate() {
            if f.push(*b).unwrap() {
                end = i + 1;
                break;
            }
        }
        assert_eq!(&input[end..], b"\nPAYLOAD");
        assert_eq!(Request::from_json(f.bytes()).unwrap(), Request::default());
        let e = JsonFramer::new().push(b'H').unwrap_err().to_string();
        assert_eq!(e, "invalid character 'H' looking for beginning of value");
    }

    #[test]
    fn paths_answer() {
        assert_eq!(paths_json(&[]), "{\"Paths\":null}\n");
        let p = vec!["db/autogen/1".to_string(), "db/autogen/2".to_string()];
        let j = paths_json(&p);
        assert_eq!(parse_paths(j.as_bytes()).unwrap(), p);
        assert!(parse_paths(b"{\"Paths\":null}").unwrap().is_empty());
        assert_eq!(encode_id_map(&[(1, 9)]).len(), 32);
    }
}
