//! Errors of the storage layer.

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
    #[error("the database is unreachable: {0}")]
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
