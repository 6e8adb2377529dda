//! `wait` and `mkdir`: the two commands that make scenarios independent of
//! timing and of a prepared file system.
//!
//! `wait [timeout=30s] [every=200ms] until=TEXT|while=TEXT CMD ARGS…` runs
//! the scenario command `CMD ARGS…` again and again until its (masked)
//! output contains TEXT (`until=`) or no longer contains it (`while=`),
//! then prints nothing. When the condition does not hold within the timeout
//! it prints the command's last output after a `wait: … not reached` line,
//! so the scenario fails with the state it was stuck in. TEXT is compared
//! with masked output: write `$data2.tcp`, not an address. For example:
//!
//! ```text
//! wait while=TIME ctl hinted-handoff          # until no queue has an oldest write
//! wait until="no points" check counts db=x     # retention dropped the shards
//! ```
//!
//! `mkdir PATH…` creates directories (and their parents), as an operator
//! does before `ctl backup` ("The directory must already exist").

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::script::Command;
use crate::session::{Out, Session};

/// Default `timeout=` of `wait`.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `every=` of `wait`.
pub const WAIT_EVERY: Duration = Duration::from_millis(200);

/// A parsed `wait` command.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    /// Longest time to wait.
    pub timeout: Duration,
    /// Time between two runs of the command.
    pub every: Duration,
    /// `true` for `until=` (wait for TEXT), `false` for `while=`.
    pub until: bool,
    /// The text looked for in the output.
    pub text: String,
    /// The command run repeatedly.
    pub inner: Command,
}

impl Wait {
    /// Parses the words of a `wait` command.
    pub fn parse(cmd: &Command) -> Result<Wait> {
        if !cmd.filters.is_empty() {
            bail!("wait: no `|` filters (the condition looks at the whole output)");
        }
        let mut w = Wait {
            timeout: WAIT_TIMEOUT,
            every: WAIT_EVERY,
            until: true,
            text: String::new(),
            inner: cmd.clone(),
        };
        let mut cond = None;
        let mut i = 0;
        while let Some((k, v)) = cmd.args.get(i).and_then(|a| a.key_value()) {
            match k {
                "timeout" => w.timeout = humantime::parse_duration(v).context("wait timeout=")?,
                "every" => w.every = humantime::parse_duration(v).context("wait every=")?,
                "until" => cond = Some((true, v.to_string())),
                "while" => cond = Some((false, v.to_string())),
                other => bail!("wait: unknown argument {other}= (timeout, every, until, while)"),
            }
            i += 1;
        }
        let (until, text) = cond.context("wait needs until=TEXT or while=TEXT")?;
        if text.is_empty() {
            bail!("wait: the text of until=/while= is empty");
        }
        let name = cmd.args.get(i).context("wait needs a command to run")?;
        if name.text == "wait" {
            bail!("wait: cannot wait for a wait");
        }
        w.until = until;
        w.text = text;
        w.inner.name = name.text.clone();
        w.inner.args = cmd.args[i + 1..].to_vec();
        Ok(w)
    }

    /// Whether `output` satisfies the condition.
    pub fn holds(&self, output: &str) -> bool {
        output.contains(&self.text) == self.until
    }
}

impl Session {
    /// Runs `wait`.
    pub(crate) fn wait(&mut self, cmd: &Command) -> Result<Out> {
        let w = Wait::parse(cmd)?;
        let started = Instant::now();
        let deadline = started + w.timeout.min(self.remaining());
        loop {
            let out = self.exec(&w.inner);
            if w.holds(&out) {
                return Ok(Out::none());
            }
            if Instant::now() + w.every >= deadline {
                let cond = if w.until { "until" } else { "while" };
                return Ok(Out::light(format!(
                    "wait: {cond}={:?} not reached in {}s; the last output of `{} …`:\n{out}",
                    w.text,
                    w.timeout.as_secs(),
                    w.inner.name,
                )));
            }
            std::thread::sleep(w.every);
        }
    }

    /// Runs `mkdir PATH…`.
    pub(crate) fn mkdir(&mut self, cmd: &Command) -> Result<Out> {
        if cmd.args.is_empty() {
            bail!("mkdir needs a path");
        }
        let target = cmd.target.as_deref();
        for a in &cmd.args {
            let p = self.expand(&a.text, target)?;
            std::fs::create_dir_all(&p).with_context(|| format!("mkdir {p}"))?;
        }
        Ok(Out::none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parse_line;

    fn parse(line: &str) -> Result<Wait> {
        Wait::parse(&parse_line(line, 1).unwrap().unwrap())
    }

    #[test]
    fn parses_options_and_the_inner_command() {
        let w = parse("wait timeout=5s every=1s until=\"lost=0\" check lost-writes node=data2")
            .unwrap();
        assert_eq!(w.timeout, Duration::from_secs(5));
        assert_eq!(w.every, Duration::from_secs(1));
        assert!(w.until);
        assert_eq!(w.text, "lost=0");
        assert_eq!(w.inner.name, "check");
        let args: Vec<&str> = w.inner.args.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(args, vec!["lost-writes", "node=data2"]);
        assert_eq!(w.inner.args[1].key_value(), Some(("node", "data2")));
        assert!(w.holds("lost=0 duplicated=0"));
        assert!(!w.holds("lost=3 duplicated=0"));

        let w = parse("@b wait while=queued ctl hinted-handoff").unwrap();
        assert_eq!(w.inner.target.as_deref(), Some("b"));
        assert_eq!((w.timeout, w.every), (WAIT_TIMEOUT, WAIT_EVERY));
        assert!(w.holds("empty"));
        assert!(!w.holds("1 queued"));
    }

    #[test]
    fn rejects_bad_waits() {
        for (line, err) in [
            ("wait ctl show", "needs until="),
            ("wait until=x", "needs a command"),
            ("wait until=x bogus=1 ctl show", "unknown argument bogus="),
            ("wait until=x ctl show | grep y", "no `|` filters"),
            ("wait until=x wait until=y ctl show", "cannot wait for a wait"),
            ("wait until=\"\" ctl show", "is empty"),
        ] {
            let e = parse(line).unwrap_err().to_string();
            assert!(e.contains(err), "{line}: {e}");
        }
    }

    #[test]
    fn waits_and_times_out_without_clusters() {
        let mut s = Session::new(None, Instant::now() + Duration::from_secs(10)).unwrap();
        let run = |s: &mut Session, line: &str| s.exec(&parse_line(line, 1).unwrap().unwrap());
        // `sleep` prints nothing: `while=` something absent holds at once.
        assert_eq!(run(&mut s, "wait while=x sleep 1ms"), "");
        let started = Instant::now();
        let out = run(&mut s, "wait timeout=300ms every=50ms until=x sleep 1ms");
        assert!(out.starts_with("wait: until=\"x\" not reached in 0s"), "{out}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let dir = s.tmp.path().join("a/b");
        assert_eq!(run(&mut s, "mkdir $tmp/a/b $tmp/c"), "");
        assert!(dir.is_dir() && s.tmp.path().join("c").is_dir());
        assert!(run(&mut s, "mkdir").starts_with("error: mkdir needs a path"));
    }
}
