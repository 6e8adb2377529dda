//! `add-meta`, `remove-meta`, `add-data`, `remove-data`, `update-data`.

use anyhow::Result;
use proto::cluster;

use crate::client::Meta;
use crate::run::Outcome;

/// `add-meta <http-addr>`: `Added meta node <id> at <addr>`.
pub async fn add_meta(meta: &Meta, addr: &str) -> Result<Outcome> {
    let mut c = meta.raw();
    let r = c
        .add_meta(cluster::AddMetaRequest { http_addr: addr.to_string() })
        .await
        .map_err(|e| meta.map_err(e))?
        .into_inner();
    println!("Added meta node {} at {addr}", r.id);
    Ok(Outcome::Success)
}

/// `remove-meta [-force] [-tcpAddr raft] <http-addr>`.
pub async fn remove_meta(meta: &Meta, addr: &str, force: bool, tcp_addr: &str) -> Result<Outcome> {
    let mut c = meta.raw();
    c.remove_meta(cluster::RemoveMetaRequest {
        http_addr: addr.to_string(),
        force,
        raft_addr: tcp_addr.to_string(),
    })
    .await
    .map_err(|e| meta.map_err(e))?;
    println!("Removed meta node at {addr}");
    Ok(Outcome::Success)
}

/// `add-data [-p] <tcp-addr>`: `Added data node <id> at <addr>`.
pub async fn add_data(meta: &Meta, addr: &str, passive: bool) -> Result<Outcome> {
    let mut c = meta.raw();
    let r = c
        .add_data(cluster::AddDataRequest { tcp_addr: addr.to_string(), passive })
        .await
        .map_err(|e| meta.map_err(e))?
        .into_inner();
    println!("Added data node {} at {addr}", r.id);
    Ok(Outcome::Success)
}

/// `remove-data [-force] <tcp-addr>`.
pub async fn remove_data(meta: &Meta, addr: &str, force: bool) -> Result<Outcome> {
    let mut c = meta.raw();
    c.remove_data(cluster::RemoveDataRequest { tcp_addr: addr.to_string(), force })
        .await
        .map_err(|e| meta.map_err(e))?;
    println!("Removed data node at {addr}");
    Ok(Outcome::Success)
}

/// `update-data <old-tcp> <new-tcp>`.
pub async fn update_data(meta: &Meta, old: &str, new: &str) -> Result<Outcome> {
    let mut c = meta.raw();
    let r = c
        .update_data(cluster::UpdateDataRequest {
            old_tcp_addr: old.to_string(),
            new_tcp_addr: new.to_string(),
        })
        .await
        .map_err(|e| meta.map_err(e))?
        .into_inner();
    println!("Updated data node {} to {new}", r.id);
    Ok(Outcome::Success)
}
