//! The anti-entropy and shard-copy error type.

use crate::store::StoreError;

/// The result type of this module.
pub type Result<T, E = EntropyError> = std::result::Result<T, E>;

/// What can go wrong checking, copying or repairing shards.
#[derive(Debug, thiserror::Error)]
pub enum EntropyError {
    /// `[anti-entropy] enabled = false` on this node.
    #[error("anti-entropy service is not enabled on this data node")]
    Disabled,
    /// The node has not joined a cluster yet.
    #[error("data node is not part of a cluster")]
    NotJoined,
    /// No such shard in the metastore.
    #[error("shard {0} not found")]
    ShardNotFound(u64),
    /// The shard is not on the source node's disk.
    #[error("shard {shard} not found on {node}")]
    NotOnSource {
        /// The shard.
        shard: u64,
        /// The source node's TCP address.
        node: String,
    },
    /// This node is not an owner of the shard.
    #[error("this data node does not own shard {0}")]
    NotOwner(u64),
    /// A copy of the shard onto this node is already running.
    #[error("shard {0} is already being copied to this data node")]
    CopyInProgress(u64),
    /// The copy was aborted by `kill-copy-shard`.
    #[error("copy of shard {0} was killed")]
    Killed(u64),
    /// Another data node failed or could not be reached.
    #[error("{addr}: {message}")]
    Peer {
        /// Its TCP address.
        addr: String,
        /// What it said.
        message: String,
    },
    /// Owners hold one composite key with different field types: a repair
    /// cannot give every owner the same points.
    #[error("shard {shard}: key {key:?} has different field types on its owners")]
    TypeConflict {
        /// The shard.
        shard: u64,
        /// The composite key (lossy UTF-8).
        key: String,
    },
    /// The owners still differ after a repair (a write raced it).
    #[error("shard {0}: owners still differ after the repair")]
    StillDiffers(u64),
    /// The local shard store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Building a TSM file or archive failed.
    #[error("{0}")]
    Format(#[from] portable::Error),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EntropyError {
    /// A peer error.
    pub fn peer(addr: &str, status: &tonic::Status) -> EntropyError {
        EntropyError::Peer { addr: addr.to_string(), message: status.message().to_string() }
    }

    /// The gRPC status that carries this error.
    pub fn to_status(&self) -> tonic::Status {
        let msg = self.to_string();
        match self {
            EntropyError::Disabled | EntropyError::NotJoined => {
                tonic::Status::failed_precondition(msg)
            }
            EntropyError::ShardNotFound(_) | EntropyError::NotOnSource { .. } => {
                tonic::Status::not_found(msg)
            }
            EntropyError::NotOwner(_) => tonic::Status::invalid_argument(msg),
            EntropyError::CopyInProgress(_) => tonic::Status::already_exists(msg),
            EntropyError::Killed(_) => tonic::Status::cancelled(msg),
            _ => tonic::Status::internal(msg),
        }
    }

    /// The HTTP status of the `/shard-repair` endpoints for this error.
    pub fn http_status(&self) -> http::StatusCode {
        match self {
            EntropyError::ShardNotFound(_) | EntropyError::NotOwner(_) => {
                http::StatusCode::BAD_REQUEST
            }
            _ => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<tokio::task::JoinError> for EntropyError {
    fn from(e: tokio::task::JoinError) -> Self {
        EntropyError::Internal(e.to_string())
    }
}
