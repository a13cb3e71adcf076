//! The Parquet lake format of exports: one object per exported range and event date, Hive-style
//! partitions (`events/event_date=YYYY-MM-DD/…parquet`), zstd, typed columns for the envelope
//! and the fields people filter on (taken the way the search index takes them), and the whole
//! stored JSON in `event_json`, so nothing is lost. Also reads the `seq` column back for
//! `vigil verify-export`.

use std::collections::BTreeMap;
use std::sync::Arc;

use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::RowAccessor;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use vigil_model::{AuditPayload, TechnologyContext, UamEvent};

use crate::log::{Seq, StoredEvent};
use crate::search::{FacetField, Values, extract};

/// The partition of events whose date cannot be read (Hive's name for a null partition value).
pub const UNKNOWN_DATE: &str = "__HIVE_DEFAULT_PARTITION__";

/// How a column is typed.
#[derive(Clone, Copy)]
enum Kind {
    /// `required int64`.
    Int64,
    /// `optional int64 (TIMESTAMP(MICROS,true))`.
    Timestamp,
    /// `required binary (STRING)`.
    RequiredText,
    /// `optional binary (STRING)`.
    Text,
    /// A list of strings (`optional group (LIST)`; empty when there is nothing).
    TextList,
}

/// The columns, in file order. README's table documents them.
const COLUMNS: &[(&str, Kind)] = &[
    ("seq", Kind::Int64),
    ("id", Kind::RequiredText),
    ("event_timestamp", Kind::Timestamp),
    ("received_timestamp", Kind::Timestamp),
    ("action", Kind::Text),
    ("action_status", Kind::Text),
    ("event_type", Kind::Text),
    ("payload_type", Kind::Text),
    ("actor_id", Kind::Text),
    ("actor_name", Kind::Text),
    ("actor_type", Kind::Text),
    ("target_type", Kind::Text),
    ("target_ids", Kind::TextList),
    ("target_names", Kind::TextList),
    ("technology", Kind::Text),
    ("data_source_ids", Kind::TextList),
    ("data_source_names", Kind::TextList),
    ("project_ids", Kind::TextList),
    ("purposes", Kind::TextList),
    ("query_text", Kind::Text),
    ("tables", Kind::TextList),
    ("columns", Kind::TextList),
    ("tags", Kind::TextList),
    ("tenant_id", Kind::Text),
    ("submitted_by", Kind::Text),
    ("event_json", Kind::RequiredText),
];

/// The Parquet schema of an exported object.
pub fn schema_text() -> String {
    let mut text = String::from("message vigil_audit_event {\n");
    for (name, kind) in COLUMNS {
        let line = match kind {
            Kind::Int64 => format!("  required int64 {name};\n"),
            Kind::Timestamp => {
                format!("  optional int64 {name} (TIMESTAMP(MICROS,true));\n")
            }
            Kind::RequiredText => format!("  required binary {name} (STRING);\n"),
            Kind::Text => format!("  optional binary {name} (STRING);\n"),
            Kind::TextList => format!(
                "  optional group {name} (LIST) {{\n    repeated group list {{\n      required binary element (STRING);\n    }}\n  }}\n"
            ),
        };
        text.push_str(&line);
    }
    text.push('}');
    text
}

/// A stored event with what its columns are made of: the parsed event and its extracted values
/// (`None` when it is not readable as UAM, never the case for what vigil stores).
pub struct LakeEvent {
    stored: StoredEvent,
    /// Boxed: a parsed event is large, and a range's events are moved between vectors.
    parsed: Option<Box<(UamEvent, Values)>>,
}

impl LakeEvent {
    /// Parses and extracts once.
    pub fn new(stored: StoredEvent) -> LakeEvent {
        let parsed = UamEvent::from_json(&stored.json).ok().map(|event| {
            let values = extract(&event, stored.submitter.as_deref());
            Box::new((event, values))
        });
        LakeEvent { stored, parsed }
    }

    /// The date partition: the UTC date of `eventTimestamp`, `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        self.parsed
            .as_ref()
            .map_or_else(|| UNKNOWN_DATE.to_owned(), |parsed| event_date(&parsed.0))
    }
}

