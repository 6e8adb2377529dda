//! `GET|POST /query`: InfluxDB 1.x's query endpoint. Parameters come from
//! the URL and, for form POSTs, the body (body values first, as Go's
//! `FormValue`): `q` (`;`-separated statements), `db`, `rp`, `epoch`,
//! `pretty`, `chunked`/`chunk_size`, `params` (bound parameters), `u`/`p`
//! or Basic auth. Statuses as InfluxDB: 401 for authentication, 400 for a
//! missing `q` or a parse error, 403 for authorization, otherwise 200 with
//! per-statement errors inside the results.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use proto::meta;

use super::auth;
use super::ping::version_headers;
use super::response::error;
use crate::influxql::{self, Param};
use crate::node::Node;
use crate::query::node_backend::NodeBackend;
use crate::query::{
    self, CsvWriter, Epoch, JsonOptions, QueryOptions, StatementResult, encode_response,
};
use crate::stats::Stats;

/// Default rows per chunk (`DefaultChunkSize`).
pub const DEFAULT_CHUNK_SIZE: usize = 10_000;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_component(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `application/x-www-form-urlencoded` text into pairs.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(p), String::new()),
        })
        .collect()
}

/// The request's parameters, first value of each name winning, body first.
fn params(
    method: &Method,
    raw: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let form_body =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
        });
    if *method == Method::POST && form_body {
        for (k, v) in parse_form(&String::from_utf8_lossy(body)) {
            out.entry(k).or_insert(v);
        }
    }
    for (k, v) in parse_form(raw.unwrap_or("")) {
        out.entry(k).or_insert(v);
    }
    out
}

/// `params` JSON → bound parameters (`influxql.BindValue`).
fn bound_params(raw: &str) -> Result<HashMap<String, Param>, String> {
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(m) = v else {
        return Err("json: cannot unmarshal into Go value of type map[string]interface {}".into());
    };
    let mut out = HashMap::new();
    for (k, v) in m {
        let p = match v {
            serde_json::Value::String(s) => Param::String(s),
            serde_json::Value::Bool(b) => Param::Boolean(b),
            serde_json::Value::Number(n) => {
                if n.to_string().contains('.') {
                    Param::Number(n.as_f64().unwrap_or(0.0))
                } else {
                    match n.as_i64() {
                        Some(i) => Param::Integer(i),
                        None => return Err(format!("error parsing json value: {n} out of range")),
                    }
                }
            }
            serde_json::Value::Object(o) if o.len() == 1 => {
                let (kind, val) = o.into_iter().next().unwrap_or_default();
                let text = match &val {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match kind.as_str() {
                    "identifier" => Param::Identifier(text),
                    "string" => Param::String(text),
                    "regex" => Param::Regex(text),
                    "duration" => Param::Duration(text),
                    "integer" => Param::Integer(text.parse().unwrap_or(0)),
                    "number" => Param::Number(text.parse().unwrap_or(0.0)),
                    "boolean" => Param::Boolean(text == "true"),
                    other => Param::Error(format!("unknown bind parameter type: {other}")),
                }
            }
            other => {
                Param::Error(format!("unable to bind parameter with type {}", json_kind(&other)))
            }
        };
        out.insert(k, p);
    }
    Ok(out)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "<nil>",
        serde_json::Value::Array(_) => "[]interface {}",
        serde_json::Value::Object(_) => "map[string]interface {}",
        _ => "interface {}",
    }
}

/// The answer format the `Accept` header picks (InfluxDB's order: the
/// highest `q` first; JSON when nothing matches). Msgpack is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/csv` or `text/csv` (the content type to answer with).
    Csv(&'static str),
}

/// Picks the format from `Accept` headers.
pub fn negotiate(headers: &HeaderMap) -> Format {
    let mut accepts: Vec<(f64, String)> = Vec::new();
    for v in headers.get_all(header::ACCEPT) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(',') {
            let mut it = part.split(';');
            let ty = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            accepts.push((q, ty));
        }
    }
    accepts.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    for (_, ty) in accepts {
        let (t, sub) = ty.split_once('/').unwrap_or((ty.as_str(), ""));
        let m = |a: &str, b: &str| (t == "*" || t == a) && (sub == "*" || sub == b);
        if m("application", "json") {
            return Format::Json;
        }
        if m("application", "csv") {
            return Format::Csv("application/csv");
        }
        if m("text", "csv") {
            return Format::Csv("text/csv");
        }
    }
    Format::Json
}

