//! `GET|HEAD /ping`: 204 with `X-Influxdb-Version` (and `X-Influxdb-Build`).

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;

/// Headers every response carries.
pub fn version_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("X-Influxdb-Version", HeaderValue::from_static(crate::VERSION));
    h.insert("X-Influxdb-Build", HeaderValue::from_static("ENT"));
    h
}

/// The handler.
pub async fn ping() -> impl IntoResponse {
    (StatusCode::NO_CONTENT, version_headers())
}
