//! Errors of the storage layer, and the one classification every core error gives of itself
//! (`ErrorKind`, through `Classify`): the server turns a kind into an HTTP status and a GraphQL
//! code in one place, and core knows nothing of either.

/// What kind of failure an error is, for whoever answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// What was asked is wrong (a field, a name, a range); the message says what and where.
    Invalid,
    /// What was asked for does not exist.
    NotFound,
    /// What was asked conflicts with what is stored (a name taken, a name several things have).
    Conflict,
    /// Asked again too soon; the message says when to retry.
    RateLimited,
    /// Cannot be done now (a database unreachable, a view rebuilding, an integrity alarm);
    /// nothing was changed, and a retry may succeed.
    Unavailable,
    /// A system vigil calls on the caller's behalf (an export destination, a platform) failed.
    Upstream,
    /// The disk is full; nothing of the request was stored.
    StorageFull,
    /// It ran past its time and was cancelled.
    Timeout,
    /// A storage failure or a bug: the details are for the log, not for the caller.
    Internal,
}

impl ErrorKind {
    /// The code for machines of an error of this kind, unless the error names a finer one.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Upstream => "upstream_error",
            ErrorKind::StorageFull => "storage_full",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error that says what kind of failure it is. Its `Display` is the message for the caller
/// (never holding a secret); an `Internal` one's is logged, not sent.
pub trait Classify: std::error::Error + Send + Sync + 'static {
    /// The kind of failure.
    fn kind(&self) -> ErrorKind;
    /// A code for machines, stable across releases (`unknown_report`); by default the kind's.
    fn code(&self) -> &'static str {
        self.kind().code()
    }
    /// Structured details a client can act on, as a field of the error body
    /// (`("suggestions", [...])`).
    fn details(&self) -> Option<(&'static str, serde_json::Value)> {
        None
    }
}

/// An error of the event log or of a store that shares its database.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// An append failed; nothing of it was stored.
    #[error("append failed, nothing was stored: {0}")]
    Append(String),
    /// The writer thread is gone (the log was shut down).
    #[error("the event log is shut down")]
    Closed,
    /// The disk is full: nothing of the request was stored.
    #[error("{0}")]
    StorageFull(String),
    /// The log's head went back below what was committed: appends are refused.
    #[error("{0}")]
    IntegrityAlarm(String),
    /// The shared database cannot be reached: nothing of the request was stored; try again.
    #[error("the database is unreachable: {0}; nothing was stored, try again")]
    Unavailable(String),
    /// The shared database refused a statement.
    #[error("{0}")]
    Backend(String),
    /// The database was written by an unknown, newer vigil.
    #[error("the database schema version {found} is newer than this vigil supports ({supported})")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Newest supported.
        supported: i64,
    },
}

impl From<crate::store::StoreError> for LogError {
    fn from(error: crate::store::StoreError) -> LogError {
        use crate::store::StoreError;
        match error {
            StoreError::Sqlite(error) => LogError::Database(error),
            StoreError::Unreachable(cause) => LogError::Unavailable(cause),
            other => LogError::Backend(other.to_string()),
        }
    }
}

impl Classify for LogError {
    fn kind(&self) -> ErrorKind {
        match self {
            LogError::IntegrityAlarm(_) | LogError::Unavailable(_) => ErrorKind::Unavailable,
            LogError::StorageFull(_) => ErrorKind::StorageFull,
            _ => ErrorKind::Internal,
        }
    }
}
