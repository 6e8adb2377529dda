//! `show`: data nodes, meta nodes and Raft status.

use std::collections::BTreeMap;

use anyhow::Result;
use proto::meta;

use crate::client::Meta;
use crate::run::Outcome;
use crate::table;

/// Version string printed for every node.
pub const NODE_VERSION: &str = "1.12.3-c1.12.3";

fn labels(data: &meta::Data, id: u64) -> String {
    let map: BTreeMap<&str, &str> = data
        .node_extras
        .iter()
        .filter(|e| e.id == id)
        .flat_map(|e| e.labels.iter().map(|l| (l.key.as_str(), l.value.as_str())))
        .collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

fn passive(data: &meta::Data, id: u64) -> bool {
    data.node_extras.iter().any(|e| e.id == id && e.passive == Some(true))
}

/// Renders the three sections.
pub fn render(data: &meta::Data, leader: &str) -> String {
    let mut out = String::new();
    out.push_str("Data Nodes\n==========\n");
    let mut rows = vec![vec![
        "ID".to_string(),
        "TCP Address".into(),
        "HTTP Address".into(),
        "Version".into(),
        "Labels".into(),
        "Passive".into(),
    ]];
    for n in &data.data_nodes {
        rows.push(vec![
            n.id.to_string(),
            n.tcp_host.clone().unwrap_or_default(),
            n.host.clone(),
            NODE_VERSION.into(),
            labels(data, n.id),
            passive(data, n.id).to_string(),
        ]);
    }
    out.push_str(&table::render(&rows));
    out.push_str("\nMeta Nodes\n==========\n");
    let mut rows = vec![vec![
        "ID".to_string(),
        "Raft Address".into(),
        "HTTP Address".into(),
        "Version".into(),
        "Labels".into(),
    ]];
    for n in &data.meta_nodes {
        rows.push(vec![
            n.id.to_string(),
            n.tcp_host.clone().unwrap_or_default(),
            n.host.clone(),
            NODE_VERSION.into(),
            labels(data, n.id),
        ]);
    }
    out.push_str(&table::render(&rows));
    let peers: Vec<String> = data
        .meta_nodes
        .iter()
        .filter_map(|n| n.tcp_host.clone())
        .filter(|a| a != leader)
        .map(|a| format!("{a:?}"))
        .collect();
    out.push_str("\nRaft Status\n==========\n");
    out.push_str(&table::render(&[
        vec!["Leader".into(), leader.to_string()],
        vec!["Peers".into(), format!("[{}]", peers.join(", "))],
    ]));
    out
}

/// Runs `show`. Without a leader it prints the bound node's last known
/// membership with an empty leader, then fails with `no leader`.
pub async fn run(meta: &Meta) -> Result<Outcome> {
    let status = meta.status().await?;
    match meta.data().await {
        Ok(data) => {
            print!("{}", render(&data, &status.leader));
            Ok(Outcome::Success)
        }
        Err(e) if e.to_string() == "no leader" => {
            let data = meta.local_data().await?;
            print!("{}", render(&data, ""));
            eprintln!("show: no leader");
            Ok(Outcome::Failure)
        }
        Err(e) => Err(e),
    }
}
