//! The Raft node: a sans-IO state machine driven by [`Node::tick`], [`Node::step`] and the
//! client calls, whose outputs are drained with [`Node::ready`]. See the module essay in
//! `raft/mod.rs` for the protocol and the driver contract.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::membership::Membership;
use super::progress::{Progress, ReplicationState};
use super::rng::Rng;
use super::{
    Entry, EntryPayload, Envelope, Error, HardState, Index, Member, MemberChange, Message, NodeId,
    Result, Snapshot, Storage, Term,
};

/// Bytes of log read per batch when rebuilding the membership history at start-up.
const SCAN_BATCH_BYTES: usize = 1 << 20;

/// Terms and indexes above this are nonsense (they would take millennia to reach); messages
/// carrying them are dropped so that `+ 1` can never overflow.
const MAX_SANE: u64 = 1 << 62;

/// Whether the terms and indexes in a message are below [`MAX_SANE`].
fn env_is_sane(env: &Envelope) -> bool {
    let values: &[u64] = match &env.message {
        Message::PreVote { last_index, last_term } | Message::Vote { last_index, last_term } => {
            &[*last_index, *last_term]
        }
        Message::PreVoteResponse { .. } | Message::VoteResponse { .. } => &[],
        Message::Append { prev_index, prev_term, entries, commit, .. } => {
            let last = prev_index.saturating_add(entries.len() as u64);
            return [env.term, last, *prev_term, *commit].iter().all(|v| *v < MAX_SANE);
        }
        Message::AppendResponse { index, hint, .. } => &[*index, *hint],
        Message::InstallSnapshot { snapshot, .. } => &[snapshot.last_index, snapshot.last_term],
        Message::InstallSnapshotResponse { index, .. } => &[*index],
    };
    env.term < MAX_SANE && values.iter().all(|v| *v < MAX_SANE)
}

/// Node configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// The election timeout range in ticks, `[min, max)`: each timer draws a fresh timeout
    /// from it (Raft §5.2). `min` is also the check-quorum period and the vote-lease length.
    pub election_ticks: (u64, u64),
    /// Ticks between leader heartbeats; must be below `election_ticks.0`.
    pub heartbeat_ticks: u64,
    /// Soft cap on the entry bytes in one `Append` message (at least one entry is sent).
    pub max_append_bytes: usize,
    /// Maximum unacknowledged `Append` messages per follower while pipelining.
    pub max_inflight: usize,
    /// Soft cap on the entry bytes returned by one [`Node::ready`] as committed entries.
    pub max_apply_bytes: usize,
    /// Run a pre-vote round before each election (Raft thesis §9.6).
    pub pre_vote: bool,
    /// Leaders step down when they have not heard from a majority within `election_ticks.0`,
    /// and followers that heard from a leader within that time ignore higher-term vote
    /// requests (thesis §6.2, §4.2.3).
    pub check_quorum: bool,
    /// Seed of the node's random generator (election timeouts). Mixed with `id`, so every
    /// node may use the same seed.
    pub seed: u64,
}

impl Config {
    /// The default configuration for node `id`, meant for a 100 ms tick: elections after
    /// 1–2 s, heartbeats every 200 ms, 1 MiB appends, pre-vote and check-quorum on.
    pub fn new(id: NodeId) -> Self {
        Config {
            id,
            election_ticks: (10, 20),
            heartbeat_ticks: 2,
            max_append_bytes: 1 << 20,
            max_inflight: 64,
            max_apply_bytes: 8 << 20,
            pre_vote: true,
            check_quorum: true,
            seed: 0,
        }
    }

    /// Checks the configuration for values the core cannot work with.
    pub fn validate(&self) -> Result<()> {
        let (min, max) = self.election_ticks;
        if min == 0 || max <= min {
            return Err(Error::InvalidInput(format!("bad election_ticks ({min}, {max})")));
        }
        if self.heartbeat_ticks == 0 || self.heartbeat_ticks >= min {
            return Err(Error::InvalidInput(format!(
                "heartbeat_ticks {} must be in 1..{min}",
                self.heartbeat_ticks
            )));
        }
        if self.max_append_bytes == 0 || self.max_inflight == 0 || self.max_apply_bytes == 0 {
            return Err(Error::InvalidInput("size and inflight limits must be > 0".into()));
        }
        Ok(())
    }
}

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader (or waits for one). Brand-new and removed nodes stay followers.
    Follower,
    /// Asking for pre-votes; its term is unchanged.
    PreCandidate,
    /// Asking for votes in a new term.
    Candidate,
    /// Leads its term.
    Leader,
}

/// The volatile, observable state reported by [`Ready::soft_state`] when it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    /// The current term.
    pub term: Term,
    /// The node's role.
    pub role: Role,
    /// The leader this node knows of in `term`.
    pub leader: Option<NodeId>,
}

/// A linearizable read that may now be served: the state machine has applied at least
/// `index`, the commit index when the read was requested, and leadership was confirmed by a
/// quorum after the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// The caller's context from [`Node::read_index`].
    pub ctx: u64,
    /// The read index.
    pub index: Index,
}

