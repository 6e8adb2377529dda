//! ctl end-to-end tests against real testbed clusters (testkit). They need
//! the workspace binaries: `cargo build --workspace --bins` first.

mod backup_restore;
mod export_import;
mod interop;
mod shards;
mod util;
