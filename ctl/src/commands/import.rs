//! `import`: an export file (or any DDL/DML file `influx -import` reads)
//! into a cluster through a data node's HTTP API, as `influx -import` does.
//!
//! ```text
//! ctl import -path FILE|- [-compressed] [-pps N] [-precision ns] [-consistency all]
//!            [-host HTTP-ADDR] [-username U -password P]
//! ```
//!
//! The file is read with portable's `ImportReader` (`influx -import`'s
//! rules): until `# DML` every non-comment, non-blank line is an InfluxQL
//! query, POSTed to `/query`; an error there is logged (`error: ...`) but
//! is not a failure. After `# DML`, `# CONTEXT-DATABASE:` and
//! `# CONTEXT-RETENTION-POLICY:` set the target, and the lines go to
//! `/write?db=&rp=&precision=&consistency=` in batches of 5000, flushed on a
//! context change and at the end. `-host` is a data node's HTTP address
//! (default: the first data node in the metastore, by ID, that answers
//! `/ping`). A reader thread
//! reads and batches ahead while a batch is in flight; writes stay in file
//! order, one at a time. `-consistency` defaults to `all`, as `influx`.
//!
//! Output as `influx -import` (log lines with a local timestamp): on stdout
//! `Processed N lines.  Time elapsed: ..  Points per second (PPS): ..` every
//! 100000 lines and, at the end, `Processed N commands`, `Processed N
//! inserts`, `Failed N inserts`; errors on stderr; with failures
//! `ERROR: N points were not inserted` and exit 1.
//!
//! DEVIATIONS (deliberate):
//! - A last line without a trailing newline is imported (the real importer
//!   drops it silently).
//! - A gzip file is recognised by its magic number even without
//!   `-compressed` (the real tool would send the compressed bytes).
//! - Errors name file lines: a line the server cannot parse is reported as
//!   `line N: unable to parse '...': <reason>`, and only the bad lines of a
//!   partially written batch count as failed (the real tool counts the whole
//!   batch and prints it); a batch the server rejects as a whole is reported
//!   with its line range and, for an unknown database, the line of its
//!   `# CONTEXT-DATABASE:`. A read error (gzip corrupt or cut mid-file, a
//!   line too long) stops the import with its line number after the batches
//!   before it were written; a line that is not UTF-8 counts as one failed
//!   line.
//! - The summary is printed even when nothing was inserted.
//! - `-merge` (default true): the one-field rows of an export file are sent
//!   as one line per (series, time) with all its fields (the same points;
//!   about a quarter of the lines for the data node to parse and store, and
//!   the import twice as fast). Batches are then 5000 sent lines; a batch
//!   the server does not take whole is sent again as its source lines, 5000
//!   at a time, so that errors and counts are per file line as without
//!   merging. `-merge=false` sends the file's lines as they are.

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use portable::export::{
    IMPORT_BATCH_SIZE, ImportItem, ImportOptions as ReaderOptions, ImportReader,
};
use portable::lineproto::Precision;

use crate::client::Meta;
use crate::run::Outcome;

/// Parsed `import` options.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `-path` (`-` = stdin).
    pub path: String,
    /// `-compressed`: the input is gzip.
    pub compressed: bool,
    /// `-pps`: points per second limit (0 = none).
    pub pps: u64,
    /// `-precision` (sent verbatim).
    pub precision: String,
    /// `-consistency` (sent verbatim).
    pub consistency: String,
    /// `-host`: a data node's HTTP address (empty: from the metastore).
    pub host: String,
    /// `-username`.
    pub username: String,
    /// `-password`.
    pub password: String,
    /// `-merge`: send the one-field rows of a series as multi-field lines.
    pub merge: bool,
}

