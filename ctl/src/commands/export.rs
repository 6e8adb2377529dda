//! `export`: a cluster's data as an `influx_inspect export` file (DDL, DML,
//! one field value per line), read through the cluster.
//!
//! ```text
//! ctl export [-database db [-retention rp]] [-start T] [-end T] [-compress] [-lponly] [-out path|-]
//! ```
//!
//! Every shard is read from ONE owner (`ShardSeries` for its series, then a
//! `ReadShard` stream of (series, field) columns limited to `[start, end]`);
//! if that owner fails, the next owner takes over where the stream stopped.
//! Column chunks are formatted by a writer thread as they arrive, so memory
//! holds one shard's series list and a few chunks, never a database.
//!
//! What the file holds, as `influx_inspect export` writes it:
//! - `# INFLUXDB EXPORT: <start> - <end>`, `# DDL`, the DDL, `# DML`;
//! - per (database, retention policy) that has shards (what is "on disk"),
//!   `# CONTEXT-DATABASE:`, `# CONTEXT-RETENTION-POLICY:`, `# writing tsm
//!   data`, the rows of its shards, `# writing wal data`;
//! - rows `<series key> <field>=<value> <time>`, keys of a shard in TSM
//!   index order (composite key `series#!~#field`, bytewise), shards in
//!   the order of their data directories (`<id>` as a string), points with
//!   `start <= time <= end`;
//! - progress `writing out tsm file data for db/rp...complete.` (and `wal`)
//!   on stdout, on stderr with `-out -`.
//!
//! `_internal`: like `influx_inspect export`, which exports what is on
//! disk, an export without `-database` includes `_internal` (the data
//! nodes' statistics) when it has shards; importing it writes the source's
//! statistics into the target's `_internal`. Use `-database` to leave it out.
//!
//! DEVIATIONS (deliberate):
//! - The DDL keeps retention policy durations ([`DdlStyle::KeepDurations`]):
//!   `CREATE DATABASE <db> WITH DURATION .. REPLICATION .. SHARD DURATION ..
//!   NAME <default rp>` (the database's default RP, exported or not) and
//!   `CREATE RETENTION POLICY ..` for each other exported RP, so a multi-RP
//!   export imports into an empty cluster and re-importing is idempotent.
//!   The real 1.6 tool writes `CREATE DATABASE <db> WITH NAME <rp>` per RP,
//!   which conflicts from the second RP of a database on.
//! - The (database, RP) order is sorted by name (Go map order is random).
//! - The header times are in UTC (the real tool uses the local zone).
//! - A `-database` or `-retention` that does not exist is an error (the
//!   real tool writes an empty export); so is a shard no owner can serve,
//!   and then the partial output file is removed.
//! - Each shard is exported as one fully compacted TSM file: no duplicate
//!   rows for overwritten points, no rows for deleted ones.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use portable::export::{
    DdlStyle, ExportOptions as WriterOptions, ExportWriter, RetentionPolicyDdl,
};
use proto::cluster;
use proto::meta;

use crate::client::Meta;
use crate::commands::data;
use crate::run::Outcome;

/// Parsed `export` options.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// `-database` (empty: every database).
    pub database: String,
    /// `-retention` (needs `-database`).
    pub retention: String,
    /// `-start` (RFC3339).
    pub start: Option<String>,
    /// `-end` (RFC3339).
    pub end: Option<String>,
    /// `-compress`: gzip the whole output.
    pub compress: bool,
    /// `-out` (`-` = stdout); empty = `$HOME/.influxdb/export`.
    pub out: String,
    /// `-lponly`: line protocol only.
    pub lp_only: bool,
}

/// One shard to export.
#[derive(Debug, Clone)]
struct ShardPlan {
    id: u64,
    /// Owners' TCP addresses, best first.
    owners: Vec<String>,
}

/// One (database, RP) context.
#[derive(Debug, Clone)]
struct ContextPlan {
    db: String,
    rp: String,
    shards: Vec<ShardPlan>,
}

fn parse_time(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => portable::gotime::parse_rfc3339(s).map(Some).ok_or_else(|| {
            anyhow!("invalid {flag} time {s:?}: expected RFC3339, e.g. 2006-01-02T15:04:05Z")
        }),
    }
}

fn default_out() -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    format!("{home}/.influxdb/export")
}

