//! Raft-lite: the consensus core that replicates the metastore between meta nodes.
//!
//! The core is sans-IO. [`Node`] knows nothing of sockets, sled, threads or the wall clock: the
//! driver (the meta node's server loop) feeds it time with [`Node::tick`], peer messages with
//! [`Node::step`] and client requests with [`Node::propose`], [`Node::propose_batch`],
//! [`Node::propose_member_change`] and [`Node::read_index`], and drains its outputs with
//! [`Node::ready`]. The only randomness is a generator seeded from [`Config::seed`], so a run is
//! a pure function of its inputs: the simulation in `sim.rs` replays any failure from its seed.
//! Durable state goes through the synchronous [`Storage`] trait ([`MemStorage`] in memory; the
//! sled store elsewhere in the crate).
//!
//! References: "In Search of an Understandable Consensus Algorithm" (Ongaro and Ousterhout,
//! 2014; "§" below) and Ongaro's thesis "Consensus: Bridging Theory and Practice" (2014,
//! "thesis §").
//!
//! LEADER ELECTION
//!
//! Every node starts as a follower. A follower that hears nothing from a leader for its election
//! timeout (drawn from `Config::election_ticks` each time the timer resets, §5.2) campaigns, but
//! only if it is a member of the configuration in force: brand-new and removed nodes never do.
//!
//! With `pre_vote` (thesis §9.6) it first asks for pre-votes for `term + 1` without changing any
//! state; a node grants one only if it is not leading, has not heard from a leader within the
//! minimum election timeout, and the candidate's log is at least as up to date as its own. Only
//! with a quorum of pre-votes does the node increment its term, vote for itself, persist both,
//! and ask for real votes. A node that rejoins after a partition therefore cannot depose a
//! healthy leader by bumping its term.
//!
//! A vote is granted at most once per term, only to a candidate whose log is at least as up to
//! date (higher last term, or equal last term and last index at least ours: the election
//! restriction of §5.4.1), and only if no leader is known in this term. **The term and vote are
//! persisted through `Storage::set_hard_state` before the `VoteResponse` is emitted**, so a
//! restarted node cannot vote twice in one term. With `check_quorum`, a node that heard from a
//! leader within the minimum election timeout also ignores higher-term `Vote` requests
//! (thesis §4.2.3). A candidate with votes from a majority of the configuration becomes leader.
//!
//! Any message with a higher term makes the receiver adopt that term (persisted, vote cleared)
//! and follow. Messages from lower terms are dropped, except that a stale leader's `Append` or
//! `InstallSnapshot` is answered with the newer term, which makes it step down.
//!
//! REPLICATION AND CONSENSUS
//!
//! A new leader appends a `Noop` entry in its term (§5.4.2, §8) and replicates its log with
//! `Append` messages carrying `prev_index`/`prev_term`. A follower accepts an append only if its
//! log has an entry at `prev_index` with `prev_term` (log matching, §5.3); it skips the entries
//! it already has, truncates its log at the first conflicting entry (an uncommitted suffix: a
//! conflict with a committed entry is reported as [`Error::Internal`] and nothing is
//! truncated), appends the rest, and **answers only after the entries are durable**. On a
//! mismatch it answers with a hint (the index before its conflicting term, never below its
//! commit index) so the leader backs up a whole term per round trip.
//!
//! The leader tracks each follower's progress: `Probe` (one append at a time until the match
//! point is found), `Replicate` (entries pipelined in batches of at most `max_append_bytes`,
//! `max_inflight` unacknowledged messages) and `Snapshot`. Heartbeats (every `heartbeat_ticks`)
//! are empty appends probing at the follower's known match point, so they never cause spurious
//! rejections; a follower that made no progress during a whole heartbeat interval is probed
//! again, which recovers lost appends.
//!
//! The leader advances the commit index to the highest index stored on a majority of the
//! configuration, **only if that entry is from its current term** (§5.4.2, the Figure 8 rule);
//! older entries commit indirectly. Followers learn the commit index from appends, bounded by
//! what they know to match the leader. [`Node::ready`] hands committed entries to the driver in
//! order, each once.
//!
//! CLIENT REQUESTS
//!
//! Proposals are accepted only by the leader (else [`Error::NotLeader`] with the known leader,
//! for an HTTP redirect or `503 no leader`). [`Node::propose_batch`] appends many commands with
//! one storage write, which is what lets the meta node exceed 2,000 fsynced commands per
//! second. A proposal returns `(index, term)`; it succeeded iff a committed entry with that
//! index has that term. When the node stops leading, `Ready::soft_state` says so and the driver
//! fails its pending proposals with `NotLeader` (their outcome is unknown: retries need an
//! idempotency key, which the metastore provides).
//!
//! Linearizable reads use ReadIndex (thesis §6.4). [`Node::read_index`] on the leader records
//! the commit index as the read index, then a heartbeat round (numbered by `read_seq`, echoed
//! in answers) confirms that a quorum still follows this leader. A leader that has not yet
//! committed its no-op queues the read until it has, because before that its commit index may
//! lag. The read is returned in `Ready::read_states` once confirmed and once every entry up to
//! the read index has been handed to the driver. A leader that steps down first returns the
//! read in `Ready::dropped_reads` with `NotLeader`; a deposed leader never confirms a read.
//!
//! With `check_quorum` (thesis §6.2), a leader that has not heard from a majority during an
//! election timeout steps down, so a partitioned leader stops accepting writes and reads, and
//! its driver answers `no leader` instead of hanging.
//!
//! SNAPSHOTS AND COMPACTION
//!
//! Snapshots are whole-state: the metastore is small. The driver calls
//! [`Node::compact`]`(index, state)` with the state machine serialized after applying exactly
//! the entries up to `index` (at most the applied index); the core stores a [`Snapshot`] with the
//! term and the membership at `index` and drops the log up to it. When a follower needs an
//! entry the leader has compacted, the leader sends its whole snapshot in one `InstallSnapshot`.
//! If the follower's log already contains the snapshot's last entry it just advances its commit
//! index; otherwise it replaces its whole log with the snapshot, and `Ready::snapshot` tells the
//! driver to replace its state machine with the snapshot's data. On restart, a node with a
//! snapshot also returns it in its first `Ready`, then the committed entries after it.
//!
//! MEMBERSHIP CHANGES
//!
//! Membership changes one server at a time (thesis §4.1). The configuration lives in the log:
//! `Bootstrap`, `AddMember` and `RemoveMember` entries take effect on every node as soon as they
//! are appended (and are rolled back if truncated). The leader refuses a change while another is
//! uncommitted ([`Error::ChangeInProgress`]) and until it has committed an entry in its current
//! term ([`Error::LeaderNotReady`]; Ongaro's 2015 fix for the single-server change bug). A leader
//! that removes itself keeps leading, without counting itself in majorities, until the removal
//! commits, and then steps down. Removed nodes never campaign.
//!
//! A cluster is created by [`Node::bootstrap`]`(members)` on one pristine node: it persists term 1
//! and writes `Bootstrap(members)` at index 1, term 1. A brand-new node starts from empty storage
//! with an empty configuration and a known id: it does not campaign, answers votes normally, and
//! accepts appends and snapshots from any leader, learning the configuration from them. To add
//! it, the leader proposes `MemberChange::Add`; the leader then replicates the log (or the
//! snapshot) to it.
//!
//! DRIVER CONTRACT
//!
//! 1. Create the node with [`Node::new`]`(config, storage)`. For a new cluster call
//!    `bootstrap` on one node (optionally `campaign` to skip the first timeout).
//! 2. Call `tick()` on a fixed interval (100 ms for `Config::new`), `step()` for each message
//!    received, and the client calls as requests arrive. Storage writes happen inside these
//!    calls and are durable when they return.
//! 3. After each call, loop `while node.has_ready() { let ready = node.ready()?; ... }`,
//!    processing each `Ready` in field order: send `messages`; restore `snapshot` if present;
//!    apply `committed_entries` in order (answering proposals whose index and term match);
//!    serve `read_states`; fail `dropped_reads`; react to `soft_state` (fail pending proposals
//!    with `NotLeader` when no longer leader).
//! 4. **Applied-index contract**: entries returned by `ready()` count as applied at once, so
//!    the driver must apply them before its next call into the node that could observe state
//!    (in practice: right away, in the same loop iteration). Read states in a `Ready` assume
//!    that `Ready`'s entries are applied.
//! 5. Compact now and then, e.g. every N applied entries: `compact(applied, state_bytes)`.
//! 6. Any `Err` for which [`Error::is_fatal`] holds means the node must be dropped and rebuilt
//!    from storage (or the process must exit).
//!
//! IMPLEMENTATION CAVEATS
//!
//! - The commit index is not persisted: after a restart the node re-applies from its snapshot
//!   (or from index 1) as it learns the commit index from the leader. A single-node cluster
//!   re-commits its log after its own election.
//! - A snapshot travels in one message (the metastore is small); there is no chunking, and a
//!   snapshot whose answer is slower than a heartbeat interval is sent again.
//! - No leader leases (reads always pay a heartbeat round), no leadership transfer (a leader that
//!   removes itself simply steps down and the rest time out), no joint consensus, and no
//!   learners or catch-up rounds before a new member counts in majorities (adding a member to a
//!   cluster that has lost one of three nodes can stall until the new member catches up).
//! - A removed node is not told it was removed if it misses the entry; it stays a follower (if
//!   it saw the entry) or campaigns harmlessly (pre-vote and vote leases keep it from disrupting
//!   the cluster; without `pre_vote` and `check_quorum` it can force elections).
//! - The core trusts its peers: malformed messages are ignored, but there is no
//!   authentication. A conflict with a committed entry (only possible with a buggy or lying
//!   peer) returns [`Error::Internal`].
//! - Storage errors are fatal: the in-memory state may have moved ahead of what is durable.
//!
//! TESTING
//!
//! - `tests.rs`: scripted scenarios on an in-memory cluster harness (elections, split votes,
//!   the election restriction, restart keeping term and vote, durability before answers,
//!   pre-vote, divergent logs, lost/duplicated/reordered appends, Raft Figure 8, snapshots to
//!   lagging and new nodes, membership changes including removing the leader, check-quorum,
//!   ReadIndex, and random odd messages).
//! - `sim.rs`: a seeded simulation of 3–5 nodes with message loss, delay, duplication and
//!   reordering, crashes and restarts, partitions, membership changes and compaction, checking
//!   election safety, log matching, leader completeness, state-machine safety and ReadIndex
//!   after every step, then liveness once faults stop. `RAFT_SIM_SEEDS`, `RAFT_SIM_STEPS` and
//!   `RAFT_SIM_SEED` (replay one seed) control it. Random faults rarely produce the exact
//!   Figure 8 interleaving; the scripted Figure 8 tests cover that rule.
//! - `codec.rs`: round trips, truncations and random garbage.
//! - `meta-node/tests/raft_driver.rs`: the public API driven like the server loop.
//!
//! DEVIATIONS FROM INFLUXDB ENTERPRISE
//!
//! Enterprise embeds hashicorp/raft. Here `election-timeout` maps to `election_ticks`,
//! `heartbeat-timeout` to `heartbeat_ticks` and `leader-lease-timeout` to `check_quorum`
//! (whose period is the minimum election timeout); `commit-timeout` has no equivalent (commits
//! are immediate). The wire and log formats are our own ([`codec`]).

mod error;
mod membership;
mod message;
mod node;
mod progress;
mod rng;
mod storage;
mod types;

pub mod codec;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

pub use codec::Codec;
pub use error::{Error, Result};
pub use message::{Envelope, Message};
pub use node::{Config, Node, ReadState, Ready, Role, SoftState, Status};
pub use storage::{MemStorage, Storage, WriteCounts};
pub use types::{
    Entry, EntryPayload, HardState, Index, Member, MemberChange, NodeId, Snapshot, Term,
};
