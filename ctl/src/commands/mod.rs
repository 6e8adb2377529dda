//! One module per `influxd-ctl` command (or family of commands).

pub mod backup;
pub mod bootstrap;
pub mod data;
pub mod entropy;
pub mod export;
pub mod health;
pub mod hinted_handoff;
pub mod import;
pub mod membership;
pub mod restore;
pub mod shards;
pub mod show;
