//! `scenarios`: runs scenario files against local testbed clusters. See the
//! library docs (`scenarios::main`) for the command line.

fn main() -> std::process::ExitCode {
    scenarios::main(std::env::args_os().collect())
}