/// The outputs accumulated since the previous call to [`Node::ready`]. Process the fields in
/// declaration order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Messages to send (any order; the core tolerates loss, duplication and reordering).
    pub messages: Vec<Envelope>,
    /// A snapshot to restore the state machine from, replacing its whole state. Restore it
    /// before applying `committed_entries` (which all come after it).
    pub snapshot: Option<Snapshot>,
    /// Committed entries to apply, in order, each exactly once. The core counts them as
    /// applied as soon as they are returned.
    pub committed_entries: Vec<Entry>,
    /// Reads that may be served now, once `committed_entries` are applied.
    pub read_states: Vec<ReadState>,
    /// Reads that will never become ready (the node stopped being leader), with the error to
    /// answer them with (`NotLeader`).
    pub dropped_reads: Vec<(u64, Error)>,
    /// The new term, role and leader, if any of them changed since the previous `Ready`. When
    /// the role leaves `Leader`, the driver fails its pending proposals with `NotLeader`
    /// (their outcome is unknown: they may still commit).
    pub soft_state: Option<SoftState>,
}

impl Ready {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Ready::default()
    }
}

/// A snapshot of the node's state, for status pages and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This node's id.
    pub id: NodeId,
    /// The node's role.
    pub role: Role,
    /// The current term.
    pub term: Term,
    /// The vote cast in `term`.
    pub vote: Option<NodeId>,
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    /// The commit index known to this node.
    pub commit: Index,
    /// The last index handed to the driver for applying (or restored from a snapshot).
    pub applied: Index,
    /// The first index in the log (the snapshot covers everything before it).
    pub first_index: Index,
    /// The last index in the log.
    pub last_index: Index,
    /// The membership in force (the last configuration entry appended, committed or not).
    pub members: Vec<Member>,
}

/// A read waiting for its leadership confirmation.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    /// The caller's context.
    ctx: u64,
    /// The commit index when the read started.
    index: Index,
    /// The ReadIndex round that must be acknowledged by a quorum.
    seq: u64,
}

/// State that only exists while leading.
#[derive(Debug)]
struct LeaderState {
    /// Replication progress of every other member of the current configuration.
    progress: BTreeMap<NodeId, Progress>,
    /// The index of this term's no-op: commit >= term_start means the leader has committed
    /// an entry in its term.
    term_start: Index,
    /// The current ReadIndex round number, carried by every `Append`.
    read_seq: u64,
    /// Reads received before `term_start` committed (their read index is not known yet).
    reads_waiting: Vec<u64>,
    /// Reads waiting for a quorum to acknowledge their round, oldest first.
    reads_pending: VecDeque<PendingRead>,
    /// A heartbeat round must be sent at the next `ready()` to confirm pending reads.
    read_broadcast: bool,
}

/// A Raft node. See the module docs.
pub struct Node<S: Storage> {
    /// The configuration.
    config: Config,
    /// Durable hard state, log and snapshot.
    storage: S,
    /// Election timeout randomness.
    rng: Rng,
    /// The current term (mirrors the durable hard state).
    term: Term,
    /// The vote cast in `term` (mirrors the durable hard state).
    vote: Option<NodeId>,
    /// The node's role.
    role: Role,
    /// The leader of `term`, if known.
    leader: Option<NodeId>,
    /// Pre-votes or votes granted in the current campaign (members only, self included).
    votes: BTreeSet<NodeId>,
    /// Leader-only state; `Some` iff `role == Leader`.
    lead: Option<LeaderState>,
    /// The configuration history of the uncompacted log.
    membership: Membership,
    /// The index of the last log entry (mirrors storage).
    last_index: Index,
    /// The term of the last log entry (mirrors storage).
    last_term: Term,
    /// The snapshot's last index (mirrors storage; 0 without a snapshot).
    snap_index: Index,
    /// The snapshot's last term.
    snap_term: Term,
    /// The highest index known to be committed (volatile).
    commit: Index,
    /// The highest index handed to the driver to apply, or restored from a snapshot.
    applied: Index,
    /// Ticks since the last election-timer reset (leader: since the last check-quorum round).
    election_elapsed: u64,
    /// The current randomized election timeout.
    election_timeout: u64,
    /// Ticks since the last heartbeat (leader only).
    heartbeat_elapsed: u64,
    /// Messages waiting for `ready()`.
    outbox: Vec<Envelope>,
    /// A snapshot the driver must restore its state machine from.
    restore: Option<Snapshot>,
    /// Confirmed reads waiting for `applied >= index`.
    reads_confirmed: Vec<ReadState>,
    /// Reads dropped since the last `ready()`.
    reads_dropped: Vec<(u64, Error)>,
    /// The soft state last reported by `ready()`.
    reported: SoftState,
}

