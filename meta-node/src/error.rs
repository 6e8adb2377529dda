//! Errors of the meta node. The texts of the metastore errors are InfluxDB's
//! (`services/meta/errors.go`), because users see them unchanged.

/// A metastore or meta-node error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    #[error("database already exists")]
    DatabaseExists,
    #[error("database not found")]
    DatabaseNotFound,
    #[error("database name required")]
    DatabaseNameRequired,
    #[error("retention policy already exists")]
    RetentionPolicyExists,
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    #[error("retention policy name required")]
    RetentionPolicyNameRequired,
    #[error("retention policy name already exists")]
    RetentionPolicyNameExists,
    #[error("retention policy duration must be at least 1h0m0s")]
    RetentionPolicyDurationTooLow,
    #[error("retention policy conflicts with an existing policy")]
    RetentionPolicyConflict,
    #[error("retention policy duration must be greater than the shard duration")]
    IncompatibleDurations,
    #[error("replication factor must be greater than 0")]
    ReplicationFactorTooLow,
    #[error("shard group not found")]
    ShardGroupNotFound,
    #[error("shard not found")]
    ShardNotFound,
    #[error("no data nodes available")]
    NoDataNodes,
    #[error("node not found")]
    NodeNotFound,
    #[error("user already exists")]
    UserExists,
    #[error("user not found")]
    UserNotFound,
    #[error("username required")]
    UsernameRequired,
    #[error("role already exists")]
    RoleExists,
    #[error("role not found")]
    RoleNotFound,
    #[error("continuous query already exists")]
    ContinuousQueryExists,
    #[error("continuous query not found")]
    ContinuousQueryNotFound,
    #[error("subscription already exists")]
    SubscriptionExists,
    #[error("subscription not found")]
    SubscriptionNotFound,
    /// A restore into a cluster that already has the database.
    #[error("problem setting snapshot: database already exists")]
    RestoreDatabaseExists,
    /// A complete restore into a cluster that holds databases.
    #[error("cannot restore into non-empty cluster")]
    RestoreNonEmpty,
    /// Anything else a restore import rejects, with InfluxDB-style text.
    #[error("{0}")]
    Import(String),
    #[error("invalid command: {0}")]
    InvalidCommand(String),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// An error text received from another node.
    #[error("{0}")]
    Remote(String),
    /// No leader is known or reachable.
    #[error("no leader")]
    NoLeader,
    /// The leader cannot take this now (a membership change in progress, or
    /// no entry committed in its term yet); retry shortly.
    #[error("busy: {0}")]
    Busy(String),
    #[error("{0}")]
    Storage(String),
}
