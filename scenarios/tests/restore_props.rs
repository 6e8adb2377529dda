//! Property-based restore tests (issue 8): random datasets, a random history
//! of writes and `ctl backup`s, then one or two random `ctl restore`s into a
//! fresh cluster of random size, checked against a model of what the
//! backups promised.
//!
//! Each case starts a source cluster (1 meta, 1–3 data nodes) and a target
//! cluster (1 meta, 1–3 data nodes), both small and both killed by PID when
//! the case ends (also when it fails or panics: `Cluster` kills on drop).
//!
//! THE DATA: 1–3 databases and 1–2 RPs each (names with dots, spaces,
//! commas, `=`, quotes, non-ASCII; durations INF/520w/1000d, shard
//! durations 1h/1d/7d, RF 1–3), sometimes `_internal` and a user; 1–3
//! measurements with escaped names, tags and fields of every type (floats
//! incl. ±max, subnormals and -0; integers and unsigned at their extremes;
//! strings with quotes, backslashes, newlines, non-ASCII); times over three
//! weeks (several groups), a small pool of them so that points overwrite
//! each other; sometimes a bulk series of 500–2500 points (several TSM
//! blocks, groups crossed, cache and compacted blocks mixed).
//!
//! THE MODEL is computed from the generated data and the options only:
//! - every written field value is logged with its write step; a point's
//!   shard is the group of its RP covering its time, then
//!   `shards[fnv64a(series key) % len]` (series key escaped and tags sorted
//!   here, independently of the code under test). Group windows and shard
//!   IDs come from the source metastore, read at each backup;
//! - a shard's content at a backup is the last value per (series, field,
//!   time) of the log so far, cut to `[-start, -end]` (inclusive) when
//!   given; its "last modified" is the step of its last write;
//! - `full` selects every shard that holds data (and matches `-db`, `-rp`,
//!   `-shard`, and whose group overlaps `-start`/`-end`); `incremental` does
//!   the same into an empty directory, otherwise only shards no backup in
//!   the directory holds or written since the newest entry there;
//!   `only-meta` selects none. The metastore each backup carries is the
//!   source's at that moment. The manifest must list exactly the selected
//!   shards;
//! - a directory restore takes the newest backup's metastore and, per shard,
//!   the entry with the latest last-modified step (the newest backup on a
//!   tie); `-full <manifest>` takes that backup alone;
//! - a restore imports every database but `_internal`, with the users (or
//!   `-db`, renamed `-newdb`; `-rp` alone, renamed `-newrp`, made the
//!   default; `-newduration`), every shard group of the imported RPs that
//!   the metastore held, with `min(-newrf or the RP's RF, data nodes)`
//!   owners per shard, and the data of the selected files (`-shard` keeps
//!   one, `-newshard` names it).
//!
//! THE INVARIANTS, after each restore:
//! - every owner of every restored shard holds exactly the model's points
//!   for that shard (read from each data node's local shard over the
//!   cluster RPC, values compared bit for bit), inside its group's window;
//!   no other node holds it; `/query` (`SELECT * ... GROUP BY *`) returns
//!   exactly the model's points of each database/RP;
//! - the metastore holds exactly the expected databases, RPs (names,
//!   durations, shard durations, RF, default RP) and users, the same shard
//!   groups (windows, shards per group, `-newshard`), owners per shard =
//!   min(rf, data nodes) distinct live nodes, no group without shards, no
//!   duplicate shard ID, no overlapping groups;
//! - `_internal` is never restored by a complete restore, and the target's
//!   own `_internal` is dropped by it (kept by a `-db` restore); databases
//!   already in the target (its own, or restored earlier) do not change;
//! - invalid options (backup and restore) and restores into existing
//!   databases fail with exit code 1 and the documented message, and change
//!   nothing.
//!
//! Cases: 96 (`RESTORE_PROPTEST_CASES=1000` for more;
//! `RESTORE_PROPTEST_VERBOSE=1` prints every case's history). Failures
//! shrink and are kept in `restore_props.proptest-regressions` beside this
//! file (commit it). Needs the binaries:
//! `cargo build -p meta-node -p data-node -p ctl`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError};
use proto::cluster as pc;
use proto::meta;
use testkit::{Cluster, ClusterSpec};

// ---------------------------------------------------------------------------
// Name pools: every name needs quoting in InfluxQL, escaping in line
// protocol, or both.

const DB_NAMES: &[&str] = &["db", "tele.graf", "my db", "d,b=1", "ünï", "q\"uote", "sp ace.dot"];
const RP_NAMES: &[&str] = &["autogen", "r.p", "one day", "r,p=x", "ř"];
const NEW_DB_NAMES: &[&str] = &["restored", "new db.x", "n,ew=db", "ñew"];
const NEW_RP_NAMES: &[&str] = &["kept", "new rp", "ñrp.1"];
const MEASUREMENTS: &[&str] = &["cpu", "m 1", "m,2", "m=3", "dot.m", "ñ", "q\"m", "b\\s"];
const TAG_KEYS: &[&str] = &["host", "t k", "t,k", "t=k", "ü"];
const TAG_VALUES: &[&str] = &["a", "v 1", "v,2", "v=3", "ü", "x\\y", "1.5", "\"q\""];
const FIELD_KEYS: &[&str] = &["f", "f 1", "f,2", "f=3", "f\"q", "ƒ"];
/// RP durations: long enough that retention never drops the data (points
/// are at most ~8 weeks old).
const DURATIONS: &[(&str, i64)] = &[("INF", 0), ("520w", 520 * WEEK), ("1000d", 1000 * DAY)];
const SHARD_DURATIONS: &[(&str, i64)] = &[("1h", HOUR), ("1d", DAY), ("7d", WEEK)];
const NEW_DURATIONS: &[(&str, i64)] = &[("0s", 0), ("8760h", 8760 * HOUR), ("1000d", 1000 * DAY)];

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
const INTERNAL: &str = "_internal";

const REGRESSIONS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/restore_props.proptest-regressions");

// ---------------------------------------------------------------------------
// Generated cases. Indices (`Index`) are resolved against whatever exists
// when the step runs, so every shrunk case stays valid.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldType {
    Float,
    Integer,
    Unsigned,
    Boolean,
    String,
}

#[derive(Debug, Clone)]
struct RpSpec {
    name: &'static str,
    duration: usize,
    shard_duration: usize,
    rf: u32,
}

#[derive(Debug, Clone)]
struct DbSpec {
    name: &'static str,
    rps: Vec<RpSpec>,
    default_rp: usize,
}

#[derive(Debug, Clone)]
struct MeasurementSpec {
    name: &'static str,
    tags: Vec<&'static str>,
    fields: Vec<(&'static str, FieldType)>,
}

/// One value of each type; the field's type picks one.
#[derive(Debug, Clone)]
struct AnyValue {
    float: f64,
    integer: i64,
    unsigned: u64,
    boolean: bool,
    string: String,
}

#[derive(Debug, Clone)]
struct PointGen {
    measurement: Index,
    tag_values: Vec<Index>,
    /// (present, value) per field of the measurement (the first is used
    /// when none is present).
    fields: Vec<(bool, AnyValue)>,
    time: Index,
}

/// Many points of one series (every field), `step` apart from a generated
/// time: enough to fill several TSM blocks and to cross group boundaries.
#[derive(Debug, Clone)]
struct BulkGen {
    measurement: Index,
    tag_values: Vec<Index>,
    time: Index,
    n: usize,
    step: i64,
}

#[derive(Debug, Clone)]
struct WriteOp {
    db: Index,
    /// None: no `rp=` (the default RP).
    rp: Option<Index>,
    points: Vec<PointGen>,
    bulk: Option<BulkGen>,
}

/// A point to write: measurement, tag values, fields, time.
type PointItem<'a> = (Index, &'a [Index], Vec<(bool, AnyValue)>, i64);

