//! Aggregate and selector functions over the points of one window, with
//! InfluxDB's result types (count → integer, mean/median/stddev → float,
//! sum/spread keep integers, selectors keep the selected point's type) and
//! tie-breaking (min/max keep the earliest point, first/last prefer the
//! larger value at equal times).

use std::cmp::Ordering;
use std::collections::HashSet;

use super::result::Value;

/// A supported function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    /// `count(f)`
    Count,
    /// `count(distinct(f))`
    CountDistinct,
    /// `sum(f)`
    Sum,
    /// `mean(f)`
    Mean,
    /// `median(f)`
    Median,
    /// `mode(f)`
    Mode,
    /// `spread(f)`
    Spread,
    /// `stddev(f)`
    Stddev,
    /// `min(f)`
    Min,
    /// `max(f)`
    Max,
    /// `first(f)`
    First,
    /// `last(f)`
    Last,
    /// `distinct(f)`
    Distinct,
    /// `percentile(f, p)`
    Percentile(f64),
}

impl Func {
    /// Selectors return one of their input points (with its time).
    pub fn is_selector(self) -> bool {
        matches!(self, Func::Min | Func::Max | Func::First | Func::Last | Func::Percentile(_))
    }

    /// Whether `fill(null)` becomes `fill(0)` (count does).
    pub fn fills_zero(self) -> bool {
        matches!(self, Func::Count | Func::CountDistinct)
    }
}

/// One input point.
#[derive(Debug, Clone, PartialEq)]
pub struct Pt {
    /// Time, ns.
    pub time: i64,
    /// Value.
    pub value: Value,
    /// Index of the series it came from (for auxiliary fields).
    pub series: usize,
}

/// One output point: `time` None means "the window's start".
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    /// Time of the selected point (selectors).
    pub time: Option<i64>,
    /// The value.
    pub value: Value,
    /// The selected point's series (selectors).
    pub series: Option<usize>,
}

fn out(value: Value) -> Out {
    Out { time: None, value, series: None }
}

fn sel(p: &Pt) -> Out {
    Out { time: Some(p.time), value: p.value.clone(), series: Some(p.series) }
}

