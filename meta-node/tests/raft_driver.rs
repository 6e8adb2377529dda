//! The Raft core driven through its public API only, the way the meta node's server loop
//! drives it: tick, step, propose, and the `ready()` loop in field order.

use std::collections::{BTreeMap, VecDeque};

use meta_node::raft::{
    Codec, Config, Entry, EntryPayload, Envelope, Error, MemStorage, Member, MemberChange, Node,
    Role, Storage,
};

/// A minimal driver: a node, its applied state and the client bookkeeping.
struct Driver {
    node: Node<MemStorage>,
    /// The "state machine": applied commands in order.
    applied: Vec<Vec<u8>>,
    /// Proposals waiting for their entry: (index, term) -> client id.
    pending: BTreeMap<(u64, u64), u64>,
    /// Clients answered: (client id, outcome).
    answered: Vec<(u64, Result<(), Error>)>,
    /// Reads answered: (ctx, applied count when served).
    reads: Vec<(u64, usize)>,
}

impl Driver {
    fn new(id: u64) -> Self {
        let config = Config { seed: 11, ..Config::new(id) };
        Driver {
            node: Node::new(config, MemStorage::new()).unwrap(),
            applied: Vec::new(),
            pending: BTreeMap::new(),
            answered: Vec::new(),
            reads: Vec::new(),
        }
    }

    /// The ready loop: send, restore, apply, serve reads, fail dropped reads, react to role.
    fn process(&mut self, outbox: &mut VecDeque<Vec<u8>>) {
        while self.node.has_ready() {
            let ready = self.node.ready().unwrap();
            outbox.extend(ready.messages.iter().map(|m| m.encode()));
            if let Some(snapshot) = ready.snapshot {
                self.applied = decode_state(&snapshot.data);
            }
            for Entry { index, term, payload } in ready.committed_entries {
                if let EntryPayload::Command(data) = payload {
                    self.applied.push(data);
                }
                // Another term at a pending index means the proposal was lost.
                let lost: Vec<_> = self
                    .pending
                    .range((index, 0)..=(index, u64::MAX))
                    .map(|(k, v)| (*k, *v))
                    .collect();
                for (key, client) in lost {
                    self.pending.remove(&key);
                    let outcome =
                        if key.1 == term { Ok(()) } else { Err(Error::NotLeader { leader: None }) };
                    self.answered.push((client, outcome));
                }
            }
            for read in ready.read_states {
                self.reads.push((read.ctx, self.applied.len()));
            }
            if let Some(soft) = ready.soft_state
                && soft.role != Role::Leader
            {
                for (_, client) in std::mem::take(&mut self.pending) {
                    self.answered.push((client, Err(Error::NotLeader { leader: soft.leader })));
                }
            }
        }
    }
}

fn encode_state(applied: &[Vec<u8>]) -> Vec<u8> {
    applied.join(&b'\n')
}

fn decode_state(bytes: &[u8]) -> Vec<Vec<u8>> {
    if bytes.is_empty() {
        Vec::new()
    } else {
        bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
    }
}

fn member(id: u64) -> Member {
    Member::new(id, format!("127.0.0.1:{}", 8089 + id), format!("127.0.0.1:{}", 8091 + id))
}

struct Net {
    drivers: BTreeMap<u64, Driver>,
    wire: VecDeque<Vec<u8>>,
}

impl Net {
    fn run(&mut self) {
        for driver in self.drivers.values_mut() {
            driver.process(&mut self.wire);
        }
        while let Some(bytes) = self.wire.pop_front() {
            let env = Envelope::decode(&bytes).unwrap();
            if let Some(driver) = self.drivers.get_mut(&env.to) {
                driver.node.step(env).unwrap();
                driver.process(&mut self.wire);
            }
        }
    }

    fn tick(&mut self, n: usize) {
        for _ in 0..n {
            for driver in self.drivers.values_mut() {
                driver.node.tick().unwrap();
            }
            self.run();
        }
    }

    fn leader(&self) -> u64 {
        let leaders: Vec<u64> = self
            .drivers
            .values()
            .filter(|d| d.node.role() == Role::Leader)
            .map(|d| d.node.id())
            .collect();
        assert_eq!(leaders.len(), 1, "exactly one leader");
        leaders[0]
    }
}

#[test]
fn bootstrap_join_batch_read_compact() {
    // Bootstrap a one-node cluster, then grow it to three with single-server changes, as
    // `influxd-ctl add-meta` does.
    let mut net = Net { drivers: BTreeMap::new(), wire: VecDeque::new() };
    net.drivers.insert(1, Driver::new(1));
    net.drivers.get_mut(&1).unwrap().node.bootstrap(vec![member(1)]).unwrap();
    net.drivers.get_mut(&1).unwrap().node.campaign().unwrap();
    net.run();
    assert_eq!(net.leader(), 1);
    for id in [2, 3] {
        net.drivers.insert(id, Driver::new(id));
        net.drivers
            .get_mut(&1)
            .unwrap()
            .node
            .propose_member_change(MemberChange::Add(member(id)))
            .unwrap();
        net.run();
        net.tick(3);
    }
    assert_eq!(net.drivers[&3].node.status().members.len(), 3);

    // Throughput shape: 10,000 commands in batches of 500 cost one leader write per batch, and
    // followers write once per append message, not once per command.
    let follower_writes = net.drivers[&2].node.storage().writes().append;
    let mut client = 0;
    for _ in 0..20 {
        let leader = net.drivers.get_mut(&1).unwrap();
        let batch: Vec<Vec<u8>> =
            (0..500).map(|i| format!("cmd{}", client + i).into_bytes()).collect();
        for key in leader.node.propose_batch(batch).unwrap() {
            leader.pending.insert(key, client);
            client += 1;
        }
        net.run();
    }
    let leader = &net.drivers[&1];
    assert_eq!(leader.answered.len(), 10_000);
    assert!(leader.answered.iter().all(|(_, r)| r.is_ok()));
    let writes = net.drivers[&2].node.storage().writes().append - follower_writes;
    assert!(writes <= 20 * 16, "follower wrote {writes} times for 20 batches");

    // A linearizable read on the leader sees everything acknowledged before it.
    net.drivers.get_mut(&1).unwrap().node.read_index(42).unwrap();
    net.run();
    assert_eq!(net.drivers[&1].reads, vec![(42, 10_000)]);
    assert!(matches!(
        net.drivers.get_mut(&2).unwrap().node.read_index(1),
        Err(Error::NotLeader { leader: Some(1) })
    ));

    // Compact on the leader, then a fourth node joins from the snapshot.
    let leader = net.drivers.get_mut(&1).unwrap();
    let applied = leader.node.status().applied;
    let state = encode_state(&leader.applied);
    leader.node.compact(applied, state).unwrap();
    assert_eq!(leader.node.storage().first_index().unwrap(), applied + 1);
    net.drivers.insert(4, Driver::new(4));
    net.drivers
        .get_mut(&1)
        .unwrap()
        .node
        .propose_member_change(MemberChange::Add(member(4)))
        .unwrap();
    net.run();
    net.tick(3);
    assert_eq!(net.drivers[&4].applied.len(), 10_000);
    assert_eq!(net.drivers[&4].node.status().commit, net.drivers[&1].node.status().commit);
}