impl<S: Storage> Node<S> {
    /// Creates a node from its storage: the term, vote, log and snapshot are loaded; all
    /// volatile state starts afresh (follower, no leader, commit and applied at the
    /// snapshot). If the storage holds a snapshot, the first `ready()` returns it so the
    /// driver restores its state machine.
    pub fn new(config: Config, storage: S) -> Result<Self> {
        config.validate()?;
        let hard_state = storage.hard_state()?;
        let snapshot = storage.snapshot()?;
        let (snap_index, snap_term, base) = match &snapshot {
            Some(s) => (s.last_index, s.last_term, s.members.clone()),
            None => (0, 0, Vec::new()),
        };
        let first_index = storage.first_index()?;
        let last_index = storage.last_index()?;
        if first_index != snap_index + 1 || last_index < snap_index {
            return Err(Error::Internal(format!(
                "storage log {first_index}..={last_index} does not follow snapshot {snap_index}"
            )));
        }
        let last_term = storage
            .term(last_index)?
            .ok_or_else(|| Error::Internal(format!("no term for last index {last_index}")))?;
        let mut membership = Membership::new(snap_index, base);
        let mut next = first_index;
        while next <= last_index {
            let batch = storage.entries(next, last_index + 1, SCAN_BATCH_BYTES)?;
            let Some(last) = batch.last() else {
                return Err(Error::Internal(format!("storage returned no entry at {next}")));
            };
            next = last.index + 1;
            for entry in &batch {
                membership.append(entry.index, &entry.payload);
            }
        }
        let rng = Rng::new(config.seed ^ config.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let reported = SoftState { term: hard_state.term, role: Role::Follower, leader: None };
        let mut node = Node {
            config,
            storage,
            rng,
            term: hard_state.term,
            vote: hard_state.vote,
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            lead: None,
            membership,
            last_index,
            last_term,
            snap_index,
            snap_term,
            commit: snap_index,
            applied: snap_index,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            outbox: Vec::new(),
            restore: snapshot,
            reads_confirmed: Vec::new(),
            reads_dropped: Vec::new(),
            reported,
        };
        node.reset_election_timer();
        Ok(node)
    }

    /// Creates a new cluster on this pristine node: persists term 1 and writes the initial
    /// configuration entry `Bootstrap(members)` at index 1, term 1. `members` must include
    /// this node. The node then elects itself after an election timeout (or at once with
    /// [`Node::campaign`]). Call it on exactly one node; the other members start empty and
    /// learn the configuration from the leader.
    pub fn bootstrap(&mut self, members: Vec<Member>) -> Result<()> {
        if self.term != 0 || self.last_index != 0 || self.snap_index != 0 {
            return Err(Error::InvalidInput("node is already initialized".into()));
        }
        if !members.iter().any(|m| m.id == self.id()) {
            return Err(Error::InvalidInput(format!("members do not include node {}", self.id())));
        }
        let ids: BTreeSet<NodeId> = members.iter().map(|m| m.id).collect();
        if ids.len() != members.len() {
            return Err(Error::InvalidInput("duplicate member ids".into()));
        }
        self.set_hard_state(1, None)?;
        self.append_entries(&[Entry {
            index: 1,
            term: 1,
            payload: EntryPayload::Bootstrap(members),
        }])
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// The node's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The leader this node knows of.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The storage (read-only), e.g. for inspection in tests.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Consumes the node and returns its storage (to simulate a restart in tests).
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// The node's status.
    pub fn status(&self) -> Status {
        Status {
            id: self.id(),
            role: self.role,
            term: self.term,
            vote: self.vote,
            leader: self.leader,
            commit: self.commit,
            applied: self.applied,
            first_index: self.snap_index + 1,
            last_index: self.last_index,
            members: self.membership.current().to_vec(),
        }
    }

    /// Advances logical time by one tick: heartbeats and check-quorum on the leader,
    /// election timeouts elsewhere. Nodes outside the configuration never campaign.
    pub fn tick(&mut self) -> Result<()> {
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        if self.role == Role::Leader {
            self.heartbeat_elapsed += 1;
            if self.heartbeat_elapsed >= self.config.heartbeat_ticks {
                self.heartbeat_elapsed = 0;
                self.broadcast_heartbeat(true)?;
            }
            if self.election_elapsed >= self.config.election_ticks.0 {
                self.election_elapsed = 0;
                if self.config.check_quorum && !self.quorum_active() {
                    return self.become_follower(self.term, None);
                }
                if let Some(lead) = &mut self.lead {
                    lead.progress.values_mut().for_each(|p| p.recent_active = false);
                }
            }
        } else if self.election_elapsed >= self.election_timeout
            && self.membership.contains(self.id())
        {
            self.start_campaign()?;
        }
        Ok(())
    }

    /// Starts a campaign now (pre-vote first if enabled), without waiting for the election
    /// timeout. A no-op on the leader; an error on a node outside the configuration.
    pub fn campaign(&mut self) -> Result<()> {
        if self.role == Role::Leader {
            return Ok(());
        }
        if !self.membership.contains(self.id()) {
            return Err(Error::InvalidInput("not a member of the configuration".into()));
        }
        self.start_campaign()
    }

    /// Processes a message from another node. Messages for another id, from this id, from
    /// stale terms or that make no sense are ignored (stale leaders are told the newer term).
    /// An `Err` is a storage failure or a safety violation: the node must be dropped.
    pub fn step(&mut self, env: Envelope) -> Result<()> {
        if env.to != self.id() || env.from == self.id() || !env_is_sane(&env) {
            return Ok(());
        }
        let from = env.from;
        // Pre-vote traffic carries the prospective term, so it bypasses the term rules below.
        match env.message {
            Message::PreVote { last_index, last_term } => {
                return self.handle_pre_vote(from, env.term, last_index, last_term);
            }
            Message::PreVoteResponse { granted: true } => {
                if self.role == Role::PreCandidate && env.term == self.term + 1 {
                    self.count_vote(from)?;
                }
                return Ok(());
            }
            _ => {}
        }

        if env.term > self.term {
            match env.message {
                // A follower that heard from its leader recently ignores vote requests with a
                // higher term: the candidate is disruptive (e.g. a removed or rejoining node).
                Message::Vote { .. } if self.config.check_quorum && self.in_lease() => {
                    return Ok(());
                }
                Message::Append { .. } | Message::InstallSnapshot { .. } => {
                    self.become_follower(env.term, Some(from))?
                }
                _ => self.become_follower(env.term, None)?,
            }
        } else if env.term < self.term {
            // Tell a stale leader about the newer term so it steps down.
            if matches!(env.message, Message::Append { .. } | Message::InstallSnapshot { .. }) {
                let reject =
                    Message::AppendResponse { success: false, index: 0, hint: 0, read_seq: 0 };
                self.send(from, reject);
            }
            return Ok(());
        }

        match env.message {
            Message::PreVote { .. } | Message::PreVoteResponse { .. } => Ok(()),
            Message::Vote { last_index, last_term } => {
                self.handle_vote(from, last_index, last_term)
            }
            Message::VoteResponse { granted } => {
                if granted && self.role == Role::Candidate {
                    self.count_vote(from)?;
                }
                Ok(())
            }
            Message::Append { prev_index, prev_term, entries, commit, read_seq } => {
                self.handle_append(from, prev_index, prev_term, entries, commit, read_seq)
            }
            Message::AppendResponse { success, index, hint, read_seq } => {
                self.handle_append_response(from, success, index, hint, read_seq)
            }
            Message::InstallSnapshot { snapshot, read_seq } => {
                self.handle_install_snapshot(from, snapshot, read_seq)
            }
            Message::InstallSnapshotResponse { index, read_seq } => {
                self.handle_install_snapshot_response(from, index, read_seq)
            }
        }
    }

    /// Proposes a command. On the leader, appends it (durably) and starts replicating it;
    /// returns its index and term. The command is committed when a `Ready` returns a committed
    /// entry with this index **and** term (another term at that index means it was lost).
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(Index, Term)> {
        let mut out = self.propose_payloads(vec![EntryPayload::Command(data)])?;
        out.pop().ok_or_else(|| Error::Internal("empty proposal result".into()))
    }

    /// Proposes many commands with a single storage write, returning each one's index and
    /// term in order. An empty batch is a no-op.
    pub fn propose_batch(&mut self, data: Vec<Vec<u8>>) -> Result<Vec<(Index, Term)>> {
        self.propose_payloads(data.into_iter().map(EntryPayload::Command).collect())
    }

    /// Proposes a single-server membership change. Refused unless this node is the leader,
    /// it has committed an entry in its term (`LeaderNotReady`), and no other change is
    /// uncommitted (`ChangeInProgress`). The change takes effect on each node as soon as the
    /// entry is appended there. A leader that removes itself keeps leading until the change
    /// commits, then steps down.
    pub fn propose_member_change(&mut self, change: MemberChange) -> Result<(Index, Term)> {
        let lead = self.lead.as_ref().ok_or(Error::NotLeader { leader: self.leader })?;
        if self.commit < lead.term_start {
            return Err(Error::LeaderNotReady);
        }
        if self.membership.index() > self.commit {
            return Err(Error::ChangeInProgress);
        }
        let payload = match change {
            MemberChange::Add(member) => {
                if self.membership.contains(member.id) {
                    return Err(Error::InvalidInput(format!("node {} is a member", member.id)));
                }
                EntryPayload::AddMember(member)
            }
            MemberChange::Remove(id) => {
                if !self.membership.contains(id) {
                    return Err(Error::InvalidInput(format!("node {id} is not a member")));
                }
                if self.membership.current().len() == 1 {
                    return Err(Error::InvalidInput("cannot remove the last member".into()));
                }
                EntryPayload::RemoveMember(id)
            }
        };
        let mut out = self.propose_payloads(vec![payload])?;
        out.pop().ok_or_else(|| Error::Internal("empty proposal result".into()))
    }

    /// Requests a linearizable read (ReadIndex, Raft thesis §6.4). On the leader, the read's
    /// index is the commit index once the leader has committed an entry in its term; a
    /// heartbeat round then confirms leadership. When a quorum has answered and the driver has
    /// been handed every entry up to the read index, `ready()` returns a [`ReadState`] with
    /// `ctx`. If the node stops leading first, `ready()` returns `ctx` in `dropped_reads`.
    /// Fails with `NotLeader` on other nodes.
    pub fn read_index(&mut self, ctx: u64) -> Result<()> {
        let Some(lead) = &mut self.lead else {
            return Err(Error::NotLeader { leader: self.leader });
        };
        if self.commit < lead.term_start {
            lead.reads_waiting.push(ctx);
            return Ok(());
        }
        self.start_read(ctx);
        Ok(())
    }

    /// Compacts the log: stores a snapshot of the state machine at `index` (`data` must be
    /// the state after applying exactly the entries up to `index`) and drops the entries up
    /// to `index`. `index` must not exceed the applied index; at or below the current
    /// snapshot it is a no-op.
    pub fn compact(&mut self, index: Index, data: Vec<u8>) -> Result<()> {
        if index <= self.snap_index {
            return Ok(());
        }
        if index > self.applied {
            return Err(Error::InvalidInput(format!(
                "cannot compact at {index} beyond applied index {}",
                self.applied
            )));
        }
        let last_term = self.term_of(index)?;
        let members = self.membership.at(index).to_vec();
        self.storage.compact(Snapshot { last_index: index, last_term, members, data })?;
        self.snap_index = index;
        self.snap_term = last_term;
        self.membership.compact(index);
        Ok(())
    }

    /// True when `ready()` would return something.
    pub fn has_ready(&self) -> bool {
        !self.outbox.is_empty()
            || self.restore.is_some()
            || self.commit > self.applied
            || !self.reads_dropped.is_empty()
            || self.reads_confirmed.iter().any(|r| r.index <= self.applied)
            || self.lead.as_ref().is_some_and(|l| l.read_broadcast)
            || self.soft_state() != self.reported
    }

    /// Drains the outputs: messages, a snapshot to restore, committed entries (counted as
    /// applied once returned), ready and dropped reads, and the soft state if it changed.
    /// Call it after every `tick`/`step`/`propose`/`read_index`, until `has_ready()` is false.
    pub fn ready(&mut self) -> Result<Ready> {
        if self.lead.as_ref().is_some_and(|l| l.read_broadcast) {
            self.broadcast_heartbeat(false)?;
        }
        let mut ready = Ready {
            messages: std::mem::take(&mut self.outbox),
            snapshot: self.restore.take(),
            ..Ready::default()
        };
        if self.commit > self.applied {
            let entries = self.storage.entries(
                self.applied + 1,
                self.commit + 1,
                self.config.max_apply_bytes,
            )?;
            if let Some(last) = entries.last() {
                self.applied = last.index;
            }
            ready.committed_entries = entries;
        }
        let applied = self.applied;
        let (done, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.reads_confirmed).into_iter().partition(|r| r.index <= applied);
        ready.read_states = done;
        self.reads_confirmed = waiting;
        ready.dropped_reads = std::mem::take(&mut self.reads_dropped);
        let soft = self.soft_state();
        if soft != self.reported {
            self.reported = soft;
            ready.soft_state = Some(soft);
        }
        Ok(ready)
    }

    // ---- state transitions ------------------------------------------------------------

    fn soft_state(&self) -> SoftState {
        SoftState { term: self.term, role: self.role, leader: self.leader }
    }

    /// Persists term and vote, then updates the in-memory copies.
    fn set_hard_state(&mut self, term: Term, vote: Option<NodeId>) -> Result<()> {
        self.storage.set_hard_state(HardState { term, vote })?;
        self.term = term;
        self.vote = vote;
        Ok(())
    }

    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let (min, max) = self.config.election_ticks;
        self.election_timeout = self.rng.range(min, max);
    }

    /// True while this node believes a leader is alive (it is the leader, or it heard from
    /// one within the minimum election timeout).
    fn in_lease(&self) -> bool {
        self.role == Role::Leader
            || (self.leader.is_some() && self.election_elapsed < self.config.election_ticks.0)
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) -> Result<()> {
        if term > self.term {
            self.set_hard_state(term, None)?;
        }
        if let Some(lead) = self.lead.take() {
            let error = Error::NotLeader { leader };
            let waiting = lead.reads_waiting.into_iter();
            let pending = lead.reads_pending.into_iter().map(|r| r.ctx);
            self.reads_dropped.extend(waiting.chain(pending).map(|ctx| (ctx, error.clone())));
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.reset_election_timer();
        Ok(())
    }

    fn start_campaign(&mut self) -> Result<()> {
        if self.config.pre_vote { self.become_pre_candidate() } else { self.become_candidate() }
    }

    fn become_pre_candidate(&mut self) -> Result<()> {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes = BTreeSet::from([self.id()]);
        self.reset_election_timer();
        let message = Message::PreVote { last_index: self.last_index, last_term: self.last_term };
        for peer in self.peers() {
            self.send_with_term(peer, self.term + 1, message.clone());
        }
        self.check_votes()
    }

    fn become_candidate(&mut self) -> Result<()> {
        self.set_hard_state(self.term + 1, Some(self.id()))?;
        self.role = Role::Candidate;
        self.leader = None;
        self.votes = BTreeSet::from([self.id()]);
        self.reset_election_timer();
        let message = Message::Vote { last_index: self.last_index, last_term: self.last_term };
        for peer in self.peers() {
            self.send(peer, message.clone());
        }
        self.check_votes()
    }

    fn become_leader(&mut self) -> Result<()> {
        self.role = Role::Leader;
        self.leader = Some(self.id());
        self.votes.clear();
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        let noop_index = self.last_index + 1;
        let progress = self.peers().into_iter().map(|p| (p, Progress::new(noop_index))).collect();
        self.lead = Some(LeaderState {
            progress,
            term_start: noop_index,
            read_seq: 0,
            reads_waiting: Vec::new(),
            reads_pending: VecDeque::new(),
            read_broadcast: false,
        });
        self.append_entries(&[Entry {
            index: noop_index,
            term: self.term,
            payload: EntryPayload::Noop,
        }])?;
        for peer in self.peers() {
            self.send_append(peer)?;
        }
        self.maybe_commit()
    }

    fn count_vote(&mut self, from: NodeId) -> Result<()> {
        if self.membership.contains(from) {
            self.votes.insert(from);
        }
        self.check_votes()
    }

    /// Moves on if the votes of the current campaign form a quorum.
    fn check_votes(&mut self) -> Result<()> {
        let granted = self.votes.iter().filter(|id| self.membership.contains(**id)).count();
        if granted < self.quorum() {
            return Ok(());
        }
        match self.role {
            Role::PreCandidate => self.become_candidate(),
            Role::Candidate => self.become_leader(),
            Role::Follower | Role::Leader => Ok(()),
        }
    }

    // ---- elections --------------------------------------------------------------------

    fn log_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        (last_term, last_index) >= (self.last_term, self.last_index)
    }

    fn handle_pre_vote(
        &mut self,
        from: NodeId,
        term: Term,
        last_index: Index,
        last_term: Term,
    ) -> Result<()> {
        let granted =
            term > self.term && !self.in_lease() && self.log_up_to_date(last_index, last_term);
        let reply_term = if granted { term } else { self.term };
        self.send_with_term(from, reply_term, Message::PreVoteResponse { granted });
        Ok(())
    }

    fn handle_vote(&mut self, from: NodeId, last_index: Index, last_term: Term) -> Result<()> {
        let can_vote = self.vote == Some(from) || (self.vote.is_none() && self.leader.is_none());
        let granted = can_vote && self.log_up_to_date(last_index, last_term);
        if granted {
            if self.vote != Some(from) {
                // Durable before the answer leaves: a restart must not vote twice.
                self.set_hard_state(self.term, Some(from))?;
            }
            self.election_elapsed = 0;
        }
        self.send(from, Message::VoteResponse { granted });
        Ok(())
    }

    // ---- replication: follower side -----------------------------------------------------

    /// Follows `from`, the leader of the current term.
    fn follow(&mut self, from: NodeId) -> Result<()> {
        match self.role {
            Role::Follower => self.leader = Some(from),
            Role::PreCandidate | Role::Candidate => self.become_follower(self.term, Some(from))?,
            Role::Leader => {}
        }
        self.election_elapsed = 0;
        Ok(())
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
        read_seq: u64,
    ) -> Result<()> {
        if self.role == Role::Leader {
            return Ok(()); // Two leaders in one term cannot happen; ignore nonsense.
        }
        let well_formed = entries.iter().enumerate().all(|(i, e)| {
            prev_index.checked_add(i as u64 + 1) == Some(e.index) && e.term <= self.term
        });
        if !well_formed {
            return Ok(());
        }
        self.follow(from)?;
        let reject =
            |hint| Message::AppendResponse { success: false, index: prev_index, hint, read_seq };

        // Entries covered by our snapshot are committed, hence identical: skip them.
        let (mut base, mut base_term, mut entries) = (prev_index, prev_term, entries);
        if base < self.snap_index {
            let skip = (self.snap_index - base) as usize;
            entries = if skip >= entries.len() { Vec::new() } else { entries.split_off(skip) };
            base = self.snap_index;
            base_term = self.snap_term;
        }
        if base > self.last_index {
            self.send(from, reject(self.last_index));
            return Ok(());
        }
        if self.storage.term(base)? != Some(base_term) {
            let hint = self.conflict_hint(base)?;
            self.send(from, reject(hint));
            return Ok(());
        }
        // Skip entries we already have; truncate at the first conflict (never committed).
        let mut start = entries.len();
        for (k, entry) in entries.iter().enumerate() {
            if entry.index > self.last_index {
                start = k;
                break;
            }
            if self.storage.term(entry.index)? != Some(entry.term) {
                if entry.index <= self.commit {
                    return Err(Error::Internal(format!(
                        "leader {from} conflicts with committed entry {}",
                        entry.index
                    )));
                }
                self.truncate_suffix(entry.index)?;
                start = k;
                break;
            }
        }
        if start < entries.len() {
            // Durable before the answer leaves.
            self.append_entries(&entries[start..])?;
        }
        let matched = base + entries.len() as u64;
        self.commit = self.commit.max(leader_commit.min(matched));
        self.send(
            from,
            Message::AppendResponse { success: true, index: matched, hint: 0, read_seq },
        );
        Ok(())
    }

    /// After a mismatch at `index` (within our log): suggest retrying before the start of our
    /// conflicting term, but never below our commit index (committed entries match).
    fn conflict_hint(&self, index: Index) -> Result<Index> {
        let floor = self.commit.max(self.snap_index);
        if index <= floor {
            return Ok(index.saturating_sub(1));
        }
        let conflict_term = self.storage.term(index)?;
        let mut i = index;
        while i > floor + 1 && self.storage.term(i - 1)? == conflict_term {
            i -= 1;
        }
        Ok((i - 1).max(floor))
    }

    fn handle_install_snapshot(
        &mut self,
        from: NodeId,
        snapshot: Snapshot,
        read_seq: u64,
    ) -> Result<()> {
        if self.role == Role::Leader || snapshot.last_index == 0 || snapshot.last_term > self.term {
            return Ok(());
        }
        self.follow(from)?;
        let index = snapshot.last_index;
        if index <= self.commit {
            // Nothing new; our log matches the leader's up to our commit index.
        } else if self.storage.term(index)? == Some(snapshot.last_term) {
            // Our log already has the snapshot's last entry: everything up to it is committed
            // and will be applied from the log.
            self.commit = index;
        } else {
            self.storage.install_snapshot(snapshot.clone())?;
            self.snap_index = index;
            self.snap_term = snapshot.last_term;
            self.last_index = index;
            self.last_term = snapshot.last_term;
            self.membership = Membership::new(index, snapshot.members.clone());
            self.commit = index;
            self.applied = index;
            self.restore = Some(snapshot);
        }
        // In every case our log now matches the leader's up to our commit index.
        self.send(from, Message::InstallSnapshotResponse { index: self.commit, read_seq });
        Ok(())
    }

    // ---- replication: leader side -------------------------------------------------------

    fn propose_payloads(&mut self, payloads: Vec<EntryPayload>) -> Result<Vec<(Index, Term)>> {
        if self.role != Role::Leader {
            return Err(Error::NotLeader { leader: self.leader });
        }
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let (first, term) = (self.last_index + 1, self.term);
        let entries: Vec<Entry> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| Entry { index: first + i as u64, term, payload })
            .collect();
        let out = entries.iter().map(|e| (e.index, e.term)).collect();
        self.append_entries(&entries)?;
        for peer in self.peers() {
            self.send_append(peer)?;
        }
        self.maybe_commit()?;
        Ok(out)
    }