/// Runs `export`.
pub async fn run(meta: &Meta, opts: ExportOptions) -> Result<Outcome> {
    if !opts.retention.is_empty() && opts.database.is_empty() {
        bail!("must specify a db");
    }
    let start = parse_time("-start", &opts.start)?;
    let end = parse_time("-end", &opts.end)?;
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        bail!("end time before start time");
    }
    let (start, end) = (start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX));

    let data = meta.data().await?;
    let (contexts, ddl) = plan(&data, &opts, start, end, meta.timeout()).await?;

    let out_path = if opts.out.is_empty() { default_out() } else { opts.out.clone() };
    let to_stdout = out_path == "-";
    let out: Box<dyn Write + Send> = if to_stdout {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::fs::File::create(&out_path).with_context(|| format!("creating {out_path}"))?)
    };
    let sink = if opts.compress {
        Sink::Gzip(Box::new(flate2::write::GzEncoder::new(out, flate2::Compression::default())))
    } else {
        Sink::Plain(out)
    };
    let wopts =
        WriterOptions { start, end, lp_only: opts.lp_only, ddl_style: DdlStyle::KeepDurations };
    let res = export(sink, wopts, &contexts, &ddl, to_stdout).await;
    match res {
        Ok(_) => Ok(Outcome::Success),
        Err(e) => {
            if !to_stdout {
                let _ = std::fs::remove_file(&out_path);
            }
            Err(e)
        }
    }
}

/// Chooses the contexts, shards and owners, and the DDL.
async fn plan(
    data: &meta::Data,
    opts: &ExportOptions,
    start: i64,
    end: i64,
    timeout: std::time::Duration,
) -> Result<(Vec<ContextPlan>, Vec<RetentionPolicyDdl>)> {
    if !opts.database.is_empty() {
        let Some(db) = data.databases.iter().find(|d| d.name == opts.database) else {
            bail!("database {:?} does not exist", opts.database);
        };
        if !opts.retention.is_empty()
            && !db.retention_policies.iter().any(|r| r.name == opts.retention)
        {
            bail!("retention policy {:?} does not exist in database {:?}", opts.retention, db.name);
        }
    }
    let nodes: Vec<(u64, String)> =
        data.data_nodes.iter().filter_map(|n| Some((n.id, n.tcp_host.clone()?))).collect();
    let held = data::local_shards(&nodes, timeout).await;

    let mut contexts = Vec::new();
    let mut ddl = Vec::new();
    let mut dbs: Vec<&meta::DatabaseInfo> = data
        .databases
        .iter()
        .filter(|d| opts.database.is_empty() || d.name == opts.database)
        .collect();
    dbs.sort_by(|a, b| a.name.cmp(&b.name));
    for db in dbs {
        let mut rps: Vec<&meta::RetentionPolicyInfo> = db
            .retention_policies
            .iter()
            .filter(|r| opts.retention.is_empty() || r.name == opts.retention)
            .collect();
        rps.sort_by(|a, b| a.name.cmp(&b.name));
        let mut db_ddl = Vec::new();
        for rp in rps {
            let groups: Vec<&meta::ShardGroupInfo> = rp
                .shard_groups
                .iter()
                .filter(|g| g.deleted_at == 0 && !g.shards.is_empty())
                .collect();
            if groups.is_empty() {
                // Nothing "on disk" for this RP.
                continue;
            }
            let mut shards = Vec::new();
            for g in groups {
                // Group [start_time, end_time) against the inclusive [start, end].
                if g.end_time <= start || g.start_time > end {
                    continue;
                }
                for s in &g.shards {
                    shards.push(ShardPlan { id: s.id, owners: owners(s, &nodes, &held) });
                }
            }
            // influx_inspect sorts the TSM paths as strings: `<db>/<rp>/<id>/...`.
            shards.sort_by_key(|s| s.id.to_string());
            contexts.push(ContextPlan { db: db.name.clone(), rp: rp.name.clone(), shards });
            db_ddl.push(rp_ddl(db, rp));
        }
        if db_ddl.is_empty() {
            continue;
        }
        // The database's default RP goes first (CREATE DATABASE ... NAME <it>),
        // exported or not, so that the target gets the same default.
        let default = db.retention_policies.iter().find(|r| r.name == db.default_retention_policy);
        if let Some(d) = default {
            db_ddl.retain(|r| r.policy != d.name);
            db_ddl.insert(0, rp_ddl(db, d));
        }
        ddl.extend(db_ddl);
    }
    Ok((contexts, ddl))
}

