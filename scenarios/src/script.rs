//! Scenario files: parsing and rendering.
//!
//! FORMAT
//!
//! A scenario is a text file of blocks, in the goldenscript style toydb uses:
//! one or more command lines, a `---` separator, then the expected output up
//! to the next empty line (or the end of the file). `#` starts a comment.
//!
//! ```text
//! # Loss of meta quorum: ctl fails fast with `no leader` (B#17).
//! cluster meta=3
//! ---
//! ok
//!
//! crash meta2
//! crash meta3
//! ctl -timeout 3s show | grep -v Leader
//! ---
//! > Data Nodes
//! > ==========
//! > ...
//! >
//! > exit: 1
//! ```
//!
//! Output that is empty renders as `ok`. Output containing an empty line (or
//! a line starting with `>`) is prefixed line by line with `> ` (`>` alone
//! for empty lines), so the blank line that ends a block stays unambiguous.
//!
//! Command lines are split into words like a shell would: spaces separate
//! words, `"…"` and `'…'` quote (backslash escapes `\"`, `\\`, `\n` inside
//! double quotes), an unquoted `#` at the start of a word begins a comment,
//! `|` starts an output filter (`grep TEXT`, `grep -v TEXT`, `sort`, `squeeze`,
//! `head N`, `tail N`, `replace REGEX TEXT`). A first word `@name` directs the command to the
//! cluster called `name`. `key=value` words are recognised when the key is
//! an unquoted identifier.
//!
//! WHY NOT THE `goldenscript` CRATE
//!
//! Its block syntax is what this file implements, and its `generate` API
//! would let us compare and rewrite files ourselves, but two things rule it
//! out for cluster scenarios: its unquoted strings cannot start with `-` or
//! `$` nor contain `:`, so every `ctl -bind $meta2.api` word, host:port and
//! RFC3339 time would need quotes; and `generate` aborts the whole script on
//! the first unexpected command error, losing the partial output a failing
//! scenario's diff needs. The parser below is small and keeps the same
//! block format.

use std::fmt;

use anyhow::{Result, bail};

/// A parsed scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The command blocks, in file order.
    pub blocks: Vec<Block>,
    /// Comments and blank lines after the last block, verbatim.
    pub trailer: String,
}

/// Commands followed by one expected-output section.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The input text before `---`, verbatim: comments, blank lines and
    /// command lines. Rendering writes it back unchanged.
    pub literal: String,
    /// The commands of the block.
    pub commands: Vec<Command>,
    /// The expected output, decoded (no `> ` prefixes), or `None` when the
    /// file ends without a `---` (a scenario that was never run).
    pub expected: Option<String>,
    /// 1-based line number of the first command.
    pub line: usize,
}

/// One command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// 1-based line number.
    pub line: usize,
    /// The line as written, without comment and surrounding spaces.
    pub text: String,
    /// The cluster the command is for (`@b`), if given.
    pub target: Option<String>,
    /// The command name (`ctl`, `write`, `crash`, …).
    pub name: String,
    /// The words after the name.
    pub args: Vec<Word>,
    /// Output filters, applied in order.
    pub filters: Vec<Filter>,
}

/// One word of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word with quotes removed and escapes applied.
    pub text: String,
    /// Length of the key when the word is `key=value` with an unquoted
    /// identifier key.
    key_len: Option<usize>,
}

impl Word {
    /// A positional word (never `key=value`).
    pub fn plain(text: &str) -> Word {
        Word { text: text.to_string(), key_len: None }
    }

    /// The key and value of a `key=value` word.
    pub fn key_value(&self) -> Option<(&str, &str)> {
        self.key_len.map(|n| (&self.text[..n], &self.text[n + 1..]))
    }

