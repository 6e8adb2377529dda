//! The store's error type.

use portable::FieldType;

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the shard store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database (sled) failed: I/O error, or its own corruption.
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),
    /// A point's field has another type than the one already stored for
    /// that field of the measurement in this shard. The text is InfluxDB's.
    #[error(
        "field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {new}, already exists as type {existing}"
    )]
    FieldTypeConflict {
        /// The measurement (unescaped).
        measurement: String,
        /// The field.
        field: String,
        /// The type of the rejected value.
        new: FieldType,
        /// The type already stored.
        existing: FieldType,
    },
    /// A point that cannot be stored (NUL byte in a key, NaN, key too long...).
    #[error("invalid point: {0}")]
    InvalidPoint(String),
    /// A value read back from disk is malformed.
    #[error("shard {shard}: corrupt {what} at key {key:?}: {detail}")]
    Corrupt {
        /// The shard id.
        shard: u64,
        /// The stored key (lossy UTF-8; a composite key for blocks).
        key: String,
        /// What was being read (block, WAL entry, key info...).
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A shard with this id exists already, for another database / RP.
    #[error("shard {id} already exists (database {database:?}, retention policy {policy:?})")]
    ShardExists {
        /// The shard id.
        id: u64,
        /// Its database.
        database: String,
        /// Its retention policy.
        policy: String,
    },
    /// The shard was deleted while a handle to it was still in use.
    #[error("shard {0} has been deleted")]
    ShardDeleted(u64),
    /// A TSM file could not be read or written.
    #[error("TSM: {0}")]
    Tsm(#[from] portable::Error),
    /// An I/O error outside sled (e.g. from an export sink).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A caller passed something unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl StoreError {
    pub(crate) fn corrupt(
        shard: u64,
        key: &[u8],
        what: &'static str,
        detail: impl Into<String>,
    ) -> StoreError {
        StoreError::Corrupt {
            shard,
            key: String::from_utf8_lossy(key).into_owned(),
            what,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_text_is_influxdb_text() {
        let e = StoreError::FieldTypeConflict {
            measurement: "cpu".into(),
            field: "value".into(),
            new: FieldType::Integer,
            existing: FieldType::Float,
        };
        assert_eq!(
            e.to_string(),
            "field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float"
        );
    }

    #[test]
    fn corrupt_names_shard_and_key() {
        let e = StoreError::corrupt(7, b"cpu#!~#v", "block", "bad crc");
        assert_eq!(e.to_string(), "shard 7: corrupt block at key \"cpu#!~#v\": bad crc");
    }
}
