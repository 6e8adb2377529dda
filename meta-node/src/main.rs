//! `meta-node`: one member of the testbed's Raft-lite metastore group.

fn main() -> std::process::ExitCode {
    meta_node::run::main(std::env::args_os().collect())
}
