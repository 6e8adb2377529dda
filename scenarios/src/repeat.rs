//! `repeat N CMD…`: runs a scenario command N times, `{i}` in its words
//! replaced by 0, 1, … N−1, for scale scenarios (many databases, B#9):
//!
//! ```text
//! repeat 50 query "CREATE DATABASE db{i}"
//! repeat 50 write db=db{i} gen:cpu,points=10
//! ---
//! 50 × no results
//! 50 × wrote 10 points
//! ```
//!
//! Consecutive iterations that printed the same text print it once, after
//! `N × ` (a one-line output) or on the lines after `N ×:`; an iteration
//! that differs shows up on its own. `|` filters apply to the whole output.

use anyhow::{Context, Result, bail};

use crate::script::Command;
use crate::session::{Out, Session};

/// The most iterations one `repeat` runs.
pub const MAX_REPEAT: usize = 10_000;

/// Groups consecutive equal outputs: `N × text`.
pub fn summarize(outputs: &[String]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < outputs.len() {
        let mut j = i + 1;
        while j < outputs.len() && outputs[j] == outputs[i] {
            j += 1;
        }
        let text = &outputs[i];
        let text = if text.is_empty() { "ok\n" } else { text.as_str() };
        let n = j - i;
        if n == 1 {
            out.push_str(text);
        } else if text.lines().count() == 1 {
            out.push_str(&format!("{n} × {text}"));
        } else {
            out.push_str(&format!("{n} ×:\n{text}"));
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        i = j;
    }
    out
}

impl Session {
    /// Runs `repeat N CMD…`.
    pub(crate) fn repeat(&mut self, cmd: &Command) -> Result<Out> {
        let n: usize = cmd
            .args
            .first()
            .and_then(|w| w.text.parse().ok())
            .context("repeat needs a count: repeat N CMD…")?;
        if n > MAX_REPEAT {
            bail!("repeat: at most {MAX_REPEAT} times");
        }
        let Some(name) = cmd.args.get(1) else { bail!("repeat needs a command to run") };
        if matches!(name.text.as_str(), "repeat" | "cluster") {
            bail!("repeat: cannot repeat {}", name.text);
        }
        let mut outputs = Vec::with_capacity(n);
        for i in 0..n {
            let i = i.to_string();
            let mut inner = cmd.clone();
            inner.name = name.text.replace("{i}", &i);
            inner.args = cmd.args[2..].iter().map(|w| w.replaced("{i}", &i)).collect();
            inner.filters = Vec::new();
            outputs.push(self.exec(&inner));
        }
        Ok(Out::light(summarize(&outputs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parse_line;
    use std::time::{Duration, Instant};

    #[test]
    fn groups_equal_outputs() {
        let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(summarize(&o(&["a\n", "a\n", "b\n", "a\n"])), "2 × a\nb\na\n");
        assert_eq!(summarize(&o(&["x\ny\n", "x\ny\n"])), "2 ×:\nx\ny\n");
        assert_eq!(summarize(&o(&["", ""])), "2 × ok\n");
        assert_eq!(summarize(&o(&[])), "");
    }

    #[test]
    fn substitutes_the_index() {
        let mut s = Session::new(None, Instant::now() + Duration::from_secs(10)).unwrap();
        let run = |s: &mut Session, line: &str| s.exec(&parse_line(line, 1).unwrap().unwrap());
        assert_eq!(run(&mut s, "repeat 3 mkdir $tmp/d{i}"), "3 × ok\n");
        for i in 0..3 {
            assert!(s.tmp.path().join(format!("d{i}")).is_dir());
        }
        // Key=value words keep their key; equal errors are grouped.
        let out = run(&mut s, "repeat 2 check counts db=x{i}");
        assert!(out.starts_with("2 × error: no cluster"), "{out}");
        assert!(run(&mut s, "repeat x sleep 1ms").starts_with("error: repeat needs a count"));
        assert!(run(&mut s, "repeat 2").starts_with("error: repeat needs a command"));
        assert!(run(&mut s, "repeat 2 cluster meta=1").starts_with("error: repeat: cannot"));
        assert_eq!(run(&mut s, "repeat 0 sleep 1ms"), "");
    }
}
