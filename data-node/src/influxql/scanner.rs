//! The InfluxQL scanner. It reads runes through a small unread buffer and
//! reports positions exactly as InfluxDB's scanner does (including its
//! quirks: a string token is positioned on the rune before its opening
//! quote, the end of input is one column further once it has been read
//! twice, `\r\n` and `\r` read as `\n`, and a NUL rune ends the input).

use super::token::{Token, lookup};

/// A position in the query text: zero-based line and rune column, and the
/// byte offset (not shown in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Zero-based line.
    pub line: usize,
    /// Zero-based column, in runes.
    pub char: usize,
    /// Byte offset in the query text.
    pub offset: usize,
}

/// The rune that stands for the end of input.
pub(crate) const EOF: char = '\0';

/// A rune reader with a three-rune unread buffer.
pub(crate) struct Reader<'a> {
    src: &'a str,
    off: usize,
    i: usize,
    n: usize,
    buf: [(char, Pos); 3],
    pos: Pos,
    eof: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(src: &'a str) -> Reader<'a> {
        Reader {
            src,
            off: 0,
            i: 0,
            n: 0,
            buf: [(EOF, Pos::default()); 3],
            pos: Pos::default(),
            eof: false,
        }
    }

    /// The query text.
    pub(crate) fn src(&self) -> &'a str {
        self.src
    }

    /// Reads the next rune (from the unread buffer first).
    pub(crate) fn read(&mut self) -> (char, Pos) {
        if self.n > 0 {
            self.n -= 1;
            return self.curr();
        }
        let mut ch = EOF;
        let start = self.off;
        if let Some(c) = self.src[self.off..].chars().next() {
            self.off += c.len_utf8();
            ch = c;
            if c == '\r' {
                if self.src[self.off..].starts_with('\n') {
                    self.off += 1;
                }
                ch = '\n';
            }
        }
        self.i = (self.i + 1) % 3;
        self.buf[self.i] = (ch, Pos { offset: start, ..self.pos });
        if ch == '\n' {
            self.pos.line += 1;
            self.pos.char = 0;
        } else if !self.eof {
            self.pos.char += 1;
        }
        if ch == EOF {
            self.eof = true;
        }
        self.curr()
    }

    /// Pushes the last read rune back.
    pub(crate) fn unread(&mut self) {
        if self.n < 3 {
            self.n += 1;
        }
    }

    /// The last read rune and its position.
    pub(crate) fn curr(&self) -> (char, Pos) {
        self.buf[(self.i + 3 - self.n) % 3]
    }

    /// `io.RuneReader` view: `None` at the end of input.
    fn read_rune(&mut self) -> Option<char> {
        let (c, _) = self.read();
        if c == EOF { None } else { Some(c) }
    }
}

fn is_whitespace(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\n'
}

fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

pub(crate) fn is_ident_char(c: char) -> bool {
    is_letter(c) || is_digit(c) || c == '_'
}

pub(crate) fn is_ident_first_char(c: char) -> bool {
    is_letter(c) || c == '_'
}

/// A scanned token: kind, position and literal text.
pub(crate) type Scanned = (Token, Pos, String);

/// Why a delimited or quoted text could not be read.
enum BadText {
    String(String),
    Escape(String),
    Other,
}

