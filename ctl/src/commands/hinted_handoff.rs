//! `hinted-handoff`: the hinted-handoff queues of every data node (one per
//! destination node), with their sizes and counters. Enterprise shows these
//! only in `_internal`; this command puts them where an operator looks.

use anyhow::Result;
use proto::cluster;

use crate::client::Meta;
use crate::commands::data;
use crate::run::Outcome;
use crate::table;

/// Runs `hinted-handoff`.
pub async fn run(meta: &Meta) -> Result<Outcome> {
    let d = meta.data().await?;
    let mut rows = vec![vec![
        "Node".to_string(),
        "Destination".into(),
        "Queued Bytes".into(),
        "Queued Writes".into(),
        "Oldest".into(),
        "Queued".into(),
        "Replayed".into(),
        "Dropped".into(),
        "Rejected (full)".into(),
    ]];
    let mut unreachable = Vec::new();
    for n in &d.data_nodes {
        let Some(addr) = n.tcp_host.clone() else { continue };
        let status = async {
            let mut c = data::client(&addr)?;
            let r = tokio::time::timeout(
                meta.timeout(),
                c.hinted_handoff_status(cluster::HintedHandoffStatusRequest {}),
            )
            .await??;
            anyhow::Ok(r.into_inner())
        }
        .await;
        match status {
            Ok(st) => {
                for q in st.queues {
                    rows.push(vec![
                        format!("{} {}", n.id, addr),
                        format!("{} {}", q.node_id, q.node_addr),
                        q.bytes.to_string(),
                        q.writes.to_string(),
                        if q.oldest == 0 {
                            "-".into()
                        } else {
                            portable::gotime::format_rfc3339(q.oldest)
                        },
                        q.queued.to_string(),
                        q.replayed.to_string(),
                        q.dropped.to_string(),
                        q.rejected_full.to_string(),
                    ]);
                }
            }
            Err(_) => unreachable.push(addr),
        }
    }
    println!("Hinted Handoff\n==========");
    print!("{}", table::render(&rows));
    if !unreachable.is_empty() {
        eprintln!("hinted-handoff: unreachable data nodes: {}", unreachable.join(", "));
        return Ok(Outcome::Failure);
    }
    Ok(Outcome::Success)
}
