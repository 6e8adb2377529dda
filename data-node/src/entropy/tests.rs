//! Unit tests of the pure parts: the check's decisions, the union merge,
//! the queue.

use std::collections::HashMap;
use std::time::Duration;

use portable::tsm::Values;

use super::check::{ShardFacts, classify};
use super::*;

const SEC: i64 = 1_000_000_000;

fn facts<'a>(
    owners: &'a [u64],
    local: Option<i64>,
    peers: &'a HashMap<u64, HashMap<u64, i64>>,
) -> ShardFacts<'a> {
    ShardFacts {
        shard: 7,
        me: 2,
        owners,
        local,
        peers,
        last_compared: None,
        now: 1000 * SEC,
        cold: Duration::from_secs(10),
    }
}

#[test]
fn hot_means_written_within_the_cold_duration() {
    let cold = Duration::from_secs(10);
    assert!(is_hot(995 * SEC, 1000 * SEC, cold));
    assert!(!is_hot(990 * SEC, 1000 * SEC, cold));
    assert!(!is_hot(0, 1000 * SEC, cold), "never written is cold");
}

#[test]
fn next_owner_wraps_and_needs_another_owner() {
    assert_eq!(next_owner(&[1, 2, 3], 2), Some(3));
    assert_eq!(next_owner(&[1, 2, 3], 3), Some(1));
    assert_eq!(next_owner(&[2], 2), None);
    assert_eq!(next_owner(&[1, 3], 2), None);
}

#[test]
fn a_shard_missing_here_is_copied_from_an_owner_that_has_it() {
    let owners = [1, 2, 3];
    let mut peers = HashMap::new();
    peers.insert(1, HashMap::from([(7, 5 * SEC)]));
    peers.insert(3, HashMap::new());
    assert_eq!(classify(&facts(&owners, None, &peers)), ShardVerdict::Missing { sources: vec![1] });
    // Nobody has it (a new shard not written yet, or RF 1): nothing to copy.
    peers.get_mut(&1).unwrap().clear();
    assert_eq!(classify(&facts(&owners, None, &peers)), ShardVerdict::Absent);
}

#[test]
fn hot_shards_are_skipped_here_or_on_the_peer() {
    let owners = [1, 2];
    let mut peers = HashMap::new();
    peers.insert(1, HashMap::from([(7, 10 * SEC)]));
    assert_eq!(classify(&facts(&owners, Some(999 * SEC), &peers)), ShardVerdict::Hot);
    peers.insert(1, HashMap::from([(7, 999 * SEC)]));
    assert_eq!(classify(&facts(&owners, Some(10 * SEC), &peers)), ShardVerdict::Hot);
}

#[test]
fn digests_are_compared_only_when_a_last_modified_time_changed() {
    let owners = [1, 2];
    let peers = HashMap::from([(1, HashMap::from([(7, 20 * SEC)]))]);
    let f = facts(&owners, Some(10 * SEC), &peers);
    assert_eq!(
        classify(&f),
        ShardVerdict::Compare { peer: 1, last_modified: (10 * SEC, 20 * SEC) }
    );
    let same = ShardFacts { last_compared: Some((10 * SEC, 20 * SEC)), ..f.clone() };
    assert_eq!(classify(&same), ShardVerdict::Unchanged);
    let changed = ShardFacts { last_compared: Some((10 * SEC, 15 * SEC)), ..f };
    assert!(matches!(classify(&changed), ShardVerdict::Compare { .. }));
    // An unreachable peer, or one lacking the shard: nothing to compare.
    let none = HashMap::new();
    assert_eq!(classify(&facts(&owners, Some(10 * SEC), &none)), ShardVerdict::Unchanged);
}

fn col(points: &[(i64, f64)]) -> Column {
    (points.iter().map(|p| p.0).collect(), Values::Float(points.iter().map(|p| p.1).collect()))
}

#[test]
fn the_union_fills_every_owner_and_the_first_owner_wins_conflicts() {
    let a = col(&[(1, 1.0), (2, 2.0), (4, 4.0)]);
    let b = col(&[(2, 20.0), (3, 3.0)]);
    let c = col(&[]);
    let plan = plan_union(&[a, b, c]).unwrap();
    assert_eq!(plan[0], col(&[(3, 3.0)]));
    assert_eq!(plan[1], col(&[(1, 1.0), (2, 2.0), (4, 4.0)]));
    assert_eq!(plan[2], col(&[(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]));
}

#[test]
fn equal_owners_need_no_patch_and_types_must_agree() {
    let a = col(&[(1, 1.0), (2, f64::NAN)]);
    let plan = plan_union(&[a.clone(), a]).unwrap();
    assert!(plan.iter().all(|p| p.0.is_empty()));
    let ints: Column = (vec![1], Values::Integer(vec![1]));
    assert!(plan_union(&[col(&[(1, 1.0)]), ints]).is_none());
    // Nobody has the key: nothing to do.
    assert!(plan_union(&[col(&[]), col(&[])]).unwrap().iter().all(|p| p.0.is_empty()));
}

#[test]
fn the_queue_keeps_one_job_per_shard_and_running_jobs_cannot_be_killed() {
    let svc = Service {
        config: crate::config::AntiEntropySection { enabled: true, ..Default::default() },
        cold: Duration::from_secs(1),
        state: Default::default(),
        wake: Default::default(),
        copies: Default::default(),
    };
    assert!(svc.enqueue(3, JobKind::Repair));
    assert!(!svc.enqueue(3, JobKind::Repair), "idempotent");
    assert!(svc.enqueue(5, JobKind::Copy));
    assert_eq!(svc.state_of(5), ShardState::RestorePending);
    assert_eq!(svc.state_of(3), ShardState::Repairing);
    assert_eq!(svc.snapshot().1, vec![3, 5]);
    assert_eq!(svc.start_next(), Some((3, JobKind::Repair)));
    assert_eq!(svc.kill(3), KillOutcome::Running);
    assert_eq!(svc.kill(5), KillOutcome::Removed);
    assert_eq!(svc.kill(5), KillOutcome::NotQueued);
    svc.finish(3, Err("boom".into()));
    assert_eq!(svc.state_of(3), ShardState::ErrorProcessing);
    svc.record_comparison(3, (1, 2), true);
    assert_eq!(svc.snapshot().0, vec![3]);
    svc.resolved(3);
    assert_eq!(svc.state_of(3), ShardState::Healthy);
    assert!(svc.snapshot().0.is_empty());
}
