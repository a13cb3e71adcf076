//! Ingest: splits a request body into events, normalizes each one, appends the valid ones to the
//! log and reports per item what happened.

use vigil_model::{ModelError, NormalizedEvent, Timestamp, normalize};

use crate::error::LogError;
use crate::log::{AppendResult, EventLog, LogEntry, Seq, Submitter};

/// How a body holds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// One JSON object, or a JSON array of them.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// The most events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 100_000;

/// One item of a body: its JSON text, or why it could not be read.
pub type RawItem<'a> = Result<&'a str, ModelError>;

/// Splits a body into items. A body that is not valid JSON at all (for the JSON format) is an
/// error for the whole request, with its line and column.
pub fn split_body(body: &str, format: BodyFormat) -> Result<Vec<RawItem<'_>>, ModelError> {
    match format {
        BodyFormat::Json => {
            let trimmed = body.trim_start();
            if trimmed.starts_with('[') {
                let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(body)
                    .map_err(|error| ModelError::from_json_in(&error, body))?;
                Ok(items.into_iter().map(|raw| Ok(raw.get())).collect())
            } else {
                let item: &serde_json::value::RawValue = serde_json::from_str(body)
                    .map_err(|error| ModelError::from_json_in(&error, body))?;
                Ok(vec![Ok(item.get())])
            }
        }
        BodyFormat::Ndjson => Ok(body
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(number, line)| {
                serde_json::from_str::<&serde_json::value::RawValue>(line)
                    .map(|raw| raw.get())
                    .map_err(|error| match ModelError::from_json_in(&error, line) {
                        ModelError::Syntax {
                            column, message, ..
                        } => ModelError::Syntax {
                            line: number + 1,
                            column,
                            message,
                        },
                        other => other,
                    })
            })
            .collect()),
    }
}

/// An item ready for the log, or why it is not.
pub type PreparedItem = Result<LogEntry, ModelError>;

/// Validates, normalizes and hashes every item, each recorded as sent by `submitter`. CPU-bound:
/// run it off the async workers.
pub fn prepare(
    items: Vec<RawItem<'_>>,
    arrival: Timestamp,
    submitter: &Submitter,
) -> Vec<PreparedItem> {
    items
        .into_iter()
        .map(|item| {
            normalize(item?, || uuid::Uuid::new_v4().to_string(), arrival)
                .map(|event| LogEntry::from_normalized(event).submitted_by(submitter.clone()))
        })
        .collect()
}

/// What happened to each item of a request.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// Items stored now: index, id, sequence number.
    pub stored: Vec<(usize, String, Seq)>,
    /// Items already stored with the same content: index, id, sequence number.
    pub duplicates: Vec<(usize, String, Seq)>,
    /// Items not stored: index, id if known, reason.
    pub rejected: Vec<(usize, Option<String>, String)>,
}

impl LogEntry {
    /// The log entry of a normalized event.
    pub fn from_normalized(event: NormalizedEvent) -> LogEntry {
        let received = event
            .event
            .received_timestamp
            .unwrap_or(event.event.event_timestamp);
        LogEntry::new(
            event.id,
            event.stored_json,
            event.submitted_json_len,
            event.event.event_timestamp.unix_micros(),
            received.unix_micros(),
        )
    }
}

/// Appends the valid items durably and reports on every item. Fails (storing nothing) only when
/// the log cannot write.
pub async fn ingest(log: &EventLog, items: Vec<PreparedItem>) -> Result<IngestReport, LogError> {
    let mut report = IngestReport::default();
    let mut indexes = Vec::new();
    let mut entries = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Ok(entry) => {
                indexes.push(index);
                entries.push(entry);
            }
            Err(error) => report.rejected.push((index, None, error.to_string())),
        }
    }
    if entries.is_empty() {
        return Ok(report);
    }
    let ids: Vec<String> = entries.iter().map(|entry| entry.event_id.clone()).collect();
    let results = log.append(entries).await?;
    for ((index, id), result) in indexes.into_iter().zip(ids).zip(results) {
        match result {
            AppendResult::Stored(seq) => report.stored.push((index, id, seq)),
            AppendResult::Duplicate(seq) => report.duplicates.push((index, id, seq)),
            AppendResult::Conflict(seq) => {
                let reason = format!(
                    "id conflict: an event with id `{id}` but different content is already stored (seq {seq}); nothing was stored"
                );
                report.rejected.push((index, Some(id), reason));
            }
        }
    }
    report.rejected.sort_by_key(|(index, _, _)| *index);
    Ok(report)
}