/// Orders two values of comparable kinds (numbers, strings, booleans).
fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Some(x.cmp(y)),
        (Value::Unsigned(x), Value::Unsigned(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

enum Nums {
    Ints(Vec<i64>),
    Uints(Vec<u64>),
    Floats(Vec<f64>),
}

/// The numeric values of the points: integers if all are integers, and so
/// on; floats when kinds are mixed. Non-numeric values are ignored.
fn numbers(pts: &[&Pt]) -> Nums {
    let nums: Vec<&Value> = pts.iter().map(|p| &p.value).filter(|v| v.as_f64().is_some()).collect();
    if nums.iter().all(|v| matches!(v, Value::Integer(_))) {
        return Nums::Ints(
            nums.iter()
                .filter_map(|v| if let Value::Integer(i) = v { Some(*i) } else { None })
                .collect(),
        );
    }
    if nums.iter().all(|v| matches!(v, Value::Unsigned(_))) {
        return Nums::Uints(
            nums.iter()
                .filter_map(|v| if let Value::Unsigned(u) = v { Some(*u) } else { None })
                .collect(),
        );
    }
    Nums::Floats(nums.iter().filter_map(|v| v.as_f64()).collect())
}

fn value_key(v: &Value) -> String {
    match v {
        Value::Float(f) => format!("f{}", f.to_bits()),
        Value::Integer(i) => format!("i{i}"),
        Value::Unsigned(u) => format!("u{u}"),
        Value::Boolean(b) => format!("b{b}"),
        Value::String(s) => format!("s{s}"),
        Value::Time(t) => format!("t{t}"),
        Value::Strings(v) => format!("l{v:?}"),
        Value::Null => "n".into(),
    }
}

fn is_numeric(v: &Value) -> bool {
    v.as_f64().is_some()
}

/// Reduces the points of one window (sorted by time). Returns nothing when
/// the window has no usable input.
pub fn reduce(func: Func, pts: &[Pt]) -> Vec<Out> {
    let pts: Vec<&Pt> = pts.iter().filter(|p| !p.value.is_null()).collect();
    if pts.is_empty() {
        return Vec::new();
    }
    match func {
        Func::Count => vec![out(Value::Integer(pts.len() as i64))],
        Func::CountDistinct => {
            let set: HashSet<String> = pts.iter().map(|p| value_key(&p.value)).collect();
            vec![out(Value::Integer(set.len() as i64))]
        }
        Func::Distinct => {
            let mut seen = HashSet::new();
            pts.iter()
                .filter(|p| seen.insert(value_key(&p.value)))
                .map(|p| out(p.value.clone()))
                .collect()
        }
        Func::First | Func::Last => {
            let mut best: &Pt = pts[0];
            for p in &pts[1..] {
                let better = if func == Func::First {
                    p.time < best.time
                        || (p.time == best.time
                            && cmp_values(&p.value, &best.value) == Some(Ordering::Greater))
                } else {
                    p.time > best.time
                        || (p.time == best.time
                            && cmp_values(&p.value, &best.value) == Some(Ordering::Greater))
                };
                if better {
                    best = p;
                }
            }
            vec![sel(best)]
        }
        Func::Min | Func::Max => {
            let usable: Vec<&Pt> = if pts.iter().any(|p| is_numeric(&p.value)) {
                pts.iter().copied().filter(|p| is_numeric(&p.value)).collect()
            } else {
                pts.iter().copied().filter(|p| matches!(p.value, Value::Boolean(_))).collect()
            };
            let Some(mut best) = usable.first().copied() else { return Vec::new() };
            let want = if func == Func::Min { Ordering::Less } else { Ordering::Greater };
            for p in &usable[1..] {
                if cmp_values(&p.value, &best.value) == Some(want) {
                    best = p;
                }
            }
            vec![sel(best)]
        }
        Func::Percentile(pct) => {
            let mut usable: Vec<&Pt> =
                pts.iter().copied().filter(|p| is_numeric(&p.value)).collect();
            usable.sort_by(|a, b| cmp_values(&a.value, &b.value).unwrap_or(Ordering::Equal));
            let n = usable.len() as f64;
            let i = (n * pct / 100.0 + 0.5).floor() as i64 - 1;
            if i < 0 || i as usize >= usable.len() {
                return Vec::new();
            }
            vec![sel(usable[i as usize])]
        }
        Func::Sum => match numbers(&pts) {
            Nums::Ints(v) if !v.is_empty() => {
                vec![out(Value::Integer(v.iter().fold(0i64, |a, b| a.wrapping_add(*b))))]
            }
            Nums::Uints(v) if !v.is_empty() => {
                vec![out(Value::Unsigned(v.iter().fold(0u64, |a, b| a.wrapping_add(*b))))]
            }
            Nums::Floats(v) if !v.is_empty() => vec![out(Value::Float(v.iter().sum()))],
            _ => Vec::new(),
        },
        Func::Mean => {
            let v: Vec<f64> = pts.iter().filter_map(|p| p.value.as_f64()).collect();
            if v.is_empty() {
                return Vec::new();
            }
            vec![out(Value::Float(v.iter().sum::<f64>() / v.len() as f64))]
        }
        Func::Median => {
            let mut v: Vec<f64> = pts.iter().filter_map(|p| p.value.as_f64()).collect();
            if v.is_empty() {
                return Vec::new();
            }
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
            let n = v.len();
            let m = if n.is_multiple_of(2) {
                let (lo, hi) = (v[n / 2 - 1], v[n / 2]);
                lo + (hi - lo) / 2.0
            } else {
                v[n / 2]
            };
            vec![out(Value::Float(m))]
        }
        Func::Spread => match numbers(&pts) {
            Nums::Ints(v) if !v.is_empty() => {
                let (lo, hi) =
                    (v.iter().min().copied().unwrap_or(0), v.iter().max().copied().unwrap_or(0));
                vec![out(Value::Integer(hi.wrapping_sub(lo)))]
            }
            Nums::Uints(v) if !v.is_empty() => {
                let (lo, hi) =
                    (v.iter().min().copied().unwrap_or(0), v.iter().max().copied().unwrap_or(0));
                vec![out(Value::Unsigned(hi.wrapping_sub(lo)))]
            }
            Nums::Floats(v) if !v.is_empty() => {
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                vec![out(Value::Float(hi - lo))]
            }
            _ => Vec::new(),
        },
        Func::Stddev => {
            // InfluxDB's running mean, then the sample variance.
            let v: Vec<f64> = pts.iter().filter_map(|p| p.value.as_f64()).collect();
            if v.is_empty() {
                return Vec::new();
            }
            if v.len() < 2 {
                return vec![out(Value::Null)];
            }
            let mut mean = 0.0;
            let mut count = 0usize;
            for x in v.iter().filter(|x| !x.is_nan()) {
                count += 1;
                mean += (x - mean) / count as f64;
            }
            let var: f64 = v.iter().filter(|x| !x.is_nan()).map(|x| (x - mean).powi(2)).sum();
            vec![out(Value::Float((var / (count as f64 - 1.0)).sqrt()))]
        }
        Func::Mode => {
            // InfluxDB's `ModeReduceSlice`: sorted by value, the longest
            // run; on equal lengths the run that started earlier.
            let mut sorted: Vec<&Pt> = pts.clone();
            sorted.sort_by(|a, b| {
                cmp_values(&a.value, &b.value).unwrap_or(Ordering::Equal).then(a.time.cmp(&b.time))
            });
            if sorted.len() == 1 {
                return vec![out(sorted[0].value.clone())];
            }
            let mut most_freq = 0usize;
            let mut curr_freq = 0usize;
            let mut curr_mode = &sorted[0].value;
            let mut most_mode = &sorted[0].value;
            let mut most_time = sorted[0].time;
            let mut curr_time = sorted[0].time;
            for p in &sorted {
                if p.value != *curr_mode {
                    curr_freq = 1;
                    curr_mode = &p.value;
                    curr_time = p.time;
                    continue;
                }
                curr_freq += 1;
                if most_freq > curr_freq || (most_freq == curr_freq && curr_time > most_time) {
                    continue;
                }
                most_freq = curr_freq;
                most_mode = &p.value;
                most_time = p.time;
            }
            vec![out(most_mode.clone())]
        }
    }
}

/// Linear interpolation of a fill value between two known points, as
/// InfluxDB's `linearFloat` / `linearInteger` (on window indexes).
pub fn linear(window: i64, prev: (i64, &Value), next: (i64, &Value)) -> Value {
    let (x1, y1) = prev;
    let (x2, y2) = next;
    if x2 == x1 {
        return y1.clone();
    }
    match (y1, y2) {
        (Value::Integer(a), Value::Integer(b)) => {
            let m = b.wrapping_sub(*a) as f64 / x2.wrapping_sub(x1) as f64;
            Value::Integer((m * window.wrapping_sub(x1) as f64 + *a as f64) as i64)
        }
        (Value::Unsigned(a), Value::Unsigned(b)) => {
            let m = b.wrapping_sub(*a) as f64 / x2.wrapping_sub(x1) as f64;
            Value::Unsigned((m * window.wrapping_sub(x1) as f64 + *a as f64) as u64)
        }
        _ => match (y1.as_f64(), y2.as_f64()) {
            (Some(a), Some(b)) => {
                let m = (b - a) / x2.wrapping_sub(x1) as f64;
                Value::Float(m * window.wrapping_sub(x1) as f64 + a)
            }
            _ => Value::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(i64, Value)]) -> Vec<Pt> {
        v.iter().map(|(t, v)| Pt { time: *t, value: v.clone(), series: 0 }).collect()
    }

    #[test]
    fn reducers() {
        let p = pts(&[
            (1, Value::Integer(3)),
            (2, Value::Integer(1)),
            (3, Value::Integer(1)),
            (4, Value::Integer(7)),
        ]);
        assert_eq!(reduce(Func::Count, &p)[0].value, Value::Integer(4));
        assert_eq!(reduce(Func::Sum, &p)[0].value, Value::Integer(12));
        assert_eq!(reduce(Func::Mean, &p)[0].value, Value::Float(3.0));
        assert_eq!(reduce(Func::Min, &p)[0].time, Some(2));
        assert_eq!(reduce(Func::Max, &p)[0].value, Value::Integer(7));
        assert_eq!(reduce(Func::Median, &p)[0].value, Value::Float(2.0));
        assert_eq!(reduce(Func::Spread, &p)[0].value, Value::Integer(6));
        assert_eq!(reduce(Func::Mode, &p)[0].value, Value::Integer(1));
        assert_eq!(reduce(Func::Distinct, &p).len(), 3);
        assert_eq!(reduce(Func::CountDistinct, &p)[0].value, Value::Integer(3));
        assert_eq!(reduce(Func::Last, &p)[0].time, Some(4));
        assert_eq!(reduce(Func::Percentile(50.0), &p)[0].value, Value::Integer(1));
        assert!(reduce(Func::Count, &[]).is_empty());
        assert_eq!(linear(2, (1, &Value::Float(1.0)), (3, &Value::Float(3.0))), Value::Float(2.0));
    }
}
