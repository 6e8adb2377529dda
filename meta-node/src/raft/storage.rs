//! Durable storage for the Raft core: hard state, log and snapshot.
//!
//! The trait is synchronous and every mutating call must be **durable when it returns** (for
//! sled: `flush()` before returning; the 500 ms background flush is not durable). The core
//! relies on this to answer votes and appends only after they are on disk. [`MemStorage`] is the
//! in-memory implementation used by tests and the simulation; "durable" there means it survives
//! dropping and rebuilding the `Node` that owns it.
//!
//! The log is the range `first_index()..=last_index()`. Everything before `first_index()` is
//! covered by the snapshot, whose `last_index` is `first_index() - 1`.

use super::{Entry, Error, HardState, Index, Result, Snapshot, Term};

/// The storage a [`Node`](super::Node) persists to. See the module docs for the durability
/// contract.
pub trait Storage {
    /// The persisted term and vote (`HardState::default()` for a new node).
    fn hard_state(&self) -> Result<HardState>;

    /// Persists the term and vote, durably, before returning.
    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()>;

    /// The index of the first entry in the log: the snapshot's `last_index + 1`, or 1 without
    /// a snapshot. May be `last_index() + 1` when the log is empty.
    fn first_index(&self) -> Result<Index>;

    /// The index of the last entry in the log, or the snapshot's `last_index` when the log is
    /// empty, or 0 for a new node.
    fn last_index(&self) -> Result<Index>;

    /// The term of the entry at `index`. `Some` for `index` in `first_index()-1..=last_index()`
    /// (the snapshot's `last_term` at `first_index() - 1`, 0 at index 0), `None` outside.
    fn term(&self, index: Index) -> Result<Option<Term>>;

    /// The entries in `[lo, hi)`, stopping early once their total `approx_size()` exceeds
    /// `max_bytes`, but always returning at least one entry when `lo < hi`.
    /// `Err(Error::Compacted)` if `lo < first_index()`; `hi` is clamped to `last_index() + 1`.
    fn entries(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>>;

    /// Appends entries durably. `entries` are contiguous and `entries[0].index` is
    /// `last_index() + 1` (the core truncates conflicting entries first).
    fn append(&mut self, entries: &[Entry]) -> Result<()>;

    /// Durably removes every entry with index `>= from`. `from > first_index() - 1`, i.e. the
    /// snapshot is never touched.
    fn truncate_suffix(&mut self, from: Index) -> Result<()>;

    /// Durably stores `snapshot` and drops the entries up to and including
    /// `snapshot.last_index`, keeping later entries (log compaction). The core guarantees
    /// `first_index() <= snapshot.last_index <= last_index()`.
    fn compact(&mut self, snapshot: Snapshot) -> Result<()>;

    /// Durably stores `snapshot` (received from the leader) and drops the **whole** log:
    /// afterwards `first_index() == last_index() + 1 == snapshot.last_index + 1`.
    fn install_snapshot(&mut self, snapshot: Snapshot) -> Result<()>;

    /// The latest snapshot, if any.
    fn snapshot(&self) -> Result<Option<Snapshot>>;
}

/// In-memory [`Storage`], for tests and the deterministic simulation.
///
/// Every call is "durable": the state lives as long as the `MemStorage` value, which outlives
/// the `Node` (take it back with `Node::into_storage` to simulate a restart).
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    /// The persisted term and vote.
    hard_state: HardState,
    /// The latest snapshot (`None` before the first compaction or install).
    snapshot: Option<Snapshot>,
    /// The entries after the snapshot, contiguous, starting at `snapshot.last_index + 1`.
    entries: Vec<Entry>,
    /// Write-operation counters, for tests that check batching.
    writes: WriteCounts,
}

/// How many durable writes a [`MemStorage`] has performed, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// `set_hard_state` calls.
    pub hard_state: u64,
    /// `append` calls.
    pub append: u64,
    /// `truncate_suffix` calls.
    pub truncate: u64,
    /// `compact` and `install_snapshot` calls.
    pub snapshot: u64,
}

