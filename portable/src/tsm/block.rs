//! One TSM block: `type byte, uvarint(len(ts)), timestamps, values`
//! (spec §4.3), encoded from and decoded to typed column vectors.
//!
//! These are the block-level APIs: a data node can keep points as encoded
//! blocks and a backup can copy blocks without decoding them.

use super::varint::{put_uvarint, uvarint};
use super::{boolean, float, integer, string, timestamp};
use crate::error::{Corruption, Error};
use crate::point::{FieldType, FieldValue};

/// The most points the writer puts in one block (`tsdb.DefaultMaxPointsPerBlock`).
pub const MAX_POINTS_PER_BLOCK: usize = 1000;

/// The most points a decoded block may hold. Real InfluxDB writes at most
/// 1000; the limit stops a few corrupt bytes (an RLE count) from making the
/// reader allocate gigabytes.
pub const MAX_DECODED_POINTS_PER_BLOCK: usize = 1 << 20;

/// The values of a block (or of a whole series), one vector per type.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Block type 0.
    Float(Vec<f64>),
    /// Block type 1.
    Integer(Vec<i64>),
    /// Block type 4.
    Unsigned(Vec<u64>),
    /// Block type 2.
    Boolean(Vec<bool>),
    /// Block type 3.
    String(Vec<String>),
}

