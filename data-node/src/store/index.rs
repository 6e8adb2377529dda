//! The in-memory series index of a shard, which also holds the write cache:
//! measurement → series → fields (each with its cached, unflushed points),
//! tag key → tag value → number of series.
//!
//! A series field ("slot") exists exactly while the composite key has data,
//! stored in blocks or cached. A measurement's field type lives while some
//! series has that field.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use portable::FieldType;
use portable::key::parse_series_key;

use super::column::Column;
use super::fxhash::FxHashMap;

/// One field of one series.
#[derive(Debug)]
pub struct Slot {
    /// Field name (raw).
    pub name: String,
    /// Cached (unflushed) points.
    pub col: Column,
    /// Whether the composite key has blocks on disk.
    pub stored: bool,
}

/// One series.
#[derive(Debug)]
pub struct SeriesEntry {
    /// Measurement name, unescaped.
    pub measurement: Arc<str>,
    /// Tags, unescaped, as parsed from the series key.
    pub tags: Vec<(String, String)>,
    /// Fields with data.
    pub slots: Vec<Slot>,
}

impl SeriesEntry {
    /// The slot of `field`.
    pub fn slot(&self, field: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == field)
    }

    /// The slot of `field`, mutably.
    pub fn slot_mut(&mut self, field: &str) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.name == field)
    }
}

/// One measurement.
#[derive(Debug, Default)]
pub struct Measurement {
    /// Field → (type, number of series having it).
    pub fields: FxHashMap<String, (FieldType, usize)>,
    /// Escaped series keys.
    pub series: BTreeSet<String>,
    /// Tag key → tag value → number of series.
    pub tags: BTreeMap<String, BTreeMap<String, usize>>,
}

/// The index of a shard.
#[derive(Debug, Default)]
pub struct Index {
    /// Measurements by unescaped name.
    pub measurements: FxHashMap<Arc<str>, Measurement>,
    /// Series by escaped key.
    pub series: FxHashMap<String, SeriesEntry>,
}

impl Index {
    /// The measurement a series key belongs to (known series first, else
    /// parsed from the key).
    pub fn measurement_of(&self, series_key: &str) -> Arc<str> {
        match self.series.get(series_key) {
            Some(s) => s.measurement.clone(),
            None => {
                let (m, _) = parse_series_key(series_key);
                match self.measurements.get_key_value(m.as_str()) {
                    Some((k, _)) => k.clone(),
                    None => Arc::from(m),
                }
            }
        }
    }

    /// The stored type of `field` in `measurement`.
    pub fn field_type(&self, measurement: &str, field: &str) -> Option<FieldType> {
        self.measurements.get(measurement)?.fields.get(field).map(|f| f.0)
    }

    /// The series `series_key`, created (with its tags) if new.
    pub fn series_entry(&mut self, series_key: &str) -> &mut SeriesEntry {
        if !self.series.contains_key(series_key) {
            let (m, tags) = parse_series_key(series_key);
            let name: Arc<str> = match self.measurements.get_key_value(m.as_str()) {
                Some((k, _)) => k.clone(),
                None => Arc::from(m),
            };
            let meas = self.measurements.entry(name.clone()).or_default();
            meas.series.insert(series_key.to_string());
            for (k, v) in &tags {
                *meas.tags.entry(k.clone()).or_default().entry(v.clone()).or_default() += 1;
            }
            self.series.insert(
                series_key.to_string(),
                SeriesEntry { measurement: name, tags, slots: Vec::new() },
            );
        }
        self.series.get_mut(series_key).expect("just inserted")
    }

