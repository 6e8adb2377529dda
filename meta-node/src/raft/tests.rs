//! Scripted tests of the Raft core: a small in-memory cluster harness with a FIFO network that
//! can isolate nodes, filter and inject messages, crash and restart nodes. Each test names the
//! Raft paper section (§) or thesis section it checks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::*;

/// A member with addresses derived from its id.
pub(super) fn member(id: NodeId) -> Member {
    Member::new(id, format!("meta{id}:8089"), format!("meta{id}:8091"))
}

fn members(ids: &[NodeId]) -> Vec<Member> {
    ids.iter().map(|&id| member(id)).collect()
}

/// The test configuration: elections after 10–20 ticks, heartbeats every 2.
fn config(id: NodeId) -> Config {
    Config {
        id,
        election_ticks: (10, 20),
        heartbeat_ticks: 2,
        max_append_bytes: 4096,
        max_inflight: 8,
        max_apply_bytes: 1 << 20,
        pre_vote: true,
        check_quorum: true,
        seed: 7,
    }
}

fn entry(index: Index, term: Term, payload: EntryPayload) -> Entry {
    Entry { index, term, payload }
}

fn cmd(index: Index, term: Term, data: &str) -> Entry {
    entry(index, term, EntryPayload::Command(data.as_bytes().to_vec()))
}

/// An in-memory cluster driven step by step.
struct Cluster {
    /// Running nodes.
    nodes: BTreeMap<NodeId, Node<MemStorage>>,
    /// Storage of crashed nodes.
    crashed: BTreeMap<NodeId, MemStorage>,
    /// Per-node configuration (used on restart).
    configs: BTreeMap<NodeId, Config>,
    /// Messages in flight, FIFO.
    net: VecDeque<Envelope>,
    /// Isolated nodes: messages from or to them are dropped.
    isolated: BTreeSet<NodeId>,
    /// Entries each node applied, in order (a restored snapshot resets the list).
    applied: BTreeMap<NodeId, Vec<Entry>>,
    /// Snapshots each node restored.
    restored: BTreeMap<NodeId, Vec<Snapshot>>,
    /// Reads that became ready, per node.
    reads: BTreeMap<NodeId, Vec<ReadState>>,
    /// Reads dropped, per node.
    dropped: BTreeMap<NodeId, Vec<(u64, Error)>>,
}

impl Cluster {
    /// A cluster of empty nodes; with `bootstrap`, the first id bootstraps all of them.
    fn new(ids: &[NodeId], bootstrap: bool) -> Self {
        Self::with(ids, bootstrap, config)
    }

    fn with(ids: &[NodeId], bootstrap: bool, cfg: impl Fn(NodeId) -> Config) -> Self {
        let storages = ids.iter().map(|&id| (id, MemStorage::new())).collect();
        let mut cluster = Self::from_storages(storages, cfg);
        if bootstrap {
            cluster.node(ids[0]).bootstrap(members(ids)).unwrap();
        }
        cluster
    }

    fn from_storages(storages: Vec<(NodeId, MemStorage)>, cfg: impl Fn(NodeId) -> Config) -> Self {
        let mut cluster = Cluster {
            nodes: BTreeMap::new(),
            crashed: BTreeMap::new(),
            configs: BTreeMap::new(),
            net: VecDeque::new(),
            isolated: BTreeSet::new(),
            applied: BTreeMap::new(),
            restored: BTreeMap::new(),
            reads: BTreeMap::new(),
            dropped: BTreeMap::new(),
        };
        for (id, storage) in storages {
            cluster.configs.insert(id, cfg(id));
            cluster.crashed.insert(id, storage);
            cluster.restart(id);
        }
        cluster
    }

    fn node(&mut self, id: NodeId) -> &mut Node<MemStorage> {
        self.nodes.get_mut(&id).expect("node is running")
    }

    fn status(&self, id: NodeId) -> Status {
        self.nodes[&id].status()
    }

    /// Drains a node's outputs into the network and the records.
    fn drain(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        while node.has_ready() {
            let ready = node.ready().unwrap();
            self.net.extend(ready.messages);
            if let Some(snapshot) = ready.snapshot {
                self.applied.insert(id, Vec::new());
                self.restored.entry(id).or_default().push(snapshot);
            }
            self.applied.entry(id).or_default().extend(ready.committed_entries);
            self.reads.entry(id).or_default().extend(ready.read_states);
            self.dropped.entry(id).or_default().extend(ready.dropped_reads);
        }
    }

    fn drain_all(&mut self) {
        for id in self.nodes.keys().copied().collect::<Vec<_>>() {
            self.drain(id);
        }
    }

    fn deliverable(&self, env: &Envelope) -> bool {
        self.nodes.contains_key(&env.to)
            && !self.isolated.contains(&env.to)
            && !self.isolated.contains(&env.from)
    }

