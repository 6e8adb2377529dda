//! Parses the command line and runs one command under `-timeout`.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, EntropyCommand};
use crate::client::Meta;
use crate::commands;

/// What a command asks the process to exit with.
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1 (the command already printed why).
    Failure,
}

/// Entry point: exit 0 on success, 1 on failure, 2 on usage errors.
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(proto::goflags::normalize(args)) {
        Ok(c) => c,
        Err(e) => {
            // An unknown flag reads as Go's flag package words it.
            if e.kind() == clap::error::ErrorKind::UnknownArgument
                && let Some(clap::error::ContextValue::String(arg)) =
                    e.get(clap::error::ContextKind::InvalidArg)
            {
                let name = arg.split('=').next().unwrap_or(arg).trim_start_matches('-');
                eprintln!("flag provided but not defined: -{name}");
                eprintln!("Run 'influxd-ctl -help' or 'influxd-ctl <command> -help' for usage.");
                return ExitCode::from(2);
            }
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let name = command_name(&cli.command);
    let rt =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::FAILURE;
            }
        };
    let timeout = cli.global.timeout;
    let res = rt.block_on(async move {
        if cli.global.bind_tls {
            anyhow::bail!("TLS to meta nodes is not supported by the testbed");
        }
        let meta = Meta::new(&cli.global.bind, timeout)?;
        // Long-running commands (backup, restore) bound their own RPCs;
        // membership commands get the whole -timeout.
        let fut = dispatch(cli.command, meta);
        if long_running(name) {
            fut.await
        } else {
            match tokio::time::timeout(timeout, fut).await {
                Ok(r) => r,
                Err(_) => anyhow::bail!("operation timed out with error: no leader"),
            }
        }
    });
    let _ = std::io::stdout().flush();
    match res {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn long_running(name: &str) -> bool {
    matches!(name, "backup" | "restore" | "export" | "import" | "copy-shard" | "bootstrap")
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::ShowShards { .. } => "show-shards",
        Command::CopyShard { .. } => "copy-shard",
        Command::CopyShardStatus => "copy-shard-status",
        Command::KillCopyShard { .. } => "kill-copy-shard",
        Command::RemoveShard { .. } => "remove-shard",
        Command::TruncateShards { .. } => "truncate-shards",
        Command::Entropy { .. } => "entropy",
        Command::Show => "show",
        Command::AddMeta { .. } => "add-meta",
        Command::RemoveMeta { .. } => "remove-meta",
        Command::AddData { .. } => "add-data",
        Command::RemoveData { .. } => "remove-data",
        Command::UpdateData { .. } => "update-data",
        Command::Backup { .. } => "backup",
        Command::HintedHandoff => "hinted-handoff",
        Command::Restore { .. } => "restore",
        Command::Export { .. } => "export",
        Command::Import { .. } => "import",
        Command::Health { .. } => "health",
        Command::Bootstrap { .. } => "bootstrap",
    }
}

async fn dispatch(cmd: Command, meta: Meta) -> anyhow::Result<Outcome> {
    match cmd {
        Command::ShowShards { verbose, inconsistent, expired } => {
            let o = commands::shards::ShowOptions { verbose, inconsistent, expired };
            commands::shards::show_shards(&meta, o).await
        }
        Command::CopyShard { src, dst, shard } => {
            commands::shards::copy_shard(&meta, &src, &dst, &shard).await
        }
        Command::CopyShardStatus => commands::shards::copy_shard_status(&meta).await,
        Command::KillCopyShard { src, dst, shard } => {
            commands::shards::kill_copy_shard(&meta, &src, &dst, &shard).await
        }
        Command::RemoveShard { addr, shard } => {
            commands::shards::remove_shard(&meta, &addr, &shard).await
        }
        Command::TruncateShards { delay } => commands::shards::truncate_shards(&meta, delay).await,
        Command::Entropy { command } => match command {
            EntropyCommand::Show => commands::entropy::show(&meta).await,
            EntropyCommand::Repair { shard } => commands::entropy::repair(&meta, &shard).await,
            EntropyCommand::KillRepair { shard } => {
                commands::entropy::kill_repair(&meta, &shard).await
            }
        },
        Command::Show => commands::show::run(&meta).await,
        Command::HintedHandoff => commands::hinted_handoff::run(&meta).await,
        Command::AddMeta { addr } => commands::membership::add_meta(&meta, &addr).await,
        Command::RemoveMeta { force, tcp_addr, yes: _, addr } => {
            commands::membership::remove_meta(&meta, &addr, force, &tcp_addr).await
        }
        Command::AddData { passive, addr } => {
            commands::membership::add_data(&meta, &addr, passive).await
        }
        Command::RemoveData { force, addr } => {
            commands::membership::remove_data(&meta, &addr, force).await
        }
        Command::UpdateData { old, new } => {
            commands::membership::update_data(&meta, &old, &new).await
        }
        Command::Backup {
            strategy,
            full,
            db,
            rp,
            shard,
            start,
            end,
            from,
            estimate,
            gzip_level,
            dir,
            ..
        } => {
            let o = commands::backup::BackupOptions {
                strategy,
                full,
                db,
                rp,
                shard,
                start,
                end,
                from,
                estimate,
                gzip_level,
                dir,
            };
            commands::backup::run(&meta, o).await
        }
        Command::Restore {
            full,
            db,
            newdb,
            rp,
            newrp,
            shard,
            newshard,
            newrf,
            newduration,
            list,
            meta_only_overwrite_force,
            path,
        } => {
            let o = commands::restore::RestoreOptions {
                full,
                db,
                newdb,
                rp,
                newrp,
                shard,
                newshard,
                newrf,
                newduration,
                list,
                meta_only_overwrite_force,
                path: path.unwrap_or_default(),
            };
            commands::restore::run(&meta, o).await
        }
        Command::Export { database, retention, start, end, compress, out, lponly } => {
            let o = commands::export::ExportOptions {
                database,
                retention,
                start,
                end,
                compress,
                out,
                lp_only: lponly,
            };
            commands::export::run(&meta, o).await
        }
        Command::Import {
            path,
            compressed,
            pps,
            precision,
            consistency,
            host,
            username,
            password,
            merge,
        } => {
            let o = commands::import::ImportOptions {
                path,
                compressed,
                pps,
                precision,
                consistency,
                host,
                username,
                password,
                merge,
            };
            commands::import::run(&meta, o).await
        }
        Command::Health { addr } => commands::health::run(&addr, meta.timeout()).await,
        Command::Bootstrap { meta: metas, data, deadline } => {
            commands::bootstrap::run(&metas, &data, deadline, meta.timeout()).await
        }
    }
}
