//! `POST /write`: line protocol in, InfluxDB's status codes and messages out.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use portable::lineproto::{self, Precision};

use super::auth;
use super::response::{error, no_content};
use crate::coordinator::{self, Consistency};
use crate::node::Node;
use crate::stats::Stats;

/// The handler.
pub async fn write(
    State(node): State<Arc<Node>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Stats::add(&node.stats.write_req, 1);
    let db = params.get("db").cloned().unwrap_or_default();
    if db.is_empty() {
        return error(400, "database is required");
    }
    let mut view = node.meta.view();
    if view.database(&db).is_none() {
        view = node.meta.sync().await;
    }
    if view.database(&db).is_none() {
        return error(404, &format!("database not found: {db:?}"));
    }
    if node.config.http.auth_enabled
        && let Err(resp) = check_write_auth(&node, &view, &params, &headers, &db)
    {
        return *resp;
    }
    let max = node.config.http.max_body_size;
    if max > 0 && body.len() as u64 > max {
        return error(413, "Request Entity Too Large");
    }
    let body = if headers.get("content-encoding").and_then(|v| v.to_str().ok()) == Some("gzip") {
        let mut out = Vec::new();
        let limit = if max > 0 { max + 1 } else { u64::MAX };
        let mut r = flate2::read::GzDecoder::new(&body[..]).take(limit);
        if let Err(e) = r.read_to_end(&mut out) {
            return error(400, &e.to_string());
        }
        if max > 0 && out.len() as u64 > max {
            return error(413, "Request Entity Too Large");
        }
        Bytes::from(out)
    } else {
        body
    };
    let precision = match Precision::parse(params.get("precision").map_or("", |s| s.as_str())) {
        Ok(p) => p,
        Err(e) => return error(400, &e.to_string()),
    };
    let consistency = match params.get("consistency").filter(|s| !s.is_empty()) {
        Some(c) => match Consistency::parse(c) {
            Ok(c) => c,
            Err(e) => return error(400, &e),
        },
        None => Consistency::One,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let (points, errors) = lineproto::parse_lines(&body, precision, now);
    let parse_error = (!errors.is_empty()).then(|| lineproto::join_errors(&errors));
    if points.is_empty() {
        return match parse_error {
            Some(e) => error(400, &e),
            None => no_content(),
        };
    }
    let n = points.len() as u64;
    let rp = params.get("rp").cloned().unwrap_or_default();
    match coordinator::write_points(&node, &db, &rp, consistency, points).await {
        Ok(()) => {
            Stats::add(&node.stats.points_written, n);
            match parse_error {
                // Some lines were written; report the others.
                Some(e) => error(400, &format!("partial write: {e} dropped=0")),
                None => no_content(),
            }
        }
        Err(e) => {
            Stats::add(&node.stats.points_failed, n);
            error(e.status(), &e.to_string())
        }
    }
}

fn check_write_auth(
    node: &Node,
    view: &crate::meta_client::MetaView,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    db: &str,
) -> Result<(), Box<Response>> {
    // InfluxDB only enforces credentials once an admin user exists.
    if !view.data.users.iter().any(|u| u.admin) {
        return Err(Box::new(error(403, &format!("user is required to write to database {db:?}"))));
    }
    let creds = auth::credentials(params, headers)
        .ok_or_else(|| Box::new(error(401, &auth::AuthError::Missing.to_string())))?;
    let user =
        node.auth.authenticate(view, &creds).map_err(|e| Box::new(error(401, &e.to_string())))?;
    if !auth::can_write(&user, db) {
        let msg = format!("{:?} user is not authorized to write to database {db:?}", user.name);
        return Err(Box::new(error(403, &msg)));
    }
    Ok(())
}
