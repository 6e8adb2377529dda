//! The crate's error type.
//!
//! Every error that comes from reading a file names the file (`file`) and
//! says what is wrong with it. Low-level decoders (a single TSM block, an
//! encoded value stream) do not know which file they read, so they return a
//! [`Corruption`] that the file readers wrap into [`Error::Corrupt`].

use std::io;

/// The crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from one of this crate's readers or writers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error while reading or writing `file`.
    #[error("{file}: I/O error: {source}")]
    Io {
        /// The file (or stream) being read or written.
        file: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `file` is not a valid file of the expected format.
    #[error("{file}: {problem}")]
    Corrupt {
        /// The file that is corrupt.
        file: String,
        /// What is wrong with it.
        problem: Corruption,
    },
    /// A single block or encoded value stream (not tied to a file) is corrupt.
    #[error("corrupt block: {0}")]
    Block(Corruption),
    /// A line of a text file (export file, tombstone) could not be parsed.
    #[error("{file}: line {line}: {problem}")]
    Parse {
        /// The file being parsed.
        file: String,
        /// The 1-based line number.
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// A manifest names a file that does not exist in the backup directory.
    #[error("{manifest}: names missing file {missing}")]
    MissingFile {
        /// The manifest.
        manifest: String,
        /// The file it names.
        missing: String,
    },
    /// A backup directory holds no `*.manifest` file.
    #[error("No manifest files found in: {dir}")]
    NoManifest {
        /// The directory searched.
        dir: String,
    },
    /// The caller passed something that cannot be written (NaN, unsorted keys, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl Error {
    /// Builds an [`Error::Io`] for `file`.
    pub fn io(file: impl Into<String>, source: io::Error) -> Error {
        Error::Io { file: file.into(), source }
    }

    /// Builds an [`Error::Corrupt`] for `file`.
    pub fn corrupt(file: impl Into<String>, problem: Corruption) -> Error {
        Error::Corrupt { file: file.into(), problem }
    }

    /// Builds an [`Error::InvalidInput`].
    pub fn invalid_input(msg: impl Into<String>) -> Error {
        Error::InvalidInput(msg.into())
    }

    /// Attaches a file name to a file-less error ([`Error::Block`] becomes
    /// [`Error::Corrupt`]); other errors are returned unchanged.
    pub fn in_file(self, file: &str) -> Error {
        match self {
            Error::Block(problem) => Error::Corrupt { file: file.to_string(), problem },
            other => other,
        }
    }
}

impl From<Corruption> for Error {
    fn from(c: Corruption) -> Error {
        Error::Block(c)
    }
}

/// What is wrong with a corrupt file or block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// The file does not start with the expected magic number.
    #[error("wrong magic number {found:#x}, expected {expected:#x}")]
    BadMagic {
        /// The magic found.
        found: u64,
        /// The magic expected.
        expected: u64,
    },
    /// The file's format version is not supported.
    #[error("unsupported version {found}, expected {expected}")]
    BadVersion {
        /// The version found.
        found: u64,
        /// The version expected.
        expected: u64,
    },
    /// The data ends before `what` is complete.
    #[error("truncated: {what}")]
    Truncated {
        /// What was being read.
        what: String,
    },
    /// An offset or length points outside the data.
    #[error("{what} out of bounds")]
    OutOfBounds {
        /// What points where.
        what: String,
    },
    /// A block's stored CRC32 does not match its contents.
    #[error(
        "CRC mismatch in block at offset {offset} of key {key:?}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    Crc {
        /// The composite key the block belongs to.
        key: String,
        /// The block's file offset.
        offset: u64,
        /// The stored checksum.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// A count or length is larger than this reader accepts.
    #[error("{what}: {value} exceeds the limit {limit}")]
    TooLarge {
        /// What is counted.
        what: &'static str,
        /// The count found.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// Anything else that is malformed.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What is invalid.
        what: &'static str,
        /// Details.
        detail: String,
    },
}

impl Corruption {
    /// A [`Corruption::Truncated`].
    pub fn truncated(what: impl Into<String>) -> Corruption {
        Corruption::Truncated { what: what.into() }
    }

    /// A [`Corruption::OutOfBounds`].
    pub fn out_of_bounds(what: impl Into<String>) -> Corruption {
        Corruption::OutOfBounds { what: what.into() }
    }

    /// A [`Corruption::Invalid`].
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> Corruption {
        Corruption::Invalid { what, detail: detail.into() }
    }
}
