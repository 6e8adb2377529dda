//! Real-process tests of the meta-node group, through testkit: leader crash,
//! full restart, leader partition, loss of quorum, and a linearizability
//! check of concurrent database creates/drops across leader kills.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use prost::Message;
use proto::cluster::{self, command::Cmd, meta_client::MetaClient};
use testkit::linearizability::{Event, Op, check};
use testkit::{Cluster, ClusterSpec};

fn cluster(meta: usize) -> Cluster {
    Cluster::start(ClusterSpec { meta, ..Default::default() }).expect("cluster starts")
}

fn client(addr: &str) -> MetaClient<tonic::transport::Channel> {
    MetaClient::new(proto::net::channel(addr, Some(Duration::from_secs(5))).expect("channel"))
}

fn api(c: &Cluster, name: &str) -> String {
    c.node_info(name).unwrap().addrs.api.unwrap()
}

async fn create_db(addr: &str, name: &str, request_id: &str) -> Result<(), String> {
    let mut c = client(addr);
    let r = c
        .execute(cluster::ExecuteRequest {
            request_id: request_id.to_string(),
            command: Some(cluster::Command {
                cmd: Some(Cmd::CreateDatabase(cluster::CreateDatabase {
                    name: name.into(),
                    ..Default::default()
                })),
            }),
        })
        .await
        .map_err(|s| s.message().to_string())?
        .into_inner();
    if r.error.is_empty() { Ok(()) } else { Err(r.error) }
}

async fn drop_db(addr: &str, name: &str, request_id: &str) -> Result<(), String> {
    let mut c = client(addr);
    let r = c
        .execute(cluster::ExecuteRequest {
            request_id: request_id.to_string(),
            command: Some(cluster::Command {
                cmd: Some(Cmd::DropDatabase(cluster::DropDatabase { name: name.into() })),
            }),
        })
        .await
        .map_err(|s| s.message().to_string())?
        .into_inner();
    if r.error.is_empty() { Ok(()) } else { Err(r.error) }
}

async fn databases(addr: &str) -> Result<Vec<String>, String> {
    let mut c = client(addr);
    let r = c.read(cluster::ReadRequest {}).await.map_err(|s| s.message().to_string())?;
    let data =
        proto::meta::Data::decode(r.into_inner().data.as_slice()).map_err(|e| e.to_string())?;
    Ok(data.databases.into_iter().map(|d| d.name).collect())
}

async fn leader(addr: &str) -> Option<u64> {
    let mut c = client(addr);
    let s = c.status(cluster::StatusRequest {}).await.ok()?.into_inner();
    (s.leader_id != 0).then_some(s.leader_id)
}

fn name_of(c: &Cluster, id: u64) -> String {
    c.names().into_iter().find(|n| c.node_info(n).unwrap().id == id).unwrap()
}