fn rp_ddl(db: &meta::DatabaseInfo, rp: &meta::RetentionPolicyInfo) -> RetentionPolicyDdl {
    RetentionPolicyDdl {
        database: db.name.clone(),
        policy: rp.name.clone(),
        duration: rp.duration,
        shard_group_duration: rp.shard_group_duration,
        replica_n: rp.replica_n.max(1),
        is_default: db.default_retention_policy == rp.name,
    }
}

/// A shard's owners' TCP addresses: those that hold it (most points, then
/// most recently modified, first), then the others.
fn owners(
    s: &meta::ShardInfo,
    nodes: &[(u64, String)],
    held: &std::collections::HashMap<u64, BTreeMap<u64, cluster::LocalShard>>,
) -> Vec<String> {
    let mut v: Vec<(u64, i64, String)> = s
        .owners
        .iter()
        .filter_map(|o| {
            let addr = nodes.iter().find(|(id, _)| *id == o.node_id)?.1.clone();
            let ls = held.get(&o.node_id).and_then(|m| m.get(&s.id));
            Some((ls.map_or(0, |l| l.points), ls.map_or(i64::MIN, |l| l.last_modified), addr))
        })
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    v.into_iter().map(|x| x.2).collect()
}

/// The output: as it is, or gzipped (`-compress`).
enum Sink {
    Plain(Box<dyn Write + Send>),
    Gzip(Box<flate2::write::GzEncoder<Box<dyn Write + Send>>>),
}

impl Sink {
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(b),
            Sink::Gzip(w) => w.write_all(b),
        }
    }

    /// Writes the gzip trailer (whose errors a drop would swallow) and flushes.
    fn finish(self) -> std::io::Result<()> {
        let mut w = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(g) => (*g).finish()?,
        };
        w.flush()
    }
}

/// What the fetcher sends the writer thread.
enum Msg {
    /// Header/comment text, already formatted.
    Text(Vec<u8>),
    /// A progress message (stdout, or stderr with `-out -`); no newline added.
    Progress(String),
    /// The row prefixes (`<series key> <field>=`) of the shard whose chunks follow.
    Keys(Arc<Vec<Vec<u8>>>),
    /// Values of the key `chunk.key` (an index into the last `Keys`).
    Chunk(cluster::ReadShardChunk),
}

/// Formats comment lines through portable's `ExportWriter`.
fn comments(
    wopts: &WriterOptions,
    f: impl FnOnce(&mut ExportWriter<&mut Vec<u8>>) -> portable::Result<()>,
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut w = ExportWriter::new(&mut buf, wopts.clone());
    f(&mut w)?;
    w.finish()?;
    Ok(buf)
}

async fn export(
    sink: Sink,
    wopts: WriterOptions,
    contexts: &[ContextPlan],
    ddl: &[RetentionPolicyDdl],
    to_stdout: bool,
) -> Result<u64> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(64);
    let (start, end) = (wopts.start, wopts.end);
    let writer = std::thread::spawn(move || write_loop(sink, rx, start, end, to_stdout));

    let fetched = async {
        tx.send(Msg::Text(comments(&wopts, |w| w.write_header(ddl))?)).await?;
        for c in contexts {
            let key = format!("{}/{}", c.db, c.rp);
            let text = comments(&wopts, |w| {
                w.begin_context(&c.db, &c.rp)?;
                w.begin_tsm_data()
            })?;
            tx.send(Msg::Text(text)).await?;
            tx.send(Msg::Progress(format!("writing out tsm file data for {key}..."))).await?;
            for s in &c.shards {
                export_shard(s, start, end, &tx)
                    .await
                    .with_context(|| format!("exporting shard {} of {key}", s.id))?;
            }
            tx.send(Msg::Progress("complete.\n".into())).await?;
            tx.send(Msg::Text(comments(&wopts, |w| w.begin_wal_data())?)).await?;
            tx.send(Msg::Progress(format!("writing out wal file data for {key}...complete.\n")))
                .await?;
        }
        anyhow::Ok(())
    }
    .await;
    drop(tx);
    let written = writer.join().map_err(|_| anyhow!("the export writer panicked"))?;
    // A writer error (disk full, broken pipe) explains a failed send better.
    let rows = written?;
    fetched?;
    Ok(rows)
}