    /// Delivers one message (if deliverable) and drains the receiver.
    fn deliver_one(&mut self, env: Envelope) {
        if self.deliverable(&env) {
            let to = env.to;
            self.node(to).step(env).unwrap();
            self.drain(to);
        }
    }

    /// Delivers messages until the network is quiet; `keep` decides which are delivered
    /// (the others are dropped).
    fn deliver_where(&mut self, keep: impl Fn(&Envelope) -> bool) {
        self.drain_all();
        for _ in 0..100_000 {
            let Some(env) = self.net.pop_front() else { return };
            if keep(&env) {
                self.deliver_one(env);
            }
        }
        panic!("network did not quiesce");
    }

    fn deliver(&mut self) {
        self.deliver_where(|_| true);
    }

    /// Takes the messages in flight (after draining every node).
    fn take_messages(&mut self) -> Vec<Envelope> {
        self.drain_all();
        self.net.drain(..).collect()
    }

    /// Ticks every running node `n` times, delivering messages after each round.
    fn tick(&mut self, n: u64) {
        for _ in 0..n {
            for id in self.nodes.keys().copied().collect::<Vec<_>>() {
                self.node(id).tick().unwrap();
            }
            self.deliver();
        }
    }

    /// Makes `id` campaign and delivers everything; asserts it won.
    fn elect(&mut self, id: NodeId) {
        self.node(id).campaign().unwrap();
        self.deliver();
        assert_eq!(self.status(id).role, Role::Leader, "node {id} should have won");
    }

    fn leaders(&self) -> Vec<NodeId> {
        self.nodes.values().filter(|n| n.role() == Role::Leader).map(|n| n.id()).collect()
    }

    fn propose(&mut self, id: NodeId, data: &str) -> (Index, Term) {
        let out = self.node(id).propose(data.as_bytes().to_vec()).unwrap();
        self.drain(id);
        out
    }

    fn crash(&mut self, id: NodeId) {
        let node = self.nodes.remove(&id).unwrap();
        self.crashed.insert(id, node.into_storage());
        self.applied.remove(&id);
    }

    fn restart(&mut self, id: NodeId) {
        let storage = self.crashed.remove(&id).unwrap();
        let node = Node::new(self.configs[&id].clone(), storage).unwrap();
        self.nodes.insert(id, node);
        self.drain(id);
    }