/// A borrowed slice of typed values, what the block encoder takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueSlice<'a> {
    /// Floats.
    Float(&'a [f64]),
    /// Signed integers.
    Integer(&'a [i64]),
    /// Unsigned integers.
    Unsigned(&'a [u64]),
    /// Booleans.
    Boolean(&'a [bool]),
    /// Strings.
    String(&'a [String]),
}

macro_rules! each_variant {
    ($self:expr, $v:ident => $body:expr) => {
        match $self {
            Values::Float($v) => $body,
            Values::Integer($v) => $body,
            Values::Unsigned($v) => $body,
            Values::Boolean($v) => $body,
            Values::String($v) => $body,
        }
    };
}

impl Values {
    /// An empty vector of the given type.
    pub fn new(t: FieldType) -> Values {
        match t {
            FieldType::Float => Values::Float(Vec::new()),
            FieldType::Integer => Values::Integer(Vec::new()),
            FieldType::Unsigned => Values::Unsigned(Vec::new()),
            FieldType::Boolean => Values::Boolean(Vec::new()),
            FieldType::String => Values::String(Vec::new()),
        }
    }

    /// The field type.
    pub fn field_type(&self) -> FieldType {
        match self {
            Values::Float(_) => FieldType::Float,
            Values::Integer(_) => FieldType::Integer,
            Values::Unsigned(_) => FieldType::Unsigned,
            Values::Boolean(_) => FieldType::Boolean,
            Values::String(_) => FieldType::String,
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every value, keeping the type.
    pub fn clear(&mut self) {
        each_variant!(self, v => v.clear())
    }

    /// Value `i` as a [`FieldValue`], if in range.
    pub fn get(&self, i: usize) -> Option<FieldValue> {
        Some(match self {
            Values::Float(v) => FieldValue::Float(*v.get(i)?),
            Values::Integer(v) => FieldValue::Integer(*v.get(i)?),
            Values::Unsigned(v) => FieldValue::Unsigned(*v.get(i)?),
            Values::Boolean(v) => FieldValue::Boolean(*v.get(i)?),
            Values::String(v) => FieldValue::String(v.get(i)?.clone()),
        })
    }

    /// Appends a value; it must have this vector's type.
    pub fn push(&mut self, value: FieldValue) -> Result<(), Error> {
        match (self, value) {
            (Values::Float(v), FieldValue::Float(x)) => v.push(x),
            (Values::Integer(v), FieldValue::Integer(x)) => v.push(x),
            (Values::Unsigned(v), FieldValue::Unsigned(x)) => v.push(x),
            (Values::Boolean(v), FieldValue::Boolean(x)) => v.push(x),
            (Values::String(v), FieldValue::String(x)) => v.push(x),
            (this, value) => {
                return Err(Error::invalid_input(format!(
                    "{} value for a {} series",
                    value.field_type(),
                    this.field_type()
                )));
            }
        }
        Ok(())
    }

    /// Appends `other[range]`; the types must match.
    pub fn extend_from(
        &mut self,
        other: &Values,
        range: std::ops::Range<usize>,
    ) -> Result<(), Error> {
        match (self, other) {
            (Values::Float(a), Values::Float(b)) => a.extend_from_slice(&b[range]),
            (Values::Integer(a), Values::Integer(b)) => a.extend_from_slice(&b[range]),
            (Values::Unsigned(a), Values::Unsigned(b)) => a.extend_from_slice(&b[range]),
            (Values::Boolean(a), Values::Boolean(b)) => a.extend_from_slice(&b[range]),
            (Values::String(a), Values::String(b)) => a.extend_from_slice(&b[range]),
            (a, b) => {
                return Err(Error::invalid_input(format!(
                    "{} values into a {} series",
                    b.field_type(),
                    a.field_type()
                )));
            }
        }
        Ok(())
    }

    /// Keeps only the values whose index passes `keep`.
    pub fn retain_indices(&mut self, keep: &[bool]) {
        fn apply<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                keep.get(i - 1).copied().unwrap_or(false)
            });
        }
        each_variant!(self, v => apply(v, keep))
    }

    /// Borrows `self[range]`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> ValueSlice<'_> {
        match self {
            Values::Float(v) => ValueSlice::Float(&v[range]),
            Values::Integer(v) => ValueSlice::Integer(&v[range]),
            Values::Unsigned(v) => ValueSlice::Unsigned(&v[range]),
            Values::Boolean(v) => ValueSlice::Boolean(&v[range]),
            Values::String(v) => ValueSlice::String(&v[range]),
        }
    }

    /// Borrows all values.
    pub fn as_slice(&self) -> ValueSlice<'_> {
        self.slice(0..self.len())
    }
}

impl ValueSlice<'_> {
    /// The field type.
    pub fn field_type(&self) -> FieldType {
        match self {
            ValueSlice::Float(_) => FieldType::Float,
            ValueSlice::Integer(_) => FieldType::Integer,
            ValueSlice::Unsigned(_) => FieldType::Unsigned,
            ValueSlice::Boolean(_) => FieldType::Boolean,
            ValueSlice::String(_) => FieldType::String,
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            ValueSlice::Float(v) => v.len(),
            ValueSlice::Integer(v) => v.len(),
            ValueSlice::Unsigned(v) => v.len(),
            ValueSlice::Boolean(v) => v.len(),
            ValueSlice::String(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes one block from sorted, unique `timestamps` and as many `values`,
/// appending the payload (without the CRC) to `out`.
///
/// Errors: empty input, a count mismatch, unsorted or duplicate timestamps,
/// or a NaN float. Any number of points is accepted; the file writer splits
/// series into blocks of [`MAX_POINTS_PER_BLOCK`].
pub fn encode_block(
    timestamps: &[i64],
    values: ValueSlice<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if timestamps.is_empty() {
        return Err(Error::invalid_input("a block needs at least one point"));
    }
    if timestamps.len() != values.len() {
        return Err(Error::invalid_input(format!(
            "{} timestamps but {} values",
            timestamps.len(),
            values.len()
        )));
    }
    if let Some(w) = timestamps.windows(2).find(|w| w[0] >= w[1]) {
        return Err(Error::invalid_input(format!(
            "timestamps must be ascending and unique, found {} then {}",
            w[0], w[1]
        )));
    }
    out.push(values.field_type() as u8);
    // The timestamp section's length precedes it, so encode it apart first.
    let mut ts = Vec::with_capacity(16 + timestamps.len());
    timestamp::encode(timestamps, &mut ts);
    put_uvarint(out, ts.len() as u64);
    out.extend_from_slice(&ts);
    match values {
        ValueSlice::Float(v) => float::encode(v, out)?,
        ValueSlice::Integer(v) => integer::encode(v, out),
        ValueSlice::Unsigned(v) => integer::encode_unsigned(v, out),
        ValueSlice::Boolean(v) => boolean::encode(v, out),
        ValueSlice::String(v) => string::encode(v, out)?,
    }
    Ok(())
}

/// The block type byte of a payload, checked.
pub fn block_type(block: &[u8]) -> Result<FieldType, Corruption> {
    let &t = block.first().ok_or_else(|| Corruption::truncated("block type"))?;
    FieldType::from_block_type(t)
        .ok_or_else(|| Corruption::invalid("block type", format!("unknown type {t}")))
}

/// Splits a payload into (type, timestamp section, value section).
fn split(block: &[u8]) -> Result<(FieldType, &[u8], &[u8]), Corruption> {
    let t = block_type(block)?;
    let (ts_len, used) = uvarint(&block[1..], "block timestamp length")?;
    let start = 1 + used;
    let end = usize::try_from(ts_len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e <= block.len())
        .ok_or_else(|| {
            Corruption::out_of_bounds(format!("block timestamp section of {ts_len} bytes"))
        })?;
    Ok((t, &block[start..end], &block[end..]))
}

/// Counts the points of a payload without decoding it.
pub fn count_points(block: &[u8]) -> Result<usize, Corruption> {
    let (_, ts, _) = split(block)?;
    timestamp::count(ts)
}

/// Decodes a payload into `timestamps` and `values` (both replaced; their
/// allocations are reused). `values` takes the block's type.
pub fn decode_block_into(
    block: &[u8],
    timestamps: &mut Vec<i64>,
    values: &mut Values,
) -> Result<(), Corruption> {
    let (t, ts, vs) = split(block)?;
    timestamp::decode(ts, MAX_DECODED_POINTS_PER_BLOCK, timestamps)?;
    let n = timestamps.len();
    if values.field_type() != t {
        *values = Values::new(t);
    }
    match values {
        Values::Float(v) => float::decode(vs, n, v),
        Values::Integer(v) => integer::decode(vs, n, v),
        Values::Unsigned(v) => integer::decode_unsigned(vs, n, v),
        Values::Boolean(v) => boolean::decode(vs, n, v),
        Values::String(v) => string::decode(vs, n, v),
    }
}

/// Decodes a payload into fresh vectors.
pub fn decode_block(block: &[u8]) -> Result<(Vec<i64>, Values), Corruption> {
    let mut ts = Vec::new();
    let mut values = Values::new(block_type(block)?);
    decode_block_into(block, &mut ts, &mut values)?;
    Ok((ts, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let ts = vec![10, 20, 35];
        let cases = vec![
            Values::Float(vec![1.5, -2.0, f64::INFINITY]),
            Values::Integer(vec![i64::MIN, 0, i64::MAX]),
            Values::Unsigned(vec![0, u64::MAX, 7]),
            Values::Boolean(vec![true, false, true]),
            Values::String(vec![String::new(), "x".into(), "ü\"\\".into()]),
        ];
        for v in cases {
            let mut b = Vec::new();
            encode_block(&ts, v.as_slice(), &mut b).unwrap();
            assert_eq!(block_type(&b).unwrap(), v.field_type());
            assert_eq!(count_points(&b).unwrap(), 3);
            let (t2, v2) = decode_block(&b).unwrap();
            assert_eq!(t2, ts);
            assert_eq!(v2, v);
        }
    }

    #[test]
    fn bad_input_is_rejected() {
        let mut b = Vec::new();
        assert!(encode_block(&[], ValueSlice::Float(&[]), &mut b).is_err());
        assert!(encode_block(&[2, 1], ValueSlice::Float(&[1.0, 2.0]), &mut b).is_err());
        assert!(encode_block(&[1, 1], ValueSlice::Float(&[1.0, 2.0]), &mut b).is_err());
        assert!(encode_block(&[1], ValueSlice::Float(&[1.0, 2.0]), &mut b).is_err());
        assert!(encode_block(&[1], ValueSlice::Float(&[f64::NAN]), &mut b).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for len in 0..300 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for t in 0..6u8 {
                let mut d = data.clone();
                if let Some(x) = d.first_mut() {
                    *x = t;
                }
                let _ = decode_block(&d);
            }
        }
    }
}
