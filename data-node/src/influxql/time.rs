//! Durations and time literals as InfluxQL reads and writes them.

use std::fmt::Write as _;

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// Why a duration literal was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Malformed text.
    #[error("invalid duration")]
    Invalid,
    /// Larger than an i64 of nanoseconds.
    #[error("overflowed duration {0}: choose a smaller duration or INF")]
    Overflow(String),
}

/// Parses an InfluxQL duration (`10ns`, `5u`, `5µ`, `100ms`, `30s`, `5m`,
/// `2h`, `1d`, `1w`, and sums of them such as `1h30m`), as InfluxDB's
/// `influxql.ParseDuration` does (overflow wraps and is reported only when
/// the total turns negative).
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    if s.len() < 2 {
        return Err(DurationError::Invalid);
    }
    let a: Vec<char> = s.chars().collect();
    let mut d: i64 = 0;
    let mut i = 0;
    let negative = a[0] == '-';
    if negative {
        i += 1;
    }
    let mut measure: i64 = 0;
    let mut unit = String::new();
    while i < a.len() {
        let start = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        if i >= a.len() || i == start {
            return Err(DurationError::Invalid);
        }
        let digits: String = a[start..i].iter().collect();
        let n: i64 = digits.parse().map_err(|_| DurationError::Invalid)?;
        measure = n;
        unit = a[i].to_string();
        let two = i + 1 < a.len();
        match a[i] {
            'n' => {
                if two && a[i + 1] == 's' {
                    unit = "ns".into();
                    d = d.wrapping_add(n.wrapping_mul(NS));
                    i += 2;
                    continue;
                }
                return Err(DurationError::Invalid);
            }
            'u' | 'µ' => d = d.wrapping_add(n.wrapping_mul(US)),
            'm' => {
                if two && a[i + 1] == 's' {
                    unit = "ms".into();
                    d = d.wrapping_add(n.wrapping_mul(MS));
                    i += 2;
                    continue;
                }
                d = d.wrapping_add(n.wrapping_mul(MIN));
            }
            's' => d = d.wrapping_add(n.wrapping_mul(SEC)),
            'h' => d = d.wrapping_add(n.wrapping_mul(HOUR)),
            'd' => d = d.wrapping_add(n.wrapping_mul(DAY)),
            'w' => d = d.wrapping_add(n.wrapping_mul(WEEK)),
            _ => return Err(DurationError::Invalid),
        }
        i += 1;
    }
    if d < 0 && !negative {
        return Err(DurationError::Overflow(format!("{measure}{unit}")));
    }
    if negative {
        d = d.wrapping_neg();
    }
    Ok(d)
}

/// Formats a duration with its largest whole unit (`1w`, `3d`, `90m`,
/// `1500ms`, `5u`, `7ns`; `0s` for zero), as InfluxDB's `FormatDuration`.
pub fn format_duration(d: i64) -> String {
    if d == 0 {
        "0s".to_string()
    } else if d % WEEK == 0 {
        format!("{}w", d / WEEK)
    } else if d % DAY == 0 {
        format!("{}d", d / DAY)
    } else if d % HOUR == 0 {
        format!("{}h", d / HOUR)
    } else if d % MIN == 0 {
        format!("{}m", d / MIN)
    } else if d % SEC == 0 {
        format!("{}s", d / SEC)
    } else if d % MS == 0 {
        format!("{}ms", d / MS)
    } else if d % US == 0 {
        format!("{}u", d / US)
    } else {
        format!("{d}ns")
    }
}