/// The columns of a flat row ([`LakeEvent::flat_row`]): every lake column but the stored JSON.
pub fn flat_columns() -> Vec<String> {
    COLUMNS
        .iter()
        .filter(|(name, _)| *name != "event_json")
        .map(|(name, _)| name.to_string())
        .collect()
}

impl LakeEvent {
    /// The event as a flat row of [`flat_columns`] (for CSV): times in RFC 3339 (UTC,
    /// milliseconds), lists joined with `; `.
    pub fn flat_row(&self) -> Vec<serde_json::Value> {
        use serde_json::Value;
        cells(&self.stored, self.parsed.as_deref())
            .into_iter()
            .zip(COLUMNS)
            .filter(|(_, (name, _))| *name != "event_json")
            .map(|(cell, (_, kind))| match (cell, kind) {
                (Cell::Int(Some(micros)), Kind::Timestamp) => {
                    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros)
                        .map(|time| {
                            Value::from(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        })
                        .unwrap_or(Value::Null)
                }
                (Cell::Int(number), _) => number.map_or(Value::Null, Value::from),
                (Cell::Text(text), _) => text.map_or(Value::Null, Value::from),
                (Cell::List(items), _) => Value::from(items.join("; ")),
            })
            .collect()
    }
}

/// One cell of a row.
enum Cell<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    List(Vec<&'a str>),
}

/// The cells of one event, in [`COLUMNS`] order.
fn cells<'a>(stored: &'a StoredEvent, parsed: Option<&'a (UamEvent, Values)>) -> Vec<Cell<'a>> {
    let Some((event, values)) = parsed else {
        // Not readable as UAM (never the case for what vigil stores): the JSON is kept.
        return COLUMNS
            .iter()
            .map(|(name, kind)| match (*name, kind) {
                ("seq", _) => Cell::Int(Some(stored.seq as i64)),
                ("id", _) => Cell::Text(Some(&stored.event_id)),
                ("event_json", _) => Cell::Text(Some(&stored.json)),
                ("submitted_by", _) => Cell::Text(stored.submitter.as_deref()),
                (_, Kind::TextList) => Cell::List(Vec::new()),
                (_, Kind::Int64 | Kind::Timestamp) => Cell::Int(None),
                _ => Cell::Text(None),
            })
            .collect();
    };
    let received = event.received_timestamp.unwrap_or(event.event_timestamp);
    let one = |facet| Cell::Text(values.first(facet));
    let list = |facet| Cell::List(values.of(facet));
    vec![
        Cell::Int(Some(stored.seq as i64)),
        Cell::Text(Some(&stored.event_id)),
        Cell::Int(Some(event.event_timestamp.unix_micros())),
        Cell::Int(Some(received.unix_micros())),
        one(FacetField::Action),
        one(FacetField::ActionStatus),
        one(FacetField::EventType),
        one(FacetField::PayloadType),
        one(FacetField::ActorId),
        one(FacetField::ActorName),
        one(FacetField::ActorType),
        one(FacetField::TargetType),
        list(FacetField::TargetId),
        list(FacetField::TargetName),
        one(FacetField::Technology),
        list(FacetField::DataSourceId),
        list(FacetField::DataSourceName),
        list(FacetField::ProjectId),
        list(FacetField::Purpose),
        Cell::Text(query_text(event)),
        list(FacetField::Table),
        list(FacetField::Column),
        list(FacetField::Tag),
        one(FacetField::TenantId),
        Cell::Text(stored.submitter.as_deref()),
        Cell::Text(Some(&stored.json)),
    ]
}

/// The query text of a query event (Databricks' own text when the payload has none).
fn query_text(event: &UamEvent) -> Option<&str> {
    let Some(AuditPayload::Query(payload) | AuditPayload::QueryLineageResolved(payload)) =
        &event.audit_payload
    else {
        return None;
    };
    payload
        .query
        .as_deref()
        .or(match &payload.technology_context {
            Some(TechnologyContext::Databricks(context)) => context.query_text.as_deref(),
            _ => None,
        })
}

/// A column's values with their definition and repetition levels, as Parquet writes them. Text
/// values are gathered in one buffer (`bytes`, each value ending at its `ends` entry) and handed
/// to the writer as slices of it: one allocation per column, not one per value.
#[derive(Default)]
struct Buffer {
    ints: Vec<i64>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    definitions: Vec<i16>,
    repetitions: Vec<i16>,
    /// Text values handed over whole instead of gathered in `bytes`.
    values: Option<Vec<ByteArray>>,
}

