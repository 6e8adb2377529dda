//! The testbed's shared protocol: protobuf messages, gRPC services, and the
//! small pieces every binary needs to speak them.
//!
//! - [`meta`]: InfluxDB's `meta.Data` and its sub-messages, wire-compatible with
//!   InfluxDB 1.x (proto2; required fields always on the wire). The metastore
//!   state machine's state *is* a `meta::Data`, so a Raft snapshot and the
//!   `.meta` file of a backup are one format.
//! - [`backup_util`]: the `PortableData` wrapper of `.meta` files.
//! - [`cluster`]: the testbed's own gRPC services (meta API, Raft transport,
//!   data-node cluster RPC).
//! - [`goflags`]: Go-style flag syntax for the command-line tools.
//! - [`sled_open`]: opening a sled store, waiting out a just-dropped one's lock.

pub mod godur;
pub mod goflags;
pub mod net;
pub mod process;
pub mod sled_open;

/// InfluxDB's metastore messages (package `meta`).
#[allow(clippy::all, missing_docs)]
pub mod meta {
    include!(concat!(env!("OUT_DIR"), "/meta.rs"));
}

/// The `.meta` file wrapper (package `backup_util`).
#[allow(clippy::all, missing_docs)]
pub mod backup_util {
    include!(concat!(env!("OUT_DIR"), "/backup_util.rs"));
}

/// The testbed's own RPCs (package `cluster`).
#[allow(clippy::all, missing_docs)]
pub mod cluster {
    include!(concat!(env!("OUT_DIR"), "/cluster.rs"));
}

pub use prost::Message;