async fn wait_leader(addr: &str, not: Option<u64>, within: Duration) -> u64 {
    let until = Instant::now() + within;
    loop {
        if let Some(l) = leader(addr).await
            && Some(l) != not
        {
            return l;
        }
        assert!(Instant::now() < until, "no new leader within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn leader_crash_elects_new_leader_and_keeps_committed_commands() {
    let mut c = cluster(3);
    let a1 = api(&c, "meta1");
    let l = c.block_on(wait_leader(&a1, None, Duration::from_secs(5)));
    for i in 0..20 {
        c.block_on(create_db(&a1, &format!("db{i}"), &format!("r{i}"))).unwrap();
    }
    let lname = name_of(&c, l);
    c.crash(&lname).unwrap();
    let other = c.names().into_iter().find(|n| *n != lname).unwrap();
    let a = api(&c, &other);
    let started = Instant::now();
    let new = c.block_on(wait_leader(&a, Some(l), Duration::from_secs(10)));
    assert_ne!(new, l);
    c.block_on(create_db(&a, "after", "after-1")).unwrap();
    eprintln!("failover took {:?}", started.elapsed());
    let dbs = c.block_on(databases(&a)).unwrap();
    for i in 0..20 {
        assert!(dbs.contains(&format!("db{i}")), "db{i} lost after failover: {dbs:?}");
    }
    assert!(dbs.contains(&"after".to_string()));
}

#[test]
fn full_restart_keeps_state() {
    let mut c = cluster(3);
    let a1 = api(&c, "meta1");
    for i in 0..10 {
        c.block_on(create_db(&a1, &format!("keep{i}"), &format!("k{i}"))).unwrap();
    }
    for n in c.names() {
        c.crash(&n).unwrap();
    }
    for n in c.names() {
        c.restart(&n).unwrap();
    }
    c.block_on(wait_leader(&a1, None, Duration::from_secs(10)));
    let dbs = c.block_on(async {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match databases(&a1).await {
                Ok(d) if d.len() == 10 => return d,
                _ if Instant::now() > until => panic!("state not back after restart"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    assert_eq!(dbs.len(), 10);
}

#[test]
fn partitioned_leader_steps_down_and_majority_serves() {
    let mut c = cluster(3);
    let a1 = api(&c, "meta1");
    let l = c.block_on(wait_leader(&a1, None, Duration::from_secs(5)));
    let lname = name_of(&c, l);
    let others: Vec<String> = c.names().into_iter().filter(|n| *n != lname).collect();
    for o in &others {
        c.partition(&lname, o).unwrap();
    }
    let la = api(&c, &lname);
    // Within a few election timeouts the old leader stops accepting writes.
    let until = Instant::now() + Duration::from_secs(10);
    let err = loop {
        match c.block_on(create_db(&la, "isolated", "iso-1")) {
            Err(e) => break e,
            Ok(()) => {
                assert!(Instant::now() < until, "isolated leader kept committing");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert!(err.contains("no leader"), "unexpected error: {err}");
    let oa = api(&c, &others[0]);
    let new = c.block_on(wait_leader(&oa, Some(l), Duration::from_secs(10)));
    assert_ne!(new, l);
    c.block_on(create_db(&oa, "majority", "maj-1")).unwrap();
    c.heal();
    let dbs = c.block_on(async {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(d) = databases(&la).await
                && d.contains(&"majority".to_string())
            {
                return d;
            }
            assert!(Instant::now() < until, "old leader did not catch up after heal");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert!(!dbs.contains(&"isolated".to_string()), "uncommitted write survived: {dbs:?}");
}

#[test]
fn without_quorum_ctl_fails_within_timeout() {
    let mut c = cluster(3);
    let a1 = api(&c, "meta1");
    c.block_on(wait_leader(&a1, None, Duration::from_secs(5)));
    c.crash("meta2").unwrap();
    c.crash("meta3").unwrap();
    let ctl = testkit::process::find_binary("ctl").expect("ctl binary (cargo build --workspace)");
    let started = Instant::now();
    let out = std::process::Command::new(ctl)
        .args(["-bind", &a1, "-timeout", "3s", "show"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(5), "ctl took {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no leader"), "stderr: {stderr}");
    // Writes fail fast too.
    let started = Instant::now();
    let err = c.block_on(create_db(&a1, "x", "x-1")).unwrap_err();
    assert!(err.contains("no leader"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn concurrent_creates_and_drops_across_leader_kills_are_linearizable() {
    let mut c = cluster(3);
    let a1 = api(&c, "meta1");
    c.block_on(wait_leader(&a1, None, Duration::from_secs(5)));
    let addrs: Vec<String> = c.names().iter().map(|n| api(&c, n)).collect();
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let history = Arc::new(std::sync::Mutex::new(Vec::<Event>::new()));
    let mut workers = Vec::new();
    for w in 0..4usize {
        let addrs = addrs.clone();
        let stop = stop.clone();
        let history = history.clone();
        workers.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 60 {
                i += 1;
                let key = format!("k{}", (w as u64 * 7 + i) % 3);
                let addr = &addrs[(w + i as usize) % addrs.len()];
                let invoke = epoch.elapsed().as_micros() as u64;
                let (op, ok) = match i % 3 {
                    0 => {
                        let r = rt.block_on(databases(addr));
                        match r {
                            Ok(d) => (Op::Read(d.contains(&key)), true),
                            Err(_) => continue,
                        }
                    }
                    1 => (
                        Op::Write(true),
                        rt.block_on(create_db(addr, &key, &format!("w{w}-{i}"))).is_ok(),
                    ),
                    _ => (
                        Op::Write(false),
                        rt.block_on(drop_db(addr, &key, &format!("w{w}-{i}"))).is_ok(),
                    ),
                };
                let ret = epoch.elapsed().as_micros() as u64;
                history.lock().unwrap().push(Event {
                    key,
                    op,
                    invoke,
                    ret: if ok { Some(ret) } else { None },
                });
            }
        }));
    }
    // Kill the leader twice while the clients run.
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(700));
        if let Some(l) = c.block_on(leader(&addrs[0])).or_else(|| c.block_on(leader(&addrs[1]))) {
            let n = name_of(&c, l);
            c.crash(&n).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            c.restart(&n).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let h = history.lock().unwrap().clone();
    let completed = h.iter().filter(|e| e.ret.is_some()).count();
    assert!(completed > 20, "too few operations completed: {completed}");
    if let Err(e) = check(&h, false) {
        panic!("{e}");
    }
}