    /// The commands a node applied, as strings.
    fn commands(&self, id: NodeId) -> Vec<String> {
        self.applied
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|e| match &e.payload {
                EntryPayload::Command(data) => Some(String::from_utf8_lossy(data).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn log(&self, id: NodeId) -> Vec<(Index, Term)> {
        self.nodes[&id].storage().log().iter().map(|e| (e.index, e.term)).collect()
    }
}

/// A three-node cluster bootstrapped on node 1, with node 1 elected.
fn three() -> Cluster {
    let mut c = Cluster::new(&[1, 2, 3], true);
    c.elect(1);
    c
}

/// Storage for a node of a five-node cluster whose log is `log` (index 1 must be the
/// bootstrap entry) and whose hard state is `(term, vote)`.
fn storage(term: Term, vote: Option<NodeId>, log: Vec<Entry>) -> MemStorage {
    MemStorage::with_log(HardState { term, vote }, log)
}

fn boot(ids: &[NodeId]) -> Entry {
    entry(1, 1, EntryPayload::Bootstrap(members(ids)))
}

// ---- elections ----------------------------------------------------------------------------

#[test]
fn single_node_elects_itself_and_commits() {
    let mut c = Cluster::new(&[1], true);
    c.tick(20);
    assert_eq!(c.leaders(), vec![1]);
    assert_eq!(c.status(1).term, 2, "bootstrap is term 1, the first election term 2");
    let (index, term) = c.propose(1, "a");
    assert_eq!((index, term), (3, 2), "1 = bootstrap, 2 = no-op");
    assert_eq!(c.status(1).commit, 3);
    assert_eq!(c.commands(1), vec!["a"]);
}

#[test]
fn election_three_nodes_new_members_learn_configuration() {
    let mut c = Cluster::new(&[1, 2, 3], true);
    assert!(c.status(2).members.is_empty(), "a new node starts with no configuration");
    c.tick(60);
    assert_eq!(c.leaders(), vec![1], "only node 1 knows it is a member, so only it campaigns");
    for id in [1, 2, 3] {
        assert_eq!(c.status(id).members, members(&[1, 2, 3]));
        assert_eq!(c.status(id).commit, 2);
        assert_eq!(c.status(id).leader, Some(1));
    }
    // After the leader fails, a follower takes over.
    c.crash(1);
    c.tick(60);
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1);
    assert!(c.status(leaders[0]).term > 2);
}

#[test]
fn non_member_never_campaigns() {
    let mut c = Cluster::new(&[1], false);
    c.tick(200);
    assert_eq!(c.status(1).role, Role::Follower);
    assert_eq!(c.status(1).term, 0);
    assert!(c.node(1).campaign().is_err());
}

/// §5.2: a split vote elects nobody; a later randomized timeout resolves it.
#[test]
fn split_vote_then_resolution() {
    let ids = [1, 2, 3, 4];
    let storages = ids.iter().map(|&id| (id, storage(1, None, vec![boot(&ids)]))).collect();
    let mut c = Cluster::from_storages(storages, |id| Config { pre_vote: false, ..config(id) });
    c.node(1).campaign().unwrap();
    c.node(2).campaign().unwrap();
    // Node 3 hears node 1 first, node 4 hears node 2 first: 2 votes each, quorum is 3.
    let msgs = c.take_messages();
    let order = |to: NodeId, first: NodeId| {
        let mut m: Vec<Envelope> = msgs.iter().filter(|e| e.to == to).cloned().collect();
        m.sort_by_key(|e| e.from != first);
        m
    };
    for env in order(3, 1).into_iter().chain(order(4, 2)).chain(order(1, 2)).chain(order(2, 1)) {
        c.deliver_one(env);
    }
    c.deliver();
    assert!(c.leaders().is_empty(), "split vote: no leader in term 2");
    assert_eq!(c.status(1).term, 2);
    c.tick(60);
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1);
    assert!(c.status(leaders[0]).term >= 3);
}

/// §5.4.1: votes go only to candidates whose log is at least as up to date (last term, then
/// last index).
#[test]
fn election_restriction_table() {
    // Voter log: [1@1, 2@2, 3@2]. (candidate last_index, last_term, granted)
    let cases =
        [(3, 2, true), (4, 2, true), (2, 2, false), (9, 1, false), (1, 3, true), (0, 0, false)];
    for (last_index, last_term, granted) in cases {
        let log = vec![boot(&[1, 2, 3]), cmd(2, 2, "x"), cmd(3, 2, "y")];
        let mut node = Node::new(config(2), storage(2, None, log)).unwrap();
        let message = Message::Vote { last_index, last_term };
        node.step(Envelope { from: 3, to: 2, term: 3, message }).unwrap();
        let ready = node.ready().unwrap();
        let reply = &ready.messages[0];
        assert_eq!(
            reply.message,
            Message::VoteResponse { granted },
            "candidate {last_index}@{last_term}"
        );
        assert_eq!(node.status().vote, granted.then_some(3));
        assert_eq!(node.storage().hard_state().unwrap().vote, granted.then_some(3));
    }
}

/// Must-have: the vote is durable before it is answered, and a restart does not vote twice.
#[test]
fn restart_keeps_term_and_vote() {
    // Without check-quorum, so node 3 does not ignore votes while it hears from its leader.
    let mut c = Cluster::with(&[1, 2, 3], true, |id| Config { check_quorum: false, ..config(id) });
    c.elect(1);
    // Node 3 votes for node 2 in term 3 (node 2 crafted as a candidate).
    let vote = |from| Envelope {
        from,
        to: 3,
        term: 3,
        message: Message::Vote { last_index: 2, last_term: 2 },
    };
    c.node(3).step(vote(2)).unwrap();
    assert_eq!(c.node(3).storage().hard_state().unwrap(), HardState { term: 3, vote: Some(2) });
    let replies = c.take_messages();
    assert!(
        replies.iter().any(|e| e.to == 2 && e.message == Message::VoteResponse { granted: true })
    );
    // Restart node 3: it remembers term 3 and its vote, so node 1 cannot get its vote in term 3.
    c.crash(3);
    c.restart(3);
    assert_eq!((c.status(3).term, c.status(3).vote), (3, Some(2)));
    c.node(3).step(vote(1)).unwrap();
    let replies = c.take_messages();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].message, Message::VoteResponse { granted: false });
    // It may repeat its vote for the same candidate (a retransmitted request).
    c.node(3).step(vote(2)).unwrap();
    assert_eq!(c.take_messages()[0].message, Message::VoteResponse { granted: true });
}

/// A storage whose writes can be made to fail, to check what is durable before answering.
struct FailingStorage {
    inner: MemStorage,
    fail_hard_state: bool,
    fail_append: bool,
}

