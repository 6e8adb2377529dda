//! What a `cluster` command starts: local testkit processes, or, with
//! `scenarios run --compose FILE`, the compose project of FILE
//! ([`crate::compose`]). Both answer the same calls, so the commands do not
//! care which one runs.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use testkit::{ClusterInfo, ClusterSpec, NodeInfo};

use crate::compose::Compose;
use crate::ctl::CtlRun;
use crate::session::Session;

/// A running cluster of a scenario.
pub enum Cluster {
    /// testkit processes on loopback.
    Local(Box<testkit::Cluster>),
    /// A compose project.
    Compose(Box<Compose>),
}

macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Cluster::Local($c) => $e,
            Cluster::Compose($c) => $e,
        }
    };
}

impl Cluster {
    /// Starts a cluster: the compose file when `--compose` was given, else
    /// local processes.
    pub fn start(spec: ClusterSpec) -> Result<Cluster> {
        if crate::compose::file().is_some() {
            return Ok(Cluster::Compose(Box::new(Compose::start(&spec)?)));
        }
        Ok(Cluster::Local(Box::new(testkit::Cluster::start(spec)?)))
    }

    /// Every node, as `cluster.json` has them.
    pub fn info(&self) -> ClusterInfo {
        each!(self, c => c.info())
    }

    /// The cluster directory (the compose file's directory).
    pub fn dir(&self) -> &Path {
        each!(self, c => c.dir())
    }

    /// Node names in start order.
    pub fn names(&self) -> Vec<String> {
        each!(self, c => c.names())
    }

    /// One node.
    pub fn node_info(&self, name: &str) -> Result<NodeInfo> {
        each!(self, c => c.node_info(name))
    }

    /// The API address of a running meta node (for `ctl -bind`).
    pub fn meta_api(&mut self) -> Result<String> {
        each!(self, c => c.meta_api())
    }

    /// Whether a node runs (paused ones too).
    pub fn is_running(&mut self, name: &str) -> bool {
        each!(self, c => c.is_running(name))
    }

    /// SIGKILL.
    pub fn crash(&mut self, name: &str) -> Result<()> {
        each!(self, c => c.crash(name))
    }

    /// SIGTERM, then SIGKILL.
    pub fn stop(&mut self, name: &str) -> Result<()> {
        each!(self, c => c.stop(name))
    }

    /// Starts a node again (killing it first) and waits until it serves.
    pub fn restart(&mut self, name: &str) -> Result<()> {
        each!(self, c => c.restart(name))
    }

    /// SIGSTOP (docker pause).
    pub fn pause(&mut self, name: &str) -> Result<()> {
        each!(self, c => c.pause(name))
    }

    /// SIGCONT (docker unpause).
    pub fn resume(&mut self, name: &str) -> Result<()> {
        each!(self, c => c.resume(name))
    }

    /// Cuts the link between two nodes (local clusters only).
    pub fn partition(&mut self, a: &str, b: &str) -> Result<()> {
        each!(self, c => c.partition(a, b))
    }

    /// Cuts every link of a node.
    pub fn isolate(&mut self, name: &str) -> Result<()> {
        each!(self, c => c.isolate(name))
    }

    /// Restores every link.
    pub fn heal(&mut self) -> Result<()> {
        match self {
            Cluster::Local(c) => {
                c.heal();
                Ok(())
            }
            Cluster::Compose(c) => c.heal(),
        }
    }

    /// A config override for the next restart (local clusters only).
    pub fn set_config(&mut self, name: &str, key: &str, value: &str) -> Result<()> {
        each!(self, c => c.set_config(name, key, value))
    }

    /// Runs a future to completion (not from async code).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        each!(self, c => c.block_on(f))
    }

    /// Where the runner reaches a node address: itself for local clusters,
    /// the published port for a compose cluster.
    pub fn reach(&self, addr: &str) -> String {
        match self {
            Cluster::Local(_) => addr.to_string(),
            Cluster::Compose(c) => c.reach(addr),
        }
    }
}

impl Session {
    /// Runs ctl with `args`: the local binary, or in a container on the
    /// compose network when the command's cluster is a compose one.
    pub(crate) fn run_ctl(
        &mut self,
        target: Option<&str>,
        args: &[String],
        timeout: Duration,
    ) -> Result<CtlRun> {
        let name = self.cluster_name(target).ok();
        if let Some(Cluster::Compose(c)) = name.and_then(|n| self.clusters.get(&n)) {
            let mut mounts = vec![self.tmp.path()];
            mounts.extend(self.fixtures.as_deref());
            return c.ctl(args, &mounts, timeout);
        }
        if self.ctl_bin.is_none() {
            self.ctl_bin = Some(testkit::process::find_binary("ctl")?);
        }
        let bin = self.ctl_bin.clone().context("ctl binary")?;
        crate::ctl::run(&bin, args, timeout)
    }
}
