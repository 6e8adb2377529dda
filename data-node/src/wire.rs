//! Points on the wire between data nodes (`WirePoint`) and back.

use portable::{FieldValue, Point};
use proto::cluster::{self, wire_field::Value};

/// A point as sent to another owner.
pub fn to_wire(p: &Point) -> cluster::WirePoint {
    cluster::WirePoint {
        measurement: p.measurement.clone(),
        tags: p
            .tags
            .iter()
            .map(|(k, v)| cluster::WireTag { key: k.clone(), value: v.clone() })
            .collect(),
        fields: p
            .fields
            .iter()
            .map(|(k, v)| cluster::WireField {
                name: k.clone(),
                value: Some(match v {
                    FieldValue::Float(f) => Value::Float(*f),
                    FieldValue::Integer(i) => Value::Integer(*i),
                    FieldValue::Unsigned(u) => Value::Unsigned(*u),
                    FieldValue::Boolean(b) => Value::Boolean(*b),
                    FieldValue::String(s) => Value::String(s.clone()),
                }),
            })
            .collect(),
        time: p.time,
    }
}

/// A point received from a coordinator. Fields without a value are dropped.
pub fn from_wire(w: cluster::WirePoint) -> Point {
    Point {
        measurement: w.measurement,
        tags: w.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        fields: w
            .fields
            .into_iter()
            .filter_map(|f| {
                let v = match f.value? {
                    Value::Float(x) => FieldValue::Float(x),
                    Value::Integer(x) => FieldValue::Integer(x),
                    Value::Unsigned(x) => FieldValue::Unsigned(x),
                    Value::Boolean(x) => FieldValue::Boolean(x),
                    Value::String(x) => FieldValue::String(x),
                };
                Some((f.name, v))
            })
            .collect(),
        time: w.time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type() {
        let p = Point {
            measurement: "m x".into(),
            tags: vec![("a".into(), "b,c".into())],
            fields: vec![
                ("f".into(), FieldValue::Float(1.5)),
                ("i".into(), FieldValue::Integer(-3)),
                ("u".into(), FieldValue::Unsigned(u64::MAX)),
                ("b".into(), FieldValue::Boolean(true)),
                ("s".into(), FieldValue::String("x\"y".into())),
            ],
            time: -5,
        };
        assert_eq!(from_wire(to_wire(&p)), p);
    }
}
