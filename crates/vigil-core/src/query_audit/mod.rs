//! Query audit: queries run in Starburst/Trino (pushed by Trino's HTTP event listener), Snowflake
//! and Databricks Unity Catalog (pulled from their SQL APIs on a schedule) become UAM `QUERY`
//! events with a `QueryAuditPayload`. This module holds what the three share: the event builder,
//! actor resolution, deterministic ids and timestamp reading.

pub mod databricks;
pub mod pull;
pub mod snowflake;
pub mod source;
pub mod trino;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use vigil_model::{MAX_QUERY_TEXT_CHARS, ModelError, Timestamp, normalize};

use crate::log::{AppendResult, EventLog, LogEntry};
use crate::registry::{Platform, Snapshot, unknown_actor};

/// One query event, before it becomes UAM JSON.
#[derive(Debug, Clone)]
pub struct QueryEvent {
    /// The event id: deterministic, so a re-read of the same query is a duplicate.
    pub id: String,
    /// `actor`.
    pub actor: Value,
    /// `actionStatus`: `SUCCESS`, `FAILURE` or `UNAUTHORIZED`.
    pub action_status: &'static str,
    /// `actionStatusReason`.
    pub action_status_reason: Option<String>,
    /// `eventTimestamp`: when the query ran.
    pub event_time: DateTime<Utc>,
    /// `sessionId`.
    pub session_id: Option<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
    /// `targets`: the registered data sources the query read.
    pub targets: Vec<Value>,
    /// `auditPayload` without `type` (`QueryAuditPayload`, or `QueryLineageResolvedAuditPayload`).
    pub payload: Map<String, Value>,
    /// For an event with a table: the id the statement's event without tables has, had it been
    /// stored before its lineage arrived.
    pub twin: Option<String>,
    /// Set when that event without tables is stored: this event then only completes it, as a
    /// `QUERY_LINEAGE_RESOLVED` event naming it, and the statement stays one `QUERY`.
    pub resolves: Option<String>,
}

impl QueryEvent {
    /// The UAM JSON of the event, without `receivedTimestamp` (vigil sets it when it stores it).
    pub fn to_json(&self) -> Value {
        let (action, payload_type) = match &self.resolves {
            None => ("QUERY", "QueryAuditPayload"),
            Some(_) => ("QUERY_LINEAGE_RESOLVED", "QueryLineageResolvedAuditPayload"),
        };
        let mut payload = Map::new();
        payload.insert("type".into(), payload_type.into());
        payload.insert("version".into(), 1.into());
        payload.extend(self.payload.clone());
        if let Some(resolved) = &self.resolves {
            payload.insert("resolvesEventId".into(), resolved.clone().into());
        }
        json!({
            "id": self.id,
            "action": action,
            "actor": self.actor,
            "sessionId": self.session_id,
            "actionStatus": self.action_status,
            "actionStatusReason": self.action_status_reason,
            "eventTimestamp": iso(self.event_time),
            "userAgent": self.user_agent,
            "targetType": "DATASOURCE",
            "targets": self.targets,
            "relatedResources": [],
            "auditPayload": payload,
        })
    }

    /// Validates the event as any ingested event and makes it a log entry.
    pub fn into_entry(self, arrival: Timestamp) -> Result<LogEntry, ModelError> {
        let text = self.to_json().to_string();
        let id = self.id;
        normalize(&text, || id, arrival).map(LogEntry::from_normalized)
    }
}

/// The actor of a query by `username` on `platform`: the registered user, else the unknown user.
pub fn resolve_actor(snapshot: &Snapshot, platform: Platform, username: Option<&str>) -> Value {
    username
        .and_then(|name| snapshot.resolve_user(platform, name))
        .map(|user| user.actor())
        .unwrap_or_else(unknown_actor)
}

/// Whether `username` is a registered user of `platform`.
pub fn is_registered(snapshot: &Snapshot, platform: Platform, username: Option<&str>) -> bool {
    username.is_some_and(|name| snapshot.resolve_user(platform, name).is_some())
}

