//! Identifiers and the persistent data types of the Raft core: log entries, snapshots and the
//! hard state (term and vote).

/// A node id. Chosen by the operator or the driver; never 0 by convention (0 is not special
/// to the core, but it makes logs easier to read).
pub type NodeId = u64;
/// A Raft term (election epoch). Terms start at 0 and only grow.
pub type Term = u64;
/// A log index. The first entry has index 1; index 0 is the empty log's sentinel.
pub type Index = u64;

/// A member of the Raft group (a meta node).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    /// The member's node id.
    pub id: NodeId,
    /// The address the member's Raft transport listens on (`bind-address`, `:8089`).
    pub raft_addr: String,
    /// The address the member's HTTP API listens on (`http-bind-address`, `:8091`).
    pub http_addr: String,
}

impl Member {
    /// Builds a member.
    pub fn new(id: NodeId, raft_addr: impl Into<String>, http_addr: impl Into<String>) -> Self {
        Member { id, raft_addr: raft_addr.into(), http_addr: http_addr.into() }
    }
}

/// A single-server membership change, proposed with `Node::propose_member_change`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// Add a member (its id must not be a member yet).
    Add(Member),
    /// Remove the member with this id (it must be a member, and not the last one).
    Remove(NodeId),
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryPayload {
    /// Appended by every new leader at the start of its term (Raft §5.4.2, §8): committing it
    /// commits everything before it and unlocks reads and membership changes.
    Noop,
    /// An opaque state-machine command.
    Command(Vec<u8>),
    /// Configuration entry: the initial membership, written by `Node::bootstrap` at index 1.
    Bootstrap(Vec<Member>),
    /// Configuration entry: add one member.
    AddMember(Member),
    /// Configuration entry: remove one member.
    RemoveMember(NodeId),
}

impl EntryPayload {
    /// True for entries that change the membership (they take effect when appended).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            EntryPayload::Bootstrap(_) | EntryPayload::AddMember(_) | EntryPayload::RemoveMember(_)
        )
    }

    /// Approximate encoded size in bytes, used to cap message and batch sizes.
    pub fn approx_size(&self) -> usize {
        match self {
            EntryPayload::Noop | EntryPayload::RemoveMember(_) => 10,
            EntryPayload::Command(data) => data.len() + 5,
            EntryPayload::AddMember(m) => m.raft_addr.len() + m.http_addr.len() + 20,
            EntryPayload::Bootstrap(ms) => {
                ms.iter().map(|m| m.raft_addr.len() + m.http_addr.len() + 20).sum::<usize>() + 5
            }
        }
    }
}

/// A log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry's position in the log (from 1).
    pub index: Index,
    /// The term of the leader that created the entry.
    pub term: Term,
    /// What the entry carries.
    pub payload: EntryPayload,
}

impl Entry {
    /// Approximate encoded size in bytes (index, term and payload).
    pub fn approx_size(&self) -> usize {
        self.payload.approx_size() + 20
    }
}

/// A whole-state snapshot: the state machine's state after applying every entry up to and
/// including `last_index`, plus the membership in force at that index.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The last log index the snapshot covers.
    pub last_index: Index,
    /// The term of the entry at `last_index`.
    pub last_term: Term,
    /// The membership in force at `last_index` (sorted by id).
    pub members: Vec<Member>,
    /// The state machine's serialized state (opaque to the core).
    pub data: Vec<u8>,
}

/// The state that must be durable before the node answers a vote: the current term and the
/// vote cast in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// The candidate this node voted for in `term`, if any.
    pub vote: Option<NodeId>,
}