impl MemStorage {
    /// An empty storage, as for a brand-new node.
    pub fn new() -> Self {
        Self::default()
    }

    /// A storage preloaded with a hard state and a log starting at index 1 (for scripted
    /// tests that need divergent logs). The entries must be contiguous from index 1.
    pub fn with_log(hard_state: HardState, entries: Vec<Entry>) -> Self {
        assert!(
            entries.iter().enumerate().all(|(i, e)| e.index == i as u64 + 1),
            "entries must be contiguous from index 1"
        );
        MemStorage { hard_state, snapshot: None, entries, writes: WriteCounts::default() }
    }

    /// The entries currently in the log (after the snapshot).
    pub fn log(&self) -> &[Entry] {
        &self.entries
    }

    /// The write counters.
    pub fn writes(&self) -> WriteCounts {
        self.writes
    }

    fn snapshot_index(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.last_index)
    }

    fn snapshot_term(&self) -> Term {
        self.snapshot.as_ref().map_or(0, |s| s.last_term)
    }
}

impl Storage for MemStorage {
    fn hard_state(&self) -> Result<HardState> {
        Ok(self.hard_state)
    }

    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()> {
        self.writes.hard_state += 1;
        self.hard_state = hard_state;
        Ok(())
    }

    fn first_index(&self) -> Result<Index> {
        Ok(self.snapshot_index() + 1)
    }

    fn last_index(&self) -> Result<Index> {
        Ok(self.snapshot_index() + self.entries.len() as u64)
    }

    fn term(&self, index: Index) -> Result<Option<Term>> {
        let snap = self.snapshot_index();
        if index == snap {
            return Ok(Some(self.snapshot_term()));
        }
        if index < snap {
            return Ok(None);
        }
        Ok(self.entries.get((index - snap - 1) as usize).map(|e| e.term))
    }

    fn entries(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>> {
        let snap = self.snapshot_index();
        if lo <= snap {
            return Err(Error::Compacted(lo));
        }
        let hi = hi.min(self.last_index()? + 1);
        let mut out = Vec::new();
        let mut size = 0;
        let mut index = lo;
        while index < hi {
            let entry = &self.entries[(index - snap - 1) as usize];
            size += entry.approx_size();
            if !out.is_empty() && size > max_bytes {
                break;
            }
            out.push(entry.clone());
            index += 1;
        }
        Ok(out)
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let Some(first) = entries.first() else { return Ok(()) };
        let last = self.last_index()?;
        if first.index != last + 1 {
            return Err(Error::Storage(format!(
                "append at {} but last index is {last}",
                first.index
            )));
        }
        self.writes.append += 1;
        self.entries.extend_from_slice(entries);
        Ok(())
    }

    fn truncate_suffix(&mut self, from: Index) -> Result<()> {
        let snap = self.snapshot_index();
        if from <= snap {
            return Err(Error::Storage(format!("truncate at {from} inside snapshot {snap}")));
        }
        self.writes.truncate += 1;
        self.entries.truncate((from - snap - 1) as usize);
        Ok(())
    }

    fn compact(&mut self, snapshot: Snapshot) -> Result<()> {
        let snap = self.snapshot_index();
        let last = self.last_index()?;
        if snapshot.last_index <= snap || snapshot.last_index > last {
            return Err(Error::Storage(format!(
                "compact at {} outside log {}..={last}",
                snapshot.last_index,
                snap + 1
            )));
        }
        self.writes.snapshot += 1;
        self.entries.drain(..(snapshot.last_index - snap) as usize);
        self.snapshot = Some(snapshot);
        Ok(())
    }

    fn install_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        self.writes.snapshot += 1;
        self.entries.clear();
        self.snapshot = Some(snapshot);
        Ok(())
    }

    fn snapshot(&self) -> Result<Option<Snapshot>> {
        Ok(self.snapshot.clone())
    }
}