fn ok_response(body: String, format: Format) -> Response {
    let mut h = version_headers();
    let ct = match format {
        Format::Json => "application/json",
        Format::Csv(ct) => ct,
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    (StatusCode::OK, h, body).into_response()
}

/// An error answer in the negotiated format.
fn fail(format: Format, status: u16, msg: &str) -> Response {
    match format {
        Format::Json => error(status, msg),
        Format::Csv(ct) => {
            let mut resp = error(status, msg);
            let body = CsvWriter::error(msg);
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            *resp.body_mut() = axum::body::Body::from(body);
            resp
        }
    }
}

/// Splits results into InfluxDB's chunked stream: one JSON document per
/// chunk of at most `size` rows.
fn chunked_body(results: Vec<StatementResult>, size: usize, opts: JsonOptions) -> String {
    let mut out = String::new();
    for r in results {
        if r.error.is_some() || r.series.is_empty() {
            out.push_str(&encode_response(std::slice::from_ref(&r), None, opts));
            continue;
        }
        let mut pieces: Vec<query::Series> = Vec::new();
        for s in &r.series {
            if s.values.is_empty() {
                pieces.push(s.clone());
                continue;
            }
            let n = s.values.len().div_ceil(size.max(1));
            for (i, chunk) in s.values.chunks(size.max(1)).enumerate() {
                pieces.push(query::Series {
                    values: chunk.to_vec(),
                    partial: i + 1 < n,
                    ..s.clone()
                });
            }
        }
        let total = pieces.len();
        for (i, p) in pieces.into_iter().enumerate() {
            let res = StatementResult {
                statement_id: r.statement_id,
                series: vec![p],
                messages: if i == 0 { r.messages.clone() } else { Vec::new() },
                partial: i + 1 < total,
                error: None,
            };
            out.push_str(&encode_response(&[res], None, opts));
        }
    }
    out
}

/// The handler.
pub async fn query(
    State(node): State<Arc<Node>>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Stats::add(&node.stats.query_req, 1);
    let format = negotiate(&headers);
    let params = params(&method, raw.as_deref(), &headers, &body);
    let view = node.meta.view();
    let auth_enabled = node.config.http.auth_enabled;
    let mut user: Option<meta::UserInfo> = None;
    if auth_enabled && view.data.users.iter().any(|u| u.admin) {
        let Some(creds) = auth::credentials(&params, &headers) else {
            return fail(format, 401, &auth::AuthError::Missing.to_string());
        };
        match node.auth.authenticate(&view, &creds) {
            Ok(u) => user = Some(u),
            Err(e) => return fail(format, 401, &e.to_string()),
        }
    }
    let q = params.get("q").map_or("", |s| s.trim());
    if q.is_empty() {
        return fail(format, 400, "missing required parameter \"q\"");
    }
    let epoch = Epoch::parse(params.get("epoch").map_or("", String::as_str));
    let pretty = params.get("pretty").is_some_and(|p| p == "true");
    let db = params.get("db").cloned().unwrap_or_default();
    let bound = match params.get("params").filter(|p| !p.is_empty()) {
        Some(raw) => match bound_params(raw) {
            Ok(b) => b,
            Err(e) => return fail(format, 400, &format!("error parsing query parameters: {e}")),
        },
        None => HashMap::new(),
    };
    let stmts = match influxql::parse_query_with_params(q, &bound) {
        Ok(s) => s,
        Err(e) => return fail(format, 400, &format!("error parsing query: {e}")),
    };
    if auth_enabled && let Err(e) = query::auth::authorize_query(&view, user.as_ref(), &stmts, &db)
    {
        return fail(format, 403, &format!("error authorizing query: {e}"));
    }
    let opts = QueryOptions {
        database: db,
        retention_policy: params.get("rp").cloned().unwrap_or_default(),
        read_only: method == Method::GET,
        auth_enabled,
        user,
        now: None,
    };
    tracing::debug!(query = %q, db = %opts.database, "executing query");
    let backend = NodeBackend { node: node.clone() };
    let results = query::execute(&backend, &stmts, &opts).await;
    let json = JsonOptions { pretty, epoch };
    let chunked = params.get("chunked").is_some_and(|c| c == "true");
    let size = params
        .get("chunk_size")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .map_or(DEFAULT_CHUNK_SIZE, |n| usize::try_from(n).unwrap_or(DEFAULT_CHUNK_SIZE));
    let body = match format {
        Format::Json if chunked => chunked_body(results, size, json),
        Format::Json => encode_response(&results, None, json),
        Format::Csv(_) => {
            let mut out = String::new();
            CsvWriter::new(epoch).write(&results, &mut out);
            out
        }
    };
    ok_response(body, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            parse_form("q=SELECT+*+FROM+%22a%20b%22&db=x&bad=%zz&e"),
            vec![
                ("q".to_string(), "SELECT * FROM \"a b\"".to_string()),
                ("db".to_string(), "x".to_string()),
                ("bad".to_string(), "%zz".to_string()),
                ("e".to_string(), String::new()),
            ]
        );
        assert_eq!(parse_form("x=%"), vec![("x".to_string(), "%".to_string())]);
        let p = bound_params(r#"{"a": 1, "b": 1.5, "c": "x", "d": {"identifier": "m"}}"#).unwrap();
        assert_eq!(p["a"], Param::Integer(1));
        assert_eq!(p["b"], Param::Number(1.5));
        assert_eq!(p["d"], Param::Identifier("m".into()));
    }
}
