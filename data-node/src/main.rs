//! `data-node`: owns shards and serves the InfluxDB 1.x HTTP API.

fn main() -> std::process::ExitCode {
    data_node::run::main(std::env::args_os().collect())
}
