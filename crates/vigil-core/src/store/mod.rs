//! The storage seam: where the state of record lives. The embedded default is SQLite in the data
//! directory; a cluster of vigil nodes shares one PostgreSQL database instead. Both are reached
//! through the portable [`Sql`] interface (one SQL text with `?N` placeholders, four value
//! kinds), so the stores of keys, configurations and checkpoints are written once; the log's
//! append path, which differs in how it serializes writers, is written per backend.

use std::fmt;

pub mod postgres;
mod postgres_schema;

/// Where the state of record is kept.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL database (`postgres://` or `postgresql://`), shared by every node.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `--database-url`; the error says what is wrong without repeating a password.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (config, _) = postgres::parse(url)?;
            if config.get_hosts().is_empty() {
                return Err("the database URL names no host".into());
            }
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else {
            Err(format!(
                "the database URL must start with postgres:// or postgresql:// (got `{}`)",
                redact(url)
            ))
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The URL with its password masked: safe to log and to print.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// `scheme://user:secret@host/…` with the secret (and any `password=` parameter) masked.
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |end| rest_start + end);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let user_info = &out[rest_start..rest_start + at];
            if let Some(colon) = user_info.find(':') {
                let from = rest_start + colon + 1;
                out.replace_range(from..rest_start + at, "****");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=****"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

/// A value as both backends store it: the four kinds the state of record uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (booleans are stored as 0 and 1).
    Integer(i64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Integer(value)
    }
}

impl From<u64> for Value {
    fn from(value: u64) -> Value {
        Value::Integer(value as i64)
    }
}

