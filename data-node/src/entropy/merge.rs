//! The union of the owners' points of one composite key, and what each
//! owner lacks of it. Pure: no I/O, unit-tested in `tests.rs`.

use std::collections::BTreeMap;

use portable::FieldValue;
use portable::tsm::Values;

/// One owner's points of one composite key: ascending unique times and
/// their values (empty when the owner lacks the key).
pub type Column = (Vec<i64>, Values);

/// Equal values; floats by their bits (so a NaN equals itself).
fn same(a: &FieldValue, b: &FieldValue) -> bool {
    match (a, b) {
        (FieldValue::Float(x), FieldValue::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// Plans the patches that make every owner hold the union of the owners'
/// points. `owners` is in the metastore's owner order; on one time with
/// different values the earliest owner's value wins, so the result does
/// not depend on which owner runs the repair. Returns, per owner, the
/// points to import into it (an empty column: nothing to do), or `None`
/// when owners hold the key with different field types.
pub fn plan_union(owners: &[Column]) -> Option<Vec<Column>> {
    let present: Vec<&Column> = owners.iter().filter(|c| !c.0.is_empty()).collect();
    let Some(first) = present.first() else {
        return Some(owners.iter().map(|c| (Vec::new(), Values::new(c.1.field_type()))).collect());
    };
    let ft = first.1.field_type();
    if present.iter().any(|c| c.1.field_type() != ft) {
        return None;
    }
    let mut union: BTreeMap<i64, FieldValue> = BTreeMap::new();
    for (ts, vs) in &present {
        for (i, t) in ts.iter().enumerate() {
            if let Some(v) = vs.get(i) {
                union.entry(*t).or_insert(v);
            }
        }
    }
    let mut out = Vec::with_capacity(owners.len());
    for (ts, vs) in owners {
        let mut patch = (Vec::new(), Values::new(ft));
        let mut j = 0;
        for (t, v) in &union {
            while j < ts.len() && ts[j] < *t {
                j += 1;
            }
            let has = j < ts.len() && ts[j] == *t && vs.get(j).is_some_and(|own| same(&own, v));
            if !has {
                patch.0.push(*t);
                // Same type as the union: cannot fail.
                patch.1.push(v.clone()).ok()?;
            }
        }
        out.push(patch);
    }
    Some(out)
}