impl Buffer {
    fn push(&mut self, kind: Kind, cell: Cell<'_>) {
        match (kind, cell) {
            (Kind::Int64, Cell::Int(value)) => self.ints.push(value.unwrap_or_default()),
            (Kind::Timestamp, Cell::Int(value)) => {
                self.definitions.push(i16::from(value.is_some()));
                self.ints.extend(value);
            }
            (Kind::RequiredText, Cell::Text(value)) => self.text(value.unwrap_or_default()),
            (Kind::Text, Cell::Text(value)) => {
                self.definitions.push(i16::from(value.is_some()));
                if let Some(value) = value {
                    self.text(value);
                }
            }
            (Kind::TextList, Cell::List(values)) => {
                if values.is_empty() {
                    // The list is there, and empty.
                    self.definitions.push(1);
                    self.repetitions.push(0);
                }
                for (index, value) in values.into_iter().enumerate() {
                    self.definitions.push(2);
                    self.repetitions.push(i16::from(index > 0));
                    self.text(value);
                }
            }
            _ => unreachable!("cells are made in column order"),
        }
    }

    fn text(&mut self, value: &str) {
        self.bytes.extend_from_slice(value.as_bytes());
        self.ends.push(self.bytes.len());
    }

    /// The text values, as slices of the column's one buffer.
    fn texts(&mut self) -> Vec<ByteArray> {
        if let Some(values) = self.values.take() {
            return values;
        }
        let all = bytes::Bytes::from(std::mem::take(&mut self.bytes));
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let value = ByteArray::from(all.slice(start..end));
                start = end;
                value
            })
            .collect()
    }

    fn levels(&self, kind: Kind) -> (Option<&[i16]>, Option<&[i16]>) {
        match kind {
            Kind::Int64 | Kind::RequiredText => (None, None),
            Kind::Timestamp | Kind::Text => (Some(&self.definitions), None),
            Kind::TextList => (Some(&self.definitions), Some(&self.repetitions)),
        }
    }
}

/// The date partition of an event: its `eventTimestamp`'s UTC date, `YYYY-MM-DD`.
pub fn event_date(event: &UamEvent) -> String {
    chrono::DateTime::from_timestamp_micros(event.event_timestamp.unix_micros())
        .map(|time| time.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| UNKNOWN_DATE.to_owned())
}

/// Events of one range grouped by their date partition, each group in sequence order. The same
/// events always give the same groups.
pub fn group_by_date(events: Vec<StoredEvent>) -> BTreeMap<String, Vec<LakeEvent>> {
    let mut groups: BTreeMap<String, Vec<LakeEvent>> = BTreeMap::new();
    for event in events {
        let event = LakeEvent::new(event);
        groups.entry(event.date()).or_default().push(event);
    }
    groups
}

/// Columns whose values are nearly all different: no dictionary and no min/max statistics for
/// them (they cost time and bytes and help no reader).
const UNIQUE_COLUMNS: [&str; 3] = ["id", "query_text", "event_json"];

