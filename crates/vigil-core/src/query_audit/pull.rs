//! Pull integrations (Snowflake, Databricks Unity Catalog): their stored configurations with
//! sealed secrets, the run that reads a window from the source and appends its events before it
//! moves the watermark, the hourly schedule (one interval per integration type) and the manual
//! "Load Audit Events" job.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, watch};

use super::databricks::{self, DatabricksPages, DatabricksSettings};
use super::snowflake::{self, SnowflakePages, SnowflakeSettings};
use super::{QueryEvent, iso, store_events};
use crate::error::LogError;
use crate::export::MasterKey;
use crate::keys::KeyActor;
use crate::log::{EventLog, LogEntry, SideWrite, Submitter};
use crate::outbound::{self, OutboundPolicy};
use crate::own_events::OwnEvent;
use crate::registry::Registry;

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

impl From<rusqlite::Error> for PullError {
    fn from(error: rusqlite::Error) -> Self {
        PullError::Log(LogError::Database(error))
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

/// The kind of a pull integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrationKind {
    /// Snowflake.
    Snowflake,
    /// Databricks Unity Catalog.
    DatabricksUnityCatalog,
}

impl IntegrationKind {
    /// Both kinds.
    pub const ALL: [IntegrationKind; 2] = [
        IntegrationKind::Snowflake,
        IntegrationKind::DatabricksUnityCatalog,
    ];

    /// `SNOWFLAKE` or `DATABRICKS_UNITY_CATALOG`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Snowflake => "SNOWFLAKE",
            IntegrationKind::DatabricksUnityCatalog => "DATABRICKS_UNITY_CATALOG",
        }
    }

    /// Reads a kind name.
    pub fn parse(text: &str) -> Result<IntegrationKind, String> {
        IntegrationKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("type: `{text}` is not a pull integration; use SNOWFLAKE or DATABRICKS_UNITY_CATALOG")
            })
    }
}

/// Where a pull integration reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Source {
    /// Snowflake.
    Snowflake(SnowflakeSettings),
    /// Databricks Unity Catalog.
    DatabricksUnityCatalog(DatabricksSettings),
}

impl Source {
    /// The kind.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            Source::Snowflake(_) => IntegrationKind::Snowflake,
            Source::DatabricksUnityCatalog(_) => IntegrationKind::DatabricksUnityCatalog,
        }
    }
}

/// A pull integration (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether the schedule and manual loads run it.
    pub enabled: bool,
    /// Each run reads from the watermark minus this many minutes: the sources are late.
    pub overlap_minutes: u32,
    /// The first run reads this many hours back.
    pub initial_lookback_hours: u32,
    /// Where it reads.
    pub source: Source,
    /// When it was created.
    pub created_at: String,
    /// When it was last changed.
    pub updated_at: String,
}

const DEFAULT_OVERLAP_MINUTES: u32 = 180;
const DEFAULT_LOOKBACK_HOURS: u32 = 24;
/// The default schedule: hourly, as the seed says.
pub const DEFAULT_INTERVAL_MINUTES: u32 = 60;

impl Integration {
    /// The public JSON: every setting, never the secret.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), self.id.clone().into());
        let source = serde_json::to_value(&self.source).expect("source serializes");
        if let Value::Object(fields) = source {
            object.extend(fields);
        }
        if let Source::Snowflake(settings) = &self.source {
            object.insert(
                "authentication".into(),
                json!({ "type": settings.authentication }),
            );
        }
        object.insert("name".into(), self.name.clone().into());
        object.insert("enabled".into(), self.enabled.into());
        object.insert("overlapMinutes".into(), self.overlap_minutes.into());
        object.insert(
            "initialLookbackHours".into(),
            self.initial_lookback_hours.into(),
        );
        object.insert("createdAt".into(), self.created_at.clone().into());
        object.insert("updatedAt".into(), self.updated_at.clone().into());
        Value::Object(object)
    }
}

/// A create or update request, read and checked.
pub struct IntegrationInput {
    /// Display name.
    pub name: String,
    /// Enabled.
    pub enabled: bool,
    /// Overlap.
    pub overlap_minutes: u32,
    /// First-run lookback.
    pub initial_lookback_hours: u32,
    /// Where it reads.
    pub source: Source,
    /// The private key or token; `None` on an update keeps the stored one.
    pub secret: Option<String>,
}