/// How long a data node may take to answer, or to send the next chunk of
/// a stream, before the next owner is tried.
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Where a shard's export stands, so that another owner can resume it.
#[derive(Default)]
struct ShardState {
    /// Series/field keys (from the first owner that had the shard).
    keys: Option<Vec<cluster::ReadKey>>,
    /// First key not fully received.
    next_key: usize,
    /// Last time received for `next_key`, if any of it was.
    last_time: Option<i64>,
}

async fn export_shard(
    s: &ShardPlan,
    start: i64,
    end: i64,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> Result<()> {
    let mut st = ShardState::default();
    let mut errors = Vec::new();
    for addr in &s.owners {
        match read_from_owner(addr, s.id, start, end, &mut st, tx).await {
            Ok(true) => {
                if !errors.is_empty() {
                    eprintln!("shard {}: continued from {addr} after: {}", s.id, errors.join("; "));
                }
                return Ok(());
            }
            Ok(false) => {}
            Err(e) => errors.push(format!("{addr}: {e:#}")),
        }
    }
    if errors.is_empty() {
        // No owner has it on disk (no point was ever written): empty.
        return Ok(());
    }
    bail!("no owner could serve it: {}", errors.join("; "))
}

/// Reads what is left of the shard from one owner. `Ok(false)`: the owner
/// has no such shard (then, if no other has it, it is empty).
async fn read_from_owner(
    addr: &str,
    shard: u64,
    start: i64,
    end: i64,
    st: &mut ShardState,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> Result<bool> {
    let mut client = data::client(addr)?;
    if st.keys.is_none() {
        let req = cluster::ShardSeriesRequest { shard_id: shard, measurement: String::new() };
        let r = tokio::time::timeout(RPC_TIMEOUT, client.shard_series(req))
            .await
            .map_err(|_| anyhow!("no answer in {RPC_TIMEOUT:?}"))?
            .map_err(|e| anyhow!("{}", e.message()))?
            .into_inner();
        if !r.exists {
            // This owner never received data for the shard; try the next.
            return Ok(false);
        }
        let mut composite: Vec<(Vec<u8>, usize, usize)> = Vec::new();
        for (si, ser) in r.series.iter().enumerate() {
            for (fi, f) in ser.fields.iter().enumerate() {
                composite.push((
                    portable::key::composite_key(ser.key.as_bytes(), f.name.as_bytes()),
                    si,
                    fi,
                ));
            }
        }
        composite.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut keys = Vec::with_capacity(composite.len());
        let mut prefixes = Vec::with_capacity(composite.len());
        for (_, si, fi) in composite {
            let ser = &r.series[si];
            let field = &ser.fields[fi].name;
            let mut p = Vec::with_capacity(ser.key.len() + field.len() + 2);
            p.extend_from_slice(ser.key.as_bytes());
            p.push(b' ');
            portable::export::escape_field_key(field.as_bytes(), &mut p);
            p.push(b'=');
            prefixes.push(p);
            keys.push(cluster::ReadKey { series_key: ser.key.clone(), field: field.clone() });
        }
        tx.send(Msg::Keys(Arc::new(prefixes))).await.map_err(|_| anyhow!("writer stopped"))?;
        st.keys = Some(keys);
    }
    // The key that was cut short, from just after its last time.
    if let Some(last) = st.last_time {
        if last < end {
            let req = cluster::ReadShardRequest {
                shard_id: shard,
                keys: vec![st.keys.as_ref().expect("set above")[st.next_key].clone()],
                min: last + 1,
                max: end,
            };
            let base = st.next_key;
            stream_keys(&mut client, req, base, st, tx).await?;
        } else {
            st.next_key += 1;
            st.last_time = None;
        }
    }
    let keys = st.keys.as_ref().expect("set above");
    if st.next_key >= keys.len() {
        return Ok(true);
    }
    let req = cluster::ReadShardRequest {
        shard_id: shard,
        keys: keys[st.next_key..].to_vec(),
        min: start,
        max: end,
    };
    let base = st.next_key;
    stream_keys(&mut client, req, base, st, tx).await?;
    Ok(true)
}

/// Streams `req`, sending its chunks with key indexes shifted by `base`,
/// and records in `st` how far it got (next key, last time).
async fn stream_keys(
    client: &mut proto::cluster::data_client::DataClient<tonic::transport::Channel>,
    req: cluster::ReadShardRequest,
    base: usize,
    st: &mut ShardState,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) -> Result<()> {
    let n = req.keys.len();
    let mut stream = tokio::time::timeout(RPC_TIMEOUT, client.read_shard(req))
        .await
        .map_err(|_| anyhow!("no answer in {RPC_TIMEOUT:?}"))?
        .map_err(|e| anyhow!("{}", e.message()))?
        .into_inner();
    loop {
        let next = tokio::time::timeout(RPC_TIMEOUT, stream.message())
            .await
            .map_err(|_| anyhow!("the stream stalled for {RPC_TIMEOUT:?}"))?
            .map_err(|e| anyhow!("{}", e.message()))?;
        let Some(mut chunk) = next else { break };
        let k = chunk.key as usize;
        if k >= n {
            bail!("bad chunk: key {k} of {n}");
        }
        chunk.key = (k + base) as u32;
        if k + base != st.next_key {
            st.next_key = k + base;
            st.last_time = None;
        }
        if let Some(&t) = chunk.times.last() {
            st.last_time = Some(t);
        }
        tx.send(Msg::Chunk(chunk)).await.map_err(|_| anyhow!("writer stopped"))?;
    }
    st.next_key = base + n;
    st.last_time = None;
    Ok(())
}

/// The writer thread: formats chunks into rows and writes everything out.
fn write_loop(
    mut sink: Sink,
    mut rx: tokio::sync::mpsc::Receiver<Msg>,
    start: i64,
    end: i64,
    to_stdout: bool,
) -> Result<u64> {
    const FLUSH_AT: usize = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    let mut keys: Arc<Vec<Vec<u8>>> = Arc::new(Vec::new());
    let mut rows = 0u64;
    let flush = |buf: &mut Vec<u8>, sink: &mut Sink| -> Result<()> {
        sink.write_all(buf).context("writing the export")?;
        buf.clear();
        Ok(())
    };
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Text(t) => buf.extend_from_slice(&t),
            Msg::Progress(p) => {
                // Progress follows the data written so far.
                if to_stdout {
                    flush(&mut buf, &mut sink)?;
                    eprint!("{p}");
                } else {
                    print!("{p}");
                    let _ = std::io::stdout().flush();
                }
            }
            Msg::Keys(k) => keys = k,
            Msg::Chunk(c) => {
                let prefix = keys
                    .get(c.key as usize)
                    .ok_or_else(|| anyhow!("bad chunk: key {} unknown", c.key))?;
                rows += format_chunk(prefix, &c, start, end, &mut buf)?;
            }
        }
        if buf.len() >= FLUSH_AT {
            flush(&mut buf, &mut sink)?;
        }
    }
    flush(&mut buf, &mut sink)?;
    sink.finish().context("writing the export")?;
    Ok(rows)
}