/// What the reader thread hands the sender.
#[derive(Debug)]
enum Work {
    /// A DDL query.
    Query { line: u64, text: String },
    /// A batch of line protocol.
    Write(Batch),
    /// A line that could not be read (not UTF-8): one failed line.
    BadLine { line: u64, reason: String },
    /// The input cannot be read further (gzip error, line too long).
    Fatal(String),
}

#[derive(Debug)]
struct Batch {
    db: String,
    rp: String,
    /// Line of the `# CONTEXT-DATABASE:` in force (0: none).
    db_line: u64,
    /// File line of each body line.
    lines: Vec<u64>,
    /// The lines, each ending in `\n`.
    body: Vec<u8>,
    /// The merged lines to send instead of `body` (see [`Builder`]).
    merged: Option<Vec<u8>>,
}

/// Go's `log` prefix: `2006/01/02 15:04:05 ` in local time.
fn ts() -> String {
    chrono::Local::now().format("%Y/%m/%d %H:%M:%S ").to_string()
}

/// Runs `import`.
pub async fn run(meta: &Meta, opts: ImportOptions) -> Result<Outcome> {
    if opts.path.is_empty() {
        bail!("file argument required");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let auth = (!opts.username.is_empty()).then(|| (opts.username.clone(), opts.password.clone()));
    let hosts =
        if opts.host.is_empty() { data_hosts(meta).await? } else { vec![opts.host.clone()] };
    // The first host that answers /ping.
    let mut base = String::new();
    let mut errors = Vec::new();
    for host in &hosts {
        let b = if host.starts_with("http://") || host.starts_with("https://") {
            host.trim_end_matches('/').to_string()
        } else {
            format!("http://{host}")
        };
        match ping(&http, &b, auth.as_ref()).await {
            Ok(()) => {
                base = b;
                break;
            }
            Err(e) => errors.push(format!("failed to connect to {b}: {e:#}")),
        }
    }
    if base.is_empty() {
        bail!("{}", errors.join("; "));
    }

    let (name, input, gz) = open_input(&opts.path, opts.compressed)?;
    let (merge, precision) = (opts.merge, Precision::parse_lenient(&opts.precision));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Work>(4);
    let reader = std::thread::spawn(move || {
        let r = ImportReader::with_compression(name, input, gz, ReaderOptions::default());
        read_loop(r, tx, merge, precision)
    });

    let mut st = Stats::new();
    let mut fatal = None;
    while let Some(w) = rx.recv().await {
        match w {
            Work::Query { line, text } => {
                st.commands += 1;
                if let Err(e) = query(&http, &base, auth.as_ref(), &text).await {
                    eprintln!("{}error: {e:#} (line {line}: {text})", ts());
                }
            }
            Work::Write(mut b) => {
                throttle(&st, opts.pps, b.lines.len() as u64).await;
                let sent = match b.merged.take() {
                    Some(m) => post(&http, &base, auth.as_ref(), &opts, &b.db, &b.rp, m.into())
                        .await
                        .is_ok_and(|(status, _)| status.is_success()),
                    None => false,
                };
                if sent {
                    st.inserted += b.lines.len() as u64;
                } else {
                    // As they are (also when the merged lines were refused:
                    // exact per-line errors and counts).
                    for part in b.split(IMPORT_BATCH_SIZE) {
                        write_batch(&http, &base, auth.as_ref(), &opts, part, &mut st).await;
                    }
                }
                st.status();
            }
            Work::BadLine { line, reason } => {
                eprintln!("{}line {line}: {reason}", ts());
                st.failed += 1;
            }
            Work::Fatal(e) => fatal = Some(e),
        }
    }
    reader.join().map_err(|_| anyhow!("the import reader panicked"))?;
    println!("{}Processed {} commands", ts(), st.commands);
    println!("{}Processed {} inserts", ts(), st.inserted);
    println!("{}Failed {} inserts", ts(), st.failed);
    if let Some(e) = fatal {
        eprintln!("ERROR: {e}");
        return Ok(Outcome::Failure);
    }
    if st.failed > 0 {
        let (n, s) = if st.failed == 1 { (1, " was") } else { (st.failed, "s were") };
        eprintln!("ERROR: {n} point{s} not inserted");
        return Ok(Outcome::Failure);
    }
    Ok(Outcome::Success)
}

/// The data nodes' HTTP addresses, by ID (the first one that answers is used).
async fn data_hosts(meta: &Meta) -> Result<Vec<String>> {
    let data = meta.data().await.context("finding a data node (or give -host)")?;
    let mut nodes: Vec<(u64, String)> =
        data.data_nodes.iter().map(|n| (n.id, n.host.clone())).collect();
    nodes.sort();
    if nodes.is_empty() {
        bail!("the cluster has no data node (give -host)");
    }
    Ok(nodes.into_iter().map(|n| n.1).collect())
}

fn with_auth(
    r: reqwest::RequestBuilder,
    auth: Option<&(String, String)>,
) -> reqwest::RequestBuilder {
    match auth {
        Some((u, p)) => r.basic_auth(u, Some(p)),
        None => r,
    }
}

async fn ping(http: &reqwest::Client, base: &str, auth: Option<&(String, String)>) -> Result<()> {
    let r = with_auth(http.get(format!("{base}/ping")), auth)
        .timeout(Duration::from_secs(10))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("/ping answered {}", r.status());
    }
    Ok(())
}

