//! Go's `time.Duration` text: parsing (`time.ParseDuration`, as InfluxDB's
//! TOML configs use it: `"1s"`, `"500ms"`, `"168h0m0s"`) and formatting
//! (`Duration.String()`, as `influxd-ctl` prints `Backed up in 903.539567ms`).
//! Written by hand because no crate reproduces Go's exact format.

use std::time::Duration;

/// Parses a Go duration string. A bare `0` is allowed, as in Go.
pub fn parse(s: &str) -> Result<Duration, String> {
    let orig = s;
    let mut s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(format!("time: invalid duration \"{orig}\""));
    }
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s.starts_with('-') {
        return Err(format!("time: negative duration \"{orig}\" is not allowed here"));
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        if num_end == 0 {
            return Err(format!("time: invalid duration \"{orig}\""));
        }
        let value: f64 =
            s[..num_end].parse().map_err(|_| format!("time: invalid duration \"{orig}\""))?;
        s = &s[num_end..];
        let unit_end = s.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        let ns_per = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{orig}\"")),
            _ => return Err(format!("time: unknown unit \"{unit}\" in duration \"{orig}\"")),
        };
        total += value * ns_per;
    }
    if total > u64::MAX as f64 {
        return Err(format!("time: invalid duration \"{orig}\""));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats like Go's `Duration.String()`: `0s`, `1ns`, `1.5µs`, `903.539567ms`,
/// `1.29371s`, `1m30s`, `168h0m0s`.
pub fn format(d: Duration) -> String {
    format_nanos(d.as_nanos().min(i64::MAX as u128) as i64)
}

/// [`format`] for a signed nanosecond count (negative durations get a `-`).
pub fn format_nanos(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000 {
        out.push_str(&format!("{u}ns"));
    } else if u < 1_000_000 {
        out.push_str(&frac(u, 1_000));
        out.push_str("µs");
    } else if u < 1_000_000_000 {
        out.push_str(&frac(u, 1_000_000));
        out.push_str("ms");
    } else {
        let h = u / 3_600_000_000_000;
        let rem = u % 3_600_000_000_000;
        let m = rem / 60_000_000_000;
        let s_ns = rem % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h{m}m"));
        } else if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac(s_ns, 1_000_000_000));
        out.push('s');
    }
    out
}

/// `v / unit` with the fractional part's trailing zeros trimmed.
fn frac(v: u64, unit: u64) -> String {
    let whole = v / unit;
    let f = v % unit;
    if f == 0 {
        return whole.to_string();
    }
    let digits = unit.ilog10() as usize;
    let s = format!("{f:0digits$}");
    format!("{whole}.{}", s.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (903_539_567, "903.539567ms"),
            (1_293_710_883, "1.293710883s"),
            (3_000_000_000, "3s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (168 * 3_600_000_000_000, "168h0m0s"),
            (3_661_500_000_000, "1h1m1.5s"),
        ];
        for (ns, want) in cases {
            assert_eq!(format_nanos(ns), want, "{ns}");
        }
        assert_eq!(format_nanos(-1_500_000_000), "-1.5s");
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("168h0m0s").unwrap(), Duration::from_secs(168 * 3600));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert!(parse("10").is_err());
        assert!(parse("1d").is_err());
        assert!(parse("").is_err());
    }
}
