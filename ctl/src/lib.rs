//! `ctl`: an `influxd-ctl` look-alike for the testbed.
//!
//! Flags are Go-style (`-db x`, `-db=x`, `--db x`), output and exit codes
//! follow InfluxDB Enterprise: data on stdout, progress and errors on stderr,
//! 0 on success, 1 on failure, 2 for usage errors.

pub mod cli;
pub mod client;
pub mod commands;
pub mod run;
pub mod table;
