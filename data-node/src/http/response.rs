//! Response shapes of InfluxDB's HTTP handler: `{"error":"..."}` bodies with
//! an `X-InfluxDB-Error` header, version headers on everything.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ping::version_headers;

/// An error answer: JSON `{"error": msg}`, `X-InfluxDB-Error: msg` (first
/// 1024 bytes), and for 401 a `WWW-Authenticate` challenge.
pub fn error(status: u16, msg: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut h = version_headers();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == 401 {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"InfluxDB\""));
    } else {
        let cut = floor_char_boundary(msg, 1024);
        if let Ok(v) = HeaderValue::from_str(&msg[..cut].replace(['\n', '\r'], " ")) {
            h.insert("X-InfluxDB-Error", v);
        }
    }
    let body = serde_json::json!({ "error": msg }).to_string() + "\n";
    (code, h, body).into_response()
}

/// 204 No Content with the version headers.
pub fn no_content() -> Response {
    (StatusCode::NO_CONTENT, version_headers()).into_response()
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