fn take_u32(object: &mut Map<String, Value>, field: &str, default: u32) -> Result<u32, String> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .and_then(|number| u32::try_from(number).ok())
            .ok_or_else(|| format!("{field}: must be a whole number of at least 0, not {value}")),
    }
}

impl IntegrationInput {
    /// Reads a request body. `require_secret` is true when creating.
    pub fn parse(body: &Value, require_secret: bool) -> Result<IntegrationInput, PullError> {
        Self::parse_inner(body, require_secret).map_err(PullError::Invalid)
    }

    fn parse_inner(body: &Value, require_secret: bool) -> Result<IntegrationInput, String> {
        let mut object = body
            .as_object()
            .cloned()
            .ok_or("the body must be a JSON object with the integration's fields")?;
        object.remove("id");
        object.remove("createdAt");
        object.remove("updatedAt");
        object.remove("status");
        let kind = match object.remove("type") {
            Some(Value::String(kind)) => IntegrationKind::parse(&kind)?,
            _ => return Err("type: is required (SNOWFLAKE or DATABRICKS_UNITY_CATALOG)".into()),
        };
        let name = match object.remove("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
            None | Some(Value::Null) => kind.as_str().to_lowercase(),
            Some(_) => return Err("name: must be a non-empty string".into()),
        };
        let enabled = match object.remove("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(flag)) => flag,
            Some(_) => return Err("enabled: must be true or false".into()),
        };
        let overlap_minutes = take_u32(&mut object, "overlapMinutes", DEFAULT_OVERLAP_MINUTES)?;
        let initial_lookback_hours =
            take_u32(&mut object, "initialLookbackHours", DEFAULT_LOOKBACK_HOURS)?;
        let (source, secret) = match kind {
            IntegrationKind::Snowflake => {
                let (auth_type, secret) = match object.remove("authentication") {
                    Some(Value::Object(mut auth)) => {
                        let auth_type = match auth.remove("type") {
                            Some(Value::String(kind)) => kind,
                            _ => {
                                return Err(
                                    "authentication.type: is required (KEY_PAIR or OAUTH)".into()
                                );
                            }
                        };
                        let secret = ["privateKey", "token"]
                            .iter()
                            .find_map(|key| auth.remove(*key))
                            .and_then(|value| value.as_str().map(str::to_owned));
                        (auth_type, secret)
                    }
                    _ => {
                        return Err(
                            "authentication: is required, e.g. {\"type\": \"KEY_PAIR\", \"privateKey\": \"-----BEGIN PRIVATE KEY-----…\"}".into(),
                        );
                    }
                };
                object.insert("authentication".into(), auth_type.into());
                let settings: SnowflakeSettings = from_fields(object)?;
                settings.validate()?;
                if let Some(secret) = &secret {
                    snowflake::validate_secret(settings.authentication, secret)?;
                }
                (Source::Snowflake(settings), secret)
            }
            IntegrationKind::DatabricksUnityCatalog => {
                let secret = match object.remove("token") {
                    Some(Value::String(token)) if !token.trim().is_empty() => Some(token),
                    None | Some(Value::Null) => None,
                    Some(_) => return Err("token: must be a non-empty string".into()),
                };
                let settings: DatabricksSettings = from_fields(object)?;
                settings.validate(overlap_minutes)?;
                (Source::DatabricksUnityCatalog(settings), secret)
            }
        };
        if require_secret && secret.is_none() {
            return Err(match kind {
                IntegrationKind::Snowflake => {
                    "authentication.privateKey (KEY_PAIR) or authentication.token (OAUTH): is required"
                }
                IntegrationKind::DatabricksUnityCatalog => "token: is required",
            }
            .into());
        }
        Ok(IntegrationInput {
            name,
            enabled,
            overlap_minutes,
            initial_lookback_hours,
            source,
            secret,
        })
    }
}

/// Deserializes the remaining fields, refusing unknown ones, naming the field that is wrong.
fn from_fields<T: Serialize + for<'de> Deserialize<'de>>(
    object: Map<String, Value>,
) -> Result<T, String> {
    let known: T = serde_path_to_error::deserialize(Value::Object(object.clone()))
        .map_err(|error| format!("{}: {}", error.path(), error.inner()))?;
    // Refuse fields the type does not read: a typo must not silently fall back to a default.
    if let Ok(Value::Object(read)) = serde_json::to_value(&known)
        && let Some(unknown) = object.keys().find(|key| !read.contains_key(*key))
    {
        return Err(format!(
            "{unknown}: is not a field of this integration type"
        ));
    }
    Ok(known)
}

