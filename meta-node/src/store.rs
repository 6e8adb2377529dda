//! Durable Raft storage on sled: the hard state (term, vote), the log and the
//! latest snapshot, plus this node's identity.
//!
//! Every mutating call ends with `Db::flush()`, which fsyncs sled's log: the
//! Raft core answers votes and appends only after they return, and sled's own
//! 500 ms background flush would not be durable.
//!
//! Keys (tree `raft`): `hs` → hard state, `snap` → snapshot, `e` + index (u64
//! BE) → entry; (tree `node`): `id` → this node's ID (u64 BE).

use std::collections::VecDeque;
use std::path::Path;

use crate::raft::codec::Codec;
use crate::raft::{Entry, Error, HardState, Index, Result, Snapshot, Storage, Term};

/// The sled-backed store of one meta node.
pub struct SledStorage {
    db: sled::Db,
    log: sled::Tree,
    node: sled::Tree,
    hard_state: HardState,
    snapshot: Option<Snapshot>,
    /// Terms of the entries in the log, in index order from `first_index()`.
    terms: VecDeque<Term>,
}

fn storage_err(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

fn entry_key(index: Index) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = b'e';
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

impl SledStorage {
    /// Opens (or creates) the store in `dir`. A directory sled cannot read
    /// gives an error naming it.
    pub fn open(dir: &Path) -> std::result::Result<SledStorage, String> {
        let db =
            std::panic::catch_unwind(|| proto::sled_open::open(&sled::Config::new().path(dir)))
                .map_err(|_| {
                    format!("{}: the raft store is corrupt (sled panicked)", dir.display())
                })?
                .map_err(|e| format!("{}: cannot open the raft store: {e}", dir.display()))?;
        let log = db.open_tree("raft").map_err(|e| format!("{}: {e}", dir.display()))?;
        let node = db.open_tree("node").map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut s = SledStorage {
            db,
            log,
            node,
            hard_state: HardState::default(),
            snapshot: None,
            terms: VecDeque::new(),
        };
        s.load().map_err(|e| format!("{}: corrupt raft store: {e}", dir.display()))?;
        Ok(s)
    }

    fn load(&mut self) -> Result<()> {
        if let Some(v) = self.log.get(b"hs").map_err(storage_err)? {
            self.hard_state = HardState::decode(&v)?;
        }
        if let Some(v) = self.log.get(b"snap").map_err(storage_err)? {
            self.snapshot = Some(Snapshot::decode(&v)?);
        }
        for (expect, kv) in (self.snap_index() + 1..).zip(self.log.scan_prefix(b"e")) {
            let (k, v) = kv.map_err(storage_err)?;
            let e = Entry::decode(&v)?;
            if k.len() != 9 || e.index != expect {
                return Err(Error::Storage(format!(
                    "log gap or bad key at index {} (expected {expect})",
                    e.index
                )));
            }
            self.terms.push_back(e.term);
        }
        Ok(())
    }

    fn snap_index(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.last_index)
    }

    fn snap_term(&self) -> Term {
        self.snapshot.as_ref().map_or(0, |s| s.last_term)
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map_err(storage_err)?;
        Ok(())
    }

    /// This node's ID, if one was assigned.
    pub fn node_id(&self) -> Option<u64> {
        let v = self.node.get(b"id").ok().flatten()?;
        let b: [u8; 8] = v.as_ref().try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }

    /// Erases everything (a meta node removed from its cluster erases its
    /// metastore, as `influxd-ctl remove-meta` does).
    pub fn wipe(&mut self) -> Result<()> {
        self.log.clear().map_err(storage_err)?;
        self.node.clear().map_err(storage_err)?;
        self.flush()?;
        self.hard_state = HardState::default();
        self.snapshot = None;
        self.terms.clear();
        Ok(())
    }

    /// Persists this node's ID.
    pub fn set_node_id(&self, id: u64) -> Result<()> {
        self.node.insert(b"id", &id.to_be_bytes()).map_err(storage_err)?;
        self.flush()
    }
}

impl Storage for SledStorage {
    fn hard_state(&self) -> Result<HardState> {
        Ok(self.hard_state)
    }

    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()> {
        self.log.insert(b"hs", hard_state.encode()).map_err(storage_err)?;
        self.flush()?;
        self.hard_state = hard_state;
        Ok(())
    }

    fn first_index(&self) -> Result<Index> {
        Ok(self.snap_index() + 1)
    }

    fn last_index(&self) -> Result<Index> {
        Ok(self.snap_index() + self.terms.len() as u64)
    }

