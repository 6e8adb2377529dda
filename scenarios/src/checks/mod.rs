//! Invariant checks, one file each (openraft `tests-turmoil/src/invariants`).
//!
//! | check | property | source |
//! |---|---|---|
//! | [`lost_writes`] | every acknowledged point is readable, once | a client oracle, as in openraft's turmoil tests; consistency levels (enterprise-behaviour.md A.7) |
//! | [`counts`] | per-measurement point counts equal an expectation (e.g. the fixture's `expected-counts.json`) | B#21 "data missing after restore" |
//! | [`placement`] | every shard group has shards; every shard has min(RF, data nodes) owners, all of them data nodes | A.6, B#13, B#14, B#23 |

pub mod counts;
pub mod lost_writes;
pub mod placement;
