//! What the pull keeps in the log's database: integrations with their sealed secrets, each one's
//! status and watermark, and the schedule.

use super::*;
use crate::store::values;

/// Progress and outcome of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunSummary {
    /// When the run started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// The start of the window read.
    pub window_start: Option<String>,
    /// Rows read from the source.
    pub rows_read: u64,
    /// Events stored now.
    pub events_stored: u64,
    /// Events already stored (overlap, or a repeated run).
    pub duplicates: u64,
    /// Rows with nothing to audit (unregistered user or table, Snowflake).
    pub skipped: u64,
    /// Rows held back until their lineage arrives (Databricks).
    pub deferred: u64,
    /// Rows that could not be read; they are logged and skipped.
    pub malformed: u64,
    /// The watermark after the run.
    pub watermark: Option<String>,
    /// The end of the part of the window read so far (Databricks reads a window in parts).
    pub window_end: Option<String>,
    /// Audit statements whose results were read.
    pub statements: u64,
    /// Times a part of the window had more rows than `rowsPerStatement` and was halved.
    pub narrowings: u64,
    /// The run stopped at its bound before reaching the present; the next run goes on from the
    /// watermark.
    pub more_to_read: bool,
    /// Why the run failed.
    pub error: Option<String>,
}

/// The stored state of an integration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationStatus {
    /// The end time of the newest query read; runs read from here minus the overlap.
    pub watermark: Option<String>,
    /// When the last run started.
    pub last_run_at: Option<String>,
    /// When the last successful run started.
    pub last_success_at: Option<String>,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
    /// The last run.
    pub last_run: Option<RunSummary>,
    #[serde(skip)]
    pub(super) watermark_micros: Option<i64>,
}

pub(super) fn now_text() -> String {
    iso(Utc::now())
}

/// Every integration.
pub fn list_integrations(log: &EventLog) -> Result<Vec<Integration>, PullError> {
    let rows: Vec<String> = log.query(|db| {
        db.query(
            "SELECT settings FROM integrations ORDER BY created_at, id",
            &[],
        )?
        .iter()
        .map(|row| row.string(0))
        .collect()
    })?;
    rows.iter()
        .map(|text| {
            serde_json::from_str(text).map_err(|error| {
                PullError::Config(format!("a stored integration is unreadable: {error}"))
            })
        })
        .collect()
}

/// One integration.
pub fn get_integration(log: &EventLog, id: &str) -> Result<Integration, PullError> {
    let wanted = id.to_owned();
    let text: Option<String> = log.query(move |db| {
        db.query_optional(
            "SELECT settings FROM integrations WHERE id = ?1",
            values![wanted],
        )?
        .map(|row| row.string(0))
        .transpose()
    })?;
    let text = text.ok_or_else(|| PullError::NotFound(id.to_owned()))?;
    serde_json::from_str(&text)
        .map_err(|error| PullError::Config(format!("integration {id} is unreadable: {error}")))
}

pub(super) fn sealed_secret(log: &EventLog, id: &str) -> Result<Vec<u8>, PullError> {
    let wanted = id.to_owned();
    log.query(move |db| {
        db.query_optional(
            "SELECT sealed_secret FROM integrations WHERE id = ?1",
            values![wanted],
        )?
        .map(|row| row.bytes(0).map(<[u8]>::to_vec))
        .transpose()
    })?
    .ok_or_else(|| PullError::NotFound(id.to_owned()))
}

