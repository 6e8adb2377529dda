//! The one event loop that drives the Raft core.
//!
//! It selects over the ticker, inbound peer messages and client requests,
//! feeds them to [`raft::Node`], then works through `ready()` in the order the
//! core demands: send messages, restore a snapshot, apply committed entries to
//! the [`MetaState`] (answering the proposals that made them), answer reads,
//! fail what can no longer succeed. Nothing else touches the node or the state
//! machine; gRPC handlers only send [`Request`]s and await the answers.
//!
//! A fresh meta node has no ID and no Raft node until it is either
//! bootstrapped (`add-meta` of itself) or prepared by a leader (`Prepare`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use proto::cluster;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, debug, info, warn};

use crate::error::MetaError;
use crate::raft::{self, EntryPayload, Envelope, Member, MemberChange, Role};
use crate::state::{MetaState, applied_to_response};
use crate::store::SledStorage;

/// Length of one Raft tick.
pub const TICK: Duration = Duration::from_millis(50);

/// What gRPC handlers ask of the driver.
pub enum Request {
    /// Propose a metastore command; answered once applied.
    Execute {
        req: cluster::ExecuteRequest,
        tx: oneshot::Sender<Result<cluster::ExecuteResponse, MetaError>>,
    },
    /// A linearizable read of the whole state (ReadIndex).
    Read { tx: oneshot::Sender<Result<Published, MetaError>> },
    /// A membership change; answered once committed.
    ChangeMembers { change: MemberChange, tx: oneshot::Sender<Result<(), MetaError>> },
    /// Create a one-member cluster of this node.
    Bootstrap { tx: oneshot::Sender<Result<u64, MetaError>> },
    /// Take an ID from a leader that is about to add this node.
    Prepare { id: u64, tx: oneshot::Sender<Result<(), MetaError>> },
    /// This node was removed from its cluster: erase the metastore.
    Reset { tx: oneshot::Sender<Result<(), MetaError>> },
}

/// The latest applied metastore, as published to readers.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// Raft index of the last applied entry.
    pub index: u64,
    /// Serialized `meta.Data`.
    pub data: Arc<Vec<u8>>,
}

/// What the driver tells the rest of the server about Raft.
#[derive(Clone, Debug, Default)]
pub struct RaftStatus {
    /// This node's ID (0 before it has one).
    pub id: u64,
    /// Follower, Candidate, Leader, … ("Uninitialized" before it has an ID).
    pub role: String,
    /// Current term.
    pub term: u64,
    /// The leader, if known.
    pub leader: Option<Member>,
    /// Commit index.
    pub commit: u64,
    /// Last applied index.
    pub applied: u64,
    /// Members of the group.
    pub members: Vec<Member>,
}

/// Addresses this node announces.
#[derive(Clone, Debug)]
pub struct SelfAddrs {
    /// Raft address.
    pub raft: String,
    /// API address.
    pub http: String,
}

struct PendingWrite {
    term: u64,
    kind: PendingKind,
}

enum PendingKind {
    Execute(oneshot::Sender<Result<cluster::ExecuteResponse, MetaError>>),
    Member(oneshot::Sender<Result<(), MetaError>>),
}

/// Inbound peer message with the sender's address.
pub struct Inbound {
    /// The decoded envelope.
    pub env: Envelope,
    /// The sender's Raft address.
    pub from_addr: String,
}

/// The driver's state.
pub struct Driver {
    storage: Option<SledStorage>,
    node: Option<raft::Node<SledStorage>>,
    state: MetaState,
    addrs: SelfAddrs,
    election_ticks: (u64, u64),
    snapshot_entries: u64,
    pending: BTreeMap<u64, PendingWrite>,
    reads: HashMap<u64, oneshot::Sender<Result<Published, MetaError>>>,
    next_ctx: u64,
    /// Raft addresses learned from inbound messages (before the config is known).
    learned: HashMap<u64, String>,
    outbound: crate::server::transport::Outbound,
    published_tx: watch::Sender<Published>,
    status_tx: watch::Sender<RaftStatus>,
}

/// Channels the server uses to talk to the driver.
pub struct Handles {
    /// Client requests.
    pub requests: mpsc::Sender<Request>,
    /// Inbound Raft messages.
    pub inbound: mpsc::Sender<Inbound>,
    /// The latest applied metastore.
    pub published: watch::Receiver<Published>,
    /// Raft status.
    pub status: watch::Receiver<RaftStatus>,
}

