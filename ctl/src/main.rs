//! `ctl`: the testbed's `influxd-ctl`. Installed or symlinked as
//! `influxd-ctl`, it behaves the same.

fn main() -> std::process::ExitCode {
    ctl::run::main(std::env::args_os().collect())
}