/// The input (its name, its bytes, whether it is gzip: `-compressed` or
/// the gzip magic number).
fn open_input(path: &str, compressed: bool) -> Result<(String, Box<dyn Read + Send>, bool)> {
    let (name, mut r): (String, Box<dyn Read + Send>) = if path == "-" {
        ("stdin".into(), Box::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
        (path.to_string(), Box::new(f))
    };
    let mut magic = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        let k = r.read(&mut magic[n..]).with_context(|| format!("reading {name}"))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let gz = compressed || (n == 2 && magic == [0x1f, 0x8b]);
    let head = std::io::Cursor::new(magic[..n].to_vec());
    Ok((name, Box::new(head.chain(r)), gz))
}

/// The reader thread: items into batches (see [`Builder`]).
fn read_loop(
    mut r: ImportReader<std::io::BufReader<Box<dyn Read>>>,
    tx: tokio::sync::mpsc::Sender<Work>,
    merge: bool,
    precision: Precision,
) {
    let mut b = Builder::new(tx, merge, precision);
    loop {
        let item = match r.next_item() {
            Ok(Some(i)) => i,
            Ok(None) => break,
            Err(portable::Error::Parse { line, problem, .. })
                if problem.starts_with("not UTF-8") =>
            {
                if !b.flush() || !b.send(Work::BadLine { line, reason: problem }) {
                    return;
                }
                continue;
            }
            Err(e) => {
                if b.flush() {
                    b.send(Work::Fatal(e.to_string()));
                }
                return;
            }
        };
        let alive = match item {
            ImportItem::Query { line, text } => b.flush() && b.send(Work::Query { line, text }),
            ImportItem::Database { line, name } => {
                b.flush() && {
                    b.batch.db = name;
                    b.batch.db_line = line;
                    true
                }
            }
            ImportItem::RetentionPolicy { name, .. } => {
                b.flush() && {
                    b.batch.rp = name;
                    true
                }
            }
            ImportItem::Data { line, text } => b.push(line, text.as_bytes()),
        };
        if !alive {
            return;
        }
    }
    b.flush();
}

/// Most rows one series run may buffer before it is merged and sent.
const RUN_CAP: usize = 1 << 20;

/// One row of a series run.
struct RunRow {
    /// Time in ns (for grouping).
    time: i64,
    /// File line.
    line: u64,
    /// The whole row, the `field=value` and the timestamp text, in `Run::text`.
    raw: std::ops::Range<usize>,
    field: std::ops::Range<usize>,
    ts: std::ops::Range<usize>,
    /// Length of the field name at the start of `field`.
    name_len: usize,
}

/// Consecutive one-field rows of the same series.
#[derive(Default)]
struct Run {
    key: Vec<u8>,
    text: Vec<u8>,
    rows: Vec<RunRow>,
}

/// Builds the write batches. Without merging, a batch is up to 5000 file
/// lines, as `influx -import` sends them. With merging (the default), the
/// one-field rows of an export file (`<series> <field>=<value> <time>`,
/// one row per field value, the fields of a series one after the other) are
/// gathered per series and sent as one line per (series, time) with all
/// its fields: the same points, a quarter of the lines to parse and store.
/// A batch then holds up to 5000 sent lines, and keeps its source rows, in
/// case the server refuses the merged lines (they are then sent as they
/// are, 5000 at a time, for exact per-line accounting). Rows that are not
/// plain one-field rows with a timestamp are sent as they are, in order.
struct Builder {
    tx: tokio::sync::mpsc::Sender<Work>,
    merge: bool,
    batch: Batch,
    /// What the batch sends when it merged something, and its line count.
    send: Vec<u8>,
    send_n: usize,
    merged_any: bool,
    run: Run,
    parser: portable::lineproto::Parser,
    popts: portable::lineproto::ParseOptions,
}

impl Builder {
    fn new(tx: tokio::sync::mpsc::Sender<Work>, merge: bool, precision: Precision) -> Builder {
        Builder {
            tx,
            merge,
            batch: Batch::empty(String::new(), String::new(), 0),
            send: Vec::new(),
            send_n: 0,
            merged_any: false,
            run: Run::default(),
            parser: portable::lineproto::Parser::new(),
            popts: portable::lineproto::ParseOptions::new(precision, 0),
        }
    }

    fn send(&self, w: Work) -> bool {
        self.tx.blocking_send(w).is_ok()
    }

    /// Sends everything pending; false when the receiver is gone.
    fn flush(&mut self) -> bool {
        self.flush_run() && self.flush_batch()
    }

    fn flush_batch(&mut self) -> bool {
        if self.batch.lines.is_empty() {
            return true;
        }
        let fresh = Batch::empty(self.batch.db.clone(), self.batch.rp.clone(), self.batch.db_line);
        let mut b = std::mem::replace(&mut self.batch, fresh);
        let send = std::mem::take(&mut self.send);
        if self.merged_any {
            b.merged = Some(send);
        }
        self.send_n = 0;
        self.merged_any = false;
        self.send(Work::Write(b))
    }

    /// Adds a row as it is.
    fn add_raw(&mut self, line: u64, text: &[u8]) -> bool {
        self.batch.lines.push(line);
        self.batch.body.extend_from_slice(text);
        self.batch.body.push(b'\n');
        if self.merge {
            self.send.extend_from_slice(text);
            self.send.push(b'\n');
        }
        self.send_n += 1;
        self.send_n < IMPORT_BATCH_SIZE || self.flush_batch()
    }

    /// A DML line.
    fn push(&mut self, line: u64, text: &[u8]) -> bool {
        if !self.merge {
            return self.add_raw(line, text);
        }
        let Some((time, field, name_len, ts, key)) = self.one_field_row(text) else {
            return self.flush_run() && self.add_raw(line, text);
        };
        if (self.run.key != key || self.run.rows.len() >= RUN_CAP) && !self.flush_run() {
            return false;
        }
        if self.run.rows.is_empty() {
            self.run.key = key;
        }
        let base = self.run.text.len();
        self.run.text.extend_from_slice(text);
        self.run.rows.push(RunRow {
            time,
            line,
            raw: base..base + text.len(),
            field: base + field.start..base + field.end,
            ts: base + ts.start..base + ts.end,
            name_len,
        });
        true
    }

    /// `(time, field=value range, field name length, timestamp range, series
    /// key)` of a valid row with one field and a timestamp.
    #[allow(clippy::type_complexity)]
    fn one_field_row(
        &mut self,
        text: &[u8],
    ) -> Option<(i64, std::ops::Range<usize>, usize, std::ops::Range<usize>, Vec<u8>)> {
        if text.first().is_none_or(|c| c.is_ascii_whitespace()) {
            return None;
        }
        let p = self.parser.parse_raw(text, &self.popts).ok()?;
        let fields = p.fields_raw();
        let mut n = 0;
        let mut name_len = 0;
        p.for_each_field_raw(|k, _| {
            n += 1;
            name_len = k.len();
        });
        if n != 1 {
            return None;
        }
        // Where the fields section sits in `text` (it borrows from it).
        let start = (fields.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
        let end = start + fields.len();
        let rest = text.get(end..)?;
        let lead = rest.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
        let tail = rest.iter().rev().take_while(|c| c.is_ascii_whitespace()).count();
        if lead == 0 || lead + tail >= rest.len() {
            return None;
        }
        let ts = end + lead..text.len() - tail;
        Some((p.time(), start..end, name_len, ts, p.series_key().to_vec()))
    }

    /// Merges and adds the pending series run.
    fn flush_run(&mut self) -> bool {
        let run = std::mem::take(&mut self.run);
        let rows = &run.rows;
        if rows.len() <= 1 {
            return rows.first().is_none_or(|r| self.add_raw(r.line, &run.text[r.raw.clone()]));
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].time);
        let groups: Vec<&[usize]> = order.chunk_by(|&a, &b| rows[a].time == rows[b].time).collect();
        let name =
            |i: usize| &run.text[rows[i].field.start..rows[i].field.start + rows[i].name_len];
        // A field twice at one time: not merged (the last value must win).
        let dup = groups.iter().any(|g| {
            g.len() > 1
                && g.iter().enumerate().any(|(k, &i)| g[..k].iter().any(|&j| name(j) == name(i)))
        });
        if dup {
            for r in rows {
                if !self.add_raw(r.line, &run.text[r.raw.clone()]) {
                    return false;
                }
            }
            return true;
        }
        for g in groups {
            for &i in g {
                self.batch.lines.push(rows[i].line);
                self.batch.body.extend_from_slice(&run.text[rows[i].raw.clone()]);
                self.batch.body.push(b'\n');
            }
            self.send.extend_from_slice(&run.key);
            self.send.push(b' ');
            for (k, &i) in g.iter().enumerate() {
                if k > 0 {
                    self.send.push(b',');
                }
                self.send.extend_from_slice(&run.text[rows[i].field.clone()]);
            }
            self.send.push(b' ');
            self.send.extend_from_slice(&run.text[rows[g[0]].ts.clone()]);
            self.send.push(b'\n');
            self.send_n += 1;
            self.merged_any = true;
            if self.send_n >= IMPORT_BATCH_SIZE && !self.flush_batch() {
                return false;
            }
        }
        true
    }
}

impl Batch {
    fn empty(db: String, rp: String, db_line: u64) -> Batch {
        Batch {
            db,
            rp,
            db_line,
            lines: Vec::with_capacity(IMPORT_BATCH_SIZE),
            body: Vec::with_capacity(512 * 1024),
            merged: None,
        }
    }

    /// The source lines, in file order, in batches of at most `n` lines.
    fn split(self, n: usize) -> Vec<Batch> {
        let mut rows: Vec<(u64, usize, usize)> = Vec::with_capacity(self.lines.len());
        let mut pos = 0;
        for &line in &self.lines {
            let end = self.body[pos..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(self.body.len(), |p| pos + p + 1);
            rows.push((line, pos, end));
            pos = end;
        }
        rows.sort_by_key(|r| r.0);
        rows.chunks(n)
            .map(|chunk| {
                let mut body = Vec::with_capacity(chunk.iter().map(|r| r.2 - r.1).sum());
                for r in chunk {
                    body.extend_from_slice(&self.body[r.1..r.2]);
                }
                Batch {
                    db: self.db.clone(),
                    rp: self.rp.clone(),
                    db_line: self.db_line,
                    lines: chunk.iter().map(|r| r.0).collect(),
                    body,
                    merged: None,
                }
            })
            .collect()
    }
}

struct Stats {
    started: Instant,
    commands: u64,
    inserted: u64,
    failed: u64,
    /// Lines processed at the last status line.
    reported: u64,
}

impl Stats {
    fn new() -> Stats {
        Stats { started: Instant::now(), commands: 0, inserted: 0, failed: 0, reported: 0 }
    }

    fn processed(&self) -> u64 {
        self.inserted + self.failed
    }

    /// `Processed N lines.  ...` each time another 100000 lines are done.
    fn status(&mut self) {
        let n = self.processed();
        if n / 100_000 > self.reported / 100_000 {
            let el = self.started.elapsed();
            let pps = (n as f64 / el.as_secs_f64().max(1e-9)) as u64;
            println!(
                "{}Processed {} lines.  Time elapsed: {}.  Points per second (PPS): {pps}",
                ts(),
                n / 100_000 * 100_000,
                proto::godur::format(el)
            );
            self.reported = n;
        }
    }
}

/// With `-pps`, waits until sending `n` more lines keeps the average rate
/// at or under the limit.
async fn throttle(st: &Stats, pps: u64, n: u64) {
    if pps == 0 {
        return;
    }
    let due = Duration::from_secs_f64((st.processed() + n) as f64 / pps as f64);
    let el = st.started.elapsed();
    if due > el {
        tokio::time::sleep(due - el).await;
    }
}

/// The `error` text of an InfluxDB JSON error body, or the body.
fn error_text(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

/// Runs one DDL query; an error in the answer is an error here.
async fn query(
    http: &reqwest::Client,
    base: &str,
    auth: Option<&(String, String)>,
    q: &str,
) -> Result<()> {
    let r = with_auth(http.post(format!("{base}/query")), auth)
        .form(&[("q", q)])
        .send()
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{}", error_text(&body));
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("{e}");
    }
    for res in v.get("results").and_then(|r| r.as_array()).into_iter().flatten() {
        if let Some(e) = res.get("error").and_then(|e| e.as_str()) {
            bail!("{e}");
        }
    }
    Ok(())
}

/// POSTs a body to `/write`: the status and the body of the answer.
async fn post(
    http: &reqwest::Client,
    base: &str,
    auth: Option<&(String, String)>,
    opts: &ImportOptions,
    db: &str,
    rp: &str,
    body: bytes::Bytes,
) -> reqwest::Result<(reqwest::StatusCode, String)> {
    let params = [
        ("db", db),
        ("rp", rp),
        ("precision", opts.precision.as_str()),
        ("consistency", opts.consistency.as_str()),
    ];
    let r = with_auth(http.post(format!("{base}/write")), auth)
        .query(&params)
        .body(body)
        .send()
        .await?;
    let s = r.status();
    Ok((s, r.text().await.unwrap_or_default()))
}

/// POSTs one batch of source lines and accounts for it.
async fn write_batch(
    http: &reqwest::Client,
    base: &str,
    auth: Option<&(String, String)>,
    opts: &ImportOptions,
    b: Batch,
    st: &mut Stats,
) {
    let n = b.lines.len() as u64;
    let first = b.lines.first().copied().unwrap_or(0);
    let last = b.lines.last().copied().unwrap_or(0);
    let Batch { db, rp, db_line, lines, body, .. } = b;
    let body = bytes::Bytes::from(body);
    let res = post(http, base, auth, opts, &db, &rp, body.clone()).await;
    let (status, text) = match res {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}error writing batch (lines {first}-{last}): {e}", ts());
            st.failed += n;
            return;
        }
    };
    if status.is_success() {
        st.inserted += n;
        return;
    }
    let msg = error_text(&text);
    if status.as_u16() == 400 && msg.contains("unable to parse") {
        // Find the bad lines ourselves, with their file line numbers.
        let precision = portable::lineproto::Precision::parse_lenient(&opts.precision);
        let (_, errors) = portable::lineproto::parse_lines(&body, precision, 0);
        if !errors.is_empty() {
            for e in &errors {
                let line = lines.get(e.line.saturating_sub(1)).copied().unwrap_or(0);
                eprintln!("{}line {line}: {e}", ts());
            }
            let bad = errors.len() as u64;
            if msg.starts_with("partial write") {
                st.inserted += n.saturating_sub(bad);
                st.failed += bad.min(n);
            } else {
                st.failed += n;
            }
            return;
        }
    }
    if status.as_u16() == 400
        && msg.starts_with("partial write")
        && let Some(dropped) = dropped_count(&msg)
        && dropped > 0
    {
        eprintln!("{}error writing batch (lines {first}-{last}): {msg}", ts());
        st.inserted += n.saturating_sub(dropped);
        st.failed += dropped.min(n);
        return;
    }
    let target = if rp.is_empty() { format!("{db:?}") } else { format!("{db:?}.{rp:?}") };
    let ctx = if status.as_u16() == 404 && msg.contains("database not found") && db_line > 0 {
        format!(" (# CONTEXT-DATABASE at line {db_line})")
    } else {
        String::new()
    };
    eprintln!("{}error writing batch (lines {first}-{last}) to {target}{ctx}: {msg}", ts());
    st.failed += n;
}