impl Driver {
    /// Builds a driver over the opened store and spawns its loop.
    pub fn spawn(
        storage: SledStorage,
        addrs: SelfAddrs,
        election_timeout: Duration,
        snapshot_entries: u64,
    ) -> Result<(Handles, tokio::task::JoinHandle<()>), MetaError> {
        let min = ((election_timeout.as_millis() as u64 / 2) / TICK.as_millis() as u64).max(4);
        let election_ticks = (min, min * 2);
        let (published_tx, published_rx) = watch::channel(Published::default());
        let (status_tx, status_rx) =
            watch::channel(RaftStatus { role: "Uninitialized".into(), ..Default::default() });
        let mut d = Driver {
            storage: Some(storage),
            node: None,
            state: MetaState::new(),
            addrs,
            election_ticks,
            snapshot_entries: snapshot_entries.max(16),
            pending: BTreeMap::new(),
            reads: HashMap::new(),
            next_ctx: 1,
            learned: HashMap::new(),
            outbound: crate::server::transport::Outbound::default(),
            published_tx,
            status_tx,
        };
        if let Some(id) = d.storage.as_ref().and_then(|s| s.node_id()) {
            d.start_node(id)?;
        }
        d.publish_state();
        d.publish_status();
        let (req_tx, req_rx) = mpsc::channel(4096);
        let (in_tx, in_rx) = mpsc::channel(4096);
        let handle = tokio::spawn(d.run(req_rx, in_rx).instrument(tracing::Span::current()));
        Ok((
            Handles {
                requests: req_tx,
                inbound: in_tx,
                published: published_rx,
                status: status_rx,
            },
            handle,
        ))
    }

    fn start_node(&mut self, id: u64) -> Result<(), MetaError> {
        let storage = self.storage.take().ok_or_else(|| MetaError::Storage("no store".into()))?;
        let mut cfg = raft::Config::new(id);
        cfg.election_ticks = self.election_ticks;
        cfg.heartbeat_ticks = 2;
        cfg.seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(id, |d| d.as_nanos() as u64);
        // Restore the state machine from the stored snapshot; the core
        // re-delivers the committed entries after it.
        if let Ok(Some(snap)) = raft::Storage::snapshot(&storage)
            && !snap.data.is_empty()
        {
            self.state = MetaState::restore(&snap.data)?;
        }
        let node = raft::Node::new(cfg, storage).map_err(|e| MetaError::Storage(e.to_string()))?;
        info!(id, "raft node started");
        self.node = Some(node);
        Ok(())
    }