impl Storage for FailingStorage {
    fn hard_state(&self) -> Result<HardState> {
        self.inner.hard_state()
    }
    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()> {
        if self.fail_hard_state {
            return Err(Error::Storage("disk full".into()));
        }
        self.inner.set_hard_state(hard_state)
    }
    fn first_index(&self) -> Result<Index> {
        self.inner.first_index()
    }
    fn last_index(&self) -> Result<Index> {
        self.inner.last_index()
    }
    fn term(&self, index: Index) -> Result<Option<Term>> {
        self.inner.term(index)
    }
    fn entries(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>> {
        self.inner.entries(lo, hi, max_bytes)
    }
    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        if self.fail_append {
            return Err(Error::Storage("disk full".into()));
        }
        self.inner.append(entries)
    }
    fn truncate_suffix(&mut self, from: Index) -> Result<()> {
        self.inner.truncate_suffix(from)
    }
    fn compact(&mut self, snapshot: Snapshot) -> Result<()> {
        self.inner.compact(snapshot)
    }
    fn install_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        self.inner.install_snapshot(snapshot)
    }
    fn snapshot(&self) -> Result<Option<Snapshot>> {
        self.inner.snapshot()
    }
}

/// Must-have: no vote answer without a durable vote, no append answer without durable entries.
#[test]
fn answers_wait_for_durable_writes() {
    let log = vec![boot(&[1, 2, 3])];
    let inner = storage(1, None, log);
    let mut node =
        Node::new(config(2), FailingStorage { inner, fail_hard_state: true, fail_append: true })
            .unwrap();
    let vote = Envelope {
        from: 3,
        to: 2,
        term: 2,
        message: Message::Vote { last_index: 1, last_term: 1 },
    };
    let err = node.step(vote).unwrap_err();
    assert!(err.is_fatal());
    assert!(node.ready().unwrap().messages.is_empty(), "no vote answer after a failed write");

    let mut node = Node::new(
        config(2),
        FailingStorage {
            inner: storage(2, None, vec![boot(&[1, 2, 3])]),
            fail_hard_state: false,
            fail_append: true,
        },
    )
    .unwrap();
    let append = Message::Append {
        prev_index: 1,
        prev_term: 1,
        entries: vec![cmd(2, 2, "x")],
        commit: 1,
        read_seq: 0,
    };
    assert!(node.step(Envelope { from: 1, to: 2, term: 2, message: append }).is_err());
    let ready = node.ready().unwrap();
    assert!(
        !ready
            .messages
            .iter()
            .any(|e| matches!(e.message, Message::AppendResponse { success: true, .. })),
        "no append acknowledgement after a failed write"
    );
}

/// Thesis §9.6: a node that was partitioned away and rejoins does not disrupt the leader.
#[test]
fn pre_vote_rejoining_node_does_not_disrupt() {
    let mut c = three();
    c.tick(10);
    let term = c.status(1).term;
    c.isolated.insert(3);
    c.tick(200); // Node 3 keeps timing out, but pre-votes never reach a quorum.
    assert_eq!(c.status(3).term, term, "pre-vote never bumps the term");
    c.isolated.clear();
    c.tick(30);
    assert_eq!(c.leaders(), vec![1]);
    assert_eq!(c.status(1).term, term);
    assert_eq!(c.status(3).leader, Some(1));
}

/// Without pre-vote, the same scenario disrupts the leader (showing the test is meaningful).
#[test]
fn without_pre_vote_rejoining_node_bumps_term() {
    let mut c = Cluster::with(&[1, 2, 3], true, |id| Config {
        pre_vote: false,
        check_quorum: false,
        ..config(id)
    });
    c.elect(1);
    let term = c.status(1).term;
    c.isolated.insert(3);
    c.tick(100);
    c.isolated.clear();
    c.tick(60);
    assert!(c.status(1).term > term);
}

// ---- replication ----------------------------------------------------------------------

#[test]
fn replication_commits_and_applies_everywhere() {
    let mut c = three();
    let (index, term) = c.propose(1, "a");
    c.deliver();
    c.propose(1, "b");
    c.deliver();
    c.tick(4); // Followers learn the final commit index from heartbeats.
    for id in [1, 2, 3] {
        assert_eq!(c.commands(id), vec!["a", "b"], "node {id}");
    }
    assert_eq!(c.applied[&2].iter().find(|e| e.index == index).unwrap().term, term);
    assert!(matches!(c.node(2).propose(b"x".to_vec()), Err(Error::NotLeader { leader: Some(1) })));
}

#[test]
fn propose_batch_is_one_storage_write() {
    let mut c = three();
    let before = c.node(1).storage().writes().append;
    let data: Vec<Vec<u8>> = (0..500).map(|i| format!("cmd{i}").into_bytes()).collect();
    let out = c.node(1).propose_batch(data).unwrap();
    assert_eq!(out.len(), 500);
    assert_eq!(out[0].0 + 499, out[499].0);
    assert_eq!(c.node(1).storage().writes().append, before + 1);
    // Appends are capped per message (4096 bytes in the test config).
    let msgs = c.take_messages();
    let appends: Vec<_> =
        msgs.iter().filter(|e| e.to == 2 && matches!(e.message, Message::Append { .. })).collect();
    assert!(appends.len() > 1, "the batch is split into several messages");
    for env in msgs {
        c.deliver_one(env);
    }
    c.deliver();
    c.tick(4);
    assert_eq!(c.commands(3).len(), 500);
}

