//! The `meta-node` binary's body: flags → config → tracing → server.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::Cli;
use crate::config::Config;

/// Parses `args`, runs the node, and maps the outcome to an exit code:
/// 0 after a clean shutdown, 1 on an error (one line on stderr), 2 for usage.
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(proto::goflags::normalize(args)) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meta-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut config = match &cli.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(h) = cli.hostname {
        config.hostname = Some(h);
    }
    if let Some(d) = cli.dir {
        config.meta.dir = d;
    }
    if let Some(a) = cli.bind_address {
        config.meta.bind_address = a;
    }
    if let Some(a) = cli.http_bind_address {
        config.meta.http_bind_address = a;
    }
    config.validate()?;
    proto::process::init_tracing(&config.meta.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let single = cli.single_server.unwrap_or(false);
    let opts = crate::server::RunOptions { ready_file: cli.ready_file };
    rt.block_on(async move {
        proto::process::watch_parent();
        let shutdown = proto::process::shutdown_signal();
        if single {
            let api = config.meta.http_bind_address.clone();
            tokio::spawn(async move {
                crate::bootstrap_self(&api).await;
            });
        }
        crate::server::run(config, opts, shutdown).await
    })
}
