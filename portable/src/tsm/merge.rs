//! Merging points of one series from several blocks or files, as the
//! engine does: sorted by time, and for equal timestamps the later source
//! (higher generation/sequence file, later block) wins.

use super::block::Values;
use crate::error::{Error, Result};

/// Sorts `timestamps` (with `values` alongside) and drops duplicates, keeping
/// the value that came last in the input.
pub fn sort_dedup_last_wins(timestamps: &mut Vec<i64>, values: &mut Values) {
    let n = timestamps.len();
    let mut order: Vec<usize> = (0..n).collect();
    // Stable sort keeps input order among equal timestamps; keep the last.
    order.sort_by_key(|&i| timestamps[i]);
    let mut keep_idx = Vec::with_capacity(n);
    for (j, &i) in order.iter().enumerate() {
        if j + 1 < n && timestamps[order[j + 1]] == timestamps[i] {
            continue;
        }
        keep_idx.push(i);
    }
    *timestamps = keep_idx.iter().map(|&i| timestamps[i]).collect();
    *values = permute(values, &keep_idx);
}

fn permute(values: &Values, idx: &[usize]) -> Values {
    match values {
        Values::Float(v) => Values::Float(idx.iter().map(|&i| v[i]).collect()),
        Values::Integer(v) => Values::Integer(idx.iter().map(|&i| v[i]).collect()),
        Values::Unsigned(v) => Values::Unsigned(idx.iter().map(|&i| v[i]).collect()),
        Values::Boolean(v) => Values::Boolean(idx.iter().map(|&i| v[i]).collect()),
        Values::String(v) => Values::String(idx.iter().map(|&i| v[i].clone()).collect()),
    }
}

/// Merges two sorted, deduplicated series; on equal timestamps `newer` wins.
/// The types must match.
pub fn merge(older: (&[i64], &Values), newer: (&[i64], &Values)) -> Result<(Vec<i64>, Values)> {
    let (ots, ovs) = older;
    let (nts, nvs) = newer;
    if ovs.field_type() != nvs.field_type() {
        return Err(Error::invalid_input(format!(
            "cannot merge {} values into a {} series",
            nvs.field_type(),
            ovs.field_type()
        )));
    }
    let mut ts = Vec::with_capacity(ots.len() + nts.len());
    let mut vs = Values::new(ovs.field_type());
    let (mut i, mut j) = (0, 0);
    while i < ots.len() || j < nts.len() {
        if j == nts.len() || (i < ots.len() && ots[i] < nts[j]) {
            let run = i + ots[i..].iter().take_while(|&&t| j == nts.len() || t < nts[j]).count();
            ts.extend_from_slice(&ots[i..run]);
            vs.extend_from(ovs, i..run)?;
            i = run;
        } else {
            if i < ots.len() && ots[i] == nts[j] {
                i += 1;
            }
            ts.push(nts[j]);
            vs.extend_from(nvs, j..j + 1)?;
            j += 1;
        }
    }
    Ok((ts, vs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_wins() {
        let mut ts = vec![3, 1, 2, 1];
        let mut vs = Values::Integer(vec![30, 10, 20, 11]);
        sort_dedup_last_wins(&mut ts, &mut vs);
        assert_eq!(ts, [1, 2, 3]);
        assert_eq!(vs, Values::Integer(vec![11, 20, 30]));

        let (t, v) = merge(
            (&[1, 2, 4], &Values::Integer(vec![1, 2, 4])),
            (&[2, 3, 5], &Values::Integer(vec![20, 30, 50])),
        )
        .unwrap();
        assert_eq!(t, [1, 2, 3, 4, 5]);
        assert_eq!(v, Values::Integer(vec![1, 20, 30, 4, 50]));
    }
}
