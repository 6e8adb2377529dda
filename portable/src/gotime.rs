//! UTC civil time for the formats InfluxDB writes: the backup file-name
//! stamp `20060102T150405Z` and Go's RFC3339 (`2006-01-02T15:04:05Z07:00`).
//!
//! Plain proleptic-Gregorian arithmetic on Unix seconds; no time zones
//! other than UTC (the export header is written in UTC here; the real tool
//! uses the process's local zone, which is UTC on the fixture machine).

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Broken-down UTC time of Unix seconds.
fn parts(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, mo, d) = civil_from_days(days);
    (y, mo, d, sod / 3600, sod / 60 % 60, sod % 60)
}

/// Formats Unix seconds as the backup stamp `YYYYMMDDTHHMMSSZ` (UTC).
pub fn format_stamp(unix_secs: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(unix_secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Parses a backup stamp `YYYYMMDDTHHMMSSZ` into Unix seconds.
pub fn parse_stamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, sec) = (num(9..11)?, num(11..13)?, num(13..15)?);
    civil_to_secs(i64::from(y), mo, d, h, mi, sec)
}

fn civil_to_secs(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Formats Unix nanoseconds as Go's `time.RFC3339` in UTC
/// (`2006-01-02T15:04:05Z`, whole seconds, the fraction truncated toward
/// the past as Go's `time.Unix(0, ns)` does).
pub fn format_rfc3339(unix_nanos: i64) -> String {
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let (y, mo, d, h, mi, s) = parts(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Parses Go RFC3339 / RFC3339Nano text (`2006-01-02T15:04:05[.999999999](Z|±07:00)`)
/// into Unix nanoseconds. `None` if malformed or out of the i64 range.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let secs = civil_to_secs(
        i64::from(num(0..4)?),
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    )?;
    let mut rest = &s[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        let digits = &frac[..n];
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - n as u32);
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !(rb[0] == b'+' || rb[0] == b'-') || rb[3] != b':' {
                return None;
            }
            if !rest[1..3].bytes().all(|c| c.is_ascii_digit())
                || !rest[4..6].bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let hh: i64 = rest[1..3].parse().ok()?;
            let mm: i64 = rest[4..6].parse().ok()?;
            let off = hh * 3600 + mm * 60;
            if rb[0] == b'+' { off } else { -off }
        }
    };
    (secs - offset).checked_mul(1_000_000_000)?.checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(format_stamp(1_795_271_840), "20261121T143720Z");
        assert_eq!(parse_stamp("20261121T143720Z"), Some(1_795_271_840));
        assert_eq!(
            parse_stamp("20240131T235959Z").map(format_stamp).as_deref(),
            Some("20240131T235959Z")
        );
        assert_eq!(parse_stamp("20240230T000000Z"), None);
        assert_eq!(parse_stamp("2024013XT235959Z"), None);
        assert_eq!(format_stamp(0), "19700101T000000Z");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(i64::MIN), "1677-09-21T00:12:43Z");
        assert_eq!(format_rfc3339(i64::MAX), "2262-04-11T23:47:16Z");
        assert_eq!(parse_rfc3339("2026-11-10T00:00:00Z"), Some(1_794_268_800_000_000_000));
        assert_eq!(parse_rfc3339("2026-11-10T01:00:00+01:00"), Some(1_794_268_800_000_000_000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z"), Some(500_000_000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00"), None);
        assert_eq!(format_rfc3339(1_794_268_800_000_000_000), "2026-11-10T00:00:00Z");
    }
}
