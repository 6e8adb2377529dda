//! `health <host:port>` (hidden): exits 0 when the node at that HTTP
//! address answers `GET /ping` with a 2xx status (204 on meta and data
//! nodes), 1 otherwise. Container healthchecks run it: the images have no
//! shell or curl.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::run::Outcome;

/// Runs `health`.
pub async fn run(addr: &str, timeout: Duration) -> Result<Outcome> {
    let base = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
    let url = format!("{}/ping", base.trim_end_matches('/'));
    let http = reqwest::Client::builder().timeout(timeout).build().context("HTTP client")?;
    let r = http.get(&url).send().await.with_context(|| format!("GET {url}"))?;
    if r.status().is_success() {
        println!("{url}: {}", r.status().as_u16());
        Ok(Outcome::Success)
    } else {
        eprintln!("health: {url}: {}", r.status());
        Ok(Outcome::Failure)
    }
}