/// Progress and outcome of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    watermark_micros: Option<i64>,
}

fn now_text() -> String {
    iso(Utc::now())
}

/// Every integration.
pub fn list_integrations(log: &EventLog) -> Result<Vec<Integration>, PullError> {
    let rows: Vec<String> = log.read(|connection| {
        let mut statement =
            connection.prepare("SELECT settings FROM integrations ORDER BY created_at, id")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        rows.collect()
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
    let text: Option<String> = log.read(|connection| {
        connection
            .query_row(
                "SELECT settings FROM integrations WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()
    })?;
    let text = text.ok_or_else(|| PullError::NotFound(id.to_owned()))?;
    serde_json::from_str(&text)
        .map_err(|error| PullError::Config(format!("integration {id} is unreadable: {error}")))
}

fn sealed_secret(log: &EventLog, id: &str) -> Result<Vec<u8>, PullError> {
    log.read(|connection| {
        connection
            .query_row(
                "SELECT sealed_secret FROM integrations WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()
    })?
    .ok_or_else(|| PullError::NotFound(id.to_owned()))
}

/// The stored state of an integration.
pub fn read_status(log: &EventLog, id: &str) -> Result<IntegrationStatus, PullError> {
    let row = log.read(|connection| {
        connection
            .query_row(
                "SELECT watermark_micros, last_run_at, last_success_at, last_error, last_summary
                 FROM integration_state WHERE integration_id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get::<_, Option<i64>>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()
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

fn integration_event(
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
    let rows: Vec<(String, i64)> = log.read(|connection| {
        let mut statement =
            connection.prepare("SELECT kind, interval_minutes FROM integration_schedule")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
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
const MAX_INTERVAL_MINUTES: u64 = 7 * 24 * 60;

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

/// A manual load: one run of every enabled pull integration, in the background.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadJob {
    /// Id.
    pub id: String,
    /// `RUNNING`, `SUCCEEDED` or `FAILED` (at least one integration failed).
    pub state: &'static str,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// One entry per integration.
    pub integrations: Vec<LoadJobItem>,
}

/// One integration of a load.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadJobItem {
    /// Integration id.
    pub id: String,
    /// Integration name.
    pub name: String,
    /// Integration type.
    #[serde(rename = "type")]
    pub kind: IntegrationKind,
    /// `PENDING`, `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub state: &'static str,
    /// Progress so far.
    pub run: RunSummary,
}

/// Loads kept for `GET /api/audit/load/{id}`.
const KEPT_LOAD_JOBS: usize = 50;

/// The pull integrations, their schedule and their runs.
pub struct PullService {
    log: Arc<EventLog>,
    registry: Arc<Registry>,
    master: MasterKey,
    client: reqwest::Client,
    wake: Notify,
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    jobs: Mutex<Vec<Arc<Mutex<LoadJob>>>>,
    shutdown: watch::Sender<bool>,
    scheduler: Mutex<Option<tokio::task::JoinHandle<()>>>,
    outbound: OutboundPolicy,
}

impl PullService {
    /// Opens the service (loads the master key). Blocking; call [`PullService::start`] in a runtime.
    pub fn open(
        log: Arc<EventLog>,
        registry: Arc<Registry>,
        data_dir: &Path,
        master_key: Option<&str>,
        outbound: OutboundPolicy,
    ) -> Result<Arc<PullService>, PullError> {
        let master = MasterKey::load(data_dir, master_key)?;
        let client =
            outbound::http_client(outbound, Duration::from_secs(10), Duration::from_secs(300))
                .map_err(|error| {
                    PullError::Config(format!("could not build the HTTP client: {error}"))
                })?;
        Ok(Arc::new(PullService {
            log,
            registry,
            master,
            client,
            wake: Notify::new(),
            running: Default::default(),
            jobs: Default::default(),
            shutdown: watch::channel(false).0,
            scheduler: Mutex::new(None),
            outbound,
        }))
    }

    /// Starts the scheduler task.
    pub fn start(self: &Arc<Self>) {
        let service = self.clone();
        let handle = tokio::spawn(async move { service.schedule_loop().await });
        *self.scheduler.lock().expect("scheduler lock") = Some(handle);
    }

    /// Stops the scheduler and waits for it (a run in progress ends at its next page).
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let handle = self.scheduler.lock().expect("scheduler lock").take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EventLog) -> Result<T, PullError> + Send + 'static,
    ) -> Result<T, PullError> {
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || work(&log)).await?
    }

    /// Every integration with its status.
    pub async fn list(&self) -> Result<Vec<(Integration, IntegrationStatus)>, PullError> {
        self.blocking(|log| {
            list_integrations(log)?
                .into_iter()
                .map(|integration| {
                    let status = read_status(log, &integration.id)?;
                    Ok((integration, status))
                })
                .collect()
        })
        .await
    }

    /// One integration with its status.
    pub async fn get(&self, id: &str) -> Result<(Integration, IntegrationStatus), PullError> {
        let id = id.to_owned();
        self.blocking(move |log| Ok((get_integration(log, &id)?, read_status(log, &id)?)))
            .await
    }

    /// Creates an integration, with its `…Created` event.
    pub async fn create(
        &self,
        input: IntegrationInput,
        actor: KeyActor,
    ) -> Result<Integration, PullError> {
        self.check_host(&input.source)
            .await
            .map_err(PullError::Invalid)?;
        let now = now_text();
        let integration = Integration {
            id: uuid::Uuid::new_v4().to_string(),
            name: input.name,
            enabled: input.enabled,
            overlap_minutes: input.overlap_minutes,
            initial_lookback_hours: input.initial_lookback_hours,
            source: input.source,
            created_at: now.clone(),
            updated_at: now,
        };
        let secret = input.secret.unwrap_or_default();
        let sealed = self.master.seal(&integration.id, &secret)?;
        let row = integration.clone();
        let event = integration_event(
            "CREATE",
            "QueryAuditIntegrationCreatedAuditPayload",
            &integration,
            &actor,
        );
        let side_write: SideWrite = Box::new(move |transaction: &Connection| {
            transaction.execute(
                "INSERT INTO integrations (id, kind, settings, sealed_secret, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    row.id,
                    row.source.kind().as_str(),
                    serde_json::to_string(&row).expect("integration serializes"),
                    sealed,
                    row.created_at,
                    row.updated_at
                ],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        self.wake.notify_one();
        Ok(integration)
    }

    /// Replaces an integration's settings (same type); a missing secret keeps the stored one.
    pub async fn update(
        &self,
        id: &str,
        input: IntegrationInput,
        actor: KeyActor,
    ) -> Result<Integration, PullError> {
        let (current, _) = self.get(id).await?;
        self.check_host(&input.source)
            .await
            .map_err(PullError::Invalid)?;
        if current.source.kind() != input.source.kind() {
            return Err(PullError::Invalid(format!(
                "type: integration {id} is {}, not {}; delete it and create a new one to change the type",
                current.source.kind().as_str(),
                input.source.kind().as_str()
            )));
        }
        if let (Source::Snowflake(old), Source::Snowflake(new), None) =
            (&current.source, &input.source, &input.secret)
            && old.authentication != new.authentication
        {
            return Err(PullError::Invalid(
                "authentication: changing the authentication type needs its new secret".into(),
            ));
        }
        let integration = Integration {
            name: input.name,
            enabled: input.enabled,
            overlap_minutes: input.overlap_minutes,
            initial_lookback_hours: input.initial_lookback_hours,
            source: input.source,
            updated_at: now_text(),
            ..current
        };
        let sealed = match &input.secret {
            Some(secret) => Some(self.master.seal(&integration.id, secret)?),
            None => None,
        };
        let row = integration.clone();
        let event = integration_event(
            "UPDATE",
            "QueryAuditIntegrationUpdatedAuditPayload",
            &integration,
            &actor,
        );
        let side_write: SideWrite = Box::new(move |transaction: &Connection| {
            transaction.execute(
                "UPDATE integrations SET settings = ?2, sealed_secret = coalesce(?3, sealed_secret),
                     updated_at = ?4 WHERE id = ?1",
                params![
                    row.id,
                    serde_json::to_string(&row).expect("integration serializes"),
                    sealed,
                    row.updated_at
                ],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        self.wake.notify_one();
        Ok(integration)
    }

    /// Deletes an integration and its state, with its `…Deleted` event. Events it stored stay.
    pub async fn delete(&self, id: &str, actor: KeyActor) -> Result<Integration, PullError> {
        let (integration, _) = self.get(id).await?;
        let lock = self.run_lock(id);
        let _running = lock.lock().await;
        let event = integration_event(
            "DELETE",
            "QueryAuditIntegrationDeletedAuditPayload",
            &integration,
            &actor,
        );
        let row_id = integration.id.clone();
        let side_write: SideWrite = Box::new(move |transaction: &Connection| {
            transaction.execute("DELETE FROM integrations WHERE id = ?1", [&row_id])?;
            transaction.execute(
                "DELETE FROM integration_state WHERE integration_id = ?1",
                [&row_id],
            )?;
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        Ok(integration)
    }

    /// The schedule.
    pub async fn schedule(&self) -> Result<HashMap<IntegrationKind, u32>, PullError> {
        self.blocking(read_schedule).await
    }

    /// Changes the schedule, with a `QueryAuditScheduleUpdated` event.
    pub async fn set_schedule(
        &self,
        changes: Vec<(IntegrationKind, u32)>,
        actor: KeyActor,
    ) -> Result<HashMap<IntegrationKind, u32>, PullError> {
        let mut schedule = self.schedule().await?;
        for (kind, minutes) in &changes {
            schedule.insert(*kind, *minutes);
        }
        let event = OwnEvent {
            action: "UPDATE",
            target_type: "CONFIGURATION",
            actor: actor.to_json(),
            targets: json!([{ "type": "CONFIGURATION", "id": "queryAuditSchedule", "name": "Query audit schedule" }]),
            payload: json!({
                "type": "QueryAuditScheduleUpdatedAuditPayload",
                "version": 1,
                "schedule": schedule_json(&schedule),
            }),
        }
        .into_entry();
        let side_write: SideWrite = Box::new(move |transaction: &Connection| {
            for (kind, minutes) in &changes {
                transaction.execute(
                    "INSERT INTO integration_schedule (kind, interval_minutes) VALUES (?1, ?2)
                     ON CONFLICT (kind) DO UPDATE SET interval_minutes = excluded.interval_minutes",
                    params![kind.as_str(), minutes],
                )?;
            }
            Ok(())
        });
        self.log.append_with(vec![event], Some(side_write)).await?;
        self.wake.notify_one();
        Ok(schedule)
    }

    fn run_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.running
            .lock()
            .expect("run locks")
            .entry(id.to_owned())
            .or_default()
            .clone()
    }

    /// Refuses a host the outbound policy does not allow (loopback, private or link-local, unless
    /// the operator allowed those).
    async fn check_host(&self, source: &Source) -> Result<(), String> {
        let (field, url) = match source {
            Source::Snowflake(settings) => ("accountUrl", settings.account_url.as_str()),
            Source::DatabricksUnityCatalog(settings) => ("host", settings.host.as_str()),
        };
        outbound::check_destination(field, url, self.outbound).await
    }

    /// Starts a manual load of every enabled pull integration; returns at once with the job. While
    /// one is running, asking again answers that job instead of starting another: one load in
    /// flight at a time.
    pub async fn load(self: &Arc<Self>) -> Result<LoadJob, PullError> {
        let integrations: Vec<Integration> = self
            .blocking(list_integrations)
            .await?
            .into_iter()
            .filter(|integration| integration.enabled)
            .collect();
        let job = Arc::new(Mutex::new(LoadJob {
            id: uuid::Uuid::new_v4().to_string(),
            state: "RUNNING",
            started_at: now_text(),
            finished_at: None,
            integrations: integrations
                .iter()
                .map(|integration| LoadJobItem {
                    id: integration.id.clone(),
                    name: integration.name.clone(),
                    kind: integration.source.kind(),
                    state: "PENDING",
                    run: RunSummary::default(),
                })
                .collect(),
        }));
        {
            let mut jobs = self.jobs.lock().expect("load jobs");
            let running = jobs
                .iter()
                .map(|job| job.lock().expect("load job").clone())
                .find(|job| job.state == "RUNNING");
            if let Some(running) = running {
                return Ok(running);
            }
            jobs.push(job.clone());
            let excess = jobs.len().saturating_sub(KEPT_LOAD_JOBS);
            jobs.drain(..excess);
        }
        let service = self.clone();
        let background = job.clone();
        tokio::spawn(async move {
            let mut failed = false;
            for (index, integration) in integrations.iter().enumerate() {
                background.lock().expect("load job").integrations[index].state = "RUNNING";
                let progress = Arc::new(Mutex::new(RunSummary::default()));
                let watcher = {
                    let progress = progress.clone();
                    let background = background.clone();
                    move || {
                        let current = progress.lock().expect("run progress").clone();
                        background.lock().expect("load job").integrations[index].run = current;
                    }
                };
                let result = service.run(integration, &progress, &watcher).await;
                watcher();
                let mut job = background.lock().expect("load job");
                job.integrations[index].state = if result.is_ok() {
                    "SUCCEEDED"
                } else {
                    failed = true;
                    "FAILED"
                };
            }
            let mut job = background.lock().expect("load job");
            job.state = if failed { "FAILED" } else { "SUCCEEDED" };
            job.finished_at = Some(now_text());
        });
        let snapshot = job.lock().expect("load job").clone();
        Ok(snapshot)
    }

    /// A load job by id.
    pub fn load_job(&self, id: &str) -> Option<LoadJob> {
        self.jobs
            .lock()
            .expect("load jobs")
            .iter()
            .find(|job| job.lock().expect("load job").id == id)
            .map(|job| job.lock().expect("load job").clone())
    }

    /// Runs one integration now (waiting for a run of it already going), recording the outcome.
    async fn run(
        &self,
        integration: &Integration,
        progress: &Mutex<RunSummary>,
        on_progress: &(dyn Fn() + Sync),
    ) -> Result<(), PullError> {
        let lock = self.run_lock(&integration.id);
        let _running = lock.lock().await;
        // It may have been changed or deleted while this run waited.
        let id = integration.id.clone();
        let integration = self.blocking(move |log| get_integration(log, &id)).await?;
        let started = now_text();
        progress.lock().expect("run progress").started_at = Some(started.clone());
        let result = match self.check_host(&integration.source).await {
            Ok(()) => self.run_locked(&integration, progress, on_progress).await,
            Err(refused) => Err(PullError::Source(refused)),
        };
        let mut summary = progress.lock().expect("run progress").clone();
        summary.finished_at = Some(now_text());
        if let Err(error) = &result {
            summary.error = Some(error.to_string());
            tracing::warn!(integration = %integration.id, %error, "query-audit run failed");
        } else {
            tracing::info!(
                integration = %integration.id,
                rows = summary.rows_read,
                stored = summary.events_stored,
                duplicates = summary.duplicates,
                malformed = summary.malformed,
                "query-audit run finished"
            );
        }
        *progress.lock().expect("run progress") = summary.clone();
        let watermark = match &result {
            Ok(watermark) => *watermark,
            Err(_) => None,
        };
        let id = integration.id.clone();
        let ok = result.is_ok();
        let side_write: SideWrite = Box::new(move |transaction: &Connection| {
            transaction.execute(
                "INSERT INTO integration_state (integration_id, watermark_micros, last_run_at, last_success_at, last_error, last_summary)
                 VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?3 END, ?5, ?6)
                 ON CONFLICT (integration_id) DO UPDATE SET
                     watermark_micros = coalesce(excluded.watermark_micros, watermark_micros),
                     last_run_at = excluded.last_run_at,
                     last_success_at = coalesce(excluded.last_success_at, last_success_at),
                     last_error = excluded.last_error,
                     last_summary = excluded.last_summary",
                params![
                    id,
                    watermark.map(|time: DateTime<Utc>| time.timestamp_micros()),
                    started,
                    ok,
                    summary.error,
                    serde_json::to_string(&summary).expect("summary serializes"),
                ],
            )?;
            Ok(())
        });
        // Deleting an integration takes its run lock, so it cannot vanish before this write.
        self.log.append_with(Vec::new(), Some(side_write)).await?;
        result.map(|_| ())
    }

    /// Reads the window and stores its events page by page; returns the new watermark. The
    /// watermark is written by the caller, after every event is durable.
    async fn run_locked(
        &self,
        integration: &Integration,
        progress: &Mutex<RunSummary>,
        on_progress: &(dyn Fn() + Sync),
    ) -> Result<Option<DateTime<Utc>>, PullError> {
        let id = integration.id.clone();
        let status = self.blocking(move |log| read_status(log, &id)).await?;
        let id = integration.id.clone();
        let sealed = self.blocking(move |log| sealed_secret(log, &id)).await?;
        let secret = self.master.open(&integration.id, &sealed)?;
        let previous = status
            .watermark_micros
            .and_then(DateTime::<Utc>::from_timestamp_micros);
        let since = match previous {
            Some(watermark) => {
                watermark - chrono::Duration::minutes(integration.overlap_minutes.into())
            }
            None => Utc::now() - chrono::Duration::hours(integration.initial_lookback_hours.into()),
        };
        progress.lock().expect("run progress").window_start = Some(iso(since));
        on_progress();
        let mut pages: Box<dyn PageSource> = match &integration.source {
            Source::Snowflake(settings) => {
                Box::new(SnowflakePages::start(&self.client, settings, &secret, since).await?)
            }
            Source::DatabricksUnityCatalog(settings) => {
                Box::new(DatabricksPages::start(&self.client, settings, &secret, since).await?)
            }
        };
        let mut watermark = previous;
        let mut shutdown = self.shutdown.subscribe();
        while let Some(page) = pages.next_page().await? {
            if *shutdown.borrow_and_update() {
                return Err(PullError::Source(
                    "vigil is shutting down; the run stopped".into(),
                ));
            }
            let log = self.log.clone();
            let registry = self.registry.clone();
            let snapshot = tokio::task::spawn_blocking(move || registry.catch_up(&log)).await??;
            let arrival = vigil_model::Timestamp::now();
            let now = Utc::now();
            let mut entries = Vec::new();
            let mut counts = RunSummary::default();
            for row in page.rows() {
                counts.rows_read += 1;
                let outcome = match &integration.source {
                    Source::Snowflake(settings) => {
                        snowflake::translate_row(&row, settings, &integration.id, &snapshot)
                    }
                    Source::DatabricksUnityCatalog(settings) => {
                        databricks::translate_row(&row, settings, &integration.id, &snapshot, now)
                    }
                };
                match outcome {
                    RowOutcome::Events { events, end_time } => {
                        for event in events {
                            let id = event.id.clone();
                            match event.into_entry(arrival) {
                                Ok(entry) => entries.push(
                                    entry.submitted_by(Submitter::integration(&integration.id)),
                                ),
                                Err(error) => {
                                    counts.malformed += 1;
                                    tracing::warn!(integration = %integration.id, event = %id, %error, "skipping a query event that does not validate");
                                }
                            }
                        }
                        watermark = watermark.max(Some(end_time));
                    }
                    RowOutcome::Skipped { end_time } => {
                        counts.skipped += 1;
                        watermark = watermark.max(Some(end_time));
                    }
                    RowOutcome::Deferred => counts.deferred += 1,
                    RowOutcome::Malformed(reason) => {
                        counts.malformed += 1;
                        tracing::warn!(integration = %integration.id, %reason, "skipping a malformed row");
                    }
                }
            }
            let stored = store_events(&self.log, entries).await?;
            let mut summary = progress.lock().expect("run progress");
            summary.rows_read += counts.rows_read;
            summary.skipped += counts.skipped;
            summary.deferred += counts.deferred;
            summary.malformed += counts.malformed;
            summary.events_stored += stored.stored;
            summary.duplicates += stored.duplicates;
            summary.watermark = watermark.map(iso);
            drop(summary);
            on_progress();
        }
        Ok(watermark)
    }

    async fn schedule_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown.subscribe();
        loop {
            let next = match self.run_due().await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "the query-audit scheduler could not read its integrations");
                    Utc::now() + chrono::Duration::minutes(1)
                }
            };
            let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Runs every enabled integration whose time has come; returns when the next one is due. An
    /// integration first runs one interval after it was created (or on a manual load).
    async fn run_due(&self) -> Result<DateTime<Utc>, PullError> {
        let schedule = self.schedule().await?;
        let mut next = Utc::now() + chrono::Duration::hours(1);
        for (integration, status) in self.list().await? {
            if !integration.enabled {
                continue;
            }
            let interval = chrono::Duration::minutes(
                schedule
                    .get(&integration.source.kind())
                    .copied()
                    .unwrap_or(DEFAULT_INTERVAL_MINUTES)
                    .into(),
            );
            let last = status
                .last_run_at
                .as_deref()
                .unwrap_or(&integration.created_at);
            let due = DateTime::parse_from_rfc3339(last)
                .map(|time| time.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now())
                + interval;
            if due <= Utc::now() {
                let progress = Mutex::new(RunSummary::default());
                // The outcome is recorded in the integration's state.
                let _ = self.run(&integration, &progress, &|| {}).await;
                next = next.min(Utc::now() + interval);
            } else {
                next = next.min(due);
            }
        }
        Ok(next)
    }
}
