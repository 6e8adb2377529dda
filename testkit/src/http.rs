//! A minimal blocking HTTP/1.1 client for tests and the scenario runner:
//! enough for InfluxDB's `/ping`, `/write` and `/query`, without pulling an
//! HTTP client stack into every test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One request; returns the status and the (de-chunked) body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    c.write_all(req.as_bytes())?;
    c.write_all(body)?;
    let mut resp = Vec::new();
    c.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs an InfluxQL query (form-encoded) and parses the JSON answer.
pub fn query(addr: &str, db: &str, q: &str) -> std::io::Result<(u16, serde_json::Value)> {
    let body = format!("db={}&q={}", urlencode(db), urlencode(q));
    let (status, text) = request(
        addr,
        "POST",
        "/query",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )?;
    let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Ok((status, v))
}

/// POSTs line protocol to `/write?db=&precision=ns` (plus `extra` params).
pub fn write(addr: &str, db: &str, extra: &str, lines: &[u8]) -> std::io::Result<(u16, String)> {
    let path = format!("/write?db={}&precision=ns{extra}", urlencode(db));
    request(addr, "POST", &path, &[("Content-Type", "text/plain")], lines)
}

/// Field counts per measurement of db.rp through `SELECT count(*)`:
/// measurement → field → count.
pub fn counts(
    addr: &str,
    db: &str,
    rp: &str,
) -> std::io::Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>> {
    let mut out = std::collections::BTreeMap::new();
    let (_, ms) = query(addr, db, &format!("SHOW MEASUREMENTS ON \"{db}\""))?;
    let names: Vec<String> = ms["results"][0]["series"][0]["values"]
        .as_array()
        .map(|v| v.iter().filter_map(|r| r[0].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    for m in names {
        let q = format!("SELECT count(*) FROM \"{db}\".\"{rp}\".\"{}\"", m.replace('"', "\\\""));
        let (_, v) = query(addr, db, &q)?;
        let s = &v["results"][0]["series"][0];
        let mut fields = std::collections::BTreeMap::new();
        if let (Some(cols), Some(row)) = (s["columns"].as_array(), s["values"][0].as_array()) {
            for (c, n) in cols.iter().zip(row).skip(1) {
                let f = c.as_str().unwrap_or_default().trim_start_matches("count_").to_string();
                if let Some(n) = n.as_u64() {
                    fields.insert(f, n);
                }
            }
        }
        if !fields.is_empty() {
            out.insert(m, fields);
        }
    }
    Ok(out)
}

/// Polls [`counts`] until db.rp counts `want` or `timeout` passes; returns
/// the last counts. The real `influxd restore` returns before the server
/// has reopened the last shard, so a query right after it may see nothing.
pub fn settle(
    addr: &str,
    db: &str,
    rp: &str,
    want: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    timeout: std::time::Duration,
) -> std::io::Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let got = counts(addr, db, rp)?;
        if &got == want || std::time::Instant::now() > deadline {
            return Ok(got);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