impl From<usize> for Value {
    fn from(value: usize) -> Value {
        Value::Integer(value as i64)
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Value {
        Value::Integer(i64::from(value))
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Integer(i64::from(value))
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Value {
        Value::Text(value.clone())
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Text(value)
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Value {
        Value::Blob(value)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// The parameters of a portable statement: `values![id, name, count]`.
macro_rules! values {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::Value::from($value)),*]
    };
}
pub(crate) use values;

/// One row of a portable query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `index` as an integer.
    pub fn integer(&self, index: usize) -> Result<i64, StoreError> {
        match self.0.get(index) {
            Some(Value::Integer(value)) => Ok(*value),
            other => Err(StoreError::column(index, "an integer", other)),
        }
    }

    /// Column `index` as text.
    pub fn text(&self, index: usize) -> Result<&str, StoreError> {
        match self.0.get(index) {
            Some(Value::Text(value)) => Ok(value),
            other => Err(StoreError::column(index, "text", other)),
        }
    }

    /// Column `index` as text, or `None` for NULL.
    pub fn optional_text(&self, index: usize) -> Result<Option<&str>, StoreError> {
        match self.0.get(index) {
            Some(Value::Null) => Ok(None),
            _ => self.text(index).map(Some),
        }
    }

    /// Column `index` as an integer, or `None` for NULL.
    pub fn optional_integer(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.0.get(index) {
            Some(Value::Null) => Ok(None),
            _ => self.integer(index).map(Some),
        }
    }

    /// Column `index` as owned text, or `None` for NULL.
    pub fn optional_string(&self, index: usize) -> Result<Option<String>, StoreError> {
        Ok(self.optional_text(index)?.map(str::to_owned))
    }

    /// Column `index` as owned text.
    pub fn string(&self, index: usize) -> Result<String, StoreError> {
        Ok(self.text(index)?.to_owned())
    }

    /// Column `index` as bytes (text is taken as its UTF-8 bytes).
    pub fn bytes(&self, index: usize) -> Result<&[u8], StoreError> {
        match self.0.get(index) {
            Some(Value::Blob(value)) => Ok(value),
            Some(Value::Text(value)) => Ok(value.as_bytes()),
            other => Err(StoreError::column(index, "bytes", other)),
        }
    }
}

/// An error of the storage seam, whichever backend raised it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL answered with an error (a constraint, a syntax error, …).
    #[error("database error: {0}")]
    Postgres(String),
    /// PostgreSQL cannot be reached (refused, timed out, connection lost).
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
    /// A write run beside an append refused to go on (what it was to change is gone or taken);
    /// the append is then not stored either.
    #[error("{0}")]
    Refused(String),
    /// A stored value cannot be read as what it should be.
    #[error("database error: {0}")]
    Unreadable(String),
    /// A column did not hold what the code expected.
    #[error("database error: column {index} holds {found}, not {expected}")]
    Column {
        /// The column's position.
        index: usize,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

impl StoreError {
    fn column(index: usize, expected: &'static str, found: Option<&Value>) -> StoreError {
        StoreError::Column {
            index,
            expected,
            found: match found {
                None => "nothing".into(),
                Some(Value::Null) => "NULL".into(),
                Some(Value::Integer(_)) => "an integer".into(),
                Some(Value::Text(_)) => "text".into(),
                Some(Value::Blob(_)) => "bytes".into(),
            },
        }
    }
}

/// Portable SQL: the same statement text runs on SQLite and on PostgreSQL. Write placeholders
/// as `?1`, `?2` …, upserts as `INSERT … ON CONFLICT (…) DO UPDATE/NOTHING`, and use only the
/// column types INTEGER/BIGINT, TEXT and BLOB/BYTEA.
pub trait Sql {
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;
    /// The first row of a query, if any.
    fn query_optional(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Portable statements on a SQLite connection held by shared reference (a savepoint, a pooled
/// reader).
pub struct Lite<'a>(pub &'a rusqlite::Connection);

impl Sql for rusqlite::Connection {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        Lite(self).execute(sql, params)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        Lite(self).query(sql, params)
    }
}

impl Sql for Lite<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut statement = self.0.prepare_cached(sql)?;
        Ok(statement.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut statement = self.0.prepare_cached(sql)?;
        let columns = statement.column_count();
        let rows = statement.query_map(
            rusqlite::params_from_iter(params.iter().map(sqlite_value)),
            |row| {
                (0..columns)
                    .map(|index| {
                        Ok(match row.get_ref(index)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(value) => Value::Integer(value),
                            rusqlite::types::ValueRef::Real(value) => Value::Integer(value as i64),
                            rusqlite::types::ValueRef::Text(text) => {
                                Value::Text(String::from_utf8_lossy(text).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()
                    .map(Row)
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<Row>>>()?)
    }
}

fn sqlite_value(value: &Value) -> rusqlite::types::ToSqlOutput<'_> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    ToSqlOutput::Borrowed(match value {
        Value::Null => ValueRef::Null,
        Value::Integer(value) => ValueRef::Integer(*value),
        Value::Text(text) => ValueRef::Text(text.as_bytes()),
        Value::Blob(bytes) => ValueRef::Blob(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_a_printed_url() {
        assert_eq!(
            redact("postgres://vigil:s3cr%40t@db.example:5432/vigil?sslmode=require"),
            "postgres://vigil:****@db.example:5432/vigil?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://db/vigil?user=vigil&password=hunter2"),
            "postgresql://db/vigil?user=vigil&password=****"
        );
        assert_eq!(
            redact("postgres://vigil@db/vigil"),
            "postgres://vigil@db/vigil"
        );
        let error = DatabaseUrl::parse("mysql://root:pw@db/x").unwrap_err();
        assert!(error.contains("mysql://root:****@db/x"), "{error}");
    }

    #[test]
    fn the_same_statement_runs_on_sqlite() {
        let mut connection = rusqlite::Connection::open_in_memory().unwrap();
        Sql::execute(
            &mut connection,
            "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, b BLOB)",
            &[],
        )
        .unwrap();
        let upsert = "INSERT INTO t (id, n, b) VALUES (?1, ?2, ?3)
                      ON CONFLICT (id) DO UPDATE SET n = excluded.n";
        Sql::execute(
            &mut connection,
            upsert,
            &["a".into(), 1.into(), vec![1u8, 2].into()],
        )
        .unwrap();
        Sql::execute(
            &mut connection,
            upsert,
            &["a".into(), 2.into(), Value::Null],
        )
        .unwrap();
        let row = connection
            .query_optional("SELECT id, n, b FROM t WHERE id = ?1", &["a".into()])
            .unwrap()
            .unwrap();
        assert_eq!(row.text(0).unwrap(), "a");
        assert_eq!(row.integer(1).unwrap(), 2);
        assert_eq!(row.bytes(2).unwrap(), &[1, 2]);
        assert!(row.integer(0).is_err());
    }
}