/// Appends the rows of one column chunk: `<prefix><value> <time>\n` for
/// each point in `[start, end]`. Returns the number of rows.
pub fn format_chunk(
    prefix: &[u8],
    c: &cluster::ReadShardChunk,
    start: i64,
    end: i64,
    out: &mut Vec<u8>,
) -> Result<u64> {
    let n = c.times.len();
    let len = match c.r#type {
        0 => c.floats.len(),
        1 => c.integers.len(),
        2 => c.booleans.len(),
        3 => c.strings.len(),
        4 => c.unsigneds.len(),
        t => bail!("bad chunk: unknown field type {t}"),
    };
    if len != n {
        bail!("bad chunk: {n} times but {len} values");
    }
    let mut rows = 0;
    let mut s = String::new();
    for i in 0..n {
        let t = c.times[i];
        if t < start || t > end {
            continue;
        }
        out.extend_from_slice(prefix);
        match c.r#type {
            0 => push_float(c.floats[i], out, &mut s),
            1 => {
                push_i64(c.integers[i], out);
                out.push(b'i');
            }
            2 => out.extend_from_slice(if c.booleans[i] { b"true" } else { b"false" }),
            3 => {
                out.push(b'"');
                for &b in c.strings[i].as_bytes() {
                    if b == b'\\' || b == b'"' {
                        out.push(b'\\');
                    }
                    out.push(b);
                }
                out.push(b'"');
            }
            _ => {
                push_u64(c.unsigneds[i], out);
                out.push(b'u');
            }
        }
        out.push(b' ');
        push_i64(t, out);
        out.push(b'\n');
        rows += 1;
    }
    Ok(rows)
}