/// The stored state of an integration.
pub fn read_status(log: &EventLog, id: &str) -> Result<IntegrationStatus, PullError> {
    let wanted = id.to_owned();
    let row = log.query(move |db| {
        db.query_optional(
            "SELECT watermark_micros, last_run_at, last_success_at, last_error, last_summary
             FROM integration_state WHERE integration_id = ?1",
            values![wanted],
        )?
        .map(|row| {
            Ok((
                row.optional_integer(0)?,
                row.optional_string(1)?,
                row.optional_string(2)?,
                row.optional_string(3)?,
                row.optional_string(4)?,
            ))
        })
        .transpose()
    })?;
    let Some((watermark, last_run_at, last_success_at, last_error, summary)) = row else {
        return Ok(IntegrationStatus::default());
    };
    Ok(IntegrationStatus {
        watermark: watermark
            .and_then(DateTime::<Utc>::from_timestamp_micros)
            .map(iso),
        last_run_at,
        last_success_at,
        last_error,
        last_run: summary.and_then(|text| serde_json::from_str(&text).ok()),
        watermark_micros: watermark,
    })
}

pub(super) fn integration_event(
    action: &'static str,
    payload_type: &str,
    integration: &Integration,
    actor: &KeyActor,
) -> LogEntry {
    OwnEvent {
        action,
        target_type: "INTEGRATION",
        actor: actor.to_json(),
        targets: json!([{ "type": "INTEGRATION", "id": integration.id, "name": integration.name }]),
        payload: json!({
            "type": payload_type,
            "version": 1,
            "integration": integration.to_json(),
        }),
    }
    .into_entry()
}

/// The schedule: minutes between runs, per integration kind.
pub fn read_schedule(log: &EventLog) -> Result<HashMap<IntegrationKind, u32>, PullError> {
    let rows: Vec<(String, i64)> = log.query(|db| {
        db.query(
            "SELECT kind, interval_minutes FROM integration_schedule",
            &[],
        )?
        .iter()
        .map(|row| Ok((row.string(0)?, row.integer(1)?)))
        .collect()
    })?;
    let mut schedule: HashMap<IntegrationKind, u32> = IntegrationKind::ALL
        .into_iter()
        .map(|kind| (kind, DEFAULT_INTERVAL_MINUTES))
        .collect();
    for (kind, minutes) in rows {
        if let Ok(kind) = IntegrationKind::parse(&kind) {
            schedule.insert(kind, minutes as u32);
        }
    }
    Ok(schedule)
}

/// The schedule as JSON: `{"SNOWFLAKE": {"intervalMinutes": 60}, …}`.
pub fn schedule_json(schedule: &HashMap<IntegrationKind, u32>) -> Value {
    Value::Object(
        IntegrationKind::ALL
            .into_iter()
            .map(|kind| {
                (
                    kind.as_str().to_owned(),
                    json!({ "intervalMinutes": schedule.get(&kind).copied().unwrap_or(DEFAULT_INTERVAL_MINUTES) }),
                )
            })
            .collect(),
    )
}

/// The longest schedule interval accepted: one week.
pub(super) const MAX_INTERVAL_MINUTES: u64 = 7 * 24 * 60;

/// Reads a schedule change: `{"SNOWFLAKE": {"intervalMinutes": 30}}` (kinds not named keep theirs).
pub fn parse_schedule(body: &Value) -> Result<Vec<(IntegrationKind, u32)>, PullError> {
    let object = body.as_object().ok_or_else(|| {
        PullError::Invalid(
            "the body must be a JSON object such as {\"SNOWFLAKE\": {\"intervalMinutes\": 60}}"
                .into(),
        )
    })?;
    let mut changes = Vec::new();
    for (name, value) in object {
        let kind = IntegrationKind::parse(name)
            .map_err(|error| PullError::Invalid(error.replacen("type:", &format!("{name}:"), 1)))?;
        let minutes = value["intervalMinutes"]
            .as_u64()
            .filter(|minutes| (5..=MAX_INTERVAL_MINUTES).contains(minutes))
            .ok_or_else(|| {
                PullError::Invalid(format!(
                    "{name}.intervalMinutes: must be a whole number of minutes from 5 to {MAX_INTERVAL_MINUTES}"
                ))
            })?;
        changes.push((kind, minutes as u32));
    }
    if changes.is_empty() {
        return Err(PullError::Invalid(
            "name at least one of SNOWFLAKE, DATABRICKS_UNITY_CATALOG".into(),
        ));
    }
    Ok(changes)
}
