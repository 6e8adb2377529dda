//! A client for the InfluxDB 1.x HTTP API that data nodes serve:
//! `POST /write?db=&rp=&precision=&consistency=` (204 on success, JSON
//! `{"error":"…"}` otherwise) and `GET|POST /query?db=&q=&epoch=`, plus the
//! meta node's `GET /status`. Query results print like the `influx` CLI
//! prints them, so expected blocks read like a console session.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Per-request timeout: a hung node fails the command, not the run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A blocking HTTP client (no proxies: every address is on loopback).
pub struct Http {
    client: reqwest::blocking::Client,
}

/// The answer to one `/write` request.
#[derive(Debug, Clone)]
pub struct WriteReply {
    /// HTTP status code.
    pub status: u16,
    /// The `error` of a JSON error body, or the raw body.
    pub error: String,
}

impl WriteReply {
    /// Whether the write was acknowledged (2xx).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Parameters of a `/write` request.
#[derive(Debug, Clone, Default)]
pub struct WriteParams {
    /// Database.
    pub db: String,
    /// Retention policy (default RP when None).
    pub rp: Option<String>,
    /// Timestamp precision (`ns` when None).
    pub precision: Option<String>,
    /// Consistency level (`one` when None).
    pub consistency: Option<String>,
}

impl Http {
    /// A client with connect and request timeouts.
    pub fn new() -> Result<Http> {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Http { client })
    }

    /// POSTs line protocol to `/write`.
    pub fn write(&self, addr: &str, p: &WriteParams, body: String) -> Result<WriteReply> {
        let mut q = vec![("db", p.db.clone())];
        if let Some(rp) = &p.rp {
            q.push(("rp", rp.clone()));
        }
        if let Some(v) = &p.precision {
            q.push(("precision", v.clone()));
        }
        if let Some(v) = &p.consistency {
            q.push(("consistency", v.clone()));
        }
        let resp = self
            .client
            .post(format!("http://{addr}/write"))
            .query(&q)
            .body(body)
            .send()
            .with_context(|| format!("POST http://{addr}/write"))?;
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        let error = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| text.trim().to_string());
        Ok(WriteReply { status, error })
    }

    /// Runs InfluxQL through `/query` and returns the JSON answer. Reads go
    /// as GET, everything else (`SELECT … INTO` included) as POST: InfluxDB
    /// 1.x refuses writes by GET.
    pub fn query(
        &self,
        addr: &str,
        db: Option<&str>,
        q: &str,
        epoch: Option<&str>,
    ) -> Result<Value> {
        let mut params = vec![("q", q.to_string())];
        if let Some(db) = db {
            params.push(("db", db.to_string()));
        }
        if let Some(e) = epoch {
            params.push(("epoch", e.to_string()));
        }
        let upper = q.trim_start().to_ascii_uppercase();
        let url = format!("http://{addr}/query");
        let read_only =
            (upper.starts_with("SELECT") && !upper.contains(" INTO ")) || upper.starts_with("SHOW");
        let req = if read_only { self.client.get(url) } else { self.client.post(url) };
        let resp = req.query(&params).send().with_context(|| format!("query at {addr}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Ok(v),
            Err(_) => bail!("HTTP {status} from {addr}/query: {}", text.trim()),
        }
    }

    /// GETs a JSON document (meta `/status`).
    pub fn get_json(&self, url: &str, timeout: Duration) -> Result<Value> {
        let resp = self.client.get(url).timeout(timeout).send().with_context(|| url.to_string())?;
        resp.json().with_context(|| format!("decoding {url}"))
    }
}

/// One series of a query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Measurement name.
    pub name: String,
    /// Tags (GROUP BY), sorted.
    pub tags: Vec<(String, String)>,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of values.
    pub values: Vec<Vec<Value>>,
}

/// The series of every statement, or the first error in the answer.
pub fn statements(v: &Value) -> Result<Vec<Vec<Series>>> {
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        bail!("{e}");
    }
    let mut out = Vec::new();
    for r in v.get("results").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
        if let Some(e) = r.get("error").and_then(Value::as_str) {
            bail!("{e}");
        }
        out.push(series_of(r));
    }
    Ok(out)
}