/// The values of the `i`-th bulk point.
fn bulk_value(i: usize) -> AnyValue {
    let i64v = i as i64;
    AnyValue {
        float: i as f64 * 1.25 - 100.0,
        integer: i64v * 7919 - 1_000_000,
        unsigned: i as u64 * 13,
        boolean: i.is_multiple_of(3),
        string: format!("s{i}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackupStrategy {
    Incremental,
    Full,
    OnlyMeta,
}

#[derive(Debug, Clone, Copy)]
struct TimeSpec {
    /// A generated point time…
    time: Index,
    /// …moved by this much (0 and ±1ns test the inclusive bounds).
    delta: i64,
}

#[derive(Debug, Clone)]
struct BackupOp {
    dir: usize,
    strategy: BackupStrategy,
    db: Option<Index>,
    rp: Option<Index>,
    /// Pass `-rp` without `-db` (an error).
    rp_without_db: bool,
    /// `-shard`: an index into the shards that exist (or a missing ID when
    /// there are none, an error).
    shard: Option<Index>,
    start: Option<TimeSpec>,
    end: Option<TimeSpec>,
}

#[derive(Debug, Clone)]
enum Op {
    Write(WriteOp),
    Backup(BackupOp),
}

#[derive(Debug, Clone, Copy)]
enum RestoreFrom {
    /// A directory that holds backups.
    Dir(Index),
    /// `-full` with the manifest of one successful backup.
    Manifest(Index),
}

/// Deliberate option mistakes, each with its documented error.
#[derive(Debug, Clone, Copy)]
enum Mistake {
    NewdbWithoutDb,
    NewrpWithoutRp,
    RpWithoutDb,
    NewrfWithoutDb,
    NewshardWithoutShard,
    NewdurationWithoutRp,
    UnknownDb,
    UnknownRp,
}

#[derive(Debug, Clone)]
struct RestoreSpec {
    from: RestoreFrom,
    db: Option<Index>,
    newdb: Option<&'static str>,
    rp: Option<Index>,
    newrp: Option<&'static str>,
    newrf: Option<u32>,
    newduration: Option<usize>,
    shard: Option<Index>,
    newshard: Option<u64>,
    mistake: Option<Mistake>,
    /// After a successful restore, run it again (or `-db` again): it must
    /// fail with `database already exists` and change nothing.
    repeat: bool,
}

#[derive(Debug, Clone)]
struct Case {
    source_nodes: usize,
    target_nodes: usize,
    /// `[data] cache-snapshot-points` of every data node (None: the
    /// default). The smallest the data node takes, 1000, makes bulk writes
    /// mix compacted blocks and cached points in the shards being backed
    /// up, with overwrites across both.
    snapshot_points: Option<usize>,
    dbs: Vec<DbSpec>,
    /// The source also has an `_internal` database with data.
    source_internal: bool,
    /// The target has its own `_internal` with data before the restore.
    target_internal: bool,
    measurements: Vec<MeasurementSpec>,
    /// Point times, as offsets from the case's base time.
    times: Vec<i64>,
    ops: Vec<Op>,
    /// The source has a user (a complete restore brings it).
    source_user: bool,
    /// The target already has (an empty) one of the source's databases.
    target_existing: Option<Index>,
    /// One or two restores into the same target, one after the other.
    restores: Vec<RestoreSpec>,
}

fn field_type() -> impl Strategy<Value = FieldType> {
    prop_oneof![
        Just(FieldType::Float),
        Just(FieldType::Integer),
        Just(FieldType::Unsigned),
        Just(FieldType::Boolean),
        Just(FieldType::String),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let float = prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(1e-9),
        Just(-1.5),
        Just(0.1),
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
    ];
    let integer =
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), Just(-1i64), any::<i64>()];
    let unsigned =
        prop_oneof![Just(u64::MAX), Just(0u64), Just(1u64 << 63), Just(1u64), any::<u64>()];
    let string = prop_oneof![
        Just(String::new()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("a\\\"b".to_string()),
        Just("ünï ☃".to_string()),
        Just("line\nbreak".to_string()),
        "[a-z \"\\\\,=]{0,8}",
    ];
    (float, integer, unsigned, any::<bool>(), string).prop_map(
        |(float, integer, unsigned, boolean, string)| AnyValue {
            float,
            integer,
            unsigned,
            boolean,
            string,
        },
    )
}

fn rp_spec(name: &'static str) -> impl Strategy<Value = RpSpec> {
    (0..DURATIONS.len(), 0..SHARD_DURATIONS.len(), 1u32..=3).prop_map(
        move |(duration, shard_duration, rf)| RpSpec { name, duration, shard_duration, rf },
    )
}

fn db_spec(name: &'static str) -> impl Strategy<Value = DbSpec> {
    subsequence(RP_NAMES, 1..=2)
        .prop_flat_map(|names| {
            let rps: Vec<_> = names.into_iter().map(rp_spec).collect();
            (rps, any::<Index>())
        })
        .prop_map(move |(rps, d)| {
            let default_rp = d.index(rps.len());
            DbSpec { name, rps, default_rp }
        })
}

fn measurement_spec(name: &'static str) -> impl Strategy<Value = MeasurementSpec> {
    (
        subsequence(TAG_KEYS, 0..=2),
        subsequence(FIELD_KEYS, 1..=3),
        prop::collection::vec(field_type(), 3),
    )
        .prop_map(move |(tags, fields, types)| MeasurementSpec {
            name,
            tags,
            fields: fields.into_iter().zip(types).collect(),
        })
}

fn time_offset() -> impl Strategy<Value = i64> {
    (0i64..21, 0i64..120, prop_oneof![Just(0i64), Just(1), Just(999_999_999), 0i64..1_000_000_000])
        .prop_map(|(d, m, ns)| d * DAY + m * MIN + ns)
}

fn time_spec() -> impl Strategy<Value = TimeSpec> {
    (any::<Index>(), prop_oneof![Just(0i64), Just(-1), Just(1), Just(-DAY), Just(HOUR)])
        .prop_map(|(time, delta)| TimeSpec { time, delta })
}

fn point_gen() -> impl Strategy<Value = PointGen> {
    (
        any::<Index>(),
        prop::collection::vec(any::<Index>(), 2),
        prop::collection::vec((any::<bool>(), any_value()), 3),
        any::<Index>(),
    )
        .prop_map(|(measurement, tag_values, fields, time)| PointGen {
            measurement,
            tag_values,
            fields,
            time,
        })
}

fn bulk_gen() -> impl Strategy<Value = BulkGen> {
    (
        any::<Index>(),
        prop::collection::vec(any::<Index>(), 2),
        any::<Index>(),
        500usize..=2500,
        prop_oneof![Just(SEC), Just(7 * SEC), Just(1_000_000i64)],
    )
        .prop_map(|(measurement, tag_values, time, n, step)| BulkGen {
            measurement,
            tag_values,
            time,
            n,
            step,
        })
}

fn write_op() -> impl Strategy<Value = Op> {
    (
        any::<Index>(),
        option::weighted(0.6, any::<Index>()),
        prop::collection::vec(point_gen(), 1..=8),
        option::weighted(0.1, bulk_gen()),
    )
        .prop_map(|(db, rp, points, bulk)| Op::Write(WriteOp { db, rp, points, bulk }))
}

/// A backup; `last` (the history's final backup) is never a deliberate
/// mistake and keeps data (no `only-meta`, no range with `full`).
fn backup_op(last: bool) -> impl Strategy<Value = Op> {
    let strategy = prop_oneof![
        4 => Just(BackupStrategy::Incremental),
        2 => Just(BackupStrategy::Full),
        if last { 0 } else { 1 } => Just(BackupStrategy::OnlyMeta),
    ];
    (
        prop_oneof![3 => Just(0usize), 1 => Just(1usize), 1 => Just(2usize)],
        strategy,
        option::weighted(0.4, any::<Index>()),
        option::weighted(0.4, any::<Index>()),
        prop::bool::weighted(if last { 0.0 } else { 0.04 }),
        option::weighted(0.15, any::<Index>()),
        option::weighted(0.2, time_spec()),
        option::weighted(0.2, time_spec()),
    )
        .prop_map(move |(dir, strategy, db, rp, rp_without_db, shard, mut start, mut end)| {
            if last && strategy == BackupStrategy::Full {
                (start, end) = (None, None);
            }
            Op::Backup(BackupOp { dir, strategy, db, rp, rp_without_db, shard, start, end })
        })
}

/// A history: a write first, a backup last, anything between.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        write_op(),
        prop::collection::vec(prop_oneof![3 => write_op(), 2 => backup_op(false)], 0..=5),
        backup_op(true),
    )
        .prop_map(|(first, mut middle, last)| {
            middle.insert(0, first);
            middle.push(last);
            middle
        })
}

fn mistake() -> impl Strategy<Value = Mistake> {
    prop_oneof![
        Just(Mistake::NewdbWithoutDb),
        Just(Mistake::NewrpWithoutRp),
        Just(Mistake::RpWithoutDb),
        Just(Mistake::NewrfWithoutDb),
        Just(Mistake::NewshardWithoutShard),
        Just(Mistake::NewdurationWithoutRp),
        Just(Mistake::UnknownDb),
        Just(Mistake::UnknownRp),
    ]
}

/// A restore; `p_db` and `p_newdb` weigh `-db` and `-newdb` (a second
/// restore into the same target mostly renames, or it collides).
fn restore_spec(p_db: f64, p_newdb: f64) -> impl Strategy<Value = RestoreSpec> {
    let from = prop_oneof![
        any::<Index>().prop_map(RestoreFrom::Dir),
        any::<Index>().prop_map(RestoreFrom::Manifest),
    ];
    (
        (
            from,
            option::weighted(p_db, any::<Index>()),
            option::weighted(p_newdb, select(NEW_DB_NAMES)),
            option::weighted(0.35, any::<Index>()),
            option::weighted(0.5, select(NEW_RP_NAMES)),
            option::weighted(0.5, 1u32..=4),
        ),
        (
            option::weighted(0.3, 0..NEW_DURATIONS.len()),
            option::weighted(0.15, any::<Index>()),
            option::weighted(0.5, prop_oneof![1u64..=6, Just(1000u64)]),
            option::weighted(0.08, mistake()),
            prop::bool::weighted(0.4),
        ),
    )
        .prop_map(
            |(
                (from, db, newdb, rp, newrp, newrf),
                (newduration, shard, newshard, mistake, repeat),
            )| RestoreSpec {
                from,
                db,
                newdb,
                rp,
                newrp,
                newrf,
                newduration,
                shard,
                newshard,
                mistake,
                repeat,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    let dbs = subsequence(DB_NAMES, 1..=3)
        .prop_flat_map(|names| names.into_iter().map(db_spec).collect::<Vec<_>>());
    let measurements = subsequence(MEASUREMENTS, 1..=3)
        .prop_flat_map(|names| names.into_iter().map(measurement_spec).collect::<Vec<_>>());
    (
        (
            1usize..=3,
            1usize..=3,
            option::weighted(0.4, Just(1000usize)),
            dbs,
            prop::bool::weighted(0.25),
            prop::bool::weighted(0.25),
        ),
        (
            measurements,
            prop::collection::vec(time_offset(), 2..=8),
            ops(),
            prop::bool::weighted(0.3),
            option::weighted(0.15, any::<Index>()),
            (restore_spec(0.5, 0.4), option::weighted(0.35, restore_spec(0.85, 0.8))).prop_map(
                |(first, second)| std::iter::once(first).chain(second).collect::<Vec<_>>(),
            ),
        ),
    )
        .prop_map(
            |(
                (
                    source_nodes,
                    target_nodes,
                    snapshot_points,
                    dbs,
                    source_internal,
                    target_internal,
                ),
                (measurements, times, ops, source_user, target_existing, restores),
            )| Case {
                source_nodes,
                target_nodes,
                snapshot_points,
                dbs,
                source_internal,
                target_internal,
                measurements,
                times,
                ops,
                source_user,
                target_existing,
                restores,
            },
        )
}

// ---------------------------------------------------------------------------
// Points and the model.

/// A value as stored.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    F(f64),
    I(i64),
    U(u64),
    B(bool),
    S(String),
}

/// One field value's identity: measurement, tags (sorted by key, unescaped),
/// field, time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct PKey {
    m: String,
    tags: Vec<(String, String)>,
    field: String,
    time: i64,
}