/// The `dropped=N` of a partial-write message.
fn dropped_count(msg: &str) -> Option<u64> {
    let i = msg.rfind("dropped=")?;
    msg[i + 8..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_counts_and_error_texts() {
        assert_eq!(dropped_count("partial write: field type conflict dropped=3"), Some(3));
        assert_eq!(dropped_count("partial write"), None);
        assert_eq!(
            error_text(r#"{"error":"database not found: \"x\""}"#),
            "database not found: \"x\""
        );
        assert_eq!(error_text("plain\n"), "plain");
    }

    fn batches(text: &str) -> Vec<Work> {
        batches_with(text, false)
    }

    fn batches_with(text: &str, merge: bool) -> Vec<Work> {
        let r = ImportReader::with_compression(
            "t",
            std::io::Cursor::new(text.as_bytes().to_vec()),
            false,
            ReaderOptions::default(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
        read_loop(r, tx, merge, Precision::Nanosecond);
        let mut out = Vec::new();
        while let Ok(w) = rx.try_recv() {
            out.push(w);
        }
        out
    }

    #[test]
    fn reader_batches_with_contexts_and_line_numbers() {
        let w = batches(
            "# DDL\nCREATE DATABASE a\n# DML\n# CONTEXT-DATABASE:a\n# CONTEXT-RETENTION-POLICY:r\nm f=1 1\n\nm f=2 2\n# CONTEXT-DATABASE:b\nm f=3 3",
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(matches!(&w[0], Work::Query { line: 2, text } if text == "CREATE DATABASE a"));
        let Work::Write(b) = &w[1] else { panic!() };
        assert_eq!((b.db.as_str(), b.rp.as_str(), b.db_line), ("a", "r", 4));
        assert_eq!(b.lines, [6, 8]);
        assert_eq!(b.body, b"m f=1 1\nm f=2 2\n");
        let Work::Write(b) = &w[2] else { panic!() };
        assert_eq!((b.db.as_str(), b.rp.as_str(), b.db_line), ("b", "r", 9));
        assert_eq!(b.lines, [10]);
        assert_eq!(b.body, b"m f=3 3\n");
    }

    #[test]
    fn reader_reports_bad_utf8_and_continues() {
        let r = ImportReader::with_compression(
            "t",
            std::io::Cursor::new(
                b"# DML\n# CONTEXT-DATABASE:a\nm f=1 1\n\xff\xfe\nm f=2 2\n".to_vec(),
            ),
            false,
            ReaderOptions::default(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
        read_loop(r, tx, false, Precision::Nanosecond);
        let mut out = Vec::new();
        while let Ok(w) = rx.try_recv() {
            out.push(w);
        }
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(matches!(&out[1], Work::BadLine { line: 4, .. }));
        let Work::Write(b) = &out[2] else { panic!() };
        assert_eq!(b.lines, [5]);
    }

    #[test]
    fn merges_the_fields_of_a_series_and_keeps_the_source_lines() {
        let w = batches_with(
            "# DML\n# CONTEXT-DATABASE:a\ncpu,h=a f1=1 10\ncpu,h=a f1=2 20\ncpu,h=a f2=3i 10\ncpu,h=a f2=\"x y\" 20\nmem v=1 5\nmulti a=1,b=2 6\nnotime v=1\nbad v=oops 7\n",
            true,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        let Work::Write(b) = &w[0] else { panic!() };
        assert_eq!(
            String::from_utf8_lossy(b.merged.as_ref().unwrap()),
            "cpu,h=a f1=1,f2=3i 10\ncpu,h=a f1=2,f2=\"x y\" 20\nmem v=1 5\nmulti a=1,b=2 6\nnotime v=1\nbad v=oops 7\n"
        );
        assert_eq!(b.lines, [3, 5, 4, 6, 7, 8, 9, 10]);
        assert_eq!(
            String::from_utf8_lossy(&b.body),
            "cpu,h=a f1=1 10\ncpu,h=a f2=3i 10\ncpu,h=a f1=2 20\ncpu,h=a f2=\"x y\" 20\nmem v=1 5\nmulti a=1,b=2 6\nnotime v=1\nbad v=oops 7\n"
        );
        // Split back into batches of source lines.
        let Work::Write(b) = w.into_iter().next().unwrap() else { panic!() };
        let parts = b.split(3);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].lines, [3, 4, 5]);
        assert_eq!(parts[0].body, b"cpu,h=a f1=1 10\ncpu,h=a f1=2 20\ncpu,h=a f2=3i 10\n");
        assert_eq!(parts[1].lines, [6, 7, 8]);
        assert_eq!(parts[1].body, b"cpu,h=a f2=\"x y\" 20\nmem v=1 5\nmulti a=1,b=2 6\n");
        assert_eq!(parts[2].body, b"notime v=1\nbad v=oops 7\n");
    }

    #[test]
    fn a_field_twice_at_one_time_is_not_merged() {
        let w = batches_with("# DML\n# CONTEXT-DATABASE:a\nm f=1 1\nm g=1 1\nm f=2 1\n", true);
        let Work::Write(b) = &w[0] else { panic!() };
        assert!(b.merged.is_none());
        assert_eq!(b.lines, [3, 4, 5]);
        assert_eq!(b.body, b"m f=1 1\nm g=1 1\nm f=2 1\n");
    }

    #[test]
    fn merged_batches_hold_5000_sent_lines() {
        let mut text = String::from("# DML\n# CONTEXT-DATABASE:a\n");
        for f in ["a", "b", "c"] {
            for t in 0..6000 {
                text.push_str(&format!("m {f}={t}i {t}\n"));
            }
        }
        let w = batches_with(&text, true);
        let sizes: Vec<(usize, usize)> = w
            .iter()
            .map(|w| match w {
                Work::Write(b) => {
                    (b.lines.len(), b.merged.as_ref().unwrap().split(|c| *c == b'\n').count() - 1)
                }
                _ => panic!(),
            })
            .collect();
        assert_eq!(sizes, [(15000, 5000), (3000, 1000)]);
    }
}
