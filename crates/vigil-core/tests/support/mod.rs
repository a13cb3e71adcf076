//! What the log tests share: small events to append, and a PostgreSQL database per test.
#![allow(dead_code)]

pub mod postgres;

use vigil_core::LogEntry;

/// A minimal QUERY event with this id; `body_extra` is appended to its JSON (`,"x":1`).
pub fn entry(id: &str, body_extra: &str) -> LogEntry {
    let json = format!(
        r#"{{"id":"{id}","action":"QUERY","actor":{{}},"eventTimestamp":"2024-01-01T00:00:00Z","receivedTimestamp":"2024-01-01T00:00:01Z"{body_extra}}}"#
    );
    LogEntry::new(id.into(), json.clone(), json.len(), 0, 0)
}

/// A minimal QUERY event that happened (and arrived) at `micros` since the epoch.
pub fn event_at(id: &str, micros: i64) -> LogEntry {
    let time = chrono::DateTime::from_timestamp_micros(micros)
        .unwrap()
        .to_rfc3339();
    let json =
        format!(r#"{{"id":"{id}","action":"QUERY","actor":{{}},"eventTimestamp":"{time}"}}"#);
    LogEntry::new(id.into(), json.clone(), json.len(), micros, micros)
}