/// The events as one Parquet file (one row group, zstd). The same events always give the same
/// bytes.
pub fn write(mut events: Vec<LakeEvent>) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    // The query text column is sized up front: growing a buffer of 50,000 events' query text by
    // doubling copied it again and again (and touched fresh pages each time).
    let query_bytes: usize = events
        .iter()
        .filter_map(|event| event.parsed.as_ref())
        .filter_map(|parsed| query_text(&parsed.0))
        .map(str::len)
        .sum();
    let mut buffers: Vec<Buffer> = COLUMNS
        .iter()
        .map(|(name, _)| Buffer {
            ints: Vec::with_capacity(events.len()),
            bytes: Vec::with_capacity(if *name == "query_text" {
                query_bytes
            } else {
                0
            }),
            ends: Vec::with_capacity(events.len()),
            definitions: Vec::with_capacity(events.len()),
            repetitions: Vec::new(),
            values: None,
        })
        .collect();
    let (json, others) = buffers
        .split_last_mut()
        .expect("event_json is the last column");
    for event in &events {
        // The stored JSON is the last cell; it is taken below without a copy.
        for ((buffer, (_, kind)), cell) in others
            .iter_mut()
            .zip(COLUMNS)
            .zip(cells(&event.stored, event.parsed.as_deref()))
        {
            buffer.push(*kind, cell);
        }
    }
    // Each event's stored bytes become its `event_json` value as they are: no 80 MB buffer per
    // object to fill with copies of them.
    json.values = Some(
        events
            .iter_mut()
            .map(|event| {
                let bytes = std::mem::take(&mut event.stored.json).into_bytes();
                ByteArray::from(bytes::Bytes::from(bytes))
            })
            .collect(),
    );
    let schema = Arc::new(parse_message_type(&schema_text())?);
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_created_by("vigil".to_owned());
    for column in UNIQUE_COLUMNS {
        properties = properties
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    let properties = properties.build();
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(properties))?;
    let mut row_group = writer.next_row_group()?;
    let mut columns = buffers.iter_mut().zip(COLUMNS);
    while let Some(mut column) = row_group.next_column()? {
        let (buffer, (_, kind)) = columns.next().expect("one buffer per column");
        match kind {
            Kind::Int64 | Kind::Timestamp => {
                let (definitions, repetitions) = buffer.levels(*kind);
                column
                    .typed::<Int64Type>()
                    .write_batch(&buffer.ints, definitions, repetitions)?;
            }
            Kind::RequiredText | Kind::Text | Kind::TextList => {
                let texts = buffer.texts();
                let (definitions, repetitions) = buffer.levels(*kind);
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&texts, definitions, repetitions)?;
            }
        }
        column.close()?;
    }
    row_group.close()?;
    writer.into_inner()
}

/// The `seq` column of a Parquet object, for `vigil verify-export`.
pub fn read_seqs(bytes: Vec<u8>) -> Result<Vec<Seq>, String> {
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))
        .map_err(|error| format!("not a Parquet file: {error}"))?;
    let projection = parse_message_type("message vigil_audit_event { required int64 seq; }")
        .map_err(|error| error.to_string())?;
    let rows = reader
        .get_row_iter(Some(projection))
        .map_err(|error| format!("has no readable seq column: {error}"))?;
    rows.map(|row| {
        row.and_then(|row| row.get_long(0))
            .map(|seq| seq as Seq)
            .map_err(|error| format!("a row cannot be read: {error}"))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: Seq, json: &str) -> StoredEvent {
        StoredEvent {
            seq,
            event_id: format!("e{seq}"),
            json: json.to_owned(),
            chain_hash: [0; 32],
            submitter: Some("key:k".into()),
        }
    }

    #[test]
    fn the_same_events_give_the_same_bytes_and_their_seqs_read_back() {
        let events: Vec<StoredEvent> = (1..=3)
            .map(|seq| {
                stored(
                    seq,
                    &format!(
                        r#"{{"id":"e{seq}","action":"QUERY","actor":{{"id":"a"}},"eventTimestamp":"2026-11-2{seq}T23:00:00Z","targets":[]}}"#
                    ),
                )
            })
            .chain([stored(4, r#"{"not":"uam"}"#)])
            .collect();
        let groups = group_by_date(events.clone());
        let dates: Vec<&str> = groups.keys().map(String::as_str).collect();
        assert_eq!(
            dates,
            ["2026-11-21", "2026-11-22", "2026-11-23", UNKNOWN_DATE]
        );
        let lake = || {
            events
                .iter()
                .cloned()
                .map(LakeEvent::new)
                .collect::<Vec<_>>()
        };
        let bytes = write(lake()).unwrap();
        assert_eq!(write(lake()).unwrap(), bytes);
        assert_eq!(read_seqs(bytes).unwrap(), vec![1, 2, 3, 4]);
        assert!(read_seqs(b"not parquet".to_vec()).is_err());
    }

    #[test]
    fn the_schema_parses_and_names_every_column_once() {
        let schema = parse_message_type(&schema_text()).unwrap();
        let names: Vec<&str> = schema.get_fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, COLUMNS.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        // `write` hands the stored JSON over as the last column.
        assert_eq!(names.last(), Some(&"event_json"));
    }
}