/// Query text cut to the seed's 2,048 characters.
pub fn truncate_query(text: &str) -> String {
    match text.char_indices().nth(MAX_QUERY_TEXT_CHARS) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// A UUID-shaped id derived from `parts`: the same query and table always get the same id.
pub fn derived_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut bytes: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    // Version 8 (custom), RFC 4122 variant.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// RFC 3339 in UTC with milliseconds.
pub fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a point in time as the sources send it: an RFC 3339 string (`2024-04-17T19:38:13.651Z`,
/// also with a space instead of `T`), a string or number of epoch seconds with a fraction
/// (`"1713382693.651000000"`, Snowflake adds ` 1440` for the zone, which is ignored), or epoch
/// milliseconds (a number above 10^11).
pub fn parse_time(value: &Value) -> Result<DateTime<Utc>, String> {
    match value {
        Value::Number(number) => {
            let seconds = number
                .as_f64()
                .ok_or_else(|| format!("`{number}` is not a time"))?;
            epoch(seconds)
        }
        Value::String(text) => {
            let text = text.trim();
            let first = text.split(' ').next().unwrap_or(text);
            if let Ok(seconds) = first.parse::<f64>() {
                return epoch(seconds);
            }
            if let Ok(time) = DateTime::parse_from_rfc3339(text) {
                return Ok(time.with_timezone(&Utc));
            }
            let with_t = text.replacen(' ', "T", 1);
            if let Ok(time) = DateTime::parse_from_rfc3339(&with_t) {
                return Ok(time.with_timezone(&Utc));
            }
            for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
                if let Ok(time) = chrono::NaiveDateTime::parse_from_str(&with_t, format) {
                    return Ok(time.and_utc());
                }
            }
            Err(format!(
                "`{text}` is not a time (expected RFC 3339 or epoch seconds)"
            ))
        }
        Value::Null => Err("is missing".into()),
        other => Err(format!("`{other}` is not a time")),
    }
}

fn epoch(value: f64) -> Result<DateTime<Utc>, String> {
    let micros = if value.abs() > 1e11 {
        value * 1_000.0
    } else {
        value * 1_000_000.0
    };
    Utc.timestamp_micros(micros.round() as i64)
        .single()
        .ok_or_else(|| format!("`{value}` is out of range as a time"))
}

/// Seconds between two times, to the millisecond.
pub fn seconds_between(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    (end - start).num_milliseconds() as f64 / 1000.0
}

/// What storing a set of query events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreCounts {
    /// Events stored now.
    pub stored: u64,
    /// Events already stored (a retry, or the overlap of a pull).
    pub duplicates: u64,
}

/// Appends query events durably. An id already stored counts as a duplicate even when the
/// stored version differs (a user mapped since): the first version stays, the log is immutable.
pub async fn store_events(
    log: &EventLog,
    entries: Vec<LogEntry>,
) -> Result<StoreCounts, crate::LogError> {
    let mut counts = StoreCounts::default();
    if entries.is_empty() {
        return Ok(counts);
    }
    for result in log.append(entries).await? {
        match result {
            AppendResult::Stored(_) => counts.stored += 1,
            AppendResult::Duplicate(_) | AppendResult::Conflict(_) => counts.duplicates += 1,
        }
    }
    Ok(counts)
}

/// The `objectsAccessed[]` element of one table.
pub fn object_accessed(
    name: String,
    datasource_id: Option<&str>,
    database: Option<&str>,
    schema: Option<&str>,
    object_type: &str,
    columns: &[String],
    inferred: bool,
) -> Value {
    json!({
        "name": name,
        "datasourceId": datasource_id,
        "databaseName": database,
        "schemaName": schema,
        "type": object_type,
        "columns": columns
            .iter()
            .map(|column| json!({ "name": column, "tags": [], "inferred": inferred }))
            .collect::<Vec<_>>(),
        "tags": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_every_shape_the_sources_send() {
        let expected = "2024-04-17T19:38:13.651Z";
        for value in [
            json!("2024-04-17T19:38:13.651Z"),
            json!("2024-04-17T21:38:13.651+02:00"),
            json!("2024-04-17 19:38:13.651"),
            json!("1713382693.651000000"),
            json!("1713382693.651000000 1440"),
            json!(1713382693.651),
            json!(1713382693651_i64),
        ] {
            assert_eq!(iso(parse_time(&value).unwrap()), expected, "{value}");
        }
        assert!(parse_time(&json!("yesterday")).is_err());
        assert!(parse_time(&Value::Null).is_err());
    }

    #[test]
    fn query_text_is_cut_at_2048_characters() {
        let long = "é".repeat(3000);
        assert_eq!(truncate_query(&long).chars().count(), 2048);
        assert_eq!(truncate_query("select 1"), "select 1");
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(derived_id(&["a", "b"]), derived_id(&["a", "b"]));
        assert_ne!(derived_id(&["a", "b"]), derived_id(&["ab", ""]));
        assert_eq!(derived_id(&["x"]).len(), 36);
    }
}