/// §5.3: a follower with a conflicting uncommitted suffix is truncated to the leader's log.
#[test]
fn divergent_follower_suffix_is_truncated() {
    let ids = [1, 2, 3];
    // Node 3 has extra entries from an old term-2 leader; nodes 1 and 2 moved on in term 3.
    let s1 = storage(3, None, vec![boot(&ids), cmd(2, 2, "a"), cmd(3, 3, "b"), cmd(4, 3, "c")]);
    let s2 = storage(3, None, vec![boot(&ids), cmd(2, 2, "a"), cmd(3, 3, "b")]);
    let s3 = storage(
        2,
        None,
        vec![boot(&ids), cmd(2, 2, "a"), cmd(3, 2, "x"), cmd(4, 2, "y"), cmd(5, 2, "z")],
    );
    let mut c = Cluster::from_storages(vec![(1, s1), (2, s2), (3, s3)], config);
    // Node 3 cannot win: its last term (2) is older than node 1's and 2's (3).
    c.node(3).campaign().unwrap();
    c.deliver();
    assert!(c.leaders().is_empty());
    c.elect(1);
    c.propose(1, "d");
    c.deliver();
    c.tick(4);
    assert_eq!(c.log(3), c.log(1));
    assert_eq!(c.commands(3), vec!["a", "b", "c", "d"]);
    assert_eq!(c.node(3).storage().writes().truncate, 1);
}

/// Lost, duplicated and reordered appends do not break log matching.
#[test]
fn lost_duplicated_reordered_appends() {
    let mut c = three();
    for i in 0..20 {
        c.propose(1, &format!("c{i}"));
        let mut msgs = c.take_messages();
        if i % 3 == 0 {
            msgs.retain(|e| e.to != 2); // lost
        }
        if i % 4 == 0 {
            msgs.extend(msgs.clone()); // duplicated
        }
        msgs.reverse(); // reordered
        for env in msgs {
            c.deliver_one(env);
        }
        let msgs = c.take_messages();
        for env in msgs.into_iter().rev() {
            c.deliver_one(env);
        }
    }
    c.tick(10);
    let expected: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    for id in [1, 2, 3] {
        assert_eq!(c.commands(id), expected, "node {id}");
    }
}

/// Raft paper Figure 8 (§5.4.2): an entry from an older term stored on a majority is not
/// committed by counting replicas, and can be overwritten; it commits only together with an
/// entry of the leader's current term.
#[test]
fn figure_8_old_term_entries_commit_only_indirectly() {
    let ids = [1, 2, 3, 4, 5];
    let cfg = |id| Config { pre_vote: false, check_quorum: false, ..config(id) };
    // (a)/(b): S1 led term 2 and stored 2@2 on S2; S5 led term 3 and wrote 2@3 alone.
    let storages = vec![
        (1, storage(3, None, vec![boot(&ids), cmd(2, 2, "old")])),
        (2, storage(3, None, vec![boot(&ids), cmd(2, 2, "old")])),
        (3, storage(3, Some(5), vec![boot(&ids)])),
        (4, storage(3, Some(5), vec![boot(&ids)])),
        (5, storage(3, Some(5), vec![boot(&ids), cmd(2, 3, "new")])),
    ];
    let mut c = Cluster::from_storages(storages, cfg);
    // (c): S5 is down; S1 wins term 4 with S2 and S3, appending its no-op 3@4.
    c.isolated.extend([4, 5]);
    c.node(1).campaign().unwrap();
    c.deliver_where(|e| !matches!(e.message, Message::Append { .. }));
    assert_eq!(c.status(1).role, Role::Leader);
    assert_eq!(c.status(1).term, 4);
    // S1 replicates 2@2 (only) to S3: now S1, S2, S3 store it, a majority of five.
    for to in [2, 3] {
        let message = Message::Append {
            prev_index: 1,
            prev_term: 1,
            entries: vec![cmd(2, 2, "old")],
            commit: 0,
            read_seq: 0,
        };
        c.deliver_one(Envelope { from: 1, to, term: 4, message });
    }
    c.deliver_where(|e| e.from != 1); // Deliver the acks; drop S1's further appends.
    assert_eq!(c.log(3), vec![(1, 1), (2, 2)]);
    assert_eq!(c.status(1).commit, 0, "2@2 is on a majority but is not from term 4");
    let s1_log = c.log(1);
    assert_eq!(s1_log, vec![(1, 1), (2, 2), (3, 4)]);

    // (d): S1 crashes; S5 (last term 3) is elected with S2, S3, S4 and overwrites index 2.
    c.crash(1);
    c.isolated.clear();
    for _ in 0..3 {
        if c.status(5).role != Role::Leader {
            c.node(5).campaign().unwrap();
            c.deliver();
        }
    }
    assert_eq!(c.status(5).role, Role::Leader);
    c.propose(5, "after");
    c.deliver();
    c.tick(4);
    for id in [2, 3, 4, 5] {
        assert_eq!(c.log(id)[1], (2, 3), "node {id}: 2@2 was overwritten by 2@3");
        assert_eq!(c.commands(id), vec!["new", "after"], "node {id} never applied 2@2");
    }
}