    fn handle_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        index: Index,
        hint: Index,
        read_seq: u64,
    ) -> Result<()> {
        let last_index = self.last_index;
        let Some(pr) = self.lead.as_mut().and_then(|l| l.progress.get_mut(&from)) else {
            return Ok(());
        };
        pr.recent_active = true;
        pr.read_ack = pr.read_ack.max(read_seq);
        if success {
            let index = index.min(last_index);
            pr.matched = pr.matched.max(index);
            pr.inflight.retain(|&i| i > index);
            match pr.state {
                // The probe point (or beyond) matched: start pipelining.
                ReplicationState::Probe if index + 1 >= pr.next => pr.become_replicate(),
                // Waiting for the snapshot's answer (or a stall) to move on.
                ReplicationState::Snapshot => {}
                _ => pr.next = pr.next.max(pr.matched + 1),
            }
            self.maybe_commit()?;
        } else {
            // Ignore stale rejections: of entries known to match, or of an old probe.
            let current = match pr.state {
                ReplicationState::Replicate => index > pr.matched && index < pr.next,
                ReplicationState::Probe => index > pr.matched && index == pr.next - 1,
                ReplicationState::Snapshot => false,
            };
            if current {
                pr.become_probe(hint.saturating_add(1).min(index));
            }
        }
        self.check_reads();
        if self.lead.as_ref().is_some_and(|l| l.progress.contains_key(&from)) {
            self.send_append(from)?;
        }
        Ok(())
    }

    fn handle_install_snapshot_response(
        &mut self,
        from: NodeId,
        index: Index,
        read_seq: u64,
    ) -> Result<()> {
        let last_index = self.last_index;
        let Some(pr) = self.lead.as_mut().and_then(|l| l.progress.get_mut(&from)) else {
            return Ok(());
        };
        pr.recent_active = true;
        pr.read_ack = pr.read_ack.max(read_seq);
        pr.matched = pr.matched.max(index.min(last_index));
        if pr.state == ReplicationState::Snapshot {
            let next = pr.matched + 1;
            pr.become_probe(next);
        } else {
            pr.next = pr.next.max(pr.matched + 1);
        }
        self.maybe_commit()?;
        self.check_reads();
        if self.lead.as_ref().is_some_and(|l| l.progress.contains_key(&from)) {
            self.send_append(from)?;
        }
        Ok(())
    }

    /// Sends what `peer` needs, as flow control allows: a snapshot if its next entry is
    /// compacted, one probe in `Probe`, pipelined batches in `Replicate`.
    fn send_append(&mut self, peer: NodeId) -> Result<()> {
        let Some(lead) = self.lead.as_ref() else { return Ok(()) };
        let Some(pr) = lead.progress.get(&peer) else { return Ok(()) };
        let read_seq = lead.read_seq;
        let (state, paused, mut next, inflight) = (pr.state, pr.paused, pr.next, pr.inflight.len());
        if state == ReplicationState::Snapshot || (state == ReplicationState::Probe && paused) {
            return Ok(());
        }
        if next <= self.snap_index {
            let snapshot = self
                .storage
                .snapshot()?
                .ok_or_else(|| Error::Internal("log compacted but no snapshot".into()))?;
            if let Some(pr) = self.progress_mut(peer) {
                pr.state = ReplicationState::Snapshot;
                pr.paused = true;
                pr.inflight.clear();
            }
            self.send(peer, Message::InstallSnapshot { snapshot, read_seq });
            return Ok(());
        }
        let mut sent = Vec::new();
        loop {
            let entries = if next <= self.last_index {
                self.storage.entries(next, self.last_index + 1, self.config.max_append_bytes)?
            } else {
                Vec::new()
            };
            if state == ReplicationState::Replicate && entries.is_empty() {
                break;
            }
            let prev_index = next - 1;
            let prev_term = self.term_of(prev_index)?;
            let last = entries.last().map_or(prev_index, |e| e.index);
            self.send(
                peer,
                Message::Append { prev_index, prev_term, entries, commit: self.commit, read_seq },
            );
            sent.push(last);
            next = last + 1;
            if state == ReplicationState::Probe || inflight + sent.len() >= self.config.max_inflight
            {
                break;
            }
        }
        if let Some(pr) = self.progress_mut(peer) {
            if state == ReplicationState::Probe {
                pr.paused = true;
            } else {
                pr.next = next;
                pr.inflight.extend(sent);
            }
        }
        Ok(())
    }

    /// Sends a heartbeat to every follower. With `retransmit` (the periodic heartbeat),
    /// followers that made no progress during a whole interval are probed again, and paused
    /// probes are resent.
    fn broadcast_heartbeat(&mut self, retransmit: bool) -> Result<()> {
        let Some(lead) = self.lead.as_mut() else { return Ok(()) };
        lead.read_broadcast = false;
        let read_seq = lead.read_seq;
        let last_index = self.last_index;
        let mut beats = Vec::new();
        for (&peer, pr) in lead.progress.iter_mut() {
            if retransmit {
                let stalled = pr.matched == pr.matched_at_heartbeat && pr.matched < last_index;
                pr.matched_at_heartbeat = pr.matched;
                match pr.state {
                    // Resend an unanswered probe.
                    ReplicationState::Probe => pr.paused = false,
                    // A lost append or snapshot: probe again from the known match point.
                    ReplicationState::Replicate | ReplicationState::Snapshot if stalled => {
                        let next = pr.matched + 1;
                        pr.become_probe(next);
                    }
                    ReplicationState::Replicate | ReplicationState::Snapshot => {}
                }
            }
            beats.push((peer, pr.matched));
        }
        for (peer, matched) in beats {
            // Probe at the known match point so heartbeats never cause spurious rejections.
            let (prev_index, prev_term) = match self.storage.term(matched)? {
                Some(term) => (matched, term),
                None => (0, 0),
            };
            let message = Message::Append {
                prev_index,
                prev_term,
                entries: Vec::new(),
                commit: self.commit,
                read_seq,
            };
            self.send(peer, message);
            if retransmit {
                self.send_append(peer)?;
            }
        }
        Ok(())
    }

    /// Advances the commit index to the highest index stored on a quorum, if that entry is
    /// from the current term (Raft §5.4.2: older entries commit only indirectly).
    fn maybe_commit(&mut self) -> Result<()> {
        let Some(lead) = self.lead.as_ref() else { return Ok(()) };
        let members = self.membership.current();
        if members.is_empty() {
            return Ok(());
        }
        let mut matched: Vec<Index> = members
            .iter()
            .map(|m| {
                if m.id == self.config.id {
                    self.last_index
                } else {
                    lead.progress.get(&m.id).map_or(0, |p| p.matched)
                }
            })
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let quorum_index = matched[members.len() / 2];
        if quorum_index <= self.commit || self.storage.term(quorum_index)? != Some(self.term) {
            return Ok(());
        }
        self.commit = quorum_index;
        // The leader has now committed an entry in its term: start the waiting reads.
        if let Some(lead) = self.lead.as_mut()
            && self.commit >= lead.term_start
            && !lead.reads_waiting.is_empty()
        {
            for ctx in std::mem::take(&mut lead.reads_waiting) {
                self.start_read(ctx);
            }
        }
        // A leader removed from the configuration steps down once the removal commits (after
        // telling the followers the new commit index).
        if !self.membership.contains(self.id()) && self.commit >= self.membership.index() {
            self.broadcast_heartbeat(false)?;
            self.become_follower(self.term, None)?;
        }
        Ok(())
    }

    fn start_read(&mut self, ctx: u64) {
        let commit = self.commit;
        let Some(lead) = self.lead.as_mut() else { return };
        lead.read_seq += 1;
        lead.reads_pending.push_back(PendingRead { ctx, index: commit, seq: lead.read_seq });
        lead.read_broadcast = true;
        self.check_reads();
    }

    /// Confirms the pending reads whose round a quorum has acknowledged.
    fn check_reads(&mut self) {
        let Some(lead) = self.lead.as_mut() else { return };
        if lead.reads_pending.is_empty() {
            return;
        }
        let members = self.membership.current();
        if members.is_empty() {
            return;
        }
        let mut acks: Vec<u64> = members
            .iter()
            .map(|m| {
                if m.id == self.config.id {
                    u64::MAX
                } else {
                    lead.progress.get(&m.id).map_or(0, |p| p.read_ack)
                }
            })
            .collect();
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let acked = acks[members.len() / 2];
        while let Some(read) = lead.reads_pending.front() {
            if read.seq > acked {
                break;
            }
            self.reads_confirmed.push(ReadState { ctx: read.ctx, index: read.index });
            lead.reads_pending.pop_front();
        }
        if lead.reads_pending.is_empty() {
            lead.read_broadcast = false;
        }
    }

    /// Whether a quorum (self included if a member) was heard from since the last round.
    fn quorum_active(&self) -> bool {
        let Some(lead) = self.lead.as_ref() else { return false };
        let active = self
            .membership
            .ids()
            .filter(|id| *id == self.id() || lead.progress.get(id).is_some_and(|p| p.recent_active))
            .count();
        active >= self.quorum()
    }

    // ---- log helpers --------------------------------------------------------------------

    /// Appends entries durably and tracks configuration entries (in force immediately).
    fn append_entries(&mut self, entries: &[Entry]) -> Result<()> {
        let Some(last) = entries.last() else { return Ok(()) };
        self.storage.append(entries)?;
        self.last_index = last.index;
        self.last_term = last.term;
        let mut changed = false;
        for entry in entries {
            changed |= self.membership.append(entry.index, &entry.payload);
        }
        if changed {
            self.sync_progress();
        }
        Ok(())
    }

    /// Durably drops the entries from `from` on, rolling the configuration back with them.
    fn truncate_suffix(&mut self, from: Index) -> Result<()> {
        self.storage.truncate_suffix(from)?;
        self.membership.truncate(from);
        self.last_index = from - 1;
        self.last_term = self.term_of(from - 1)?;
        self.sync_progress();
        Ok(())
    }

    /// Makes the leader's progress map match the configuration in force.
    fn sync_progress(&mut self) {
        let peers = self.peers();
        let next = self.last_index + 1;
        let Some(lead) = self.lead.as_mut() else { return };
        lead.progress.retain(|id, _| peers.contains(id));
        for peer in peers {
            lead.progress.entry(peer).or_insert_with(|| Progress::new(next));
        }
    }

    fn term_of(&self, index: Index) -> Result<Term> {
        self.storage
            .term(index)?
            .ok_or_else(|| Error::Internal(format!("no term for index {index}")))
    }

    fn progress_mut(&mut self, peer: NodeId) -> Option<&mut Progress> {
        self.lead.as_mut().and_then(|l| l.progress.get_mut(&peer))
    }

    /// The other members of the configuration in force.
    fn peers(&self) -> Vec<NodeId> {
        self.membership.ids().filter(|id| *id != self.id()).collect()
    }

    /// The votes or acknowledgements needed: a majority of the configuration in force.
    fn quorum(&self) -> usize {
        self.membership.current().len() / 2 + 1
    }

    fn send(&mut self, to: NodeId, message: Message) {
        self.send_with_term(to, self.term, message);
    }

    fn send_with_term(&mut self, to: NodeId, term: Term, message: Message) {
        self.outbox.push(Envelope { from: self.id(), to, term, message });
    }
}
