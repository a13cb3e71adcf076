//! What a platform gives a pull run: pages of rows read from its result, the outcome of turning
//! one row into events, and the errors of a pull. Shared by the Snowflake and Databricks readers
//! and the pull service, so that none of them depends on another.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::QueryEvent;
use crate::error::LogError;

/// Errors of pull integrations.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The input is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// No integration with this id.
    #[error("no query-audit integration with id {0}")]
    NotFound(String),
    /// The stored configuration cannot be used (a key that does not parse, …).
    #[error("{0}")]
    Config(String),
    /// The source answered with an error or could not be reached (the text carries no secret).
    #[error("{0}")]
    Source(String),
    /// Storage failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A blocking task failed.
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl crate::Classify for PullError {
    fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            PullError::Invalid(_) | PullError::Config(_) => ErrorKind::Invalid,
            PullError::NotFound(_) => ErrorKind::NotFound,
            PullError::Source(_) => ErrorKind::Upstream,
            PullError::Log(error) => crate::Classify::kind(error),
            PullError::Task(_) => ErrorKind::Internal,
        }
    }
}

impl From<crate::export::ExportError> for PullError {
    fn from(error: crate::export::ExportError) -> Self {
        PullError::Config(error.to_string())
    }
}

/// A transport error without its URL's query string.
pub fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    match error.url() {
        Some(url) => format!(
            "{kind} ({}://{}{})",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port()
                .map(|port| format!(":{port}"))
                .unwrap_or_default()
        ),
        None => kind.to_owned(),
    }
}

/// One page of a result: its rows, with the columns they are in.
pub struct Page {
    columns: HashMap<String, usize>,
    rows: Vec<Vec<Value>>,
}

impl Page {
    /// A page of `rows`, in the order of `columns` (names compare in any case).
    pub fn new(columns: &[String], rows: Vec<Vec<Value>>) -> Page {
        Page {
            columns: columns
                .iter()
                .enumerate()
                .map(|(index, name)| (name.to_ascii_lowercase(), index))
                .collect(),
            rows,
        }
    }

    /// The rows.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the page has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One row, read by column name. The SQL APIs send every value as a string or null.
pub struct Row<'a> {
    columns: &'a HashMap<String, usize>,
    values: &'a [Value],
}

impl Row<'_> {
    /// The value of `column`, `null` when absent.
    pub fn get(&self, column: &str) -> &Value {
        self.columns
            .get(&column.to_ascii_lowercase())
            .and_then(|index| self.values.get(*index))
            .unwrap_or(&Value::Null)
    }

    /// The value as text; `None` for null or empty.
    pub fn text(&self, column: &str) -> Option<String> {
        match self.get(column) {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    /// The value as a number.
    pub fn number(&self, column: &str) -> Option<f64> {
        match self.get(column) {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as an integer.
    pub fn integer(&self, column: &str) -> Option<i64> {
        self.number(column).map(|number| number as i64)
    }
}

/// What a row became.
pub enum RowOutcome {
    /// Events to store.
    Events {
        /// The events.
        events: Vec<QueryEvent>,
        /// When the query ended (moves the watermark).
        end_time: DateTime<Utc>,
    },
    /// Nothing to audit: an unregistered user or no registered table (Snowflake).
    Skipped {
        /// When the query ended.
        end_time: DateTime<Utc>,
    },
    /// Held back until its lineage has had time to arrive (Databricks).
    Deferred,
    /// The row cannot be read; the text says why.
    Malformed(String),
}

/// A result read page by page.
#[async_trait::async_trait]
pub trait PageSource: Send {
    /// The next page; `None` after the last one.
    async fn next_page(&mut self) -> Result<Option<Page>, PullError>;
}
