//! Statement errors, with the texts InfluxDB puts in a result's `error`.

/// Why a statement failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No database given (`db` parameter or `ON`/`FROM` qualifier).
    #[error("database name required")]
    DatabaseNameRequired,
    /// The database does not exist.
    #[error("database not found: {0}")]
    DatabaseNotFound(String),
    /// The retention policy does not exist.
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    /// The database has no default retention policy.
    #[error("default retention policy not set for: {0}")]
    NoDefaultRetentionPolicy(String),
    /// A name InfluxDB rejects (`meta.ValidName`).
    #[error("invalid name")]
    InvalidName,
    /// The user does not exist.
    #[error("user not found")]
    UserNotFound,
    /// A statement this testbed does not execute.
    #[error("{0}")]
    Unsupported(String),
    /// An invalid query (InfluxDB's compile and validation errors).
    #[error("{0}")]
    Invalid(String),
    /// The metastore rejected a command (its text, unchanged).
    #[error("{0}")]
    Meta(String),
    /// Reading from or writing to shards failed.
    #[error("{0}")]
    Shard(String),
}

impl QueryError {
    /// An [`QueryError::Invalid`] from anything printable.
    pub fn invalid(msg: impl Into<String>) -> QueryError {
        QueryError::Invalid(msg.into())
    }
}

/// Result alias of the query engine.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;
