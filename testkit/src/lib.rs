//! testkit: starts local testbed clusters of real `meta-node` and `data-node`
//! processes on loopback, and injects faults into them.
//!
//! - [`Cluster`]: start N meta + M data nodes (port 0, one loopback IP per
//!   node, a temp dir per cluster), wait until ready, then `crash` (SIGKILL),
//!   `restart`, `pause`/`resume` (SIGSTOP/SIGCONT), `partition`/`heal`
//!   (through fault-injecting proxies, no root needed). Every process is
//!   killed by PID when the cluster is dropped, and nodes exit by themselves
//!   if their parent dies.
//! - [`supervisor`]: the background process behind `testbed up`, owning a
//!   cluster and taking commands on a Unix socket.

pub mod bench;
pub mod cluster;
pub mod ctl;
pub mod http;
pub mod influxd;
pub mod linearizability;
pub mod process;
pub mod proxy;
pub mod supervisor;

pub use cluster::{Cluster, ClusterInfo, ClusterSpec, NodeAddrs, NodeInfo, Role};
