//! The membership (configuration) history of the log.
//!
//! Configuration entries take effect as soon as they are appended (Raft thesis §4.1), so the
//! configuration "in force" is that of the last configuration entry in the log, committed or
//! not. Truncating the log can therefore roll the configuration back, and compaction needs the
//! configuration at the compaction index. This module keeps just enough history for both: the
//! base (the snapshot's configuration) plus one record per configuration entry after it.

use super::{EntryPayload, Index, Member, NodeId};

/// The configurations of the uncompacted log, oldest first.
#[derive(Clone, Debug)]
pub(crate) struct Membership {
    /// `(index, members)` pairs, sorted by index; `history[0]` is the base (the snapshot's
    /// configuration, or the empty configuration at index 0). Members are sorted by id.
    history: Vec<(Index, Vec<Member>)>,
}

impl Membership {
    /// A history whose base is `members` at `index` (a snapshot, or empty at 0).
    pub(crate) fn new(index: Index, mut members: Vec<Member>) -> Self {
        members.sort();
        members.dedup_by_key(|m| m.id);
        Membership { history: vec![(index, members)] }
    }

    /// The configuration in force (the last one appended).
    pub(crate) fn current(&self) -> &[Member] {
        &self.history[self.history.len() - 1].1
    }

    /// The index of the last configuration entry (or of the base).
    pub(crate) fn index(&self) -> Index {
        self.history[self.history.len() - 1].0
    }

    /// The configuration in force at `index` (the last one at or before it).
    pub(crate) fn at(&self, index: Index) -> &[Member] {
        let pos = self.history.partition_point(|(i, _)| *i <= index);
        &self.history[pos.saturating_sub(1)].1
    }

    /// Whether `id` is a member of the current configuration.
    pub(crate) fn contains(&self, id: NodeId) -> bool {
        self.current().iter().any(|m| m.id == id)
    }

    /// The ids of the current configuration.
    pub(crate) fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.current().iter().map(|m| m.id)
    }

    /// Records the entry at `index` if it is a configuration entry. Returns whether it was.
    pub(crate) fn append(&mut self, index: Index, payload: &EntryPayload) -> bool {
        let Some(members) = apply_change(self.current(), payload) else { return false };
        self.history.push((index, members));
        true
    }

    /// Forgets configuration entries at `from` and later (the log was truncated there).
    pub(crate) fn truncate(&mut self, from: Index) {
        while self.history.len() > 1 && self.history[self.history.len() - 1].0 >= from {
            self.history.pop();
        }
    }

    /// Rebases the history on a compaction at `index`: the configuration in force there
    /// becomes the base, earlier records are dropped.
    pub(crate) fn compact(&mut self, index: Index) {
        let base = self.at(index).to_vec();
        self.history.retain(|(i, _)| *i > index);
        self.history.insert(0, (index, base));
    }
}

/// The configuration that results from applying `payload` to `members`, or `None` if the
/// payload is not a configuration entry.
pub(crate) fn apply_change(members: &[Member], payload: &EntryPayload) -> Option<Vec<Member>> {
    let mut next = match payload {
        EntryPayload::Bootstrap(all) => all.clone(),
        EntryPayload::AddMember(member) => {
            let mut next: Vec<Member> =
                members.iter().filter(|m| m.id != member.id).cloned().collect();
            next.push(member.clone());
            next
        }
        EntryPayload::RemoveMember(id) => members.iter().filter(|m| m.id != *id).cloned().collect(),
        EntryPayload::Noop | EntryPayload::Command(_) => return None,
    };
    next.sort();
    next.dedup_by_key(|m| m.id);
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u64) -> Member {
        Member::new(id, "r", "h")
    }

    #[test]
    fn history_append_truncate_compact() {
        let mut ms = Membership::new(0, vec![]);
        assert!(ms.append(1, &EntryPayload::Bootstrap(vec![m(2), m(1)])));
        assert!(!ms.append(2, &EntryPayload::Noop));
        assert!(ms.append(5, &EntryPayload::AddMember(m(3))));
        assert!(ms.append(8, &EntryPayload::RemoveMember(1)));
        assert_eq!(ms.ids().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(ms.index(), 8);
        assert_eq!(ms.at(4), &[m(1), m(2)]);
        assert_eq!(ms.at(0), &[] as &[Member]);
        ms.truncate(8);
        assert_eq!(ms.ids().collect::<Vec<_>>(), vec![1, 2, 3]);
        ms.compact(6);
        assert_eq!(ms.at(6), &[m(1), m(2), m(3)]);
        assert_eq!(ms.index(), 6);
        ms.truncate(1);
        assert_eq!(ms.current().len(), 3, "the base is never truncated");
    }
}