/// The scanner proper.
pub(crate) struct Scanner<'a> {
    pub(crate) r: Reader<'a>,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(src: &'a str) -> Scanner<'a> {
        Scanner { r: Reader::new(src) }
    }

    /// Scans the next token.
    pub(crate) fn scan(&mut self) -> Scanned {
        let (ch0, pos) = self.r.read();
        if is_whitespace(ch0) {
            return self.scan_whitespace();
        } else if is_letter(ch0) || ch0 == '_' {
            self.r.unread();
            return self.scan_ident(true);
        } else if is_digit(ch0) {
            return self.scan_number();
        }
        let simple = |t: Token| (t, pos, String::new());
        match ch0 {
            EOF => simple(Token::Eof),
            '"' => {
                self.r.unread();
                self.scan_ident(true)
            }
            '\'' => self.scan_string(),
            '.' => {
                let (ch1, _) = self.r.read();
                self.r.unread();
                if is_digit(ch1) { self.scan_number() } else { simple(Token::Dot) }
            }
            '$' => {
                let (tok, _, lit) = self.scan_ident(false);
                if tok != Token::Ident {
                    (tok, pos, format!("${lit}"))
                } else {
                    (Token::BoundParam, pos, format!("${lit}"))
                }
            }
            '+' => simple(Token::Add),
            '-' => {
                let (ch1, _) = self.r.read();
                if ch1 == '-' {
                    self.skip_until_newline();
                    return simple(Token::Comment);
                }
                self.r.unread();
                simple(Token::Sub)
            }
            '*' => simple(Token::Mul),
            '/' => {
                let (ch1, _) = self.r.read();
                if ch1 == '*' {
                    if self.skip_until_end_comment() {
                        return simple(Token::Comment);
                    }
                    return simple(Token::Illegal);
                }
                self.r.unread();
                simple(Token::Div)
            }
            '%' => simple(Token::Mod),
            '&' => simple(Token::BitwiseAnd),
            '|' => simple(Token::BitwiseOr),
            '^' => simple(Token::BitwiseXor),
            '=' => {
                let (ch1, _) = self.r.read();
                if ch1 == '~' {
                    return simple(Token::EqRegex);
                }
                self.r.unread();
                simple(Token::Eq)
            }
            '!' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Token::Neq);
                } else if ch1 == '~' {
                    return simple(Token::NeqRegex);
                }
                self.r.unread();
                (Token::Illegal, pos, "!".to_string())
            }
            '>' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Token::Gte);
                }
                self.r.unread();
                simple(Token::Gt)
            }
            '<' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Token::Lte);
                } else if ch1 == '>' {
                    return simple(Token::Neq);
                }
                self.r.unread();
                simple(Token::Lt)
            }
            '(' => simple(Token::LParen),
            ')' => simple(Token::RParen),
            ',' => simple(Token::Comma),
            ';' => simple(Token::Semicolon),
            ':' => {
                let (ch1, _) = self.r.read();
                if ch1 == ':' {
                    return simple(Token::DoubleColon);
                }
                self.r.unread();
                simple(Token::Colon)
            }
            c => (Token::Illegal, pos, c.to_string()),
        }
    }

    fn scan_whitespace(&mut self) -> Scanned {
        let (ch, pos) = self.r.curr();
        let mut buf = String::new();
        buf.push(ch);
        loop {
            let (ch, _) = self.r.read();
            if ch == EOF {
                break;
            } else if !is_whitespace(ch) {
                self.r.unread();
                break;
            }
            buf.push(ch);
        }
        (Token::Ws, pos, buf)
    }

    fn skip_until_newline(&mut self) {
        loop {
            let (ch, _) = self.r.read();
            if ch == '\n' || ch == EOF {
                return;
            }
        }
    }

    /// Skips to the end of a `/* */` comment; false at the end of input.
    fn skip_until_end_comment(&mut self) -> bool {
        loop {
            let (ch1, _) = self.r.read();
            if ch1 == '*' {
                loop {
                    let (ch2, _) = self.r.read();
                    if ch2 == '/' {
                        return true;
                    } else if ch2 == '*' {
                        continue;
                    } else if ch2 == EOF {
                        return false;
                    }
                    break;
                }
            } else if ch1 == EOF {
                return false;
            }
        }
    }

    fn scan_ident(&mut self, lookup_keyword: bool) -> Scanned {
        let (_, pos) = self.r.read();
        self.r.unread();
        let mut buf = String::new();
        loop {
            let (ch, _) = self.r.read();
            if ch == EOF {
                break;
            } else if ch == '"' {
                let (tok0, pos0, lit0) = self.scan_string();
                if tok0 == Token::BadString || tok0 == Token::BadEscape {
                    return (tok0, pos0, lit0);
                }
                return (Token::Ident, pos, lit0);
            } else if is_ident_char(ch) {
                self.r.unread();
                self.scan_bare_ident(&mut buf);
            } else {
                self.r.unread();
                break;
            }
        }
        if lookup_keyword {
            let tok = lookup(&buf);
            if tok != Token::Ident {
                return (tok, pos, String::new());
            }
        }
        (Token::Ident, pos, buf)
    }

    fn scan_bare_ident(&mut self, buf: &mut String) {
        while let Some(ch) = self.r.read_rune() {
            if !is_ident_char(ch) {
                self.r.unread();
                break;
            }
            buf.push(ch);
        }
    }

    fn scan_string(&mut self) -> Scanned {
        self.r.unread();
        let (_, pos) = self.r.curr();
        match self.read_quoted() {
            Ok(lit) => (Token::String, pos, lit),
            Err(BadText::Escape(lit)) => {
                let (_, pos) = self.r.curr();
                (Token::BadEscape, pos, lit)
            }
            Err(BadText::String(lit)) => (Token::BadString, pos, lit),
            Err(BadText::Other) => (Token::BadString, pos, String::new()),
        }
    }

    /// Reads a string quoted by the next rune; `\n`, `\\`, `\"` and `\'`
    /// are the only escapes.
    fn read_quoted(&mut self) -> Result<String, BadText> {
        let Some(ending) = self.r.read_rune() else {
            return Err(BadText::String(String::new()));
        };
        let mut buf = String::new();
        loop {
            let ch0 = self.r.read_rune();
            match ch0 {
                Some(c) if c == ending => return Ok(buf),
                None | Some('\n') => return Err(BadText::String(buf)),
                Some('\\') => {
                    let (ch1, _) = self.r.read();
                    match ch1 {
                        'n' => buf.push('\n'),
                        '\\' => buf.push('\\'),
                        '"' => buf.push('"'),
                        '\'' => buf.push('\''),
                        c => return Err(BadText::Escape(format!("\\{c}"))),
                    }
                }
                Some(c) => buf.push(c),
            }
        }
    }

    /// Scans a `/regex/`; the parser calls this when the next rune is `/`.
    pub(crate) fn scan_regex(&mut self) -> Scanned {
        let (_, pos) = self.r.curr();
        match self.read_delimited() {
            Ok(lit) => (Token::Regex, pos, lit),
            Err(BadText::Escape(_)) => {
                let (_, pos) = self.r.curr();
                (Token::BadEscape, pos, String::new())
            }
            Err(_) => (Token::BadRegex, pos, String::new()),
        }
    }

    /// Reads `/.../`: `\/` is an escaped slash, any other backslash is kept.
    fn read_delimited(&mut self) -> Result<String, BadText> {
        match self.r.read_rune() {
            Some('/') => {}
            _ => return Err(BadText::Other),
        }
        let mut buf = String::new();
        loop {
            match self.r.read_rune() {
                Some('/') => return Ok(buf),
                None | Some('\n') => return Err(BadText::Other),
                Some('\\') => match self.r.read_rune() {
                    None => return Err(BadText::Other),
                    Some('/') => buf.push('/'),
                    Some(_) => {
                        self.r.unread();
                        buf.push('\\');
                    }
                },
                Some(c) => buf.push(c),
            }
        }
    }

    fn scan_number(&mut self) -> Scanned {
        let mut buf = String::new();
        let (ch, pos) = self.r.curr();
        if ch == '.' {
            let (ch1, _) = self.r.read();
            self.r.unread();
            if !is_digit(ch1) {
                return (Token::Illegal, pos, ".".to_string());
            }
            self.r.unread();
        } else {
            self.r.unread();
        }
        self.scan_digits(&mut buf);

        let mut is_decimal = false;
        let (ch0, _) = self.r.read();
        if ch0 == '.' {
            is_decimal = true;
            let (ch1, _) = self.r.read();
            if is_digit(ch1) {
                buf.push(ch0);
                buf.push(ch1);
                self.scan_digits(&mut buf);
            } else {
                self.r.unread();
            }
        } else {
            self.r.unread();
        }

        if !is_decimal {
            let (ch0, _) = self.r.read();
            if is_letter(ch0) || ch0 == 'µ' {
                buf.push(ch0);
                loop {
                    let (ch1, _) = self.r.read();
                    if !is_letter(ch1) && ch1 != 'µ' {
                        self.r.unread();
                        break;
                    }
                    buf.push(ch1);
                }
                loop {
                    let (ch0, _) = self.r.read();
                    if is_letter(ch0) || ch0 == 'µ' || is_digit(ch0) {
                        buf.push(ch0);
                    } else {
                        self.r.unread();
                        break;
                    }
                }
                return (Token::DurationVal, pos, buf);
            }
            self.r.unread();
            return (Token::Integer, pos, buf);
        }
        (Token::Number, pos, buf)
    }

    fn scan_digits(&mut self, buf: &mut String) {
        loop {
            let (ch, _) = self.r.read();
            if !is_digit(ch) {
                self.r.unread();
                break;
            }
            buf.push(ch);
        }
    }
}

/// The scanner with a three-token unscan buffer, as the parser uses it.
pub(crate) struct BufScanner<'a> {
    pub(crate) s: Scanner<'a>,
    i: usize,
    n: usize,
    buf: [Scanned; 3],
}

impl<'a> BufScanner<'a> {
    pub(crate) fn new(src: &'a str) -> BufScanner<'a> {
        let empty = || (Token::Eof, Pos::default(), String::new());
        BufScanner { s: Scanner::new(src), i: 0, n: 0, buf: [empty(), empty(), empty()] }
    }

    /// Next token (an unscanned one first).
    pub(crate) fn scan(&mut self, regex: bool) -> Scanned {
        if self.n > 0 {
            self.n -= 1;
            return self.curr();
        }
        self.i = (self.i + 1) % 3;
        self.buf[self.i] = if regex { self.s.scan_regex() } else { self.s.scan() };
        self.curr()
    }

    /// Pushes the last token back.
    pub(crate) fn unscan(&mut self) {
        if self.n < 3 {
            self.n += 1;
        }
    }

    fn curr(&self) -> Scanned {
        self.buf[(self.i + 3 - self.n) % 3].clone()
    }
}
