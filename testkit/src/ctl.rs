//! Running the `ctl` binary (the influxd-ctl look-alike) against a cluster,
//! and reading a cluster's metastore: what the ctl end-to-end tests and the
//! property-based restore tests share.

use std::path::PathBuf;
use std::process::Output;

use anyhow::{Context, Result};

use crate::Cluster;

/// The `ctl` binary (`TESTBED_BIN_DIR`, else beside the test executable).
pub fn binary() -> Result<PathBuf> {
    crate::process::find_binary("ctl")
}

/// Runs `ctl -bind <meta api> args...` and waits for it.
pub fn run(c: &Cluster, args: &[&str]) -> Result<Output> {
    let bind = c.meta_api()?;
    let bin = binary()?;
    std::process::Command::new(&bin)
        .arg("-bind")
        .arg(&bind)
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))
}

/// The cluster's metastore, read through a meta node (`meta.Data`).
pub fn metastore(c: &Cluster) -> Result<proto::meta::Data> {
    let api = c.meta_api()?;
    c.block_on(async {
        let ch = proto::net::channel(&api, None)?;
        let mut m =
            proto::cluster::meta_client::MetaClient::new(ch).max_decoding_message_size(256 << 20);
        let r = m.read(proto::cluster::ReadRequest {}).await?.into_inner();
        let d: proto::meta::Data = proto::Message::decode(r.data.as_slice())?;
        Ok(d)
    })
}
