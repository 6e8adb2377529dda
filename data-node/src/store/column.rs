//! A column of (time, value) points of one composite key, as the write
//! cache keeps them: appended in arrival order, sorted and deduplicated
//! (last write wins) only when someone needs them in order.

use portable::tsm::Values;
use portable::tsm::merge::sort_dedup_last_wins;
use portable::{FieldType, FieldValue};

/// Points of one key: parallel time and value vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Timestamps, in arrival order unless `sorted`.
    pub times: Vec<i64>,
    /// Values, one per timestamp.
    pub values: Values,
    /// Whether `times` is strictly ascending (sorted, no duplicates).
    pub sorted: bool,
}

impl Column {
    /// An empty column of type `t`.
    pub fn new(t: FieldType) -> Column {
        Column { times: Vec::new(), values: Values::new(t), sorted: true }
    }

    /// A column from already sorted, unique times.
    pub fn from_sorted(times: Vec<i64>, values: Values) -> Column {
        Column { times, values, sorted: true }
    }

    /// The field type.
    pub fn field_type(&self) -> FieldType {
        self.values.field_type()
    }

    /// Number of points (duplicates included while unsorted).
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Appends a point; false (and nothing appended) on a type mismatch.
    pub fn push(&mut self, t: i64, v: &FieldValue) -> bool {
        match (&mut self.values, v) {
            (Values::Float(a), FieldValue::Float(x)) => a.push(*x),
            (Values::Integer(a), FieldValue::Integer(x)) => a.push(*x),
            (Values::Unsigned(a), FieldValue::Unsigned(x)) => a.push(*x),
            (Values::Boolean(a), FieldValue::Boolean(x)) => a.push(*x),
            (Values::String(a), FieldValue::String(x)) => a.push(x.clone()),
            _ => return false,
        }
        if self.sorted && self.times.last().is_some_and(|&l| l >= t) {
            self.sorted = false;
        }
        self.times.push(t);
        true
    }

    /// Sorts by time and drops duplicates (the later arrival wins).
    pub fn normalize(&mut self) {
        if !self.sorted {
            sort_dedup_last_wins(&mut self.times, &mut self.values);
            self.sorted = true;
        }
    }

    /// Copies the points in `[min, max]`; the copy is sorted if `self` is
    /// (call [`Column::normalize`] on the copy otherwise).
    pub fn range_copy(&self, min: i64, max: i64) -> Column {
        if self.sorted {
            let lo = self.times.partition_point(|&t| t < min);
            let hi = self.times.partition_point(|&t| t <= max);
            let mut values = Values::new(self.field_type());
            if lo < hi {
                values.extend_from(&self.values, lo..hi).expect("same type");
            }
            return Column { times: self.times[lo.min(hi)..hi].to_vec(), values, sorted: true };
        }
        let keep: Vec<bool> = self.times.iter().map(|&t| t >= min && t <= max).collect();
        let mut times = self.times.clone();
        let mut values = self.values.clone();
        let mut i = 0;
        times.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        values.retain_indices(&keep);
        Column { times, values, sorted: false }
    }

    /// Removes the points in `[min, max]`; returns how many were removed.
    pub fn delete_range(&mut self, min: i64, max: i64) -> usize {
        let keep: Vec<bool> = self.times.iter().map(|&t| t < min || t > max).collect();
        let removed = keep.iter().filter(|&&k| !k).count();
        if removed > 0 {
            let mut i = 0;
            self.times.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            self.values.retain_indices(&keep);
        }
        removed
    }

    /// Appends `newer`'s points after this column's (so they win on equal
    /// times once normalized).
    pub fn append(&mut self, newer: &Column) {
        if newer.is_empty() {
            return;
        }
        if !newer.sorted || self.times.last().is_some_and(|&l| l >= newer.times[0]) {
            self.sorted = false;
        }
        self.times.extend_from_slice(&newer.times);
        self.values.extend_from(&newer.values, 0..newer.len()).expect("same type");
    }

    /// Approximate heap bytes.
    pub fn approx_bytes(&self) -> usize {
        let per = match &self.values {
            Values::String(v) => {
                return self.times.len() * 32 + v.iter().map(String::len).sum::<usize>();
            }
            Values::Boolean(_) => 1,
            _ => 8,
        };
        self.times.len() * (8 + per)
    }
}

/// Approximate bytes a value adds to a column.
pub fn value_bytes(v: &FieldValue) -> usize {
    match v {
        FieldValue::String(s) => 32 + s.len(),
        FieldValue::Boolean(_) => 9,
        _ => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_sort_dedup_last_wins() {
        let mut c = Column::new(FieldType::Integer);
        for (t, v) in [(5, 50), (1, 10), (5, 51), (3, 30)] {
            assert!(c.push(t, &FieldValue::Integer(v)));
        }
        assert!(!c.push(9, &FieldValue::Float(1.0)));
        assert!(!c.sorted);
        let r = c.range_copy(2, 5);
        assert_eq!(r.times, [5, 5, 3]);
        c.normalize();
        assert_eq!(c.times, [1, 3, 5]);
        assert_eq!(c.values, Values::Integer(vec![10, 30, 51]));
        let r = c.range_copy(2, 5);
        assert_eq!(r.times, [3, 5]);
        assert!(r.sorted);
        assert_eq!(c.range_copy(6, 9).times, Vec::<i64>::new());
        assert_eq!(c.range_copy(9, 6).times, Vec::<i64>::new());
        assert_eq!(c.delete_range(2, 5), 2);
        assert_eq!(c.times, [1]);
    }

    #[test]
    fn append_keeps_newer_last() {
        let mut a = Column::from_sorted(vec![1, 2], Values::Float(vec![1.0, 2.0]));
        let b = Column::from_sorted(vec![2, 3], Values::Float(vec![20.0, 30.0]));
        a.append(&b);
        a.normalize();
        assert_eq!(a.times, [1, 2, 3]);
        assert_eq!(a.values, Values::Float(vec![1.0, 20.0, 30.0]));
    }
}
