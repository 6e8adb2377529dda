//! The leader's view of one follower's log (Raft §5.3 `nextIndex`/`matchIndex`, plus flow
//! control).

use std::collections::VecDeque;

use super::Index;

/// How the leader is currently replicating to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplicationState {
    /// Searching for the point where the follower's log matches: one `Append` at a time
    /// (`paused` after each send), moving `next` back on rejection.
    Probe,
    /// The follower's log is known to match at `next - 1`: entries are pipelined (`next`
    /// advances optimistically), at most `max_inflight` messages at a time.
    Replicate,
    /// An `InstallSnapshot` has been sent; waiting for its answer.
    Snapshot,
}

/// Replication progress of one follower.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// The next index to send.
    pub(crate) next: Index,
    /// The highest index known to match the leader's log.
    pub(crate) matched: Index,
    /// The replication state.
    pub(crate) state: ReplicationState,
    /// In `Probe`: a probe is outstanding, send nothing until it is answered or the next
    /// heartbeat. In `Snapshot`: always true.
    pub(crate) paused: bool,
    /// In `Replicate`: the last index of each unacknowledged `Append`, oldest first.
    pub(crate) inflight: VecDeque<Index>,
    /// `matched` at the previous heartbeat: no progress during a whole heartbeat interval
    /// triggers a retransmission.
    pub(crate) matched_at_heartbeat: Index,
    /// Whether the follower answered anything since the last check-quorum round.
    pub(crate) recent_active: bool,
    /// The highest ReadIndex round (`read_seq`) the follower has acknowledged.
    pub(crate) read_ack: u64,
}

impl Progress {
    /// Progress for a follower whose log is unknown: probe from `next`.
    pub(crate) fn new(next: Index) -> Self {
        Progress {
            next,
            matched: 0,
            state: ReplicationState::Probe,
            paused: false,
            inflight: VecDeque::new(),
            matched_at_heartbeat: 0,
            recent_active: true,
            read_ack: 0,
        }
    }

    /// Switches to probing from `next` (after a rejection, a stall or a snapshot).
    pub(crate) fn become_probe(&mut self, next: Index) {
        self.state = ReplicationState::Probe;
        self.next = next.max(self.matched + 1);
        self.paused = false;
        self.inflight.clear();
    }

    /// Switches to pipelined replication after the follower confirmed `matched`.
    pub(crate) fn become_replicate(&mut self) {
        self.state = ReplicationState::Replicate;
        self.next = self.matched + 1;
        self.paused = false;
        self.inflight.clear();
    }
}
