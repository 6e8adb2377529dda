//! Meta-group benchmark (not a timed test): committed metastore commands per
//! second on a 3-node loopback group, and failover time (SIGKILL of the
//! leader until a command commits again), median of 10.
//!
//! `cargo bench -p meta-node --bench meta` (release binaries via testkit).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proto::cluster::{self, command::Cmd, meta_client::MetaClient};
use testkit::{Cluster, ClusterSpec};

fn cmd(i: u64) -> cluster::ExecuteRequest {
    // Create/drop a handful of databases: the state stays small, as a real
    // metastore's steady state does.
    let name = format!("bench{}", i % 8);
    let c = if (i / 8).is_multiple_of(2) {
        Cmd::CreateDatabase(cluster::CreateDatabase { name, ..Default::default() })
    } else {
        Cmd::DropDatabase(cluster::DropDatabase { name })
    };
    cluster::ExecuteRequest {
        request_id: format!("bench-{i}-{}", std::process::id()),
        command: Some(cluster::Command { cmd: Some(c) }),
    }
}

async fn leader_api(addrs: &[String]) -> Option<(String, u64)> {
    for a in addrs {
        let Ok(ch) = proto::net::channel(a, Some(Duration::from_secs(1))) else { continue };
        let mut c = MetaClient::new(ch);
        if let Ok(s) = c.status(cluster::StatusRequest {}).await {
            let s = s.into_inner();
            if s.leader_id != 0 {
                let l = s.peers.iter().find(|p| p.id == s.leader_id)?;
                return Some((l.http_addr.clone(), l.id));
            }
        }
    }
    None
}

fn throughput(c: &Cluster, addrs: &[String]) -> f64 {
    c.block_on(async {
        let (leader, _) = leader_api(addrs).await.expect("leader");
        let n = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + Duration::from_secs(5);
        let mut tasks = Vec::new();
        for w in 0..64u64 {
            let leader = leader.clone();
            let n = n.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = MetaClient::new(proto::net::channel(&leader, None).unwrap());
                let mut i = w * 1_000_000;
                while Instant::now() < until {
                    if c.execute(cmd(i)).await.is_ok() {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            }));
        }
        let start = Instant::now();
        for t in tasks {
            let _ = t.await;
        }
        n.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    })
}

fn failover(c: &mut Cluster, addrs: &[String]) -> Duration {
    let (_, id) = c.block_on(leader_api(addrs)).expect("leader");
    let name = c.names().into_iter().find(|n| c.node_info(n).unwrap().id == id).unwrap();
    let survivors: Vec<String> = c
        .names()
        .into_iter()
        .filter(|n| *n != name)
        .map(|n| c.node_info(&n).unwrap().addrs.api.unwrap())
        .collect();
    let killed = Instant::now();
    c.crash(&name).unwrap();
    let took = c.block_on(async {
        let mut i = 0u64;
        loop {
            for a in &survivors {
                let mut m = MetaClient::new(
                    proto::net::channel(a, Some(Duration::from_millis(300))).unwrap(),
                );
                i += 1;
                if let Ok(r) = m.execute(cmd(10_000_000 + i)).await
                    && r.into_inner().error.is_empty()
                {
                    return killed.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    c.restart(&name).unwrap();
    // Let the restarted node catch up before the next round.
    std::thread::sleep(Duration::from_millis(1500));
    took
}

fn main() {
    let mut c = Cluster::start(ClusterSpec { meta: 3, ..Default::default() }).expect("cluster");
    let addrs: Vec<String> =
        c.names().iter().map(|n| c.node_info(n).unwrap().addrs.api.unwrap()).collect();
    let mut rates: Vec<f64> = (0..3).map(|_| throughput(&c, &addrs)).collect();
    rates.sort_by(f64::total_cmp);
    println!("meta commands/s (64 clients, 3 nodes, median of 3): {:.0}", rates[1]);
    let mut times: Vec<Duration> = (0..10).map(|_| failover(&mut c, &addrs)).collect();
    times.sort();
    println!(
        "failover (SIGKILL leader → next commit), median of 10: {:?} (min {:?}, max {:?})",
        times[5], times[0], times[9]
    );
}
