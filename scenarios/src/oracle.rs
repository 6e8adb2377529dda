//! The client-side oracle: every point a `write` sent, split into the points
//! the cluster acknowledged (2xx) and those whose request failed, which may
//! or may not have landed. `check lost-writes` compares it with what the
//! cluster returns (openraft `tests-turmoil`: no acknowledged write is lost).
//!
//! Points are kept as a 64-bit hash of (tags, timestamp) per measurement,
//! which is what makes a 134,726-line fixture cheap to track; lines without
//! a timestamp get the server's clock, so only their number is kept.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};

use crate::lineproto::PointKey;

/// Where points were written: (database, retention policy; "" = default).
pub type Target = (String, String);

/// The points written to one measurement.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// Acknowledged points with a timestamp.
    pub acked: HashSet<u64>,
    /// Acknowledged points without a timestamp.
    pub acked_untimed: u64,
    /// Points of failed requests (not in `acked`).
    pub maybe: HashSet<u64>,
    /// Points of failed requests without a timestamp.
    pub maybe_untimed: u64,
}

impl Measurement {
    /// Number of distinct acknowledged points.
    pub fn acked_count(&self) -> u64 {
        self.acked.len() as u64 + self.acked_untimed
    }

    /// Number of points that may exist beyond the acknowledged ones.
    pub fn maybe_count(&self) -> u64 {
        self.maybe.len() as u64 + self.maybe_untimed
    }
}

/// Every write of one cluster.
#[derive(Debug, Clone, Default)]
pub struct Oracle {
    /// Target → measurement name → points.
    pub targets: BTreeMap<Target, BTreeMap<String, Measurement>>,
}

/// The hash that identifies a point within its measurement.
pub fn point_hash(tags: &BTreeMap<String, String>, time: i64) -> u64 {
    let mut h = DefaultHasher::new();
    tags.hash(&mut h);
    time.hash(&mut h);
    h.finish()
}

impl Oracle {
    /// Records the points of one request.
    pub fn record<'a>(
        &mut self,
        target: &Target,
        keys: impl IntoIterator<Item = &'a PointKey>,
        acked: bool,
    ) {
        let t = self.targets.entry(target.clone()).or_default();
        for k in keys {
            let m = t.entry(k.measurement.clone()).or_default();
            match (k.time, acked) {
                (Some(time), true) => {
                    let h = point_hash(&k.tags, time);
                    m.maybe.remove(&h);
                    m.acked.insert(h);
                }
                (Some(time), false) => {
                    let h = point_hash(&k.tags, time);
                    if !m.acked.contains(&h) {
                        m.maybe.insert(h);
                    }
                }
                (None, true) => m.acked_untimed += 1,
                (None, false) => m.maybe_untimed += 1,
            }
        }
    }

    /// Total acknowledged points.
    pub fn acked_total(&self) -> u64 {
        self.targets.values().flat_map(|t| t.values()).map(Measurement::acked_count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::point_key;

    #[test]
    fn acked_points_win_and_overwrites_count_once() {
        let mut o = Oracle::default();
        let t = ("db".to_string(), String::new());
        let a = point_key("m,h=a v=1 10", 1).unwrap();
        let b = point_key("m,h=b v=1 10", 1).unwrap();
        let c = point_key("m v=1", 1).unwrap();
        o.record(&t, [&a, &b], false);
        o.record(&t, [&a, &a, &c], true);
        let m = &o.targets[&t]["m"];
        assert_eq!(m.acked_count(), 2);
        assert_eq!(m.maybe_count(), 1);
        o.record(&t, [&a], false);
        assert_eq!(o.targets[&t]["m"].maybe_count(), 1, "a failed rewrite of an acked point");
        assert_eq!(o.acked_total(), 2);
    }
}
