//! A seeded, deterministic simulation of a Raft group under faults, with invariant checks
//! after every step.
//!
//! Each seed builds a 3–5 node cluster (bootstrapped on node 1) and runs it for a number of
//! steps (one step = one tick of every node plus the delivery of every message due). The
//! network delays (0–3 ticks), reorders, drops and duplicates messages and every message goes
//! through the binary codec; nodes crash and restart from their storage; partitions come and
//! go; clients propose batches and ReadIndex reads; leaders add and remove members; nodes
//! compact their logs. After every step the checker verifies:
//!
//! - election safety: at most one leader per term, ever;
//! - log matching: two logs holding an entry with the same index and term hold the same entry
//!   and the same predecessor term (by induction, identical prefixes);
//! - leader completeness: a leader holds every entry committed in an earlier or equal term;
//! - state-machine safety: every node applies the same entry at each index, in order, once;
//!   restored snapshots equal the state the applied entries produced; acknowledged commands
//!   are never lost;
//! - ReadIndex: a read's index covers every entry known committed when it was requested.
//!
//! Then faults stop (all nodes restarted, network healed) and liveness is checked: a leader is
//! elected and a new proposal commits on every member within a bounded number of ticks.
//!
//! `RAFT_SIM_SEEDS` and `RAFT_SIM_STEPS` run more seeds or steps; `RAFT_SIM_SEED=N` replays one
//! seed. A failure prints its seed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::rng::Rng;
use super::*;

/// Ticks allowed, once faults stop, for a leader to be elected and a proposal to commit on
/// every member.
const LIVENESS_TICKS: u64 = 400;

/// The simulated state machine: a digest chain over the applied entries.
#[derive(Clone, Copy, Debug, Default)]
struct StateMachine {
    /// The last applied index.
    applied: Index,
    /// FNV-1a over every applied (index, payload).
    digest: u64,
}