    /// The word with `from` replaced by `to` in its value (a key, an
    /// identifier, never holds `from` when it is not an identifier itself).
    pub fn replaced(&self, from: &str, to: &str) -> Word {
        match self.key_len {
            Some(n) => {
                let (k, v) = self.text.split_at(n + 1);
                Word { text: format!("{k}{}", v.replace(from, to)), key_len: Some(n) }
            }
            None => Word { text: self.text.replace(from, to), key_len: None },
        }
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An output filter (`| grep TEXT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Keep lines containing the text.
    Grep(String),
    /// Drop lines containing the text.
    GrepV(String),
    /// Sort lines.
    Sort,
    /// Keep the first N lines.
    Head(usize),
    /// Keep the last N lines.
    Tail(usize),
    /// Collapse every run of spaces into one (tables whose masked columns,
    /// such as Go times with trimmed fractions, vary in width).
    Squeeze,
    /// Replace every match of a regex (checked when parsed) with a text,
    /// line by line: error texts that vary between runs.
    Replace(String, String),
}

impl Filter {
    /// Applies the filter to output text.
    pub fn apply(&self, text: &str) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let kept: Vec<String> = match self {
            Filter::Grep(p) => {
                lines.into_iter().filter(|l| l.contains(p.as_str())).map(String::from).collect()
            }
            Filter::GrepV(p) => {
                lines.into_iter().filter(|l| !l.contains(p.as_str())).map(String::from).collect()
            }
            Filter::Sort => {
                let mut l = lines;
                l.sort_unstable();
                l.into_iter().map(String::from).collect()
            }
            Filter::Head(n) => lines.into_iter().take(*n).map(String::from).collect(),
            Filter::Tail(n) => {
                let skip = lines.len().saturating_sub(*n);
                lines.into_iter().skip(skip).map(String::from).collect()
            }
            Filter::Squeeze => lines
                .iter()
                .map(|l| l.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "))
                .collect(),
            Filter::Replace(re, with) => {
                let re = regex::Regex::new(re).expect("checked when parsed");
                lines
                    .iter()
                    .map(|l| re.replace_all(l, regex::NoExpand(with)).into_owned())
                    .collect()
            }
        };
        let mut out = kept.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// Parses a scenario file.
pub fn parse(text: &str) -> Result<Script> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    loop {
        let mut literal = String::new();
        let mut commands = Vec::new();
        while i < lines.len() && lines[i].trim_end() != "---" {
            literal.push_str(lines[i]);
            literal.push('\n');
            if let Some(cmd) = parse_line(lines[i], i + 1)? {
                commands.push(cmd);
            }
            i += 1;
        }
        let line = commands.first().map_or(i + 1, |c| c.line);
        if i == lines.len() {
            if commands.is_empty() {
                return Ok(Script { blocks, trailer: literal });
            }
            blocks.push(Block { literal, commands, expected: None, line });
            return Ok(Script { blocks, trailer: String::new() });
        }
        if commands.is_empty() {
            bail!("line {}: `---` without commands before it", i + 1);
        }
        i += 1; // the separator
        let mut out = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            out.push(lines[i]);
            i += 1;
        }
        if i < lines.len() {
            i += 1; // the empty line that ends the output
        }
        blocks.push(Block { literal, commands, expected: Some(decode(&out)), line });
        if i == lines.len() {
            return Ok(Script { blocks, trailer: String::new() });
        }
    }
}

/// Decodes output lines as written in a file (undoing `> ` prefixes).
fn decode(lines: &[&str]) -> String {
    let prefixed = lines.first().is_some_and(|l| l.starts_with('>'));
    let mut out = String::new();
    for l in lines {
        let l = if prefixed {
            l.strip_prefix("> ").or_else(|| l.strip_prefix('>')).unwrap_or(l)
        } else {
            l
        };
        out.push_str(l);
        out.push('\n');
    }
    canonical(&out)
}

/// The canonical form of command output: trailing spaces of every line and
/// trailing empty lines dropped, `ok` when nothing is left, and a final
/// newline.
pub fn canonical(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    if lines.is_empty() {
        return "ok\n".to_string();
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Encodes output for a file: canonical, then `> `-prefixed when it holds an
/// empty line or a line starting with `>`.
pub fn encode(text: &str) -> String {
    let c = canonical(text);
    if !c.lines().any(|l| l.is_empty() || l.starts_with('>')) {
        return c;
    }
    let mut out = String::new();
    for l in c.lines() {
        if l.is_empty() {
            out.push_str(">\n");
        } else {
            out.push_str("> ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Renders a script with the given output for every block (in order).
pub fn render(script: &Script, outputs: &[String]) -> String {
    let mut s = String::new();
    let n = script.blocks.len();
    for (i, (b, out)) in script.blocks.iter().zip(outputs).enumerate() {
        s.push_str(&b.literal);
        s.push_str("---\n");
        s.push_str(&encode(out));
        if i + 1 < n || !script.trailer.is_empty() {
            s.push('\n');
        }
    }
    s.push_str(&script.trailer);
    s
}

/// One token of a command line.
enum Token {
    Word(Word),
    Pipe,
}

/// Splits a line into words and pipes, dropping a trailing comment.
fn tokenize(line: &str, line_no: usize) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        if c == '#' {
            break;
        }
        if c == '|' {
            chars.next();
            tokens.push(Token::Pipe);
            continue;
        }
        let mut text = String::new();
        let mut key_len = None;
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || (c == '|' && !quoted) {
                break;
            }
            chars.next();
            match c {
                '"' | '\'' => {
                    quoted = true;
                    let q = c;
                    loop {
                        match chars.next() {
                            None => bail!("line {line_no}: unterminated {q} quote"),
                            Some(ch) if ch == q => break,
                            Some('\\') if q == '"' => match chars.next() {
                                Some('n') => text.push('\n'),
                                Some('t') => text.push('\t'),
                                Some(e) => text.push(e),
                                None => bail!("line {line_no}: unterminated {q} quote"),
                            },
                            Some(ch) => text.push(ch),
                        }
                    }
                }
                '=' if key_len.is_none() && !quoted && is_key(&text) => {
                    key_len = Some(text.len());
                    text.push('=');
                }
                _ => text.push(c),
            }
        }
        tokens.push(Token::Word(Word { text, key_len }));
    }
    Ok(tokens)
}

fn is_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Parses one line; `None` for blank and comment-only lines.
pub fn parse_line(line: &str, line_no: usize) -> Result<Option<Command>> {
    let tokens = tokenize(line, line_no)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let text = strip_comment(line).trim().to_string();
    let mut segments: Vec<Vec<Word>> = vec![Vec::new()];
    for t in tokens {
        match t {
            Token::Pipe => segments.push(Vec::new()),
            Token::Word(w) => segments.last_mut().expect("one segment").push(w),
        }
    }
    let mut words = segments.remove(0).into_iter();
    let mut first = words.next();
    let mut target = None;
    if let Some(w) = &first
        && let Some(name) = w.text.strip_prefix('@')
    {
        if name.is_empty() {
            bail!("line {line_no}: `@` needs a cluster name");
        }
        target = Some(name.to_string());
        first = words.next();
    }
    let Some(name) = first else { bail!("line {line_no}: missing command") };
    let filters =
        segments.into_iter().map(|s| parse_filter(&s, line_no)).collect::<Result<Vec<_>>>()?;
    Ok(Some(Command {
        line: line_no,
        text,
        target,
        name: name.text,
        args: words.collect(),
        filters,
    }))
}

fn parse_filter(words: &[Word], line_no: usize) -> Result<Filter> {
    let w: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    Ok(match w.as_slice() {
        ["grep", "-v", p] => Filter::GrepV(p.to_string()),
        ["grep", p] => Filter::Grep(p.to_string()),
        ["sort"] => Filter::Sort,
        ["head", n] => Filter::Head(n.parse()?),
        ["tail", n] => Filter::Tail(n.parse()?),
        ["squeeze"] => Filter::Squeeze,
        ["replace", re, with] => {
            regex::Regex::new(re).map_err(|e| anyhow::anyhow!("line {line_no}: replace: {e}"))?;
            Filter::Replace(re.to_string(), with.to_string())
        }
        _ => bail!(
            "line {line_no}: unknown filter `{}` (grep [-v] TEXT, sort, head N, tail N, squeeze, replace REGEX TEXT)",
            w.join(" ")
        ),
    })
}

/// The line up to an unquoted `#` that starts a word.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_space = true;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '#' && prev_space {
                    return &line[..i];
                }
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
        prev_space = c.is_whitespace() || c == '|';
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(cmd: &Command) -> Vec<&str> {
        cmd.args.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn parses_blocks_comments_and_outputs() {
        let text = "# A comment.\ncluster meta=3\n---\nok\n\n# Second.\ncrash meta1\nctl show\n---\n> a\n>\n> b\n";
        let s = parse(text).unwrap();
        assert_eq!(s.blocks.len(), 2);
        assert_eq!(s.blocks[0].commands[0].name, "cluster");
        assert_eq!(s.blocks[0].line, 2);
        assert_eq!(s.blocks[0].expected.as_deref(), Some("ok\n"));
        assert_eq!(s.blocks[1].commands.len(), 2);
        assert_eq!(s.blocks[1].literal, "# Second.\ncrash meta1\nctl show\n");
        assert_eq!(s.blocks[1].expected.as_deref(), Some("a\n\nb\n"));
        assert_eq!(s.trailer, "");
    }

    #[test]
    fn render_round_trips() {
        let text = "# head\ncluster meta=3\n---\nok\n\n\n# two blank lines above\nctl show\n---\n> x\n>\n> y\n\n# trailing comment\n";
        let s = parse(text).unwrap();
        let outs: Vec<String> =
            s.blocks.iter().map(|b| b.expected.clone().unwrap_or_default()).collect();
        assert_eq!(render(&s, &outs), text);
    }

    #[test]
    fn missing_separator_is_a_block_without_expectation() {
        let s = parse("cluster meta=1\n---\nok\n\nctl show\n").unwrap();
        assert_eq!(s.blocks.len(), 2);
        assert_eq!(s.blocks[1].expected, None);
        let out = render(&s, &["".into(), "hello\n".into()]);
        assert_eq!(out, "cluster meta=1\n---\nok\n\nctl show\n---\nhello\n");
    }

    #[test]
    fn separator_without_commands_is_an_error() {
        let err = parse("# only a comment\n---\nok\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn words_quotes_keys_and_comments() {
        let c = parse_line(
            r#"query db=telegraf "SELECT count(*) FROM \"cpu\"" k='a b' -db=x # note"#,
            7,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.name, "query");
        assert_eq!(c.line, 7);
        assert_eq!(
            words(&c),
            vec!["db=telegraf", r#"SELECT count(*) FROM "cpu""#, "k=a b", "-db=x"]
        );
        assert_eq!(c.args[0].key_value(), Some(("db", "telegraf")));
        assert_eq!(c.args[1].key_value(), None);
        assert_eq!(c.args[2].key_value(), Some(("k", "a b")));
        assert_eq!(c.args[3].key_value(), None, "flags are not keys");
        assert_eq!(c.text, r#"query db=telegraf "SELECT count(*) FROM \"cpu\"" k='a b' -db=x"#);
    }

    #[test]
    fn quoted_equals_is_not_a_key() {
        let c = parse_line(r#"query "a=b" x="y z""#, 1).unwrap().unwrap();
        assert_eq!(c.args[0].key_value(), None);
        assert_eq!(c.args[1].key_value(), Some(("x", "y z")));
    }

    #[test]
    fn target_prefix_and_filters() {
        let c = parse_line("@b ctl show | grep -v Leader | sort | head 3", 1).unwrap().unwrap();
        assert_eq!(c.target.as_deref(), Some("b"));
        assert_eq!(c.name, "ctl");
        assert_eq!(words(&c), vec!["show"]);
        assert_eq!(c.filters, vec![Filter::GrepV("Leader".into()), Filter::Sort, Filter::Head(3)]);
        assert!(parse_line("ctl show | frob", 3).unwrap_err().to_string().contains("line 3"));
    }

    #[test]
    fn hash_inside_words_and_quotes_is_kept() {
        let c = parse_line("write db=x a#b \"#c\" # comment", 1).unwrap().unwrap();
        assert_eq!(words(&c), vec!["db=x", "a#b", "#c"]);
        assert_eq!(parse_line("   # just a comment", 1).unwrap(), None);
        assert_eq!(parse_line("   ", 1).unwrap(), None);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let err = parse_line("query \"SELECT", 4).unwrap_err();
        assert!(err.to_string().contains("line 4"), "{err}");
    }

    #[test]
    fn encode_prefixes_blank_lines_and_angle_brackets() {
        assert_eq!(encode(""), "ok\n");
        assert_eq!(encode("a  \nb\n\n\n"), "a\nb\n");
        assert_eq!(encode("a\n\nb"), "> a\n>\n> b\n");
        assert_eq!(encode("> x\n"), "> > x\n");
        assert_eq!(decode(&["> > x"]), "> x\n");
        assert_eq!(decode(&["> a", ">", "> b"]), "a\n\nb\n");
    }

    #[test]
    fn filters_apply() {
        let t = "b 1\na 2\nc 3\n";
        assert_eq!(Filter::Grep("a".into()).apply(t), "a 2\n");
        assert_eq!(Filter::GrepV("a".into()).apply(t), "b 1\nc 3\n");
        assert_eq!(Filter::Sort.apply(t), "a 2\nb 1\nc 3\n");
        assert_eq!(Filter::Head(1).apply(t), "b 1\n");
        assert_eq!(Filter::Tail(2).apply(t), "a 2\nc 3\n");
        assert_eq!(
            Filter::Squeeze.apply("ID   Start    End\n1    TIME   TIME*  x\n"),
            "ID Start End\n1 TIME TIME* x\n"
        );
        assert_eq!(Filter::Grep("zz".into()).apply(t), "");
        let r = parse_line(r"ctl x | replace 'shard \d+: .*' 'shard N: $1'", 1).unwrap().unwrap();
        assert_eq!(r.filters[0].apply("a shard 12: boom\nb\n"), "a shard N: $1\nb\n");
        assert!(parse_line("ctl x | replace '(' x", 1).is_err());
    }
}
