//! The `data-node` binary's body: flags → config → tracing → server.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::Cli;
use crate::config::Config;

/// Parses `args`, runs the node; 0 after a clean shutdown, 1 on error, 2 for usage.
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    // `data-node backup|restore …`: InfluxDB OSS's `influxd backup|restore`.
    if let Some(cmd) = args.get(1).and_then(|a| a.to_str()) {
        let rest: Vec<String> =
            args.iter().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
        match cmd {
            "backup" => return exit(crate::snapshotter::backup_cmd::main(&rest)),
            "restore" => return exit(crate::snapshotter::restore_cmd::main(&rest)),
            _ => {}
        }
    }
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
            eprintln!("data-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn run(cli: Cli) -> Result<()> {
    let mut config = match &cli.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(h) = cli.hostname {
        config.hostname = Some(h);
    }
    proto::process::init_tracing(&config.logging.level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let opts = crate::server::RunOptions { ready_file: cli.ready_file };
    rt.block_on(async move {
        proto::process::watch_parent();
        let shutdown = proto::process::shutdown_signal();
        crate::server::run(config, opts, shutdown).await
    })
}