type Content = BTreeMap<PKey, Val>;

/// One logged field value.
#[derive(Debug, Clone)]
struct Logged {
    step: usize,
    db: String,
    rp: String,
    /// The escaped series key (what placement hashes).
    series_key: String,
    key: PKey,
    val: Val,
}

fn escape_into(s: &str, special: &[char], out: &mut String) {
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// InfluxDB's series key: measurement (`,` and space escaped), then the tags
/// sorted by their escaped bytes (`,`, `=` and space escaped).
fn series_key(m: &str, tags: &[(String, String)]) -> String {
    let mut out = String::new();
    escape_into(m, &[',', ' '], &mut out);
    let mut esc: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            escape_into(k, &[',', '=', ' '], &mut ek);
            escape_into(v, &[',', '=', ' '], &mut ev);
            (ek, ev)
        })
        .collect();
    esc.sort();
    for (k, v) in esc {
        let _ = write!(out, ",{k}={v}");
    }
    out
}

/// Go's hash/fnv New64a.
fn fnv64a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn find_rp<'a>(d: &'a meta::Data, db: &str, rp: &str) -> Option<&'a meta::RetentionPolicyInfo> {
    d.databases.iter().find(|x| x.name == db)?.retention_policies.iter().find(|r| r.name == rp)
}

/// The source shard a point lands in, by the metastore `d`.
fn place(d: &meta::Data, db: &str, rp: &str, series: &str, t: i64) -> Option<u64> {
    let r = find_rp(d, db, rp)?;
    let g =
        r.shard_groups.iter().find(|g| g.deleted_at == 0 && g.start_time <= t && t < g.end_time)?;
    if g.shards.is_empty() {
        return None;
    }
    Some(g.shards[(fnv64a(series.as_bytes()) % g.shards.len() as u64) as usize].id)
}

/// Where a shard sits in a metastore: (db, rp, group start, group end,
/// index in the group).
fn locate(d: &meta::Data, shard: u64) -> Option<(String, String, i64, i64, usize)> {
    for db in &d.databases {
        for rp in &db.retention_policies {
            for g in &rp.shard_groups {
                if let Some(i) = g.shards.iter().position(|s| s.id == shard) {
                    return Some((db.name.clone(), rp.name.clone(), g.start_time, g.end_time, i));
                }
            }
        }
    }
    None
}

/// Per shard: content and last-modified step, from the log and metastore `d`.
fn shard_states(log: &[Logged], d: &meta::Data) -> Result<BTreeMap<u64, (Content, usize)>, String> {
    let mut out: BTreeMap<u64, (Content, usize)> = BTreeMap::new();
    for l in log {
        let s = place(d, &l.db, &l.rp, &l.series_key, l.key.time).ok_or_else(|| {
            format!(
                "model: no shard for {:?} in {}.{} (the write made no group?)",
                l.key, l.db, l.rp
            )
        })?;
        let e = out.entry(s).or_default();
        e.0.insert(l.key.clone(), l.val.clone());
        e.1 = e.1.max(l.step);
    }
    Ok(out)
}

/// One shard in one backup, as the model says.
#[derive(Debug, Clone)]
struct Entry {
    db: String,
    last_modified: usize,
    content: Content,
}

/// A directory restore's shard files: per shard, the entry with the latest
/// last-modified step, the newest backup's on a tie (`backups` oldest
/// first).
fn latest_entries<'a>(
    backups: impl DoubleEndedIterator<Item = &'a BTreeMap<u64, Entry>>,
) -> BTreeMap<u64, Entry> {
    let mut out: BTreeMap<u64, Entry> = BTreeMap::new();
    for rec in backups.rev() {
        for (id, e) in rec {
            match out.get(id) {
                Some(held) if e.last_modified <= held.last_modified => {}
                _ => {
                    out.insert(*id, e.clone());
                }
            }
        }
    }
    out
}

/// A successful backup.
#[derive(Debug, Clone)]
struct BackupRec {
    dir: usize,
    manifest: PathBuf,
    /// The source metastore when the backup ran.
    meta: meta::Data,
    entries: BTreeMap<u64, Entry>,
}

// ---------------------------------------------------------------------------
// Talking to clusters.