fn series_of(result: &Value) -> Vec<Series> {
    let mut out = Vec::new();
    for s in result.get("series").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
        let mut tags: Vec<(String, String)> = s
            .get("tags")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), cell(v))).collect())
            .unwrap_or_default();
        tags.sort();
        out.push(Series {
            name: s.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
            tags,
            columns: s
                .get("columns")
                .and_then(Value::as_array)
                .map(|c| c.iter().map(cell).collect())
                .unwrap_or_default(),
            values: s
                .get("values")
                .and_then(Value::as_array)
                .map(|rows| {
                    rows.iter().map(|r| r.as_array().cloned().unwrap_or_default()).collect()
                })
                .unwrap_or_default(),
        });
    }
    out
}

/// A value as the `influx` CLI prints it.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Formats a `/query` answer like the `influx` CLI: per series `name:`,
/// `tags:`, a header, a dashed rule and aligned rows; statements and series
/// separated by an empty line; `error: …` for errors; `no results` when no
/// statement returned a series.
pub fn format_query(v: &Value) -> String {
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return format!("error: {e}\n");
    }
    let results = v.get("results").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let mut chunks = Vec::new();
    for r in results {
        if let Some(e) = r.get("error").and_then(Value::as_str) {
            chunks.push(format!("error: {e}\n"));
            continue;
        }
        for s in series_of(r) {
            chunks.push(format_series(&s));
        }
    }
    if chunks.is_empty() {
        return "no results\n".to_string();
    }
    chunks.join("\n")
}

fn format_series(s: &Series) -> String {
    let mut out = String::new();
    if !s.name.is_empty() {
        out.push_str(&format!("name: {}\n", s.name));
    }
    if !s.tags.is_empty() {
        let t: Vec<String> = s.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("tags: {}\n", t.join(", ")));
    }
    let mut rows: Vec<Vec<String>> = vec![s.columns.clone()];
    rows.push(s.columns.iter().map(|c| "-".repeat(c.chars().count())).collect());
    for r in &s.values {
        rows.push(r.iter().map(cell).collect());
    }
    out.push_str(&align(&rows));
    out
}

/// Pads cells to the widest cell of their column plus one space (the last
/// cell of a row is not padded), like Go's tabwriter in the `influx` CLI.
pub fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.extend(std::iter::repeat_n(' ', widths[i] + 1 - c.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_like_the_influx_cli() {
        let v = json!({"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count_usage_guest","count_usage_idle"],"values":[[0,28704,28704]]}]}]});
        assert_eq!(
            format_query(&v),
            "name: cpu\ntime count_usage_guest count_usage_idle\n---- ----------------- ----------------\n0    28704             28704\n"
        );
    }

    #[test]
    fn tags_multiple_series_and_nulls() {
        let v = json!({"results":[{"statement_id":0,"series":[
            {"name":"m","tags":{"b":"2","a":"x y"},"columns":["time","v"],"values":[["2026-11-01T00:00:00Z",null]]},
            {"name":"m","tags":{"b":"3","a":""},"columns":["time","v"],"values":[["2026-11-01T00:00:00Z","s"]]}]}]});
        assert_eq!(
            format_query(&v),
            "name: m\ntags: a=x y, b=2\ntime                 v\n----                 -\n2026-11-01T00:00:00Z\n\nname: m\ntags: a=, b=3\ntime                 v\n----                 -\n2026-11-01T00:00:00Z s\n"
        );
    }

    #[test]
    fn errors_and_empty_results() {
        assert_eq!(
            format_query(&json!({"error":"database not found: x"})),
            "error: database not found: x\n"
        );
        assert_eq!(
            format_query(&json!({"results":[{"statement_id":0,"error":"bad"}]})),
            "error: bad\n"
        );
        assert_eq!(format_query(&json!({"results":[{"statement_id":0}]})), "no results\n");
        assert!(statements(&json!({"results":[{"error":"x"}]})).is_err());
        let s = statements(
            &json!({"results":[{"series":[{"name":"a","columns":["time"],"values":[[1]]}]}]}),
        )
        .unwrap();
        assert_eq!(s[0][0].name, "a");
        assert_eq!(s[0][0].values, vec![vec![json!(1)]]);
    }
}
