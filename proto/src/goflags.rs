//! Go-style command-line flags for clap.
//!
//! `influxd-ctl`, `influxd` and `influxd-meta` parse flags with Go's `flag`
//! package: `-db x`, `-db=x`, `--db x` and `--db=x` are all the same flag.
//! clap only knows `--long` and `-s`, so [`normalize`] rewrites a single-dash
//! word of two or more letters into its double-dash form before clap sees it.
//! No maintained crate parses Go's flag syntax, hence this small function.

use std::ffi::OsString;

/// Rewrites `-name[=v]` into `--name[=v]` for every argument after the
/// program name, up to a literal `--`. Single letters (`-v`), a lone `-`
/// (stdin/stdout), negative numbers and non-flag words are left alone.
pub fn normalize<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut rest_verbatim = false;
    for (i, arg) in args.into_iter().enumerate() {
        let arg: OsString = arg.into();
        if i == 0 || rest_verbatim {
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            rest_verbatim = true;
            out.push(arg);
            continue;
        }
        let bytes = s.as_bytes();
        let name_len = s.split('=').next().map_or(0, str::len);
        if bytes.len() > 2 && bytes[0] == b'-' && bytes[1].is_ascii_alphabetic() && name_len > 2 {
            out.push(OsString::from(format!("-{s}")));
        } else {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn n(args: &[&str]) -> Vec<String> {
        normalize(args.iter().copied()).into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn single_dash_words_become_long_flags() {
        assert_eq!(
            n(&["ctl", "-bind", "h:8091", "backup", "-db=x", "--rp", "y", "-v", "-", "dir"]),
            ["ctl", "--bind", "h:8091", "backup", "--db=x", "--rp", "y", "-v", "-", "dir"]
        );
    }

    #[test]
    fn numbers_and_after_double_dash_are_untouched() {
        assert_eq!(n(&["ctl", "-newrf", "-1", "--", "-db"]), ["ctl", "--newrf", "-1", "--", "-db"]);
    }
}