fn start_cluster(data: usize, snapshot_points: Option<usize>) -> Result<Cluster, String> {
    // Every other cluster keeps each restored shard file as a segment file
    // (the real default only keeps files of 256 KiB or more, which these
    // small cases never reach), so both store paths are checked.
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let segments = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 1;
    let mut overrides = BTreeMap::new();
    for i in 1..=data {
        let mut o = Vec::new();
        if let Some(n) = snapshot_points {
            o.push(("data.cache-snapshot-points".to_string(), n.to_string()));
        }
        if segments {
            o.push(("data.segment-min-bytes".to_string(), "0".to_string()));
        }
        overrides.insert(format!("data{i}"), o);
    }
    let spec = || ClusterSpec {
        meta: 1,
        data,
        overrides: overrides.clone(),
        ready_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    match Cluster::start(spec()) {
        Ok(c) => Ok(c),
        // One retry: a busy machine can make a node miss its ready timeout.
        Err(_) => Cluster::start(spec()).map_err(|e| format!("cluster did not start: {e:#}")),
    }
}

fn metastore(c: &Cluster) -> Result<meta::Data, String> {
    testkit::ctl::metastore(c).map_err(|e| format!("metastore read: {e:#}"))
}

fn ctl(c: &Cluster, args: &[String]) -> Result<Output, String> {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    testkit::ctl::run(c, &argv).map_err(|e| format!("ctl: {e:#}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(args: &[String], o: &Output) -> String {
    format!(
        "ctl {args:?} → {:?}\nstdout:\n{}stderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// An InfluxQL identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `/query` with `epoch=ns`.
fn query(addr: &str, db: &str, q: &str) -> Result<serde_json::Value, String> {
    use testkit::http::urlencode;
    let body = format!("db={}&epoch=ns&q={}", urlencode(db), urlencode(q));
    let (status, t) = testkit::http::request(
        addr,
        "POST",
        "/query",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .map_err(|e| format!("query {q}: {e}"))?;
    let v: serde_json::Value =
        serde_json::from_str(&t).map_err(|e| format!("query {q}: {status} {e}: {t}"))?;
    if status != 200 || v["results"][0].get("error").is_some() || v.get("error").is_some() {
        return Err(format!("query {q}: {status} {t}"));
    }
    Ok(v)
}

fn exec(addr: &str, q: &str) -> Result<(), String> {
    query(addr, "", q).map(|_| ())
}

fn write_lines(addr: &str, db: &str, rp: Option<&str>, body: &str) -> Result<(), String> {
    let mut extra = "&consistency=all".to_string();
    if let Some(rp) = rp {
        extra.push_str(&format!("&rp={}", testkit::http::urlencode(rp)));
    }
    let (status, t) = testkit::http::write(addr, db, &extra, body.as_bytes())
        .map_err(|e| format!("write to {db}: {e}"))?;
    if status != 204 {
        return Err(format!("write to {db}.{rp:?} answered {status}: {t}\nbody:\n{body}"));
    }
    Ok(())
}

/// Every local shard of every data node, read over the cluster RPC:
/// node ID → shard ID → (db, rp, content).
type NodeShards = BTreeMap<u64, BTreeMap<u64, (String, String, Content)>>;

fn read_nodes(c: &Cluster, d: &meta::Data) -> Result<NodeShards, String> {
    let mut out = NodeShards::new();
    for n in &d.data_nodes {
        let addr = n.tcp_host.clone().ok_or("a data node without a TCP address")?;
        let shards = c.block_on(read_node(&addr)).map_err(|e| format!("reading {addr}: {e}"))?;
        out.insert(n.id, shards);
    }
    Ok(out)
}

async fn read_node(addr: &str) -> Result<BTreeMap<u64, (String, String, Content)>, String> {
    let ch = proto::net::channel(addr, Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let mut client = pc::data_client::DataClient::new(ch).max_decoding_message_size(256 << 20);
    let local = client
        .local_shards(pc::LocalShardsRequest {})
        .await
        .map_err(|e| e.message().to_string())?
        .into_inner();
    let mut out = BTreeMap::new();
    for s in local.shards {
        let series = client
            .shard_series(pc::ShardSeriesRequest { shard_id: s.id, measurement: String::new() })
            .await
            .map_err(|e| e.message().to_string())?
            .into_inner();
        let mut keys = Vec::new();
        let mut idents = Vec::new();
        for se in &series.series {
            let mut tags: Vec<(String, String)> =
                se.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
            tags.sort();
            for f in &se.fields {
                keys.push(pc::ReadKey { series_key: se.key.clone(), field: f.name.clone() });
                idents.push((se.measurement.clone(), tags.clone(), f.name.clone()));
            }
        }
        let mut content = Content::new();
        if !keys.is_empty() {
            let mut stream = client
                .read_shard(pc::ReadShardRequest {
                    shard_id: s.id,
                    keys,
                    min: i64::MIN + 2,
                    max: i64::MAX - 1,
                })
                .await
                .map_err(|e| e.message().to_string())?
                .into_inner();
            while let Some(ch) = stream.message().await.map_err(|e| e.message().to_string())? {
                let (m, tags, field) =
                    idents.get(ch.key as usize).ok_or("a chunk for an unknown key")?.clone();
                for (i, t) in ch.times.iter().enumerate() {
                    let v = match ch.r#type {
                        0 => Val::F(ch.floats[i]),
                        1 => Val::I(ch.integers[i]),
                        2 => Val::B(ch.booleans[i]),
                        3 => Val::S(ch.strings[i].clone()),
                        4 => Val::U(ch.unsigneds[i]),
                        t => return Err(format!("unknown block type {t}")),
                    };
                    let k =
                        PKey { m: m.clone(), tags: tags.clone(), field: field.clone(), time: *t };
                    if content.insert(k.clone(), v).is_some() {
                        return Err(format!("shard {}: {k:?} read twice", s.id));
                    }
                }
            }
        }
        out.insert(s.id, (s.database, s.policy, content));
    }
    Ok(out)
}

/// A short description of how two contents differ (empty when equal).
fn diff(want: &Content, got: &Content) -> String {
    let mut out = String::new();
    let mut n = 0;
    for (k, v) in want {
        match got.get(k) {
            None => {
                let _ = writeln!(out, "  missing {k:?} = {v:?}");
                n += 1;
            }
            Some(g) if g != v => {
                let _ = writeln!(out, "  differs {k:?}: want {v:?}, got {g:?}");
                n += 1;
            }
            _ => {}
        }
        if n >= 8 {
            break;
        }
    }
    for (k, v) in got {
        if n >= 12 {
            out.push_str("  …\n");
            break;
        }
        if !want.contains_key(k) {
            let _ = writeln!(out, "  extra {k:?} = {v:?}");
            n += 1;
        }
    }
    if !out.is_empty() {
        out = format!("want {} values, got {}:\n{out}", want.len(), got.len());
    }
    out
}

// ---------------------------------------------------------------------------
// Running a case.

/// The case base time: 35 days ago, rounded down to a 7-day boundary (a
/// Monday, as Go's `Time.Truncate(7d)` aligns), so every group duration
/// splits a case's times the same way whatever the day.
fn base_time() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let monday = 4 * DAY;
    (now - 35 * DAY - monday).div_euclid(WEEK) * WEEK + monday
}

fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(SEC);
    let frac = ns.rem_euclid(SEC);
    let t = chrono::DateTime::from_timestamp(secs, frac as u32).expect("time in range");
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

struct World<'a> {
    case: &'a Case,
    base: i64,
    src: Cluster,
    src_http: String,
    dirs: tempfile::TempDir,
    /// Every written field value, in order.
    log: Vec<Logged>,
    step: usize,
    backups: Vec<BackupRec>,
    /// Notes for the failure report.
    trace: Vec<String>,
    stats: Stats,
}

/// What a case exercised (printed per case, to see the generators' reach).
#[derive(Debug, Default)]
struct Stats {
    writes: usize,
    backups_ok: usize,
    backups_err: usize,
    restores_ok: usize,
    restores_err: usize,
    /// Values restored (summed over restores).
    values: usize,
    /// Restored shards holding data.
    shards: usize,
}

impl World<'_> {
    /// The source databases: the generated ones, then `_internal`.
    fn db_names(&self) -> Vec<(String, Vec<String>, String)> {
        let mut out: Vec<(String, Vec<String>, String)> = self
            .case
            .dbs
            .iter()
            .map(|d| {
                (
                    d.name.to_string(),
                    d.rps.iter().map(|r| r.name.to_string()).collect(),
                    d.rps[d.default_rp].name.to_string(),
                )
            })
            .collect();
        if self.case.source_internal {
            out.push((INTERNAL.into(), vec!["monitor".into()], "monitor".into()));
        }
        out
    }

    fn dir(&self, i: usize) -> PathBuf {
        self.dirs.path().join(format!("b{i}"))
    }

    fn create_schema(&self) -> Result<(), String> {
        let h = &self.src_http;
        for d in &self.case.dbs {
            for (i, r) in d.rps.iter().enumerate() {
                let spec = format!(
                    "DURATION {} REPLICATION {} SHARD DURATION {}",
                    DURATIONS[r.duration].0, r.rf, SHARD_DURATIONS[r.shard_duration].0
                );
                if i == 0 {
                    exec(
                        h,
                        &format!(
                            "CREATE DATABASE {} WITH {spec} NAME {}",
                            ident(d.name),
                            ident(r.name)
                        ),
                    )?;
                } else {
                    let def = if i == d.default_rp { " DEFAULT" } else { "" };
                    exec(
                        h,
                        &format!(
                            "CREATE RETENTION POLICY {} ON {} {spec}{def}",
                            ident(r.name),
                            ident(d.name)
                        ),
                    )?;
                }
            }
        }
        if self.case.source_user {
            exec(h, "CREATE USER \"b ob\" WITH PASSWORD 'pw'")?;
        }
        if self.case.source_internal {
            exec(
                h,
                "CREATE DATABASE \"_internal\" WITH DURATION INF REPLICATION 1 SHARD DURATION 1d NAME \"monitor\"",
            )?;
        }
        for i in 0..3 {
            std::fs::create_dir_all(self.dir(i)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn write(&mut self, w: &WriteOp) -> Result<(), String> {
        let dbs = self.db_names();
        let (db, rps, default_rp) = dbs[w.db.index(dbs.len())].clone();
        let rp_param = w.rp.map(|i| rps[i.index(rps.len())].clone());
        let rp = rp_param.clone().unwrap_or(default_rp);
        let mut body = String::new();
        let mut logged = Vec::new();
        let pool_time = |i: Index| self.base + self.case.times[i.index(self.case.times.len())];
        // (measurement, tag values, fields, time) of every point.
        let mut items: Vec<PointItem> = w
            .points
            .iter()
            .map(|p| (p.measurement, p.tag_values.as_slice(), p.fields.clone(), pool_time(p.time)))
            .collect();
        if let Some(b) = &w.bulk {
            let t0 = pool_time(b.time);
            for i in 0..b.n {
                let v = bulk_value(i);
                items.push((
                    b.measurement,
                    b.tag_values.as_slice(),
                    vec![(true, v.clone()), (true, v.clone()), (true, v)],
                    t0 + i as i64 * b.step,
                ));
            }
        }
        for (measurement, tag_values, pfields, time) in &items {
            let ms = &self.case.measurements[measurement.index(self.case.measurements.len())];
            let mut tags: Vec<(String, String)> = ms
                .tags
                .iter()
                .zip(tag_values.iter())
                .map(|(k, v)| (k.to_string(), TAG_VALUES[v.index(TAG_VALUES.len())].to_string()))
                .collect();
            tags.sort();
            let time = *time;
            let mut fields = Vec::new();
            // The present fields; the first one when none is.
            let none_present = !pfields.iter().take(ms.fields.len()).any(|f| f.0);
            for (i, (name, ft)) in ms.fields.iter().enumerate() {
                let (present, v) = &pfields[i];
                if !present && (i > 0 || !none_present) {
                    continue;
                }
                let (fv, val) = match ft {
                    FieldType::Float => (portable::FieldValue::Float(v.float), Val::F(v.float)),
                    FieldType::Integer => {
                        (portable::FieldValue::Integer(v.integer), Val::I(v.integer))
                    }
                    FieldType::Unsigned => {
                        (portable::FieldValue::Unsigned(v.unsigned), Val::U(v.unsigned))
                    }
                    FieldType::Boolean => {
                        (portable::FieldValue::Boolean(v.boolean), Val::B(v.boolean))
                    }
                    FieldType::String => {
                        (portable::FieldValue::String(v.string.clone()), Val::S(v.string.clone()))
                    }
                };
                fields.push((name.to_string(), fv));
                logged.push(Logged {
                    step: self.step,
                    db: db.clone(),
                    rp: rp.clone(),
                    series_key: series_key(ms.name, &tags),
                    key: PKey {
                        m: ms.name.to_string(),
                        tags: tags.clone(),
                        field: name.to_string(),
                        time,
                    },
                    val,
                });
            }
            let point = portable::Point { measurement: ms.name.to_string(), tags, fields, time };
            portable::lineproto::write_point(&point, &mut body);
            body.push('\n');
        }
        write_lines(&self.src_http, &db, rp_param.as_deref(), &body)?;
        self.trace.push(format!(
            "step {}: wrote {} points to {db:?}.{rp:?}",
            self.step,
            items.len()
        ));
        self.log.extend(logged);
        self.stats.writes += 1;
        Ok(())
    }

    fn backup(&mut self, b: &BackupOp) -> Result<(), String> {
        let dbs = self.db_names();
        let now_meta = metastore(&self.src)?;
        let mut args: Vec<String> = vec!["backup".into()];
        let strategy = match b.strategy {
            BackupStrategy::Incremental => "incremental",
            BackupStrategy::Full => "full",
            BackupStrategy::OnlyMeta => "only-meta",
        };
        args.extend(["-strategy".into(), strategy.into()]);
        let db = b.db.map(|i| dbs[i.index(dbs.len())].clone());
        let rp = match (&db, b.rp) {
            (Some((_, rps, _)), Some(i)) => Some(rps[i.index(rps.len())].clone()),
            (None, Some(i)) if b.rp_without_db => {
                let (_, rps, _) = &dbs[i.index(dbs.len())];
                Some(rps[0].clone())
            }
            _ => None,
        };
        if let Some((name, _, _)) = &db {
            args.extend(["-db".into(), name.clone()]);
        }
        if let Some(r) = &rp {
            args.extend(["-rp".into(), r.clone()]);
        }
        let mut all_shards: Vec<u64> = now_meta
            .databases
            .iter()
            .flat_map(|d| &d.retention_policies)
            .flat_map(|r| &r.shard_groups)
            .flat_map(|g| &g.shards)
            .map(|s| s.id)
            .collect();
        all_shards.sort();
        let shard = b.shard.map(|i| {
            if all_shards.is_empty() { 9999 } else { all_shards[i.index(all_shards.len())] }
        });
        if let Some(s) = shard {
            args.extend(["-shard".into(), s.to_string()]);
        }
        let t = |s: &TimeSpec| {
            self.base + self.case.times[s.time.index(self.case.times.len())] + s.delta
        };
        let start = b.start.as_ref().map(t);
        let end = b.end.as_ref().map(t);
        if let Some(s) = start {
            args.extend(["-start".into(), rfc3339(s)]);
        }
        if let Some(e) = end {
            args.extend(["-end".into(), rfc3339(e)]);
        }
        let dir = self.dir(b.dir);
        args.push(dir.display().to_string());

        // The documented errors, in the order ctl checks them.
        let expected_err = if rp.is_some() && db.is_none() {
            Some("-rp requires -db".to_string())
        } else if (start.is_some() || end.is_some()) && b.strategy == BackupStrategy::Full {
            Some("-start and -end are not compatible with -strategy full".to_string())
        } else if matches!((start, end), (Some(s), Some(e)) if e <= s) {
            Some("start date must be before end date".to_string())
        } else if shard.is_some_and(|s| !all_shards.contains(&s)) {
            Some(format!("shard {} does not exist", shard.unwrap_or_default()))
        } else {
            None
        };
        let manifests_before = manifests(&dir);
        let o = ctl(&self.src, &args)?;
        self.trace.push(format!("step {}: {args:?} → {:?}", self.step, o.status.code()));
        if let Some(msg) = expected_err {
            if o.status.code() != Some(1) || text(&o.stderr) != format!("backup: {msg}\n") {
                return Err(format!("expected the error {msg:?}\n{}", describe(&args, &o)));
            }
            if manifests(&dir) != manifests_before {
                return Err(format!("a failed backup wrote a manifest\n{}", describe(&args, &o)));
            }
            self.stats.backups_err += 1;
            return Ok(());
        }
        if !o.status.success() {
            return Err(format!("backup failed\n{}", describe(&args, &o)));
        }
        let after = manifests(&dir);
        let new: Vec<&PathBuf> = after.iter().filter(|m| !manifests_before.contains(m)).collect();
        if new.len() != 1 || after.last() != new.first().copied() {
            return Err(format!(
                "expected one new, newest manifest in {}: before {manifests_before:?}, after {after:?}",
                dir.display()
            ));
        }
        let manifest = new[0].clone();

        // The model: which shards, with what.
        let states = shard_states(&self.log, &now_meta)?;
        // Newest last-modified step per shard among this directory's backups.
        let mut prev: Option<BTreeMap<u64, usize>> = None;
        if b.strategy == BackupStrategy::Incremental {
            for r in self.backups.iter().filter(|r| r.dir == b.dir) {
                let p = prev.get_or_insert_with(BTreeMap::new);
                for (id, e) in &r.entries {
                    let v = p.entry(*id).or_insert(e.last_modified);
                    *v = (*v).max(e.last_modified);
                }
            }
        }
        let mut entries = BTreeMap::new();
        if b.strategy != BackupStrategy::OnlyMeta {
            for (id, (content, lm)) in &states {
                let (sdb, srp, gs, ge, _) = locate(&now_meta, *id)
                    .ok_or("model: a placed shard is not in the metastore")?;
                if db.as_ref().is_some_and(|d| d.0 != sdb) || rp.as_ref().is_some_and(|r| *r != srp)
                {
                    continue;
                }
                if shard.is_some_and(|s| s != *id) {
                    continue;
                }
                if start.is_some_and(|s| ge <= s) || end.is_some_and(|e| gs > e) {
                    continue;
                }
                if let Some(p) = &prev
                    && p.get(id).is_some_and(|plm| plm >= lm)
                {
                    continue;
                }
                let content: Content = content
                    .iter()
                    .filter(|(k, _)| {
                        start.is_none_or(|s| k.time >= s) && end.is_none_or(|e| k.time <= e)
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                entries.insert(*id, Entry { db: sdb, last_modified: *lm, content });
            }
        }
        // What the manifest lists must be what the model selected.
        let listed = manifest_shards(&manifest)?;
        let modeled: BTreeSet<u64> = entries.keys().copied().collect();
        if listed != modeled {
            return Err(format!(
                "backup selected shards {listed:?}, the model says {modeled:?}\n{}",
                describe(&args, &o)
            ));
        }
        self.backups.push(BackupRec { dir: b.dir, manifest, meta: now_meta, entries });
        self.stats.backups_ok += 1;
        Ok(())
    }
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "manifest"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The shard IDs a manifest lists (read as plain JSON).
fn manifest_shards(p: &Path) -> Result<BTreeSet<u64>, String> {
    let t = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&t).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(v["files"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["shardID"].as_u64()).collect())
        .unwrap_or_default())
}

/// What the target must hold after the restore.
#[derive(Debug, Default)]
struct ExpShard {
    new_id: Option<u64>,
    content: Content,
}
#[derive(Debug, Default)]
struct ExpGroup {
    start: i64,
    end: i64,
    shards: Vec<ExpShard>,
}
#[derive(Debug, Default)]
struct ExpRp {
    name: String,
    duration: i64,
    shard_duration: i64,
    replica_n: u32,
    groups: Vec<ExpGroup>,
}
#[derive(Debug, Default)]
struct ExpDb {
    name: String,
    default_rp: String,
    rps: Vec<ExpRp>,
}

enum Outcome {
    /// The restore must fail with exit code 1 and this stderr (any text
    /// when empty).
    Error(String),
    /// It succeeds and adds these databases; a complete restore also drops
    /// the target's `_internal` and brings the backup's users.
    Restored { dbs: Vec<ExpDb>, complete: bool, users: BTreeSet<String> },
}

/// The target and what it must hold.
struct Target {
    cluster: Cluster,
    /// Every database restored so far, as the model says.
    restored: Vec<ExpDb>,
    /// The target's own databases, which restores leave alone (but a
    /// complete restore drops `_internal`).
    native: BTreeSet<String>,
    users: BTreeSet<String>,
}

fn run_case(case: &Case) -> Result<String, String> {
    let started = Instant::now();
    let (target_nodes, snap) = (case.target_nodes, case.snapshot_points);
    // The target starts while the source works.
    let target_thread = std::thread::spawn(move || start_cluster(target_nodes, snap));
    let src = start_cluster(case.source_nodes, snap)?;
    let src_http = src.data_http()[0].clone();
    let mut w = World {
        case,
        base: base_time(),
        src,
        src_http,
        dirs: tempfile::tempdir().map_err(|e| e.to_string())?,
        log: Vec::new(),
        step: 0,
        backups: Vec::new(),
        trace: Vec::new(),
        stats: Stats::default(),
    };
    let res = run_world(&mut w, target_thread);
    if std::env::var_os("RESTORE_PROPTEST_VERBOSE").is_some() {
        eprintln!("--- case ---\n{}", w.trace.join("\n"));
    }
    let st = &w.stats;
    let summary = format!(
        "{} writes, backups {} ok {} failing, restores {} ok {} failing, {} values in {} shards",
        st.writes,
        st.backups_ok,
        st.backups_err,
        st.restores_ok,
        st.restores_err,
        st.values,
        st.shards
    );
    res.map(|()| summary).map_err(|e| {
        format!(
            "{e}\n--- history ({:.1}s) ---\n{}",
            started.elapsed().as_secs_f64(),
            w.trace.join("\n")
        )
    })
}

fn run_world(
    w: &mut World,
    target_thread: std::thread::JoinHandle<Result<Cluster, String>>,
) -> Result<(), String> {
    let source = run_source(w);
    // Join the target even when the source failed, so it is dropped (and
    // its nodes killed) before the next case.
    let target = target_thread.join().map_err(|_| "the target thread panicked".to_string())?;
    source?;
    let mut t = Target {
        cluster: target?,
        restored: Vec::new(),
        native: BTreeSet::new(),
        users: BTreeSet::new(),
    };
    let t_http = t.cluster.data_http();
    if w.case.target_internal {
        exec(
            &t_http[0],
            "CREATE DATABASE \"_internal\" WITH DURATION INF REPLICATION 1 SHARD DURATION 1d NAME \"monitor\"",
        )?;
        write_lines(&t_http[0], INTERNAL, None, &format!("runtime alloc=1i {}\n", w.base))?;
        t.native.insert(INTERNAL.into());
    }
    if let Some(i) = w.case.target_existing {
        let name = w.case.dbs[i.index(w.case.dbs.len())].name;
        exec(&t_http[0], &format!("CREATE DATABASE {}", ident(name)))?;
        t.native.insert(name.into());
    }
    for (i, r) in w.case.restores.iter().enumerate() {
        restore(w, &mut t, r).map_err(|e| format!("restore #{}: {e}", i + 1))?;
    }
    Ok(())
}

/// Schema, writes and backups on the source; then checks that the source
/// holds what the model says.
fn run_source(w: &mut World) -> Result<(), String> {
    w.create_schema()?;
    let ops = w.case.ops.clone();
    for (i, op) in ops.iter().enumerate() {
        w.step = i + 1;
        match op {
            Op::Write(wr) => w.write(wr)?,
            Op::Backup(b) => w.backup(b)?,
        }
    }
    // The source holds what the model says (else the model, not the
    // backup, is wrong).
    let src_meta = metastore(&w.src)?;
    let states = shard_states(&w.log, &src_meta)?;
    let held = read_nodes(&w.src, &src_meta)?;
    for (id, (content, _)) in &states {
        for node in &held {
            if let Some((_, _, got)) = node.1.get(id) {
                let d = diff(content, got);
                if !d.is_empty() {
                    return Err(format!(
                        "SOURCE shard {id} on node {} differs from the model: {d}",
                        node.0
                    ));
                }
            }
        }
    }

    Ok(())
}

fn restore(w: &mut World, t: &mut Target, r: &RestoreSpec) -> Result<(), String> {
    let dbs = w.db_names();
    let user_dbs: Vec<&(String, Vec<String>, String)> =
        dbs.iter().filter(|d| d.0 != INTERNAL).collect();
    let dirs_used: Vec<usize> = {
        let mut v: Vec<usize> = w.backups.iter().map(|b| b.dir).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut args: Vec<String> = vec!["restore".into()];
    // Which backup: (metastore, entries).
    let (path, src_meta, entries): (String, Option<meta::Data>, BTreeMap<u64, Entry>) = match r.from
    {
        RestoreFrom::Dir(i) if !dirs_used.is_empty() => {
            let d = dirs_used[i.index(dirs_used.len())];
            let recs: Vec<&BackupRec> = w.backups.iter().filter(|b| b.dir == d).collect();
            let newest = recs.last().ok_or("no backup")?;
            let entries = latest_entries(recs.iter().map(|r| &r.entries));
            (w.dir(d).display().to_string(), Some(newest.meta.clone()), entries)
        }
        RestoreFrom::Manifest(i) if !w.backups.is_empty() => {
            let rec = &w.backups[i.index(w.backups.len())];
            args.push("-full".into());
            (rec.manifest.display().to_string(), Some(rec.meta.clone()), rec.entries.clone())
        }
        // No backup at all: restoring the empty directory fails.
        _ => (w.dir(0).display().to_string(), None, BTreeMap::new()),
    };
    let mut all_shards: Vec<u64> = src_meta
        .iter()
        .flat_map(|m| &m.databases)
        .flat_map(|d| &d.retention_policies)
        .flat_map(|r| &r.shard_groups)
        .flat_map(|g| &g.shards)
        .map(|s| s.id)
        .collect();
    all_shards.sort();

    // Options, then the mistakes on top.
    let mut db = r.db.map(|i| user_dbs[i.index(user_dbs.len())].clone());
    let mut newdb = db.as_ref().and(r.newdb.map(str::to_string));
    let mut rp = match (&db, r.rp) {
        (Some(d), Some(i)) => Some(d.1[i.index(d.1.len())].clone()),
        _ => None,
    };
    let mut newrp = rp.as_ref().and(r.newrp.map(str::to_string));
    let mut newrf = db.as_ref().and(r.newrf);
    let mut newduration = rp.as_ref().and(r.newduration);
    let mut shard = match r.shard {
        Some(i) if !all_shards.is_empty() => Some(all_shards[i.index(all_shards.len())]),
        _ => None,
    };
    let mut newshard = shard.and(r.newshard);
    let mut expected_err: Option<String> = None;
    match r.mistake {
        None => {}
        Some(Mistake::NewdbWithoutDb) => {
            db = None;
            rp = None;
            newrp = None;
            newrf = None;
            newduration = None;
            newdb = Some("restored".into());
            expected_err = Some("restore: -newdb requires -db\n".into());
        }
        Some(Mistake::NewrpWithoutRp) => {
            rp = None;
            newduration = None;
            newrp = Some("kept".into());
            expected_err = Some("restore: -newrp requires -rp\n".into());
        }
        Some(Mistake::RpWithoutDb) => {
            db = None;
            newdb = None;
            newrp = None;
            newrf = None;
            newduration = None;
            rp = Some(user_dbs[0].1[0].clone());
            expected_err = Some("restore: -rp requires -db\n".into());
        }
        Some(Mistake::NewrfWithoutDb) => {
            db = None;
            newdb = None;
            rp = None;
            newrp = None;
            newduration = None;
            newrf = Some(2);
            expected_err = Some("restore: -newrf requires -db\n".into());
        }
        Some(Mistake::NewshardWithoutShard) => {
            shard = None;
            newshard = Some(1000);
            expected_err = Some("restore: -newshard requires -shard\n".into());
        }
        Some(Mistake::NewdurationWithoutRp) => {
            rp = None;
            newrp = None;
            newduration = Some(0);
            expected_err = Some("restore: -newduration requires -rp\n".into());
        }
        Some(Mistake::UnknownDb) => {
            db = Some(("nosuchdb".into(), vec![], String::new()));
            newdb = None;
            rp = None;
            newrp = None;
            newduration = None;
        }
        Some(Mistake::UnknownRp) => {
            if db.is_none() {
                db = Some(user_dbs[0].clone());
            }
            rp = Some("nosuchrp".into());
        }
    }
    if let Some(d) = &db {
        args.extend(["-db".into(), d.0.clone()]);
    }
    if let Some(n) = &newdb {
        args.extend(["-newdb".into(), n.clone()]);
    }
    if let Some(x) = &rp {
        args.extend(["-rp".into(), x.clone()]);
    }
    if let Some(x) = &newrp {
        args.extend(["-newrp".into(), x.clone()]);
    }
    if let Some(x) = newrf {
        args.extend(["-newrf".into(), x.to_string()]);
    }
    if let Some(x) = newduration {
        args.extend(["-newduration".into(), NEW_DURATIONS[x].0.into()]);
    }
    if let Some(x) = shard {
        args.extend(["-shard".into(), x.to_string()]);
    }
    if let Some(x) = newshard {
        args.extend(["-newshard".into(), x.to_string()]);
    }
    args.push(path);

    let before = metastore(&t.cluster)?;
    let existing: BTreeSet<String> = before.databases.iter().map(|d| d.name.clone()).collect();
    let n_target = before.data_nodes.len() as u32;
    let target_shards: BTreeSet<u64> = before
        .databases
        .iter()
        .flat_map(|d| &d.retention_policies)
        .flat_map(|r| &r.shard_groups)
        .flat_map(|g| &g.shards)
        .map(|s| s.id)
        .collect();

    // The expected outcome.
    let outcome = match (&expected_err, &src_meta) {
        (Some(e), _) => Outcome::Error(e.clone()),
        (None, None) => Outcome::Error(String::new()),
        (None, Some(m)) => expected_restore(
            w.case,
            m,
            &entries,
            &Opts {
                db: db.as_ref().map(|d| d.0.as_str()),
                newdb: newdb.as_deref(),
                rp: rp.as_deref(),
                newrp: newrp.as_deref(),
                newrf,
                newduration: newduration.map(|i| NEW_DURATIONS[i].1),
                shard,
                newshard,
                n_target,
                target_shards: &target_shards,
                existing: &existing,
            },
        ),
    };
    let o = ctl(&t.cluster, &args)?;
    w.trace.push(format!("restore into {} data nodes: {args:?} → {:?}", n_target, o.status.code()));
    let dbs = match outcome {
        Outcome::Error(msg) => {
            if o.status.code() != Some(1) || (!msg.is_empty() && text(&o.stderr) != msg) {
                return Err(format!("expected the error {msg:?}\n{}", describe(&args, &o)));
            }
            let after = metastore(&t.cluster)?;
            if after.databases != before.databases || after.users != before.users {
                return Err(format!(
                    "a failed restore changed the metastore\n{}",
                    describe(&args, &o)
                ));
            }
            w.stats.restores_err += 1;
            return Ok(());
        }
        Outcome::Restored { dbs, complete, users } => {
            if !o.status.success() {
                return Err(format!("restore failed\n{}", describe(&args, &o)));
            }
            // What was there stays as it was (a complete restore drops
            // `_internal`).
            let after = metastore(&t.cluster)?;
            for d in &before.databases {
                let now = after.databases.iter().find(|x| x.name == d.name);
                if complete && d.name == INTERNAL {
                    if now.is_some() {
                        return Err(format!(
                            "a complete restore left the target's _internal\n{}",
                            describe(&args, &o)
                        ));
                    }
                    t.native.remove(INTERNAL);
                } else if now != Some(d) {
                    return Err(format!(
                        "the restore changed database {:?} that was already there: {:?} → {now:?}\n{}",
                        d.name,
                        d,
                        describe(&args, &o)
                    ));
                }
            }
            let n = dbs.len();
            w.stats.restores_ok += 1;
            for sh in
                dbs.iter().flat_map(|d| &d.rps).flat_map(|r| &r.groups).flat_map(|g| &g.shards)
            {
                w.stats.values += sh.content.len();
                w.stats.shards += usize::from(!sh.content.is_empty());
            }
            t.restored.extend(dbs);
            t.users.extend(users);
            n
        }
    };
    check_target(t, n_target, w.case).map_err(|e| format!("{e}\n{}", describe(&args, &o)))?;
    if r.repeat && dbs > 0 {
        let before = metastore(&t.cluster)?;
        let again = ctl(&t.cluster, &args)?;
        w.trace.push(format!("the same restore again → {:?}", again.status.code()));
        let want = "restore: operation exited with error: problem setting snapshot: database already exists\n";
        if again.status.code() != Some(1)
            || text(&again.stderr) != want
            || !text(&again.stdout).ends_with("Restoring meta data... Error.\n")
        {
            return Err(format!(
                "restoring into existing databases must fail with {want:?}\n{}",
                describe(&args, &again)
            ));
        }
        let after = metastore(&t.cluster)?;
        if after.databases != before.databases || after.users != before.users {
            return Err("the failed second restore changed the metastore".into());
        }
    }
    Ok(())
}

struct Opts<'a> {
    db: Option<&'a str>,
    newdb: Option<&'a str>,
    rp: Option<&'a str>,
    newrp: Option<&'a str>,
    newrf: Option<u32>,
    newduration: Option<i64>,
    shard: Option<u64>,
    newshard: Option<u64>,
    n_target: u32,
    target_shards: &'a BTreeSet<u64>,
    /// The target's databases before the restore.
    existing: &'a BTreeSet<String>,
}

fn expected_restore(
    case: &Case,
    m: &meta::Data,
    entries: &BTreeMap<u64, Entry>,
    o: &Opts,
) -> Outcome {
    let err = |s: String| Outcome::Error(format!("restore: operation exited with error: {s}\n"));
    // Which databases, under which names.
    let mut selected: Vec<(&meta::DatabaseInfo, String)> = Vec::new();
    match o.db {
        None => {
            for d in &m.databases {
                if d.name != INTERNAL {
                    selected.push((d, d.name.clone()));
                }
            }
        }
        Some(name) => match m.databases.iter().find(|d| d.name == name) {
            None => return err(format!("imported metadata does not have database named {name}")),
            Some(d) => selected.push((d, o.newdb.unwrap_or(name).to_string())),
        },
    }
    if selected.iter().any(|(_, t)| o.existing.contains(t)) {
        return err("problem setting snapshot: database already exists".into());
    }
    // The declared RPs (the model does not trust the source metastore for
    // durations, RF and the default).
    let spec = |db: &str, rp: &str| -> Option<(i64, i64, u32)> {
        if db == INTERNAL {
            return Some((0, DAY, 1));
        }
        let d = case.dbs.iter().find(|d| d.name == db)?;
        let r = d.rps.iter().find(|r| r.name == rp)?;
        Some((DURATIONS[r.duration].1, SHARD_DURATIONS[r.shard_duration].1, r.rf))
    };
    let declared_default = |db: &str| -> String {
        case.dbs
            .iter()
            .find(|d| d.name == db)
            .map(|d| d.rps[d.default_rp].name.to_string())
            .unwrap_or_else(|| "monitor".into())
    };
    let mut out = Vec::new();
    for (d, target) in selected {
        let rps: Vec<&meta::RetentionPolicyInfo> = match o.rp {
            None => d.retention_policies.iter().collect(),
            Some(rp) => match d.retention_policies.iter().find(|r| r.name == rp) {
                None => {
                    return err(format!(
                        "retention policy not found in meta backup: {}.{rp}",
                        d.name
                    ));
                }
                Some(r) => vec![r],
            },
        };
        let default_rp = match o.rp {
            None => declared_default(&d.name),
            Some(rp) => o.newrp.unwrap_or(rp).to_string(),
        };
        let mut exp_rps = Vec::new();
        for r in rps {
            let Some((duration, shard_duration, rf)) = spec(&d.name, &r.name) else {
                return err(format!("model: RP {}.{} was not generated", d.name, r.name));
            };
            let name = match o.rp {
                Some(_) => o.newrp.unwrap_or(&r.name).to_string(),
                None => r.name.clone(),
            };
            let replica_n = o.newrf.unwrap_or(rf).clamp(1, o.n_target.max(1));
            let mut groups = Vec::new();
            for g in &r.shard_groups {
                if g.deleted_at != 0 || g.shards.is_empty() {
                    continue;
                }
                let mut shards = Vec::new();
                for s in &g.shards {
                    let new_id = (o.shard == Some(s.id)).then_some(o.newshard).flatten();
                    if let Some(n) = new_id
                        && o.target_shards.contains(&n)
                    {
                        return err(format!("shard {n} already exists"));
                    }
                    // The data of the selected files.
                    let content = match entries.get(&s.id) {
                        Some(e)
                            if o.shard.is_none_or(|x| x == s.id)
                                && (o.db == Some(e.db.as_str()) || e.db != INTERNAL) =>
                        {
                            e.content.clone()
                        }
                        _ => Content::new(),
                    };
                    shards.push(ExpShard { new_id, content });
                }
                groups.push(ExpGroup { start: g.start_time, end: g.end_time, shards });
            }
            exp_rps.push(ExpRp {
                name,
                duration: o.newduration.unwrap_or(duration),
                shard_duration,
                replica_n,
                groups,
            });
        }
        out.push(ExpDb { name: target, default_rp, rps: exp_rps });
    }
    let complete = o.db.is_none();
    let users =
        if complete { m.users.iter().map(|u| u.name.clone()).collect() } else { BTreeSet::new() };
    Outcome::Restored { dbs: out, complete, users }
}

fn check_target(t: &Target, n_target: u32, case: &Case) -> Result<(), String> {
    let (target, dbs) = (&t.cluster, &t.restored);
    let m = metastore(target)?;
    let node_ids: BTreeSet<u64> = m.data_nodes.iter().map(|n| n.id).collect();
    // Databases.
    let mut want_names: BTreeSet<String> = dbs.iter().map(|d| d.name.clone()).collect();
    want_names.extend(t.native.iter().cloned());
    let got_names: BTreeSet<String> = m.databases.iter().map(|d| d.name.clone()).collect();
    if got_names != want_names {
        return Err(format!("target databases {got_names:?}, want {want_names:?}"));
    }
    let got_users: BTreeSet<String> = m.users.iter().map(|u| u.name.clone()).collect();
    if got_users != t.users {
        return Err(format!("target users {got_users:?}, want {:?}", t.users));
    }
    // Global metastore invariants.
    let mut ids = BTreeSet::new();
    for d in &m.databases {
        for r in &d.retention_policies {
            let mut windows: Vec<(i64, i64)> = Vec::new();
            for g in &r.shard_groups {
                if g.deleted_at != 0 {
                    continue;
                }
                if g.shards.is_empty() {
                    return Err(format!(
                        "shard group {} of {}.{} has no shards",
                        g.id, d.name, r.name
                    ));
                }
                if windows.iter().any(|(s, e)| g.start_time < *e && *s < g.end_time) {
                    return Err(format!(
                        "shard group {} of {}.{} overlaps another",
                        g.id, d.name, r.name
                    ));
                }
                windows.push((g.start_time, g.end_time));
                for s in &g.shards {
                    if !ids.insert(s.id) {
                        return Err(format!("shard ID {} appears twice in the metastore", s.id));
                    }
                    let owners: BTreeSet<u64> = s.owners.iter().map(|o| o.node_id).collect();
                    if owners.len() != s.owners.len() || !owners.is_subset(&node_ids) {
                        return Err(format!("shard {} has owners {:?}", s.id, s.owners));
                    }
                }
            }
        }
    }
    // Expected databases: RPs, groups, owners; expected content per shard.
    let mut want_content: BTreeMap<u64, (String, String, i64, i64, Content)> = BTreeMap::new();
    for want in dbs.iter() {
        let got = m.databases.iter().find(|d| d.name == want.name).ok_or("unreachable")?;
        if got.default_retention_policy != want.default_rp {
            return Err(format!(
                "{}: default RP {:?}, want {:?}",
                want.name, got.default_retention_policy, want.default_rp
            ));
        }
        let got_rps: BTreeSet<&str> =
            got.retention_policies.iter().map(|r| r.name.as_str()).collect();
        let want_rps: BTreeSet<&str> = want.rps.iter().map(|r| r.name.as_str()).collect();
        if got_rps != want_rps {
            return Err(format!("{}: RPs {got_rps:?}, want {want_rps:?}", want.name));
        }
        for wr in &want.rps {
            let gr =
                got.retention_policies.iter().find(|r| r.name == wr.name).ok_or("unreachable")?;
            let here = format!("{}.{}", want.name, wr.name);
            if (gr.duration, gr.shard_group_duration, gr.replica_n)
                != (wr.duration, wr.shard_duration, wr.replica_n)
            {
                return Err(format!(
                    "{here}: (duration, shard duration, RF) = {:?}, want {:?}",
                    (gr.duration, gr.shard_group_duration, gr.replica_n),
                    (wr.duration, wr.shard_duration, wr.replica_n)
                ));
            }
            let live: Vec<&meta::ShardGroupInfo> =
                gr.shard_groups.iter().filter(|g| g.deleted_at == 0).collect();
            let got_windows: BTreeSet<(i64, i64, usize)> =
                live.iter().map(|g| (g.start_time, g.end_time, g.shards.len())).collect();
            let want_windows: BTreeSet<(i64, i64, usize)> =
                wr.groups.iter().map(|g| (g.start, g.end, g.shards.len())).collect();
            if got_windows != want_windows || live.len() != wr.groups.len() {
                return Err(format!(
                    "{here}: shard groups (start, end, shards) {got_windows:?}, want {want_windows:?}"
                ));
            }
            for wg in &wr.groups {
                let gg = live.iter().find(|g| g.start_time == wg.start).ok_or("unreachable")?;
                for (i, ws) in wg.shards.iter().enumerate() {
                    let gs = &gg.shards[i];
                    if ws.new_id.is_some_and(|n| n != gs.id) {
                        return Err(format!(
                            "{here}: -newshard {:?} but the shard is {}",
                            ws.new_id, gs.id
                        ));
                    }
                    let want_owners = wr.replica_n.min(n_target) as usize;
                    if gs.owners.len() != want_owners {
                        return Err(format!(
                            "{here}: shard {} has {} owners, want min(rf, data nodes) = {want_owners}",
                            gs.id,
                            gs.owners.len()
                        ));
                    }
                    want_content.insert(
                        gs.id,
                        (want.name.clone(), wr.name.clone(), wg.start, wg.end, ws.content.clone()),
                    );
                }
            }
        }
    }
    // Data on every node. Shards the metastore dropped (`_internal`) leave
    // the disks shortly after: poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let held = read_nodes(target, &m)?;
        match check_copies(&m, &held, &want_content) {
            Ok(()) => break,
            Err(e) if e.starts_with("RETRY") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
    // The same points through /query, on every data node in turn.
    let https = target.data_http();
    let mut k = 0;
    for want in dbs {
        for wr in &want.rps {
            let mut want_pts = Content::new();
            for (db, rp, _, _, c) in want_content.values() {
                if *db == want.name && *rp == wr.name {
                    want_pts.extend(c.iter().map(|(a, b)| (a.clone(), b.clone())));
                }
            }
            let got = query_points(&https[k % https.len()], &want.name, &wr.name, case)?;
            k += 1;
            let d = diff(&want_pts, &got);
            if !d.is_empty() {
                return Err(format!("/query of {}.{}: {d}", want.name, wr.name));
            }
        }
    }
    Ok(())
}

fn check_copies(
    m: &meta::Data,
    held: &NodeShards,
    want: &BTreeMap<u64, (String, String, i64, i64, Content)>,
) -> Result<(), String> {
    // Shards on disks that the metastore does not give to that node.
    for (node, shards) in held {
        for (id, (db, rp, c)) in shards {
            let owner = m
                .databases
                .iter()
                .flat_map(|d| &d.retention_policies)
                .flat_map(|r| &r.shard_groups)
                .flat_map(|g| &g.shards)
                .find(|s| s.id == *id)
                .is_some_and(|s| s.owners.iter().any(|o| o.node_id == *node));
            if !owner {
                return Err(format!(
                    "RETRY: node {node} holds shard {id} ({db}.{rp}, {} values) it does not own",
                    c.len()
                ));
            }
        }
    }
    for (id, (db, rp, start, end, content)) in want {
        let owners = m
            .databases
            .iter()
            .flat_map(|d| &d.retention_policies)
            .flat_map(|r| &r.shard_groups)
            .flat_map(|g| &g.shards)
            .find(|s| s.id == *id)
            .map(|s| s.owners.iter().map(|o| o.node_id).collect::<Vec<_>>())
            .unwrap_or_default();
        for o in owners {
            let empty = Content::new();
            let got = match held.get(&o).and_then(|s| s.get(id)) {
                Some((gdb, grp, c)) => {
                    if gdb != db || grp != rp {
                        return Err(format!(
                            "shard {id} on node {o} is {gdb}.{grp}, want {db}.{rp}"
                        ));
                    }
                    c
                }
                None => &empty,
            };
            if let Some(k) = got.keys().find(|k| k.time < *start || k.time >= *end) {
                return Err(format!("shard {id} on node {o} holds {k:?} outside [{start}, {end})"));
            }
            let d = diff(content, got);
            if !d.is_empty() {
                return Err(format!("restored shard {id} ({db}.{rp}) on node {o}: {d}"));
            }
        }
    }
    Ok(())
}

/// Every point of db.rp through `/query`, typed by the case's schema.
fn query_points(addr: &str, db: &str, rp: &str, case: &Case) -> Result<Content, String> {
    let (lo, hi) = (base_time() - WEEK, base_time() + 8 * WEEK);
    let mut out = Content::new();
    for ms in &case.measurements {
        let q = format!(
            "SELECT * FROM {}.{}.{} WHERE time >= {lo} AND time <= {hi} GROUP BY *",
            ident(db),
            ident(rp),
            ident(ms.name)
        );
        let v = query(addr, db, &q)?;
        for s in v["results"][0]["series"].as_array().into_iter().flatten() {
            if s["name"].as_str() != Some(ms.name) {
                return Err(format!("{q}: a series named {}", s["name"]));
            }
            let mut tags: Vec<(String, String)> = s["tags"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| {
                            let v = v.as_str().unwrap_or_default();
                            (!v.is_empty()).then(|| (k.clone(), v.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            let cols: Vec<&str> =
                s["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
            for row in s["values"].as_array().into_iter().flatten() {
                let row = row.as_array().ok_or("a row that is not an array")?;
                let time = row[0].as_i64().ok_or("a time that is not an integer")?;
                for (c, v) in cols.iter().zip(row).skip(1) {
                    if v.is_null() {
                        continue;
                    }
                    let ft = ms.fields.iter().find(|f| f.0 == *c).map(|f| f.1);
                    let val = match ft {
                        Some(FieldType::Float) => v.as_f64().map(Val::F),
                        Some(FieldType::Integer) => v.as_i64().map(Val::I),
                        Some(FieldType::Unsigned) => v.as_u64().map(Val::U),
                        Some(FieldType::Boolean) => v.as_bool().map(Val::B),
                        Some(FieldType::String) => v.as_str().map(|s| Val::S(s.to_string())),
                        None => None,
                    }
                    .unwrap_or_else(|| Val::S(format!("unexpected JSON {v}")));
                    out.insert(
                        PKey {
                            m: ms.name.to_string(),
                            tags: tags.clone(),
                            field: c.to_string(),
                            time,
                        },
                        val,
                    );
                }
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------

fn config() -> Config {
    let cases =
        std::env::var("RESTORE_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96);
    Config {
        cases,
        max_shrink_iters: 200,
        max_shrink_time: 30 * 60 * 1000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..Config::default()
    }
}

fn require_binaries() {
    for name in ["meta-node", "data-node", "ctl"] {
        if let Err(e) = testkit::process::find_binary(name) {
            panic!("{e:#}\nbuild them first: cargo build -p meta-node -p data-node -p ctl");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn restore_holds_what_the_backups_promised(case in case()) {
        require_binaries();
        let t0 = Instant::now();
        match run_case(&case) {
            Ok(summary) => {
                eprintln!("restore_props: case passed in {:.1}s: {summary}", t0.elapsed().as_secs_f64());
            }
            Err(e) => {
                eprintln!("restore_props: case FAILED in {:.1}s", t0.elapsed().as_secs_f64());
                return Err(TestCaseError::fail(e));
            }
        }
    }
}

// The model's own pieces, against known answers.

#[test]
fn model_fnv64a_matches_go() {
    // hash/fnv New64a of "" and "a".
    assert_eq!(fnv64a(b""), 0xcbf29ce484222325);
    assert_eq!(fnv64a(b"a"), 0xaf63dc4c8601ec8c);
}

#[test]
fn model_series_keys_escape_and_sort_tags_by_escaped_bytes() {
    let tags = vec![
        ("t,k".to_string(), "a=b".to_string()),
        ("host".to_string(), "h".to_string()),
        ("t k".to_string(), "v,1".to_string()),
    ];
    // `t\ k` sorts before `t\,k` (space < comma), and `\=` is kept in values.
    assert_eq!(series_key("m 1,x", &tags), "m\\ 1\\,x,host=h,t\\ k=v\\,1,t\\,k=a\\=b");
    assert_eq!(series_key("q\"m", &[]), "q\"m");
}

#[test]
fn model_incremental_directory_restore_takes_the_latest_entry_per_shard() {
    let entry = |lm: usize, v: i64| Entry {
        db: "db".into(),
        last_modified: lm,
        content: [(PKey { m: "m".into(), tags: vec![], field: "f".into(), time: 0 }, Val::I(v))]
            .into_iter()
            .collect(),
    };
    let recs = [
        BTreeMap::from([(1u64, entry(3, 1)), (2, entry(5, 2))]),
        BTreeMap::from([(1u64, entry(3, 10))]),
        BTreeMap::from([(2u64, entry(4, 20))]),
    ];
    let chosen = latest_entries(recs.iter());
    let v = |id: u64| chosen[&id].content.values().next().cloned();
    assert_eq!(v(1), Some(Val::I(10)), "tie: the newest backup");
    assert_eq!(v(2), Some(Val::I(2)), "the greatest last-modified, though older");
}