/// Formats a duration as Go's `time.Duration.String()` (`168h0m0s`,
/// `1.5s`, `100ms`, `1µs`, `0s`).
pub fn format_go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if d < 0 {
        out.push('-');
    }
    let u = d.unsigned_abs();
    fn frac(out: &mut String, v: u64, digits: u32) {
        let scale = 10u64.pow(digits);
        let _ = write!(out, "{}", v / scale);
        let mut f = v % scale;
        if f != 0 {
            let mut width = digits as usize;
            while f.is_multiple_of(10) {
                f /= 10;
                width -= 1;
            }
            let _ = write!(out, ".{f:0width$}");
        }
    }
    if u < SEC as u64 {
        if u < US as u64 {
            let _ = write!(out, "{u}ns");
        } else if u < MS as u64 {
            frac(&mut out, u, 3);
            out.push_str("µs");
        } else {
            frac(&mut out, u, 6);
            out.push_str("ms");
        }
        return out;
    }
    let secs = u / SEC as u64;
    let nanos = u % SEC as u64;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    frac(&mut out, s * SEC as u64 + nanos, 9);
    out.push('s');
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// Formats ns since the epoch as Go's RFC3339Nano in UTC
/// (`2026-11-21T14:36:00.5Z`).
pub fn format_rfc3339_nano(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as i64;
    let days = i64::try_from(days).unwrap_or(if days < 0 { i64::MIN / 2 } else { i64::MAX / 2 });
    let (y, mo, d) = civil_from_days(days);
    let mut out = String::new();
    if y < 0 {
        let _ = write!(out, "-{:04}", -y);
    } else {
        let _ = write!(out, "{y:04}");
    }
    let _ = write!(out, "-{mo:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60);
    if nanos != 0 {
        let mut f = nanos;
        let mut width = 9;
        while f.is_multiple_of(10) {
            f /= 10;
            width -= 1;
        }
        let _ = write!(out, ".{f:0width$}");
    }
    out.push('Z');
    out
}

fn is_digits(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_digit)
}

/// `^\d{4}-\d{2}-\d{2}`
fn has_date_prefix(b: &[u8]) -> bool {
    b.len() >= 10
        && is_digits(&b[0..4])
        && b[4] == b'-'
        && is_digits(&b[5..7])
        && b[7] == b'-'
        && is_digits(&b[8..10])
}

/// Whether a string literal looks like a time (`YYYY-MM-DD` or
/// `YYYY-MM-DD...`), as InfluxDB's `StringLiteral.IsTimeLiteral`.
pub fn is_time_string(s: &str) -> bool {
    let b = s.as_bytes();
    has_date_prefix(b) && (b.len() == 10 || s[10..].chars().next().is_some_and(|c| c != '\n'))
}

fn num(b: &[u8]) -> i64 {
    b.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0'))
}

/// Parses a date (`2006-01-02`), a date-time (`2006-01-02 15:04:05[.frac]`)
/// or an RFC3339 time with optional fraction, as InfluxDB's
/// `StringLiteral.ToTimeLiteral` in UTC. Returns ns since the epoch.
pub fn parse_time_string(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if !has_date_prefix(b) {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4]), num(&b[5..7]), num(&b[8..10]));
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let day_ns = i128::from(days_from_civil(y, mo, d)) * 86_400 * 1_000_000_000;
    if b.len() == 10 {
        return Some(day_ns);
    }
    let rest = &b[10..];
    match rest[0] {
        b' ' => {
            let (tod, rest) = parse_clock(&rest[1..])?;
            if !rest.is_empty() {
                return None;
            }
            Some(day_ns + tod)
        }
        b'T' => {
            let (tod, rest) = parse_clock(&rest[1..])?;
            let offset = match rest {
                b"Z" => 0,
                [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
                    if is_digits(&[*h1, *h2, *m1, *m2]) =>
                {
                    let h = num(&[*h1, *h2]);
                    let m = num(&[*m1, *m2]);
                    if h > 24 || m > 59 {
                        return None;
                    }
                    let o = (h * 3600 + m * 60) * 1_000_000_000;
                    if *sign == b'-' { -o } else { o }
                }
                _ => return None,
            };
            Some(day_ns + tod - i128::from(offset))
        }
        _ => None,
    }
}

