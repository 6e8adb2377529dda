//! Errors returned by the Raft core.
//!
//! The variants say what the caller should do next: redirect ([`Error::NotLeader`]), retry
//! later ([`Error::ChangeInProgress`], [`Error::LeaderNotReady`]), fix the request
//! ([`Error::InvalidInput`]), or stop the node ([`Error::Storage`], [`Error::Internal`]).

use super::NodeId;

/// A Raft core error.
///
/// `Clone + PartialEq` so tests can assert on it and so a driver can fan one error out to
/// many pending requests.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request needs the leader and this node is not it. `leader` is the node's best guess
    /// of the current leader (`None` while an election is under way or after a step-down):
    /// the driver redirects there or answers `503 no leader`.
    #[error("not leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node currently follows, if any.
        leader: Option<NodeId>,
    },
    /// A membership change is still uncommitted; at most one may be in flight. Retry later.
    #[error("a membership change is already in progress")]
    ChangeInProgress,
    /// The leader has not yet committed an entry of its own term (its no-op). Membership
    /// changes are refused until it has; retry shortly.
    #[error("the leader has not committed an entry in its term yet")]
    LeaderNotReady,
    /// The request itself is wrong (e.g. adding a member twice); retrying will not help.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The requested log index has been compacted into the snapshot.
    #[error("log index {0} is compacted")]
    Compacted(u64),
    /// The storage failed. The node's in-memory state may now disagree with what is durable:
    /// the driver must drop the node and rebuild it from storage (or exit).
    #[error("storage error: {0}")]
    Storage(String),
    /// Bytes could not be decoded (garbage, truncated, unknown version or tag).
    #[error("decode error: {0}")]
    Decode(String),
    /// A broken invariant (a bug, or storage that lies). The node must be dropped.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// True for errors after which the node must not be used any more (drop it and rebuild it
    /// from storage, or exit the process).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Storage(_) | Error::Internal(_))
    }
}

/// A Raft core result.
pub type Result<T> = std::result::Result<T, Error>;