    /// The slot for (`series_key`, `field`), created with type `t` if new.
    /// Returns None if the slot exists with another type.
    pub fn slot(&mut self, series_key: &str, field: &str, t: FieldType) -> Option<&mut Slot> {
        let entry = self.series_entry(series_key);
        let pos = entry.slots.iter().position(|s| s.name == field);
        let pos = match pos {
            Some(p) => p,
            None => {
                let m = entry.measurement.clone();
                let meas = self.measurements.get(&*m).expect("series has a measurement");
                if meas.fields.get(field).is_some_and(|f| f.0 != t) {
                    return None;
                }
                let entry = self.series.get_mut(series_key).expect("exists");
                entry.slots.push(Slot {
                    name: field.to_string(),
                    col: Column::new(t),
                    stored: false,
                });
                let p = entry.slots.len() - 1;
                let meas = self.measurements.get_mut(&*m).expect("series has a measurement");
                meas.fields.entry(field.to_string()).or_insert((t, 0)).1 += 1;
                p
            }
        };
        let entry = self.series.get_mut(series_key).expect("exists");
        let slot = &mut entry.slots[pos];
        (slot.col.field_type() == t).then_some(slot)
    }

    /// Removes the slots of `series_key` for which `keep` is false, then
    /// the series if it has no slot left, then the measurement if it has
    /// no series left. Returns whether the series was removed.
    pub fn prune(&mut self, series_key: &str, mut keep: impl FnMut(&Slot) -> bool) -> bool {
        let Some(entry) = self.series.get_mut(series_key) else { return false };
        let m = entry.measurement.clone();
        let mut removed_fields = Vec::new();
        entry.slots.retain(|s| {
            let k = keep(s);
            if !k {
                removed_fields.push(s.name.clone());
            }
            k
        });
        let now_empty = entry.slots.is_empty();
        let meas = self.measurements.get_mut(&*m).expect("series has a measurement");
        for f in removed_fields {
            if let Some(x) = meas.fields.get_mut(&f) {
                x.1 -= 1;
                if x.1 == 0 {
                    meas.fields.remove(&f);
                }
            }
        }
        if !now_empty {
            return false;
        }
        let entry = self.series.remove(series_key).expect("exists");
        meas.series.remove(series_key);
        for (k, v) in &entry.tags {
            if let Some(vals) = meas.tags.get_mut(k) {
                if let Some(c) = vals.get_mut(v) {
                    *c -= 1;
                    if *c == 0 {
                        vals.remove(v);
                    }
                }
                if vals.is_empty() {
                    meas.tags.remove(k);
                }
            }
        }
        if meas.series.is_empty() {
            self.measurements.remove(&*m);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_series_and_measurements_come_and_go() {
        let mut ix = Index::default();
        assert!(ix.slot("cpu,host=a", "v", FieldType::Float).is_some());
        assert!(ix.slot("cpu,host=b", "v", FieldType::Float).is_some());
        assert!(ix.slot("cpu,host=b", "w", FieldType::String).is_some());
        assert!(ix.slot("cpu,host=b", "w", FieldType::Integer).is_none());
        assert!(ix.slot("cpu,host=c", "w", FieldType::Integer).is_none());
        assert!(ix.series["cpu,host=c"].slots.is_empty());
        assert!(ix.prune("cpu,host=c", |_| true));
        assert_eq!(ix.field_type("cpu", "v"), Some(FieldType::Float));
        let m = &ix.measurements["cpu"];
        assert_eq!(m.series.len(), 2);
        assert_eq!(m.tags["host"].len(), 2);
        assert_eq!(&*ix.measurement_of("cpu,host=zz"), "cpu");

        assert!(!ix.prune("cpu,host=b", |s| s.name == "v"));
        assert_eq!(ix.field_type("cpu", "w"), None);
        assert!(ix.prune("cpu,host=b", |_| false));
        assert_eq!(ix.measurements["cpu"].tags["host"].len(), 1);
        assert_eq!(ix.field_type("cpu", "v"), Some(FieldType::Float));
        assert!(ix.prune("cpu,host=a", |_| false));
        assert!(ix.measurements.is_empty());
        assert!(ix.series.is_empty());
    }
}