impl StateMachine {
    fn apply(&mut self, entry: &Entry) {
        let mut h = self.digest ^ 0xcbf2_9ce4_8422_2325;
        for byte in entry.index.to_le_bytes().iter().chain(payload_bytes(&entry.payload).iter()) {
            h = (h ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
        self.digest = h;
        self.applied = entry.index;
    }

    fn encode(&self) -> Vec<u8> {
        [self.applied.to_le_bytes(), self.digest.to_le_bytes()].concat()
    }

    fn decode(bytes: &[u8]) -> Self {
        let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
        StateMachine { applied: word(0), digest: word(1) }
    }
}

fn payload_bytes(payload: &EntryPayload) -> Vec<u8> {
    let mut out = Vec::new();
    payload.encode_body(&mut out);
    out
}

/// One simulated meta node.
struct SimNode {
    /// The running node, or `None` while crashed.
    node: Option<Node<MemStorage>>,
    /// The storage of a crashed node.
    disk: Option<MemStorage>,
    /// The node's configuration.
    config: Config,
    /// The state machine (rebuilt from scratch on restart).
    sm: StateMachine,
    /// Removed from the cluster and shut down for good.
    retired: bool,
}

/// A message in flight.
struct Flight {
    /// The tick at which it is delivered.
    due: u64,
    /// The encoded envelope.
    bytes: Vec<u8>,
}

/// Fault probabilities for a phase of the run.
#[derive(Clone, Copy)]
struct Faults {
    drop: f64,
    duplicate: f64,
    max_delay: u64,
    crash: f64,
    restart: f64,
    partition: f64,
    heal: f64,
    member_change: f64,
}

const CHAOS: Faults = Faults {
    drop: 0.05,
    duplicate: 0.03,
    max_delay: 3,
    crash: 0.004,
    restart: 0.05,
    partition: 0.006,
    heal: 0.04,
    member_change: 0.01,
};

const CALM: Faults = Faults {
    drop: 0.0,
    duplicate: 0.0,
    max_delay: 1,
    crash: 0.0,
    restart: 1.0,
    partition: 0.0,
    heal: 1.0,
    member_change: 0.0,
};

struct Sim {
    seed: u64,
    rng: Rng,
    now: u64,
    nodes: BTreeMap<NodeId, SimNode>,
    next_id: NodeId,
    net: Vec<Flight>,
    /// Partition groups: nodes in different groups cannot talk. Empty = healed.
    groups: BTreeMap<NodeId, u8>,
    faults: Faults,
    next_cmd: u64,

    // ---- checker state ----
    /// The leader of each term seen so far.
    leaders: BTreeMap<Term, NodeId>,
    /// Every (index, term) entry ever seen in a log: its predecessor's term and payload.
    seen: HashMap<(Index, Term), (Term, Vec<u8>)>,
    /// Committed entries (first applied anywhere): term, payload, digest after it, and an
    /// upper bound of the term in which it committed.
    committed: BTreeMap<Index, (Term, Vec<u8>, u64, Term)>,
    /// Proposals awaiting acknowledgement: (index, term) -> command id.
    proposals: HashMap<(Index, Term), u64>,
    /// Acknowledged command ids (a proposer applied its entry).
    acked: BTreeSet<u64>,
    /// Reads in flight: (node, ctx) -> minimum acceptable read index.
    reads: HashMap<(NodeId, u64), Index>,
    /// Reads served.
    reads_served: u64,
}

impl Sim {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let n = 3 + rng.below(3);
        let mut sim = Sim {
            seed,
            rng,
            now: 0,
            nodes: BTreeMap::new(),
            next_id: n + 1,
            net: Vec::new(),
            groups: BTreeMap::new(),
            faults: CHAOS,
            next_cmd: 0,
            leaders: BTreeMap::new(),
            seen: HashMap::new(),
            committed: BTreeMap::new(),
            proposals: HashMap::new(),
            acked: BTreeSet::new(),
            reads: HashMap::new(),
            reads_served: 0,
        };
        for id in 1..=n {
            sim.add_node(id);
        }
        let members = (1..=n).map(super::tests::member).collect();
        sim.nodes.get_mut(&1).unwrap().node.as_mut().unwrap().bootstrap(members).unwrap();
        sim
    }

    fn config(&self, id: NodeId) -> Config {
        Config {
            id,
            election_ticks: (10, 20),
            heartbeat_ticks: 2,
            // One entry per append for odd seeds: old-term entries then travel without the
            // new leader's no-op, which is what the Figure 8 scenario needs.
            max_append_bytes: if self.seed % 2 == 1 { 1 } else { 200 },
            max_inflight: if self.seed % 2 == 1 { 2 } else { 4 },
            max_apply_bytes: 400,
            pre_vote: self.seed % 5 != 4,
            check_quorum: self.seed % 4 != 3,
            seed: self.seed,
        }
    }

    fn add_node(&mut self, id: NodeId) {
        let config = self.config(id);
        let node = Node::new(config.clone(), MemStorage::new()).unwrap();
        let sim_node = SimNode {
            node: Some(node),
            disk: None,
            config,
            sm: StateMachine::default(),
            retired: false,
        };
        self.nodes.insert(id, sim_node);
    }

    fn live(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|(_, n)| n.node.is_some()).map(|(id, _)| *id).collect()
    }

    fn node(&mut self, id: NodeId) -> Option<&mut Node<MemStorage>> {
        self.nodes.get_mut(&id).and_then(|n| n.node.as_mut())
    }

    fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|(id, n)| n.node.as_ref().map(|node| (id, node)))
            .filter(|(_, node)| node.role() == Role::Leader)
            .max_by_key(|(_, node)| node.term())
            .map(|(id, _)| *id)
    }

    fn connected(&self, a: NodeId, b: NodeId) -> bool {
        self.groups.get(&a).copied().unwrap_or(0) == self.groups.get(&b).copied().unwrap_or(0)
    }

    // ---- driving ----------------------------------------------------------------------

    /// Drains a node's outputs: sends messages, restores snapshots, applies entries, checks
    /// reads, and compacts now and then.
    fn drain(&mut self, id: NodeId) {
        loop {
            let Some(node) = self.node(id) else { return };
            if !node.has_ready() {
                break;
            }
            let ready = node.ready().unwrap();
            let term = node.term();
            for env in ready.messages {
                self.send(env);
            }
            if let Some(snapshot) = ready.snapshot {
                let sm = StateMachine::decode(&snapshot.data);
                assert_eq!(sm.applied, snapshot.last_index, "snapshot data/index mismatch");
                if sm.applied > 0 {
                    let recorded = self.committed.get(&sm.applied).map(|c| c.2);
                    assert_eq!(recorded, Some(sm.digest), "n{id} restored a snapshot that differs");
                }
                self.nodes.get_mut(&id).unwrap().sm = sm;
            }
            for entry in ready.committed_entries {
                self.apply(id, term, &entry);
            }
            let applied = self.nodes[&id].sm.applied;
            for read in ready.read_states {
                let min = self.reads.remove(&(id, read.ctx)).expect("read was requested");
                assert!(read.index >= min, "n{id} read index {} < committed {min}", read.index);
                assert!(applied >= read.index, "read served before apply");
                self.reads_served += 1;
            }
            for (ctx, error) in ready.dropped_reads {
                assert!(matches!(error, Error::NotLeader { .. }));
                self.reads.remove(&(id, ctx));
            }
        }
        // Compact once the log has grown (the driver may compact at any applied index).
        let sim_node = self.nodes.get_mut(&id).unwrap();
        let sm = sim_node.sm;
        let Some(node) = sim_node.node.as_mut() else { return };
        let first = node.status().first_index;
        if sm.applied >= first + 30 && self.rng.chance(0.3) {
            node.compact(sm.applied, sm.encode()).unwrap();
        }
    }

    fn apply(&mut self, id: NodeId, term: Term, entry: &Entry) {
        let sim_node = self.nodes.get_mut(&id).unwrap();
        assert_eq!(entry.index, sim_node.sm.applied + 1, "n{id} applied out of order");
        sim_node.sm.apply(entry);
        let digest = sim_node.sm.digest;
        let payload = payload_bytes(&entry.payload);
        match self.committed.get(&entry.index) {
            Some((t, p, d, _)) => {
                assert_eq!(
                    (*t, p),
                    (entry.term, &payload),
                    "n{id} applied a different entry at {}",
                    entry.index
                );
                assert_eq!(*d, digest, "n{id} state diverged at {}", entry.index);
            }
            None => {
                self.committed.insert(entry.index, (entry.term, payload, digest, term));
            }
        }
        if let Some(cmd) = self.proposals.remove(&(entry.index, entry.term)) {
            self.acked.insert(cmd);
        }
        // Operators shut removed members down once the removal is committed.
        if let EntryPayload::RemoveMember(removed) = entry.payload
            && let Some(n) = self.nodes.get_mut(&removed)
            && !n.retired
        {
            n.retired = true;
            if let Some(node) = n.node.take() {
                n.disk = Some(node.into_storage());
            }
        }
    }

    fn send(&mut self, env: Envelope) {
        let f = self.faults;
        if self.rng.chance(f.drop) {
            return;
        }
        let copies = if self.rng.chance(f.duplicate) { 2 } else { 1 };
        let bytes = env.encode();
        for _ in 0..copies {
            let due = self.now + self.rng.below(f.max_delay + 1);
            self.net.push(Flight { due, bytes: bytes.clone() });
        }
    }

    /// Delivers every message due, in random order, until none is due.
    fn deliver(&mut self) {
        for _ in 0..10_000 {
            let due: Vec<usize> =
                (0..self.net.len()).filter(|&i| self.net[i].due <= self.now).collect();
            if due.is_empty() {
                return;
            }
            let pick = due[self.rng.below(due.len() as u64) as usize];
            let flight = self.net.swap_remove(pick);
            let env = Envelope::decode(&flight.bytes).expect("codec roundtrip");
            if !self.connected(env.from, env.to) {
                continue;
            }
            let to = env.to;
            if let Some(node) = self.node(to) {
                node.step(env).unwrap_or_else(|e| panic!("n{to} step failed: {e}"));
                self.drain(to);
            }
        }
        panic!("network never quiesced");
    }

    fn step(&mut self) {
        self.now += 1;
        self.inject_faults();
        self.client_requests();
        for id in self.live() {
            self.node(id).unwrap().tick().unwrap();
            self.drain(id);
        }
        self.deliver();
        self.check();
    }

    fn inject_faults(&mut self) {
        let f = self.faults;
        let live = self.live();
        if self.rng.chance(f.crash) && !live.is_empty() {
            let id = live[self.rng.below(live.len() as u64) as usize];
            let n = self.nodes.get_mut(&id).unwrap();
            n.disk = Some(n.node.take().unwrap().into_storage());
        }
        for (id, n) in self.nodes.iter_mut() {
            if n.node.is_none() && !n.retired && self.rng.chance(f.restart) {
                let node = Node::new(n.config.clone(), n.disk.take().unwrap()).unwrap();
                n.node = Some(node);
                n.sm = StateMachine::default();
                let _ = id;
            }
        }
        if self.rng.chance(f.partition) {
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            self.groups = ids.into_iter().map(|id| (id, self.rng.below(2) as u8)).collect();
        }
        if self.rng.chance(f.heal) {
            self.groups.clear();
        }
        if self.rng.chance(f.member_change)
            && let Some(leader) = self.leader()
        {
            let members = self.node(leader).unwrap().status().members;
            if members.len() < 5 && (members.len() < 3 || self.rng.chance(0.5)) && self.next_id < 12
            {
                let id = self.next_id;
                let change = MemberChange::Add(super::tests::member(id));
                if self.node(leader).unwrap().propose_member_change(change).is_ok() {
                    self.next_id += 1;
                    self.add_node(id);
                }
            } else if members.len() > 2 {
                let victim = members[self.rng.below(members.len() as u64) as usize].id;
                let _ =
                    self.node(leader).unwrap().propose_member_change(MemberChange::Remove(victim));
            }
            self.drain(leader);
        }
    }

    fn client_requests(&mut self) {
        let live = self.live();
        if live.is_empty() {
            return;
        }
        let id = live[self.rng.below(live.len() as u64) as usize];
        if self.rng.chance(0.4) {
            let n = 1 + self.rng.below(3);
            let cmds: Vec<u64> = (0..n).map(|i| self.next_cmd + i).collect();
            self.next_cmd += n;
            let data = cmds.iter().map(|c| format!("cmd{c}").into_bytes()).collect();
            if let Ok(out) = self.node(id).unwrap().propose_batch(data) {
                for (pos, key) in out.into_iter().enumerate() {
                    self.proposals.insert(key, cmds[pos]);
                }
            }
        }
        if self.rng.chance(0.15) {
            let ctx = self.rng.next_u64();
            let min = self.committed.keys().next_back().copied().unwrap_or(0);
            if self.node(id).unwrap().read_index(ctx).is_ok() {
                self.reads.insert((id, ctx), min);
            }
        }
        self.drain(id);
    }

    // ---- invariants -------------------------------------------------------------------

    fn check(&mut self) {
        for (&id, sim_node) in &self.nodes {
            let Some(node) = sim_node.node.as_ref() else { continue };
            let status = node.status();
            // Election safety.
            if status.role == Role::Leader {
                let leader = *self.leaders.entry(status.term).or_insert(id);
                assert_eq!(leader, id, "two leaders in term {}", status.term);
            }
            // Log matching: (index, term) determines the entry and its predecessor's term.
            let storage = node.storage();
            let mut prev_term = storage.term(status.first_index - 1).unwrap().unwrap();
            for entry in storage.log() {
                let payload = payload_bytes(&entry.payload);
                let record = self
                    .seen
                    .entry((entry.index, entry.term))
                    .or_insert((prev_term, payload.clone()));
                assert_eq!(
                    *record,
                    (prev_term, payload),
                    "n{id}: log matching violated at {}",
                    entry.index
                );
                prev_term = entry.term;
            }
            // Leader completeness.
            if status.role == Role::Leader {
                for (&index, (term, _, _, commit_term)) in
                    self.committed.range(status.first_index..)
                {
                    if *commit_term <= status.term {
                        let have = storage.term(index).unwrap();
                        assert_eq!(
                            have,
                            Some(*term),
                            "leader n{id} (term {}) lacks committed {index}",
                            status.term
                        );
                    }
                }
            }
            assert!(status.commit <= status.last_index);
            assert!(status.applied <= status.commit);
        }
    }

    // ---- phases -----------------------------------------------------------------------

    fn run(&mut self, steps: u64) {
        for _ in 0..steps {
            self.step();
        }
        // Faults stop: heal, restart everyone, and check liveness.
        self.faults = CALM;
        let start = self.now;
        let mut probe: Option<(NodeId, Index, Term)> = None;
        loop {
            assert!(
                self.now - start < LIVENESS_TICKS,
                "no progress {LIVENESS_TICKS} ticks after faults stopped (leader {:?})",
                self.leader()
            );
            self.step();
            let Some(leader) = self.leader() else { continue };
            match probe {
                Some((node, index, term)) if node == leader => {
                    let status = self.node(leader).unwrap().status();
                    if status.commit < index {
                        continue;
                    }
                    assert_eq!(self.committed.get(&index).map(|c| c.0), Some(term));
                    // Every live member has caught up with the leader.
                    let members: Vec<NodeId> = status.members.iter().map(|m| m.id).collect();
                    let caught_up = members.iter().all(|m| {
                        self.nodes.get(m).is_some_and(|n| n.sm.applied >= index && n.node.is_some())
                    });
                    // (Their states equal the committed digests: checked at every apply.)
                    if caught_up {
                        break;
                    }
                }
                _ => {
                    if let Ok((index, term)) =
                        self.node(leader).unwrap().propose(b"liveness".to_vec())
                    {
                        probe = Some((leader, index, term));
                    }
                    self.drain(leader);
                }
            }
        }
        // Acknowledged commands are committed (and so, by the checks above, never lost).
        let committed_cmds: BTreeSet<Vec<u8>> =
            self.committed.values().map(|c| c.1.clone()).collect();
        for cmd in &self.acked {
            let payload = payload_bytes(&EntryPayload::Command(format!("cmd{cmd}").into_bytes()));
            assert!(committed_cmds.contains(&payload), "acknowledged cmd{cmd} lost");
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn run_seed(seed: u64, steps: u64) -> (u64, usize, u64) {
    let result = std::panic::catch_unwind(|| {
        let mut sim = Sim::new(seed);
        sim.run(steps);
        (sim.acked.len() as u64, sim.committed.len(), sim.reads_served)
    });
    match result {
        Ok(stats) => stats,
        Err(err) => {
            let msg = err
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("simulation failed for seed {seed}: {msg}\nreplay with RAFT_SIM_SEED={seed}");
        }
    }
}

#[test]
fn simulation() {
    let steps = env_u64("RAFT_SIM_STEPS").unwrap_or(3_000);
    let seeds: Vec<u64> = match env_u64("RAFT_SIM_SEED") {
        Some(seed) => vec![seed],
        None => (0..env_u64("RAFT_SIM_SEEDS").unwrap_or(50)).collect(),
    };
    let started = std::time::Instant::now();
    let (mut acked, mut committed, mut reads) = (0, 0, 0);
    for &seed in &seeds {
        let (a, c, r) = run_seed(seed, steps);
        acked += a;
        committed += c;
        reads += r;
        assert!(c > 10, "seed {seed}: only {c} entries committed");
    }
    eprintln!(
        "raft sim: {} seeds x {steps} steps in {:.1?}: {committed} entries committed, {acked} commands acknowledged, {reads} reads served",
        seeds.len(),
        started.elapsed()
    );
}
