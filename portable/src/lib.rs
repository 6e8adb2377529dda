//! InfluxDB 1.x formats, byte-compatible with real InfluxDB OSS 1.x: the
//! portable backup format (manifest, `.meta`, TSM v1, shard archives), the
//! `influx_inspect export` / `influx -import` file format, and line protocol.
//!
//! Readers and writers only: no network, no threads.

pub mod archive;
pub mod backup;
pub mod error;
pub mod export;
pub mod gofmt;
pub mod gotime;
pub mod gzip;
pub mod key;
pub mod lineproto;
pub mod manifest;
pub mod meta_file;
pub mod point;
pub mod shard;
pub mod tsm;

pub use error::{Corruption, Error, Result};
pub use point::{FieldType, FieldValue, Point};
