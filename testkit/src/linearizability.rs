//! A linearizability checker for histories of single-key register
//! operations (Wing & Gong's search with memoization, as in Knossos/Porcupine).
//!
//! The metastore tests model each database name as a boolean register:
//! `CREATE DATABASE` writes `true`, `DROP DATABASE` writes `false`, and a
//! read (a linearizable metastore read) observes it. Different keys are
//! independent (P-compositionality), so each key is checked on its own.
//! Operations whose outcome is unknown (timeouts, errors after sending) may
//! or may not have taken effect: they are given an infinite return time and
//! are allowed to be left out.

use std::collections::{BTreeMap, HashSet};

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Set the register.
    Write(bool),
    /// Observed the register's value.
    Read(bool),
}

/// One operation of a history.
#[derive(Debug, Clone)]
pub struct Event {
    /// The register.
    pub key: String,
    /// The operation.
    pub op: Op,
    /// When it was invoked (any monotonic unit).
    pub invoke: u64,
    /// When it returned; `None` when the outcome is unknown.
    pub ret: Option<u64>,
}

/// Checks a whole history, key by key. Returns the first key that has no
/// linearization, with its events, as the error.
pub fn check(history: &[Event], initial: bool) -> Result<(), String> {
    let mut by_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in history {
        by_key.entry(&e.key).or_default().push(e);
    }
    for (key, events) in by_key {
        if !check_key(&events, initial) {
            let mut lines: Vec<String> = events
                .iter()
                .map(|e| format!("  {:?} [{}, {:?}]", e.op, e.invoke, e.ret))
                .collect();
            lines.sort();
            return Err(format!("key {key:?} is not linearizable:\n{}", lines.join("\n")));
        }
    }
    Ok(())
}

fn check_key(events: &[&Event], initial: bool) -> bool {
    let n = events.len();
    if n > 63 {
        // Split into windows that are separated in time would be needed for
        // longer histories; callers keep per-key histories short.
        return check_long(events, initial);
    }
    let mut seen: HashSet<(u64, bool)> = HashSet::new();
    search(events, 0, initial, &mut seen)
}

/// Depth-first search over which pending operation linearizes next.
fn search(events: &[&Event], done: u64, value: bool, seen: &mut HashSet<(u64, bool)>) -> bool {
    let n = events.len();
    // Finished when every completed operation is linearized (unknown ones may be skipped).
    if events.iter().enumerate().all(|(i, e)| done & (1 << i) != 0 || e.ret.is_none()) {
        return true;
    }
    if !seen.insert((done, value)) {
        return false;
    }
    // The earliest return time among operations not yet linearized bounds
    // which operations may go next: only those invoked before it.
    let min_ret = (0..n)
        .filter(|i| done & (1 << i) == 0)
        .filter_map(|i| events[i].ret)
        .min()
        .unwrap_or(u64::MAX);
    for i in 0..n {
        if done & (1 << i) != 0 || events[i].invoke > min_ret {
            continue;
        }
        let next = match events[i].op {
            Op::Write(v) => Some(v),
            Op::Read(v) => (v == value).then_some(value),
        };
        if let Some(v) = next
            && search(events, done | (1 << i), v, seen)
        {
            return true;
        }
    }
    false
}

/// Long histories: split at quiescent points (no operation spans them) and
/// carry the set of possible values across.
fn check_long(events: &[&Event], initial: bool) -> bool {
    let mut sorted: Vec<&Event> = events.to_vec();
    sorted.sort_by_key(|e| e.invoke);
    let mut possible: HashSet<bool> = HashSet::from([initial]);
    let mut start = 0;
    let mut max_ret = 0u64;
    for i in 0..sorted.len() {
        let end_here = i + 1 == sorted.len()
            || sorted[i + 1].invoke > max_ret.max(sorted[i].ret.unwrap_or(u64::MAX));
        max_ret = max_ret.max(sorted[i].ret.unwrap_or(u64::MAX));
        if end_here {
            let window = &sorted[start..=i];
            if window.len() > 63 {
                return false;
            }
            let mut next = HashSet::new();
            for v in &possible {
                for end in [false, true] {
                    if reaches(window, *v, end) {
                        next.insert(end);
                    }
                }
            }
            if next.is_empty() {
                return false;
            }
            possible = next;
            start = i + 1;
        }
    }
    true
}

/// Whether `window` linearizes from `from` ending with value `to`.
fn reaches(window: &[&Event], from: bool, to: bool) -> bool {
    // Append a read of `to` after everything, then search.
    let probe =
        Event { key: String::new(), op: Op::Read(to), invoke: u64::MAX - 1, ret: Some(u64::MAX) };
    let mut with: Vec<&Event> = window.to_vec();
    with.push(&probe);
    let mut seen = HashSet::new();
    search(&with, 0, from, &mut seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(op: Op, invoke: u64, ret: Option<u64>) -> Event {
        Event { key: "db".into(), op, invoke, ret }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![
            ev(Op::Write(true), 0, Some(1)),
            ev(Op::Read(true), 2, Some(3)),
            ev(Op::Write(false), 4, Some(5)),
            ev(Op::Read(false), 6, Some(7)),
        ];
        assert!(check(&h, false).is_ok());
    }

    #[test]
    fn stale_read_is_caught() {
        let h = vec![
            ev(Op::Write(true), 0, Some(1)),
            ev(Op::Write(false), 2, Some(3)),
            ev(Op::Read(true), 4, Some(5)),
        ];
        assert!(check(&h, false).is_err());
    }

    #[test]
    fn concurrent_and_unknown_operations_may_go_either_way() {
        let h = vec![
            ev(Op::Write(true), 0, Some(10)),
            ev(Op::Read(false), 1, Some(2)),
            ev(Op::Read(true), 3, Some(4)),
            ev(Op::Write(false), 5, None),
            ev(Op::Read(true), 11, Some(12)),
        ];
        assert!(check(&h, false).is_ok());
        let bad = vec![ev(Op::Read(true), 0, Some(1))];
        assert!(check(&bad, false).is_err());
    }
}