/// Figure 8 (e): once S1 replicates an entry of its own term to a majority, the older entry
/// commits with it.
#[test]
fn figure_8_current_term_entry_commits_older_ones() {
    let ids = [1, 2, 3, 4, 5];
    let cfg = |id| Config { pre_vote: false, check_quorum: false, ..config(id) };
    let storages = vec![
        (1, storage(3, None, vec![boot(&ids), cmd(2, 2, "old")])),
        (2, storage(3, None, vec![boot(&ids), cmd(2, 2, "old")])),
        (3, storage(3, Some(5), vec![boot(&ids)])),
        (4, storage(3, Some(5), vec![boot(&ids)])),
        (5, storage(3, Some(5), vec![boot(&ids), cmd(2, 3, "new")])),
    ];
    let mut c = Cluster::from_storages(storages, cfg);
    c.isolated.extend([4, 5]);
    c.elect(1);
    assert_eq!(c.status(1).commit, 3);
    assert_eq!(c.commands(1), vec!["old"]);
    c.isolated.clear();
    c.tick(4);
    assert_eq!(c.log(5), c.log(1), "S5's 2@3 is overwritten: it was never committed");
}

// ---- snapshots ----------------------------------------------------------------------------

#[test]
fn snapshot_to_lagging_follower() {
    let mut c = three();
    c.isolated.insert(3);
    for i in 0..10 {
        c.propose(1, &format!("c{i}"));
        c.deliver();
    }
    let applied = c.status(1).applied;
    c.node(1).compact(applied, b"state@12".to_vec()).unwrap();
    assert_eq!(c.status(1).first_index, applied + 1);
    assert!(c.node(1).compact(applied + 5, vec![]).is_err(), "cannot compact beyond applied");
    c.propose(1, "after");
    c.isolated.clear();
    c.tick(6);
    let restored = &c.restored[&3];
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].last_index, applied);
    assert_eq!(restored[0].data, b"state@12");
    assert_eq!(restored[0].members, members(&[1, 2, 3]));
    assert_eq!(c.commands(3), vec!["after"], "entries after the snapshot are applied");
    assert_eq!(c.status(3).commit, c.status(1).commit);
    // A restart restores from the stored snapshot again, then re-applies later entries.
    c.crash(3);
    c.restart(3);
    c.tick(4);
    assert_eq!(c.restored[&3].len(), 2);
    assert_eq!(c.commands(3), vec!["after"]);
}

#[test]
fn snapshot_to_new_node_and_membership_add() {
    let mut c = three();
    for i in 0..5 {
        c.propose(1, &format!("c{i}"));
    }
    c.deliver();
    let applied = c.status(1).applied;
    c.node(1).compact(applied, b"state".to_vec()).unwrap();
    // Node 4 starts empty and joins.
    c.configs.insert(4, config(4));
    c.crashed.insert(4, MemStorage::new());
    c.restart(4);
    let (index, _) = c.node(1).propose_member_change(MemberChange::Add(member(4))).unwrap();
    assert_eq!(c.status(1).members, members(&[1, 2, 3, 4]), "in force as soon as appended");
    assert_eq!(
        c.node(1).propose_member_change(MemberChange::Remove(2)),
        Err(Error::ChangeInProgress)
    );
    c.deliver();
    c.tick(6);
    assert!(c.status(1).commit >= index);
    assert_eq!(c.restored[&4][0].data, b"state");
    assert_eq!(c.status(4).members, members(&[1, 2, 3, 4]));
    c.propose(1, "x");
    c.deliver();
    c.tick(4);
    assert_eq!(c.commands(4), vec!["x"]);
    assert_eq!(c.log(4), c.log(1));
}

// ---- membership ---------------------------------------------------------------------------

