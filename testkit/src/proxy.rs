//! Fault-injecting TCP proxies.
//!
//! Each node's peer-facing ports (the Raft port and meta API of a meta node,
//! the cluster port of a data node) sit behind a proxy that other nodes dial
//! instead of the real port: the node advertises the proxy's address. Nodes
//! dial from their own loopback IP (see `proto::net`), so a proxy knows which
//! node is calling and can cut a single link: `partition A B` refuses and
//! severs connections from A to B's ports and from B to A's ports. Clients
//! (tests, ctl, the testbed CLI) dial from 127.0.0.1 and are never cut.
//!
//! The proxies run on their own tokio runtime (one worker thread), so the
//! [`Proxies`] handle is usable from plain synchronous code.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Shared fault state: which (from IP, to node) links are cut, and a
/// generation counter that tells open connections to re-check.
#[derive(Default)]
struct Faults {
    /// Cut links as (caller IP, callee node name).
    cut: HashSet<(IpAddr, String)>,
}

struct Shared {
    faults: Mutex<Faults>,
    /// Bumped on every change; connections watch it and close when cut.
    generation: watch::Sender<u64>,
    /// Callee node name and real target per proxy listen address.
    targets: Mutex<HashMap<SocketAddr, (String, Option<SocketAddr>)>>,
}

/// Handle on all proxies of a cluster.
pub struct Proxies {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxies {
    /// Starts the proxies' runtime (one worker thread).
    pub fn start() -> std::io::Result<Proxies> {
        let (gen_tx, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            faults: Mutex::new(Faults::default()),
            generation: gen_tx,
            targets: Mutex::new(HashMap::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("testkit-proxy")
            .enable_all()
            .build()?;
        Ok(Proxies { shared, runtime: Some(runtime) })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("runtime lives until drop")
    }

    /// Runs a future to completion on the proxies' runtime (for testkit's
    /// own RPCs). Must not be called from inside an async context.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt().block_on(f)
    }

    /// Opens a proxy listening on `ip:0` for node `callee`. The target is set
    /// later with [`Proxies::set_target`]; until then connections are refused.
    pub fn listen(&self, ip: IpAddr, callee: &str) -> std::io::Result<SocketAddr> {
        let listener = self.rt().block_on(TcpListener::bind(SocketAddr::new(ip, 0)))?;
        let addr = listener.local_addr()?;
        self.shared.targets.lock().expect("proxy lock").insert(addr, (callee.to_string(), None));
        let shared = self.shared.clone();
        self.rt().spawn(accept_loop(listener, addr, shared));
        Ok(addr)
    }

    /// Points the proxy at `listen` to the node's real address.
    pub fn set_target(&self, listen: SocketAddr, target: SocketAddr) {
        if let Some(t) = self.shared.targets.lock().expect("proxy lock").get_mut(&listen) {
            t.1 = Some(target);
        }
    }

    /// Cuts both directions between the nodes (name, IP) `a` and `b`.
    pub fn partition(&self, a: (&str, IpAddr), b: (&str, IpAddr)) {
        {
            let mut f = self.shared.faults.lock().expect("proxy lock");
            f.cut.insert((a.1, b.0.to_string()));
            f.cut.insert((b.1, a.0.to_string()));
        }
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Cuts every link into and out of node `a` (isolation), given all nodes.
    pub fn isolate(&self, a: (&str, IpAddr), others: &[(&str, IpAddr)]) {
        for b in others {
            if b.0 != a.0 {
                self.partition(a, *b);
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.shared.faults.lock().expect("proxy lock").cut.clear();
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Restores the links between `a` and `b` only.
    pub fn heal_pair(&self, a: (&str, IpAddr), b: (&str, IpAddr)) {
        {
            let mut f = self.shared.faults.lock().expect("proxy lock");
            f.cut.remove(&(a.1, b.0.to_string()));
            f.cut.remove(&(b.1, a.0.to_string()));
        }
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// The cut links, as (caller IP, callee name), for status output.
    pub fn cut_links(&self) -> Vec<(IpAddr, String)> {
        let mut v: Vec<_> =
            self.shared.faults.lock().expect("proxy lock").cut.iter().cloned().collect();
        v.sort();
        v
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        // Non-blocking, so a cluster may be dropped inside an async test.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn is_cut(shared: &Shared, from: IpAddr, callee: &str) -> bool {
    shared.faults.lock().expect("proxy lock").cut.contains(&(from, callee.to_string()))
}

async fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((inbound, peer)) = listener.accept().await else {
            continue;
        };
        let (callee, target) = match shared.targets.lock().expect("proxy lock").get(&addr) {
            Some((c, t)) => (c.clone(), *t),
            None => continue,
        };
        let Some(target) = target else {
            drop(inbound);
            continue;
        };
        if is_cut(&shared, peer.ip(), &callee) {
            drop(inbound);
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = pipe(inbound, peer.ip(), callee, target, shared).await;
        });
    }
}

async fn pipe(
    mut inbound: TcpStream,
    from: IpAddr,
    callee: String,
    target: SocketAddr,
    shared: Arc<Shared>,
) -> std::io::Result<()> {
    inbound.set_nodelay(true)?;
    let mut outbound = TcpStream::connect(target).await?;
    outbound.set_nodelay(true)?;
    let mut gen_rx = shared.generation.subscribe();
    // One copy future for the connection's life: dropping it mid-copy could
    // lose bytes already read, so it is pinned outside the loop.
    let copy = copy_bidirectional(&mut inbound, &mut outbound);
    tokio::pin!(copy);
    loop {
        tokio::select! {
            res = &mut copy => {
                res?;
                return Ok(());
            }
            changed = gen_rx.changed() => {
                if changed.is_err() || is_cut(&shared, from, &callee) {
                    // Severed: drop both sockets (the peer sees a reset/EOF).
                    return Ok(());
                }
            }
        }
    }
}
