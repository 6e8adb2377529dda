//! Messages exchanged between Raft nodes.

use super::{Entry, Index, NodeId, Snapshot, Term};

/// A message between two nodes, with the routing header every message carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The sender.
    pub from: NodeId,
    /// The recipient.
    pub to: NodeId,
    /// The sender's current term, except for pre-votes: a `PreVote` carries the term the
    /// sender would campaign in (its term + 1) and a granted `PreVoteResponse` echoes it.
    pub term: Term,
    /// The message itself.
    pub message: Message,
}

/// The Raft protocol messages. Heartbeats are `Append` messages without entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Pre-vote request (Raft thesis §9.6): "would you vote for me in `envelope.term`?".
    /// Granting it changes no state on the voter.
    PreVote {
        /// The index of the candidate's last log entry.
        last_index: Index,
        /// The term of the candidate's last log entry.
        last_term: Term,
    },
    /// Answer to a `PreVote`.
    PreVoteResponse {
        /// Whether the pre-vote is granted.
        granted: bool,
    },
    /// Vote request from a candidate in `envelope.term` (Raft §5.2).
    Vote {
        /// The index of the candidate's last log entry.
        last_index: Index,
        /// The term of the candidate's last log entry.
        last_term: Term,
    },
    /// Answer to a `Vote`. Sent only after the vote is durable.
    VoteResponse {
        /// Whether the vote is granted.
        granted: bool,
    },
    /// Log replication and heartbeat from the leader (Raft §5.3).
    Append {
        /// The index of the entry just before `entries` (or the heartbeat's probe point).
        prev_index: Index,
        /// The term of the entry at `prev_index`.
        prev_term: Term,
        /// Contiguous entries starting at `prev_index + 1` (empty for a heartbeat).
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: Index,
        /// The leader's ReadIndex round number, echoed in the response.
        read_seq: u64,
    },
    /// Answer to an `Append`. Sent only after the entries are durable.
    AppendResponse {
        /// Whether the follower's log matched at `prev_index`.
        success: bool,
        /// On success, the last index known to match the leader's log; on rejection, the
        /// `prev_index` of the rejected append.
        index: Index,
        /// On rejection, the follower's hint: the leader should retry with `prev_index` at
        /// most this value. Unused on success.
        hint: Index,
        /// The `read_seq` of the append being answered.
        read_seq: u64,
    },
    /// The leader's whole snapshot, for a follower that needs compacted entries.
    InstallSnapshot {
        /// The snapshot.
        snapshot: Snapshot,
        /// The leader's ReadIndex round number, echoed in the response.
        read_seq: u64,
    },
    /// Answer to an `InstallSnapshot`. Sent only after the snapshot is durable.
    InstallSnapshotResponse {
        /// The last index the follower now knows to match the leader's log.
        index: Index,
        /// The `read_seq` of the snapshot message being answered.
        read_seq: u64,
    },
}

impl Message {
    /// A short name for logs and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::PreVote { .. } => "PreVote",
            Message::PreVoteResponse { .. } => "PreVoteResponse",
            Message::Vote { .. } => "Vote",
            Message::VoteResponse { .. } => "VoteResponse",
            Message::Append { .. } => "Append",
            Message::AppendResponse { .. } => "AppendResponse",
            Message::InstallSnapshot { .. } => "InstallSnapshot",
            Message::InstallSnapshotResponse { .. } => "InstallSnapshotResponse",
        }
    }
}
