//! Go's `flag` package rules, for `data-node backup` and `data-node
//! restore` (they must accept and reject what `influxd backup`/`restore`
//! do, with the same texts): `-name value`, `-name=value`, `--name`, bool
//! flags without a value, parsing stops at the first non-flag argument or
//! after `--`, `-h`/`-help` ask for the usage.

use std::collections::HashMap;

/// A flag's value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `fs.StringVar`.
    Str,
    /// `fs.BoolVar`.
    Bool,
    /// `fs.Uint64Var`.
    Uint64,
}

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `-h` or `-help` (Go's `flag.ErrHelp`).
    #[error("flag: help requested")]
    Help,
    /// Anything else, in Go's words.
    #[error("{0}")]
    Invalid(String),
}

/// Parsed flags: the last value of each flag by its canonical name, and the
/// positional arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    values: HashMap<&'static str, String>,
    /// Arguments after the flags.
    pub args: Vec<String>,
}

impl Parsed {
    /// A string flag ("" when not given).
    pub fn str(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A string flag, or `default`.
    pub fn str_or(&self, name: &str, default: &str) -> String {
        self.values.get(name).cloned().unwrap_or_else(|| default.to_string())
    }

    /// A bool flag.
    pub fn bool(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v == "true")
    }

    /// A uint64 flag (0 when not given).
    pub fn u64(&self, name: &str) -> u64 {
        self.values.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

/// A flag set: `(name, canonical name, kind)`; aliases (Go binds two names
/// to one variable) share the canonical name.
pub struct FlagSet {
    flags: Vec<(&'static str, &'static str, Kind)>,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl FlagSet {
    /// A flag set of `flags`.
    pub fn new(flags: Vec<(&'static str, &'static str, Kind)>) -> FlagSet {
        FlagSet { flags }
    }

    /// Parses `args` (without the command name) as Go's `FlagSet.Parse`.
    pub fn parse(&self, args: &[String]) -> Result<Parsed, FlagError> {
        let mut out = Parsed::default();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a.len() < 2 || !a.starts_with('-') {
                break;
            }
            let mut name = &a[1..];
            if let Some(rest) = name.strip_prefix('-') {
                if rest.is_empty() {
                    i += 1;
                    break;
                }
                name = rest;
            }
            if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
                return Err(FlagError::Invalid(format!("bad flag syntax: {a}")));
            }
            i += 1;
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let Some(&(_, canon, kind)) = self.flags.iter().find(|f| f.0 == name) else {
                if name == "help" || name == "h" {
                    return Err(FlagError::Help);
                }
                return Err(FlagError::Invalid(format!("flag provided but not defined: -{name}")));
            };
            let value = match (kind, value) {
                (Kind::Bool, Some(v)) => match parse_bool(&v) {
                    Some(b) => b.to_string(),
                    None => {
                        return Err(FlagError::Invalid(format!(
                            "invalid boolean value {v:?} for -{name}: parse error"
                        )));
                    }
                },
                (Kind::Bool, None) => "true".to_string(),
                (_, Some(v)) => v,
                (_, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        v.clone()
                    }
                    None => {
                        return Err(FlagError::Invalid(format!("flag needs an argument: -{name}")));
                    }
                },
            };
            if kind == Kind::Uint64 && value.parse::<u64>().is_err() {
                let why = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                    "value out of range"
                } else {
                    "parse error"
                };
                return Err(FlagError::Invalid(format!(
                    "invalid value {value:?} for flag -{name}: {why}"
                )));
            }
            out.values.insert(canon, value);
        }
        out.args = args[i..].to_vec();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        FlagSet::new(vec![
            ("db", "db", Kind::Str),
            ("database", "db", Kind::Str),
            ("portable", "portable", Kind::Bool),
            ("shard", "shard", Kind::Uint64),
        ])
    }

    fn parse(a: &[&str]) -> Result<Parsed, FlagError> {
        set().parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn go_flag_rules() {
        let p = parse(&["-database", "x", "--portable", "-shard=3", "dir", "-db", "y"]).unwrap();
        assert_eq!(p.str("db"), "x");
        assert!(p.bool("portable"));
        assert_eq!(p.u64("shard"), 3);
        assert_eq!(p.args, ["dir", "-db", "y"]);
        assert_eq!(parse(&["-portable=false", "--", "-x"]).unwrap().args, ["-x"]);
        assert_eq!(parse(&["-h"]).unwrap_err(), FlagError::Help);
        assert_eq!(parse(&["-x"]).unwrap_err().to_string(), "flag provided but not defined: -x");
        assert_eq!(parse(&["-db"]).unwrap_err().to_string(), "flag needs an argument: -db");
        assert_eq!(
            parse(&["-shard", "a"]).unwrap_err().to_string(),
            "invalid value \"a\" for flag -shard: parse error"
        );
        assert_eq!(
            parse(&["-portable=maybe"]).unwrap_err().to_string(),
            "invalid boolean value \"maybe\" for -portable: parse error"
        );
        assert_eq!(parse(&["---x"]).unwrap_err().to_string(), "bad flag syntax: ---x");
        assert_eq!(parse(&["-", "a"]).unwrap().args, ["-", "a"]);
    }
}