/// `15:04:05[.fraction]` (the hour may have one digit); returns the time
/// of day in ns and the unparsed rest.
fn parse_clock(b: &[u8]) -> Option<(i128, &[u8])> {
    let hour_len = if b.len() > 1 && b[1].is_ascii_digit() { 2 } else { 1 };
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    let h = num(&b[..hour_len]);
    let b = &b[hour_len..];
    if b.len() < 6 || b[0] != b':' || b[3] != b':' || !is_digits(&b[1..3]) || !is_digits(&b[4..6]) {
        return None;
    }
    let (mi, se) = (num(&b[1..3]), num(&b[4..6]));
    if h >= 24 || mi >= 60 || se >= 60 {
        return None;
    }
    let mut rest = &b[6..];
    let mut nanos: i64 = 0;
    if rest.len() >= 2 && rest[0] == b'.' && rest[1].is_ascii_digit() {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let digits = &rest[1..1 + n];
        let used = &digits[..n.min(9)];
        nanos = num(used) * 10i64.pow(9 - used.len() as u32);
        rest = &rest[1 + n..];
    }
    let tod = i128::from(((h * 60 + mi) * 60 + se) * SEC + nanos);
    Some((tod, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, d) in [
            ("1ns", 1),
            ("5u", 5_000),
            ("5µ", 5_000),
            ("10ms", 10 * MS),
            ("30s", 30 * SEC),
            ("5m", 5 * MIN),
            ("2h", 2 * HOUR),
            ("1d", DAY),
            ("1w", WEEK),
            ("1h30m", HOUR + 30 * MIN),
            ("-5m", -5 * MIN),
        ] {
            assert_eq!(parse_duration(s), Ok(d), "{s}");
        }
        for s in ["", "1", "h", "1x", "1n", "1d2", "10.5h"] {
            assert_eq!(parse_duration(s), Err(DurationError::Invalid), "{s}");
        }
        assert_eq!(
            parse_duration("15251w").unwrap_err().to_string(),
            "overflowed duration 15251w: choose a smaller duration or INF"
        );
        assert_eq!(format_duration(WEEK), "1w");
        assert_eq!(format_duration(90 * MIN), "90m");
        assert_eq!(format_duration(1500 * MS), "1500ms");
        assert_eq!(format_duration(5 * US), "5u");
        assert_eq!(format_duration(7), "7ns");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_go_duration(168 * HOUR), "168h0m0s");
        assert_eq!(format_go_duration(90 * SEC), "1m30s");
        assert_eq!(format_go_duration(1500 * MS), "1.5s");
        assert_eq!(format_go_duration(100 * MS), "100ms");
        assert_eq!(format_go_duration(1500), "1.5µs");
        assert_eq!(format_go_duration(-2 * HOUR), "-2h0m0s");
        assert_eq!(format_go_duration(i64::MIN), "-2562047h47m16.854775808s");
    }

    #[test]
    fn time_strings() {
        let t = parse_time_string("2026-11-21T14:36:00Z").unwrap();
        assert_eq!(t, 1_795_271_760_000_000_000);
        assert_eq!(parse_time_string("2026-11-21 14:36:00"), Some(t));
        assert_eq!(parse_time_string("2026-11-21 14:36:00.5"), Some(t + 500_000_000));
        assert_eq!(parse_time_string("2026-11-21T15:36:00+01:00"), Some(t));
        assert_eq!(parse_time_string("2026-11-21T14:36:00.123456789123Z"), Some(t + 123_456_789));
        assert_eq!(parse_time_string("1970-01-01"), Some(0));
        assert_eq!(parse_time_string("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "2026-11-21T25:00:00Z",
            "2026-11-21X",
            "2026-11-21T14:36:00",
        ] {
            assert_eq!(parse_time_string(bad), None, "{bad}");
        }
        assert_eq!(format_rfc3339_nano(t), "2026-11-21T14:36:00Z");
        assert_eq!(format_rfc3339_nano(t + 1_500_000), "2026-11-21T14:36:00.0015Z");
        assert_eq!(format_rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
        assert!(is_time_string("2026-11-21"));
        assert!(!is_time_string("2026-11-2"));
    }
}
