//! `bootstrap -meta A,B,C -data X,Y,Z` (hidden): forms a cluster the way an
//! operator does by hand, for containers without a shell. Every meta node is
//! added through the first one (whose add-meta of itself creates the Raft
//! group), then every data node. Each step is retried until it succeeds or
//! `-deadline` passes (nodes may still be starting); both steps are
//! idempotent, so running it again on a formed cluster changes nothing.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use proto::cluster;

use crate::client::Meta;
use crate::run::Outcome;

/// Pause between attempts.
const RETRY: Duration = Duration::from_millis(500);

/// Runs `bootstrap`.
pub async fn run(
    metas: &[String],
    datas: &[String],
    deadline: Duration,
    timeout: Duration,
) -> Result<Outcome> {
    let Some(first) = metas.first() else { bail!("-meta needs at least one meta node address") };
    let until = Instant::now() + deadline;
    let meta = Meta::new(first, timeout)?;
    for addr in metas {
        let id = retry(until, timeout, &format!("add-meta {addr}"), || async {
            let r = meta
                .raw()
                .add_meta(cluster::AddMetaRequest { http_addr: addr.clone() })
                .await
                .map_err(|e| meta.map_err(e))?;
            Ok(r.into_inner().id)
        })
        .await?;
        println!("Meta node {id} at {addr}");
    }
    for addr in datas {
        let id = retry(until, timeout, &format!("add-data {addr}"), || async {
            let r = meta
                .raw()
                .add_data(cluster::AddDataRequest { tcp_addr: addr.clone(), passive: false })
                .await
                .map_err(|e| meta.map_err(e))?;
            Ok(r.into_inner().id)
        })
        .await?;
        println!("Data node {id} at {addr}");
    }
    println!("Cluster ready: {} meta nodes, {} data nodes", metas.len(), datas.len());
    Ok(Outcome::Success)
}

/// Calls `f` (each call bounded by `timeout`) until it succeeds; past
/// `until`, fails with the last error.
async fn retry<T, F, Fut>(until: Instant, timeout: Duration, what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let err = match tokio::time::timeout(timeout, f()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e,
            Err(_) => anyhow::anyhow!("timed out after {timeout:?}"),
        };
        if Instant::now() + RETRY >= until {
            bail!("{what}: {err:#} (gave up after {attempts} attempts)");
        }
        if attempts % 10 == 1 {
            eprintln!("{what}: {err:#}; retrying");
        }
        tokio::time::sleep(RETRY).await;
    }
}