    fn term(&self, index: Index) -> Result<Option<Term>> {
        let snap = self.snap_index();
        if index == snap {
            return Ok(Some(self.snap_term()));
        }
        if index < snap {
            return Ok(None);
        }
        Ok(self.terms.get((index - snap - 1) as usize).copied())
    }

    fn entries(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>> {
        if lo < self.first_index()? {
            return Err(Error::Compacted(lo));
        }
        let hi = hi.min(self.last_index()? + 1);
        let mut out = Vec::new();
        let mut size = 0usize;
        if lo >= hi {
            return Ok(out);
        }
        for kv in self.log.range(entry_key(lo)..entry_key(hi)) {
            let (_, v) = kv.map_err(storage_err)?;
            let e = Entry::decode(&v)?;
            size += e.approx_size();
            out.push(e);
            if size > max_bytes {
                break;
            }
        }
        Ok(out)
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for e in entries {
            batch.insert(&entry_key(e.index), e.encode());
        }
        self.log.apply_batch(batch).map_err(storage_err)?;
        self.flush()?;
        self.terms.extend(entries.iter().map(|e| e.term));
        Ok(())
    }

    fn truncate_suffix(&mut self, from: Index) -> Result<()> {
        let last = self.last_index()?;
        if from > last {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for i in from..=last {
            batch.remove(&entry_key(i));
        }
        self.log.apply_batch(batch).map_err(storage_err)?;
        self.flush()?;
        let keep = (from - self.snap_index() - 1) as usize;
        self.terms.truncate(keep);
        Ok(())
    }

    fn compact(&mut self, snapshot: Snapshot) -> Result<()> {
        let old_first = self.first_index()?;
        let upto = snapshot.last_index;
        let mut batch = sled::Batch::default();
        batch.insert(b"snap", snapshot.encode());
        for i in old_first..=upto {
            batch.remove(&entry_key(i));
        }
        self.log.apply_batch(batch).map_err(storage_err)?;
        self.flush()?;
        let drop_n = (upto + 1).saturating_sub(old_first) as usize;
        for _ in 0..drop_n.min(self.terms.len()) {
            self.terms.pop_front();
        }
        self.snapshot = Some(snapshot);
        Ok(())
    }

    fn install_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        let mut batch = sled::Batch::default();
        batch.insert(b"snap", snapshot.encode());
        for kv in self.log.scan_prefix(b"e") {
            let (k, _) = kv.map_err(storage_err)?;
            batch.remove(k);
        }
        self.log.apply_batch(batch).map_err(storage_err)?;
        self.flush()?;
        self.terms.clear();
        self.snapshot = Some(snapshot);
        Ok(())
    }

    fn snapshot(&self) -> Result<Option<Snapshot>> {
        Ok(self.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::EntryPayload;

    fn entry(index: Index, term: Term) -> Entry {
        Entry { index, term, payload: EntryPayload::Command(vec![index as u8]) }
    }

    #[test]
    fn log_survives_reopen_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = SledStorage::open(dir.path()).unwrap();
            s.set_hard_state(HardState { term: 3, vote: Some(2) }).unwrap();
            s.append(&(1..=10).map(|i| entry(i, 1 + i / 5)).collect::<Vec<_>>()).unwrap();
            s.truncate_suffix(9).unwrap();
            s.compact(Snapshot {
                last_index: 4,
                last_term: 1,
                members: vec![],
                data: b"state".to_vec(),
            })
            .unwrap();
            s.set_node_id(7).unwrap();
        }
        let s = SledStorage::open(dir.path()).unwrap();
        assert_eq!(s.hard_state().unwrap(), HardState { term: 3, vote: Some(2) });
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (5, 8));
        assert_eq!(s.term(4).unwrap(), Some(1));
        assert_eq!(s.term(5).unwrap(), Some(2));
        assert_eq!(s.term(9).unwrap(), None);
        let es = s.entries(5, 100, usize::MAX).unwrap();
        assert_eq!(es.iter().map(|e| e.index).collect::<Vec<_>>(), vec![5, 6, 7, 8]);
        assert!(matches!(s.entries(3, 5, 100), Err(Error::Compacted(_))));
        assert_eq!(s.node_id(), Some(7));
    }

    #[test]
    fn garbage_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("conf"), b"\xff\xfe garbage").unwrap();
        std::fs::write(dir.path().join("db"), b"not a sled file at all").unwrap();
        match SledStorage::open(dir.path()) {
            Ok(_) => {}
            Err(e) => assert!(e.contains(&dir.path().display().to_string()), "{e}"),
        }
    }
}