#[test]
fn member_change_requires_commit_in_term() {
    let mut c = Cluster::new(&[1, 2, 3], true);
    c.node(1).campaign().unwrap();
    // Deliver the election, but no appends: the no-op stays uncommitted.
    c.deliver_where(|e| !matches!(e.message, Message::Append { .. }));
    assert_eq!(c.status(1).role, Role::Leader);
    assert_eq!(
        c.node(1).propose_member_change(MemberChange::Add(member(4))),
        Err(Error::LeaderNotReady)
    );
    assert!(matches!(
        c.node(2).propose_member_change(MemberChange::Add(member(4))),
        Err(Error::NotLeader { .. })
    ));
    c.tick(4);
    assert!(c.node(1).propose_member_change(MemberChange::Add(member(1))).is_err());
    assert!(c.node(1).propose_member_change(MemberChange::Remove(9)).is_err());
    assert!(c.node(1).propose_member_change(MemberChange::Add(member(4))).is_ok());
}

#[test]
fn remove_follower() {
    let mut c = three();
    c.node(1).propose_member_change(MemberChange::Remove(3)).unwrap();
    c.deliver();
    c.tick(4);
    assert_eq!(c.status(1).members, members(&[1, 2]));
    // Two members left: commits need both.
    c.crash(3);
    c.propose(1, "a");
    c.deliver();
    assert_eq!(c.commands(1), vec!["a"]);
    c.isolated.insert(2);
    c.propose(1, "b");
    c.deliver();
    assert_eq!(c.commands(1), vec!["a"], "no quorum without node 2");
}

#[test]
fn remove_leader_steps_down_after_commit() {
    let mut c = three();
    let (index, _) = c.node(1).propose_member_change(MemberChange::Remove(1)).unwrap();
    assert_eq!(c.status(1).role, Role::Leader, "leads until the removal commits");
    c.deliver();
    assert!(c.status(1).commit >= index);
    assert_eq!(c.status(1).role, Role::Follower);
    assert_eq!(c.status(2).commit, c.status(1).commit, "followers learned the commit");
    c.tick(100);
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1);
    assert_ne!(leaders[0], 1, "the removed node never campaigns");
    assert_eq!(c.status(1).role, Role::Follower);
    let leader = leaders[0];
    c.propose(leader, "a");
    c.deliver();
    assert_eq!(c.commands(leader), vec!["a"]);
}

/// A config entry takes effect on append and is rolled back when its entry is truncated.
#[test]
fn uncommitted_config_entry_is_rolled_back_on_truncation() {
    let ids = [1, 2, 3];
    let log = vec![
        boot(&ids),
        entry(2, 2, EntryPayload::Noop),
        entry(3, 2, EntryPayload::AddMember(member(4))),
    ];
    let mut node = Node::new(config(3), storage(2, None, log)).unwrap();
    assert_eq!(node.status().members, members(&[1, 2, 3, 4]), "in force while uncommitted");
    // The new leader of term 3 never had the change: its no-op overwrites index 3.
    let entries = vec![entry(3, 3, EntryPayload::Noop)];
    let message = Message::Append { prev_index: 2, prev_term: 2, entries, commit: 3, read_seq: 0 };
    node.step(Envelope { from: 2, to: 3, term: 3, message }).unwrap();
    assert_eq!(node.status().members, members(&ids));
    assert_eq!(node.status().commit, 3);
    // The leader's own log also tracks it: after a removal the progress map shrinks at once.
    let mut c = three();
    c.node(1).propose_member_change(MemberChange::Remove(3)).unwrap();
    let msgs = c.take_messages();
    assert!(msgs.iter().all(|e| e.to != 3), "no replication to a removed member");
}

// ---- check-quorum and reads -------------------------------------------------------------

#[test]
fn check_quorum_partitioned_leader_steps_down() {
    let mut c = three();
    c.propose(1, "a");
    c.deliver();
    c.isolated.insert(1);
    c.node(1).read_index(7).unwrap();
    let (index, term) = c.propose(1, "lost");
    c.tick(25);
    assert_eq!(c.status(1).role, Role::Follower, "no majority heard: step down");
    assert_eq!(c.reads.get(&1).map_or(0, |r| r.len()), 0, "the read never became ready");
    assert_eq!(c.dropped[&1], vec![(7, Error::NotLeader { leader: None })]);
    assert!(matches!(c.node(1).propose(b"x".to_vec()), Err(Error::NotLeader { .. })));
    assert!(matches!(c.node(1).read_index(8), Err(Error::NotLeader { .. })));
    // The majority side elected a new leader meanwhile; after healing, the lost proposal is
    // overwritten.
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1);
    c.isolated.clear();
    c.tick(20);
    assert_eq!(c.status(1).leader, Some(leaders[0]));
    assert!(c.applied[&1].iter().all(|e| !(e.index == index && e.term == term)));
}