    async fn run(
        mut self,
        mut req_rx: mpsc::Receiver<Request>,
        mut in_rx: mpsc::Receiver<Inbound>,
    ) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if let Some(n) = self.node.as_mut()
                        && let Err(e) = n.tick()
                    {
                        warn!(error = %e, "tick failed");
                    }
                }
                msg = in_rx.recv() => {
                    let Some(msg) = msg else { return };
                    self.step(msg);
                    // Drain what else is queued: fewer ready() rounds, more batching.
                    while let Ok(msg) = in_rx.try_recv() {
                        self.step(msg);
                    }
                }
                req = req_rx.recv() => {
                    let Some(req) = req else { return };
                    let mut batch = vec![req];
                    while batch.len() < 1024 {
                        match req_rx.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                    self.handle_requests(batch);
                }
            }
            self.process_ready();
        }
    }

    fn step(&mut self, msg: Inbound) {
        self.learned.insert(msg.env.from, msg.from_addr);
        if self.node.is_none() {
            // A fresh node waits for Prepare; messages before it are dropped.
            return;
        }
        if let Some(n) = self.node.as_mut()
            && let Err(e) = n.step(msg.env)
        {
            debug!(error = %e, "step failed");
        }
    }

    fn handle_requests(&mut self, batch: Vec<Request>) {
        let mut proposals: Vec<(Vec<u8>, oneshot::Sender<_>)> = Vec::new();
        for req in batch {
            match req {
                Request::Execute { req, tx } => proposals.push((req.encode_to_vec(), tx)),
                Request::Read { tx } => self.read(tx),
                Request::ChangeMembers { change, tx } => self.change_members(change, tx),
                Request::Bootstrap { tx } => {
                    let _ = tx.send(self.bootstrap());
                }
                Request::Prepare { id, tx } => {
                    let _ = tx.send(self.prepare(id));
                }
                Request::Reset { tx } => {
                    self.reset();
                    self.publish_status();
                    let _ = tx.send(Ok(()));
                }
            }
        }
        if proposals.is_empty() {
            return;
        }
        let Some(node) = self.node.as_mut() else {
            for (_, tx) in proposals {
                let _ = tx.send(Err(MetaError::NoLeader));
            }
            return;
        };
        let (datas, txs): (Vec<_>, Vec<_>) = proposals.into_iter().unzip();
        match node.propose_batch(datas) {
            Ok(slots) => {
                for ((index, term), tx) in slots.into_iter().zip(txs) {
                    self.pending
                        .insert(index, PendingWrite { term, kind: PendingKind::Execute(tx) });
                }
            }
            Err(e) => {
                let err = raft_err(&e);
                for tx in txs {
                    let _ = tx.send(Err(err.clone()));
                }
            }
        }
    }

    fn read(&mut self, tx: oneshot::Sender<Result<Published, MetaError>>) {
        let Some(node) = self.node.as_mut() else {
            let _ = tx.send(Err(MetaError::NoLeader));
            return;
        };
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        match node.read_index(ctx) {
            Ok(()) => {
                self.reads.insert(ctx, tx);
            }
            Err(e) => {
                let _ = tx.send(Err(raft_err(&e)));
            }
        }
    }

    fn change_members(&mut self, change: MemberChange, tx: oneshot::Sender<Result<(), MetaError>>) {
        let Some(node) = self.node.as_mut() else {
            let _ = tx.send(Err(MetaError::NoLeader));
            return;
        };
        match node.propose_member_change(change) {
            Ok((index, term)) => {
                self.pending.insert(index, PendingWrite { term, kind: PendingKind::Member(tx) });
            }
            Err(e) => {
                let _ = tx.send(Err(raft_err(&e)));
            }
        }
    }

    fn bootstrap(&mut self) -> Result<u64, MetaError> {
        if let Some(node) = &self.node {
            let st = node.status();
            if st.members.is_empty() {
                return Err(MetaError::InvalidCommand(
                    "this meta node was prepared to join another cluster".into(),
                ));
            }
            return Ok(st.id);
        }
        let id = 1;
        if let Some(s) = self.storage.as_ref() {
            s.set_node_id(id).map_err(|e| MetaError::Storage(e.to_string()))?;
        }
        self.start_node(id)?;
        let me = Member::new(id, self.addrs.raft.clone(), self.addrs.http.clone());
        if let Some(n) = self.node.as_mut() {
            n.bootstrap(vec![me]).map_err(|e| raft_err(&e))?;
            // A single member elects itself at once instead of after a timeout.
            let _ = n.campaign();
        }
        Ok(id)
    }

    fn prepare(&mut self, id: u64) -> Result<(), MetaError> {
        if let Some(node) = &self.node {
            if node.id() == id {
                return Ok(());
            }
            return Err(MetaError::InvalidCommand(format!(
                "meta node already has ID {} in a cluster",
                node.id()
            )));
        }
        if let Some(s) = self.storage.as_ref() {
            s.set_node_id(id).map_err(|e| MetaError::Storage(e.to_string()))?;
        }
        self.start_node(id)
    }

    fn process_ready(&mut self) {
        // Applying entries can make more ready (e.g. reads), so drain fully.
        for _ in 0..64 {
            if !self.node.as_ref().is_some_and(|n| n.has_ready()) {
                break;
            }
            self.process_one_ready();
        }
    }

    fn process_one_ready(&mut self) {
        let Some(node) = self.node.as_mut() else { return };
        let ready = match node.ready() {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "ready failed");
                return;
            }
        };
        // 1. Messages.
        let members = node.status().members;
        for env in ready.messages {
            let addr = members
                .iter()
                .find(|m| m.id == env.to)
                .map(|m| m.raft_addr.clone())
                .or_else(|| self.learned.get(&env.to).cloned());
            if let Some(addr) = addr {
                self.outbound.send(env.to, &addr, &self.addrs.raft, env);
            }
        }
        // 2. Snapshot.
        let mut changed = false;
        if let Some(snap) = ready.snapshot {
            match MetaState::restore(&snap.data) {
                Ok(s) => {
                    self.state = s;
                    self.state.advance(snap.last_index, snap.last_term);
                    changed = true;
                }
                Err(e) => warn!(error = %e, "cannot restore snapshot"),
            }
        }
        // 3. Committed entries.
        let own_id = node.id();
        let mut removed_self = false;
        for entry in ready.committed_entries {
            changed = true;
            let pending = self.pending.remove(&entry.index);
            let same_term = pending.as_ref().is_some_and(|p| p.term == entry.term);
            match entry.payload {
                EntryPayload::Command(bytes) => {
                    let res = match cluster::ExecuteRequest::decode(bytes.as_slice()) {
                        Ok(req) => {
                            let cmd = req.command.unwrap_or_default();
                            self.state.apply(entry.index, entry.term, &req.request_id, &cmd)
                        }
                        Err(e) => Err(MetaError::Corrupt(format!("command: {e}"))),
                    };
                    if let Some(PendingWrite { kind: PendingKind::Execute(tx), .. }) = pending {
                        let _ = tx.send(if same_term {
                            Ok(applied_to_response(entry.index, &res))
                        } else {
                            Err(MetaError::NoLeader)
                        });
                    }
                }
                other => {
                    match &other {
                        EntryPayload::Bootstrap(ms) => {
                            for m in ms {
                                self.state.add_meta_node(m.id, &m.http_addr, &m.raft_addr);
                            }
                        }
                        EntryPayload::AddMember(m) => {
                            self.state.add_meta_node(m.id, &m.http_addr, &m.raft_addr)
                        }
                        EntryPayload::RemoveMember(id) => {
                            self.state.remove_meta_node(*id);
                            removed_self |= *id == own_id;
                        }
                        _ => {}
                    }
                    self.state.advance(entry.index, entry.term);
                    match pending.map(|p| p.kind) {
                        Some(PendingKind::Member(tx)) => {
                            let _ =
                                tx.send(if same_term { Ok(()) } else { Err(MetaError::NoLeader) });
                        }
                        Some(PendingKind::Execute(tx)) => {
                            let _ = tx.send(Err(MetaError::NoLeader));
                        }
                        None => {}
                    }
                }
            }
        }
        if changed {
            self.publish_state();
        }
        // 4. Reads.
        for rs in ready.read_states {
            if let Some(tx) = self.reads.remove(&rs.ctx) {
                let _ = tx.send(Ok(self.published_tx.borrow().clone()));
            }
        }
        for (ctx, e) in ready.dropped_reads {
            if let Some(tx) = self.reads.remove(&ctx) {
                let _ = tx.send(Err(raft_err(&e)));
            }
        }
        // 5. Leadership changes: proposals of a deposed leader have an unknown
        //    outcome; clients retry with the same request ID.
        if let Some(ss) = ready.soft_state {
            info!(term = ss.term, role = ?ss.role, leader = ?ss.leader, "raft state changed");
            if ss.role != Role::Leader {
                for (_, p) in std::mem::take(&mut self.pending) {
                    match p.kind {
                        PendingKind::Execute(tx) => {
                            let _ = tx.send(Err(MetaError::NoLeader));
                        }
                        PendingKind::Member(tx) => {
                            let _ = tx.send(Err(MetaError::NoLeader));
                        }
                    }
                }
            }
        }
        self.maybe_compact();
        if removed_self {
            self.reset();
        }
        self.publish_status();
    }

    /// Forgets the cluster after this node's removal: the store is erased
    /// and the node waits, uninitialized, to be added to a cluster again.
    fn reset(&mut self) {
        let Some(node) = self.node.take() else { return };
        let mut storage = node.into_storage();
        if let Err(e) = storage.wipe() {
            warn!(error = %e, "erasing the metastore after removal");
        }
        info!("removed from the cluster: metastore erased");
        self.storage = Some(storage);
        self.state = MetaState::new();
        self.learned.clear();
        self.publish_state();
    }

    fn maybe_compact(&mut self) {
        let Some(node) = self.node.as_mut() else { return };
        let st = node.status();
        if st.applied >= st.first_index + self.snapshot_entries
            && let Err(e) = node.compact(st.applied, self.state.snapshot())
        {
            warn!(error = %e, "compaction failed");
        }
    }

    fn publish_state(&mut self) {
        let data = Arc::new(self.state.data.encode_to_vec());
        let index = self.state.data.index;
        self.published_tx.send_replace(Published { index, data });
    }

    fn publish_status(&mut self) {
        let st = match &self.node {
            Some(n) => {
                let s = n.status();
                let leader = s.leader.and_then(|l| s.members.iter().find(|m| m.id == l).cloned());
                RaftStatus {
                    id: s.id,
                    role: format!("{:?}", s.role),
                    term: s.term,
                    leader,
                    commit: s.commit,
                    applied: s.applied,
                    members: s.members,
                }
            }
            None => RaftStatus { role: "Uninitialized".into(), ..Default::default() },
        };
        self.status_tx.send_if_modified(|old| {
            let differs = old.id != st.id
                || old.role != st.role
                || old.term != st.term
                || old.leader != st.leader
                || old.commit != st.commit
                || old.applied != st.applied
                || old.members != st.members;
            if differs {
                *old = st;
            }
            differs
        });
    }
}

fn raft_err(e: &raft::Error) -> MetaError {
    match e {
        raft::Error::NotLeader { .. } => MetaError::NoLeader,
        raft::Error::ChangeInProgress | raft::Error::LeaderNotReady => {
            MetaError::Busy(e.to_string())
        }
        other => MetaError::Storage(other.to_string()),
    }
}