/// Go's `FormatFloat(v, 'g', -1, 64)`. In `[1e-4, 1e6)` (and for zero) it
/// is the shortest round-trip digits without an exponent, which is what
/// Rust's `Display` writes; elsewhere portable's exact implementation.
fn push_float(v: f64, out: &mut Vec<u8>, scratch: &mut String) {
    let a = v.abs();
    scratch.clear();
    if v == 0.0 || (1e-4..1e6).contains(&a) {
        use std::fmt::Write as _;
        let _ = write!(scratch, "{v}");
    } else {
        portable::gofmt::format_float(v, scratch);
    }
    out.extend_from_slice(scratch.as_bytes());
}

fn push_u64(mut v: u64, out: &mut Vec<u8>) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

fn push_i64(v: i64, out: &mut Vec<u8>) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(v.unsigned_abs(), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use portable::FieldValue;

    fn via_writer(prefix_series: &[u8], field: &[u8], t: i64, v: &FieldValue) -> Vec<u8> {
        let mut w = ExportWriter::new(
            Vec::new(),
            WriterOptions { lp_only: true, ..WriterOptions::default() },
        );
        w.write_value(prefix_series, field, t, v).unwrap();
        w.finish().unwrap()
    }

    fn via_chunk(series: &[u8], field: &[u8], t: i64, v: &FieldValue) -> Vec<u8> {
        let mut prefix = series.to_vec();
        prefix.push(b' ');
        portable::export::escape_field_key(field, &mut prefix);
        prefix.push(b'=');
        let mut c = cluster::ReadShardChunk { times: vec![t], ..Default::default() };
        match v {
            FieldValue::Float(f) => c.floats = vec![*f],
            FieldValue::Integer(i) => {
                c.r#type = 1;
                c.integers = vec![*i]
            }
            FieldValue::Boolean(b) => {
                c.r#type = 2;
                c.booleans = vec![*b]
            }
            FieldValue::String(s) => {
                c.r#type = 3;
                c.strings = vec![s.clone()]
            }
            FieldValue::Unsigned(u) => {
                c.r#type = 4;
                c.unsigneds = vec![*u]
            }
        }
        let mut out = Vec::new();
        assert_eq!(format_chunk(&prefix, &c, i64::MIN, i64::MAX, &mut out).unwrap(), 1);
        out
    }

    #[test]
    fn rows_match_portable_export_writer() {
        let mut vals = vec![
            FieldValue::Integer(i64::MIN),
            FieldValue::Integer(0),
            FieldValue::Integer(-42),
            FieldValue::Unsigned(u64::MAX),
            FieldValue::Unsigned(0),
            FieldValue::Boolean(true),
            FieldValue::Boolean(false),
            FieldValue::String(String::new()),
            FieldValue::String("a \"q\" \\ b, c=d é".into()),
        ];
        for f in [
            0.0,
            -0.0,
            1.0,
            1e-9,
            1.5e10,
            0.0001,
            0.00009999,
            1e-5,
            999999.9,
            1e6,
            123456.0,
            1234567.0,
            66.335,
            -2.5e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            0.1,
            1.0 / 3.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            vals.push(FieldValue::Float(f));
        }
        // Pseudo-random floats over many magnitudes.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                vals.push(FieldValue::Float(f));
            }
            let e = (x % 24) as i32 - 12;
            vals.push(FieldValue::Float((x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi(e)));
        }
        for (i, v) in vals.iter().enumerate() {
            let t = (i as i64 - 5) * 1_000_000_007;
            let a = via_writer(b"cpu,host=a\\ b", b"f ,\"=x", t, v);
            let b = via_chunk(b"cpu,host=a\\ b", b"f ,\"=x", t, v);
            assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "{v:?}");
        }
    }

    #[test]
    fn chunk_range_and_shape() {
        let c = cluster::ReadShardChunk {
            times: vec![1, 2, 3],
            integers: vec![10, 20, 30],
            r#type: 1,
            ..Default::default()
        };
        let mut out = Vec::new();
        assert_eq!(format_chunk(b"m f=", &c, 2, 3, &mut out).unwrap(), 2);
        assert_eq!(out, b"m f=20i 2\nm f=30i 3\n");
        let bad = cluster::ReadShardChunk { times: vec![1], ..Default::default() };
        assert!(format_chunk(b"m f=", &bad, i64::MIN, i64::MAX, &mut out).is_err());
    }
}