#[test]
fn read_index_confirmed_by_quorum() {
    let mut c = three();
    c.propose(1, "a");
    c.deliver();
    c.node(1).read_index(1).unwrap();
    assert!(c.reads.get(&1).is_none_or(|r| r.is_empty()));
    c.deliver();
    let commit = c.status(1).commit;
    assert_eq!(c.reads[&1], vec![ReadState { ctx: 1, index: commit }]);
    assert!(matches!(c.node(2).read_index(2), Err(Error::NotLeader { leader: Some(1) })));
    // A single-node cluster confirms at once.
    let mut single = Cluster::new(&[1], true);
    single.elect(1);
    single.node(1).read_index(5).unwrap();
    single.drain(1);
    assert_eq!(single.reads[&1].len(), 1);
}

#[test]
fn read_index_waits_for_commit_in_term() {
    let mut c = Cluster::new(&[1, 2, 3], true);
    c.node(1).campaign().unwrap();
    c.deliver_where(|e| !matches!(e.message, Message::Append { .. }));
    assert_eq!(c.status(1).role, Role::Leader);
    c.node(1).read_index(3).unwrap();
    // Heartbeats are acknowledged, but the no-op is not committed yet.
    c.deliver_where(|e| match &e.message {
        Message::Append { entries, .. } => entries.is_empty(),
        _ => true,
    });
    assert!(c.reads.get(&1).is_none_or(|r| r.is_empty()));
    c.tick(4);
    let reads = &c.reads[&1];
    assert_eq!(reads.len(), 1);
    assert!(reads[0].index >= 2, "the read index includes the no-op");
}

#[test]
fn read_on_deposed_leader_never_ready() {
    let mut c = Cluster::with(&[1, 2, 3], true, |id| Config { check_quorum: false, ..config(id) });
    c.elect(1);
    c.isolated.insert(1);
    c.tick(40); // Nodes 2 and 3 elect a new leader; node 1 still believes it leads.
    assert_eq!(c.status(1).role, Role::Leader);
    let new_leader = *c.leaders().iter().find(|&&id| id != 1).unwrap();
    c.propose(new_leader, "new");
    c.deliver();
    c.node(1).read_index(9).unwrap();
    c.tick(10);
    assert!(c.reads.get(&1).is_none_or(|r| r.is_empty()), "deposed leader cannot confirm");
    c.isolated.clear();
    c.tick(4);
    assert_eq!(c.status(1).role, Role::Follower);
    assert!(c.reads.get(&1).is_none_or(|r| r.is_empty()));
    assert_eq!(c.dropped[&1].len(), 1);
    assert_eq!(c.dropped[&1][0].0, 9);
}

// ---- odd input ----------------------------------------------------------------------------

#[test]
fn odd_messages_are_ignored_without_panic() {
    let mut rng = super::rng::Rng::new(3);
    let mut c = three();
    c.propose(1, "a");
    c.deliver();
    for _ in 0..3000 {
        let pick = |rng: &mut super::rng::Rng| {
            [0, 1, 2, 3, 5, u64::MAX - 1, u64::MAX][rng.below(7) as usize]
        };
        let prev_index = pick(&mut rng);
        let n = rng.below(3);
        let entries =
            (0..n).map(|i| cmd(prev_index.wrapping_add(i + 1), pick(&mut rng), "z")).collect();
        let message = match rng.below(8) {
            0 => Message::Append {
                prev_index,
                prev_term: pick(&mut rng),
                entries,
                commit: pick(&mut rng),
                read_seq: 0,
            },
            1 => Message::AppendResponse {
                success: rng.below(2) == 0,
                index: pick(&mut rng),
                hint: pick(&mut rng),
                read_seq: pick(&mut rng),
            },
            2 => Message::Vote { last_index: pick(&mut rng), last_term: pick(&mut rng) },
            3 => Message::PreVote { last_index: pick(&mut rng), last_term: pick(&mut rng) },
            4 => Message::VoteResponse { granted: true },
            5 => Message::PreVoteResponse { granted: true },
            6 => Message::InstallSnapshot {
                snapshot: Snapshot {
                    last_index: pick(&mut rng),
                    last_term: pick(&mut rng),
                    members: vec![],
                    data: vec![],
                },
                read_seq: 0,
            },
            _ => {
                Message::InstallSnapshotResponse { index: pick(&mut rng), read_seq: pick(&mut rng) }
            }
        };
        let to = 1 + rng.below(3);
        let from = 1 + rng.below(4);
        let term = c.status(to).term + rng.below(2);
        // Errors are allowed only as reports of (impossible) committed-entry conflicts.
        if let Err(err) = c.node(to).step(Envelope { from, to, term, message }) {
            assert!(matches!(err, Error::Internal(_)), "{err}");
            return;
        }
        c.take_messages();
    }
}
