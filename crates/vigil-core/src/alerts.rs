//! Alerts: a saved search with a threshold and a window ("more than 5 UNAUTHORIZED queries on
//! data sources tagged PII within 10 minutes"). One node evaluates them every few seconds; a
//! firing is an `AlertFired` event in the log, which the alert's forwarders deliver whatever
//! their filters say (see `forward`): the notification is as durable and exact as any event.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigil_model::Timestamp;

use crate::LogError;
use crate::cluster::Leases;
use crate::keys::KeyActor;
use crate::log::{EventLog, LogEntry, SideWrite};
use crate::own_events::OwnEvent;
use crate::saved_searches::SavedSearch;
use crate::search::{SearchIndex, SearchRequest, TimeField};
use crate::store::{Row, StoreError, values};

/// The payload type of a firing.
pub const ALERT_FIRED_PAYLOAD_TYPE: &str = "AlertFiredAuditPayload";
/// How often the alerts are evaluated.
pub const EVALUATE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// The lease under which one node evaluates every alert.
pub const LEASE: &str = "alerts";
/// The longest window: a day.
pub const MAX_WINDOW_MINUTES: u32 = 24 * 60;
/// Event ids a firing names, the newest first.
const SAMPLE_EVENTS: usize = 10;

/// Errors of alerts.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The input is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// No alert with this id.
    #[error("no alert with id {0}")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl crate::Classify for AlertError {
    fn kind(&self) -> crate::ErrorKind {
        match self {
            AlertError::Invalid(_) => crate::ErrorKind::Invalid,
            AlertError::NotFound(_) => crate::ErrorKind::NotFound,
            AlertError::Log(error) => crate::Classify::kind(error),
        }
    }
}

impl From<StoreError> for AlertError {
    fn from(error: StoreError) -> Self {
        AlertError::Log(LogError::from(error))
    }
}

/// An alert, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// A UUID, given at creation.
    pub id: String,
    /// What people call it.
    pub name: String,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// The saved search whose events are counted.
    pub saved_search_id: String,
    /// It fires when more events than this match within the window.
    pub threshold: u64,
    /// The window, in minutes, ending at each evaluation (by event time).
    pub window_minutes: u32,
    /// The forwarders that deliver its firings.
    pub forwarder_ids: Vec<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was last changed (RFC 3339).
    pub updated_at: String,
}

/// What a create or update request gives: [`Alert`]'s settings (`enabled` defaults to true).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertInput {
    /// What people call it.
    pub name: String,
    /// Whether it is evaluated (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The saved search whose events are counted.
    pub saved_search_id: String,
    /// It fires when more events than this match within the window.
    pub threshold: u64,
    /// The window, in minutes, ending at each evaluation (by event time).
    pub window_minutes: u32,
    /// The forwarders that deliver its firings.
    pub forwarder_ids: Vec<String>,
}

fn yes() -> bool {
    true
}

impl AlertInput {
    /// Reads and checks a request body (what exists — the saved search, the forwarders — is
    /// checked by [`AlertService`]).
    pub fn parse(body: &Value) -> Result<AlertInput, AlertError> {
        let mut input: AlertInput = serde_path_to_error::deserialize(body).map_err(|error| {
            let path = error.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            AlertError::Invalid(format!("{at}{}", error.inner()))
        })?;
        input.name = input.name.trim().to_owned();
        if input.name.is_empty() || input.name.chars().count() > 200 {
            return Err(AlertError::Invalid(
                "name: must be 1 to 200 characters".into(),
            ));
        }
        if !(1..=MAX_WINDOW_MINUTES).contains(&input.window_minutes) {
            return Err(AlertError::Invalid(format!(
                "windowMinutes: must be 1 to {MAX_WINDOW_MINUTES}"
            )));
        }
        input.forwarder_ids.sort();
        input.forwarder_ids.dedup();
        if input.forwarder_ids.is_empty() {
            return Err(AlertError::Invalid(
                "forwarderIds: name at least one forwarder to notify".into(),
            ));
        }
        Ok(input)
    }
}

/// How an alert's evaluations went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// When it was last evaluated.
    pub last_checked_at: Option<String>,
    /// The events its window held then.
    pub last_count: Option<u64>,
    /// When it last fired.
    pub last_fired_at: Option<String>,
    /// Firings in total.
    pub firings: u64,
    /// Why the last evaluation failed, when it did.
    pub last_error: Option<String>,
}

fn alert_from_row(row: &Row) -> Result<Alert, StoreError> {
    serde_json::from_str(&row.string(0)?)
        .map_err(|error| StoreError::Unreadable(format!("a stored alert is unreadable: {error}")))
}

/// Every alert, oldest first.
pub fn list(log: &EventLog) -> Result<Vec<Alert>, AlertError> {
    Ok(log.query(|db| {
        db.query("SELECT settings FROM alerts ORDER BY created_at, id", &[])?
            .iter()
            .map(alert_from_row)
            .collect()
    })?)
}

/// One alert, or [`AlertError::NotFound`].
pub fn get(log: &EventLog, id: &str) -> Result<Alert, AlertError> {
    let wanted = id.to_owned();
    log.query(move |db| {
        db.query_optional("SELECT settings FROM alerts WHERE id = ?1", values![wanted])?
            .as_ref()
            .map(alert_from_row)
            .transpose()
    })?
    .ok_or_else(|| AlertError::NotFound(id.to_owned()))
}

/// The status of alert `id`.
pub fn status(log: &EventLog, id: &str) -> Result<AlertStatus, AlertError> {
    let wanted = id.to_owned();
    Ok(log
        .query(move |db| {
            db.query_optional(
                "SELECT last_checked_at, last_count, last_fired_at, firings, last_error
                 FROM alert_state WHERE alert_id = ?1",
                values![wanted],
            )?
            .map(|row| {
                Ok::<_, StoreError>(AlertStatus {
                    last_checked_at: row.optional_string(0)?,
                    last_count: row.optional_integer(1)?.map(|count| count as u64),
                    last_fired_at: row.optional_string(2)?,
                    firings: row.integer(3)? as u64,
                    last_error: row.optional_string(4)?,
                })
            })
            .transpose()
        })?
        .unwrap_or_default())
}

fn alert_event(
    action: &'static str,
    payload_type: &str,
    alert: &Alert,
    actor: &KeyActor,
) -> LogEntry {
    OwnEvent {
        action,
        target_type: "ALERT",
        actor: actor.to_json(),
        targets: json!([{ "type": "ALERT", "id": alert.id, "name": alert.name }]),
        payload: json!({ "type": payload_type, "version": 1, "alert": alert }),
    }
    .into_entry()
}

/// Every saved search (what an alert may count).
fn saved_searches(log: &EventLog) -> Result<Vec<SavedSearch>, AlertError> {
    crate::saved_searches::list(log).map_err(|error| match error {
        crate::saved_searches::SavedSearchError::Log(error) => AlertError::Log(error),
        other => AlertError::Invalid(other.to_string()),
    })
}

/// Refuses an input naming a saved search or a forwarder that does not exist.
fn check_references(log: &EventLog, input: &AlertInput) -> Result<(), AlertError> {
    let searches = saved_searches(log)?;
    if !searches
        .iter()
        .any(|search| search.id == input.saved_search_id)
    {
        return Err(AlertError::Invalid(format!(
            "savedSearchId: no saved search with id `{}`",
            input.saved_search_id
        )));
    }
    for id in &input.forwarder_ids {
        match crate::forward::get_forwarder(log, id) {
            Ok(_) => {}
            Err(crate::forward::ForwardError::NotFound(_)) => {
                return Err(AlertError::Invalid(format!(
                    "forwarderIds: no forwarder with id `{id}`"
                )));
            }
            Err(error) => return Err(AlertError::Invalid(error.to_string())),
        }
    }
    Ok(())
}

fn now_text() -> String {
    Timestamp::now().to_rfc3339_utc()
}

/// Creates an alert with its `AlertCreated` event. Blocking.
pub fn create(log: &EventLog, input: AlertInput, actor: &KeyActor) -> Result<Alert, AlertError> {
    check_references(log, &input)?;
    let now = now_text();
    let alert = Alert {
        id: uuid::Uuid::new_v4().to_string(),
        name: input.name,
        enabled: input.enabled,
        saved_search_id: input.saved_search_id,
        threshold: input.threshold,
        window_minutes: input.window_minutes,
        forwarder_ids: input.forwarder_ids,
        created_at: now.clone(),
        updated_at: now,
    };
    let row = alert.clone();
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "INSERT INTO alerts (id, settings, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)",
            values![
                &row.id,
                serde_json::to_string(&row).expect("alert serializes"),
                &row.created_at,
                &row.updated_at
            ],
        )?;
        Ok(())
    });
    let event = alert_event("CREATE", "AlertCreatedAuditPayload", &alert, actor);
    log.append_blocking(vec![event], Some(side_write))?;
    Ok(alert)
}

/// Replaces an alert's settings with an `AlertUpdated` event. Blocking.
pub fn update(
    log: &EventLog,
    id: &str,
    input: AlertInput,
    actor: &KeyActor,
) -> Result<Alert, AlertError> {
    let current = get(log, id)?;
    check_references(log, &input)?;
    let alert = Alert {
        name: input.name,
        enabled: input.enabled,
        saved_search_id: input.saved_search_id,
        threshold: input.threshold,
        window_minutes: input.window_minutes,
        forwarder_ids: input.forwarder_ids,
        updated_at: now_text(),
        ..current
    };
    let row = alert.clone();
    let side_write: SideWrite = Box::new(move |db| {
        let changed = db.execute(
            "UPDATE alerts SET settings = ?2, updated_at = ?3 WHERE id = ?1",
            values![
                &row.id,
                serde_json::to_string(&row).expect("alert serializes"),
                &row.updated_at
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::Refused(format!("no alert with id {}", row.id)));
        }
        Ok(())
    });
    let event = alert_event("UPDATE", "AlertUpdatedAuditPayload", &alert, actor);
    log.append_blocking(vec![event], Some(side_write))?;
    Ok(alert)
}

/// Deletes an alert with an `AlertDeleted` event; its firings stay in the log. Blocking.
pub fn delete(log: &EventLog, id: &str, actor: &KeyActor) -> Result<Alert, AlertError> {
    let alert = get(log, id)?;
    let wanted = alert.id.clone();
    let side_write: SideWrite = Box::new(move |db| {
        db.execute("DELETE FROM alerts WHERE id = ?1", values![&wanted])?;
        db.execute(
            "DELETE FROM alert_state WHERE alert_id = ?1",
            values![&wanted],
        )?;
        Ok(())
    });
    let event = alert_event("DELETE", "AlertDeletedAuditPayload", &alert, actor);
    log.append_blocking(vec![event], Some(side_write))?;
    Ok(alert)
}

/// Whether the stored event (its JSON, parsed, and its submitter) is a firing that names
/// forwarder `forwarder_id`: only vigil's own firings count, never a submitted look-alike.
pub fn fired_for(event: &Value, submitter: Option<&str>, forwarder_id: &str) -> bool {
    submitter == Some("vigil")
        && event["auditPayload"]["type"] == ALERT_FIRED_PAYLOAD_TYPE
        && event["auditPayload"]["forwarderIds"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id == forwarder_id))
}

/// Evaluates every enabled alert once, at `now` (µs): counts its saved search's events in the
/// window; when more than the threshold, and it has not fired within the window, records the
/// firing. `request_for` turns a saved search into a search request (the server's parser).
/// Returns the number of firings. Blocking.
pub fn evaluate(
    log: &EventLog,
    index: &SearchIndex,
    leases: &Leases,
    request_for: &dyn Fn(&SavedSearch) -> Result<SearchRequest, String>,
    now: i64,
) -> Result<usize, AlertError> {
    let searches = saved_searches(log)?;
    let mut checks = Vec::new();
    let mut firings = Vec::new();
    for alert in list(log)?.into_iter().filter(|alert| alert.enabled) {
        let window = i64::from(alert.window_minutes) * 60_000_000;
        let state = status(log, &alert.id)?;
        let checked_at = now_text();
        let outcome = searches
            .iter()
            .find(|search| search.id == alert.saved_search_id)
            .ok_or_else(|| {
                format!(
                    "its saved search {} was deleted; point the alert at another",
                    alert.saved_search_id
                )
            })
            .and_then(|search| {
                let mut request = request_for(search)?;
                request.from = Some(now - window);
                request.to = Some(now);
                request.time_field = TimeField::Event;
                request.descending = true;
                request.size = SAMPLE_EVENTS;
                request.offset = 0;
                request.after = None;
                request.facets = Vec::new();
                request.histogram = None;
                index
                    .search(&request)
                    .map(|result| (search.clone(), result))
                    .map_err(|error| error.to_string())
            });
        let recently_fired = state
            .last_fired_at
            .as_deref()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .is_some_and(|time| now - time.timestamp_micros() < window);
        let (count, error, firing) = match outcome {
            Ok((search, result)) => {
                let fires = result.total > alert.threshold && !recently_fired;
                let firing = fires.then(|| {
                    firing_event(
                        &alert,
                        &search,
                        result.total,
                        now - window,
                        now,
                        &result.hits,
                    )
                });
                (Some(result.total), None, firing)
            }
            Err(error) => (None, Some(error), None),
        };
        let fires = firing.is_some();
        let fired_at = fires.then(|| checked_at.clone());
        checks.push((alert.id.clone(), checked_at, count, fired_at, fires, error));
        firings.extend(firing);
    }
    if checks.is_empty() {
        return Ok(0);
    }
    // Every evaluation's outcome, and every firing, in one append.
    let fired = firings.len();
    let (fence, lease) = (leases.fence_check(), LEASE.to_owned());
    let side_write: SideWrite = Box::new(move |db| {
        fence(db, &lease)?;
        for (id, checked_at, count, fired_at, fires, error) in checks {
            db.execute(
                "INSERT INTO alert_state (alert_id, last_checked_at, last_count, last_fired_at, firings, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (alert_id) DO UPDATE SET last_checked_at = excluded.last_checked_at,
                     last_count = excluded.last_count,
                     last_fired_at = coalesce(excluded.last_fired_at, alert_state.last_fired_at),
                     firings = alert_state.firings + excluded.firings,
                     last_error = excluded.last_error",
                values![
                    id,
                    checked_at,
                    count.map(|count| count as i64),
                    fired_at,
                    i64::from(fires),
                    error
                ],
            )?;
        }
        Ok(())
    });
    log.append_blocking(firings, Some(side_write))?;
    Ok(fired)
}

fn firing_event(
    alert: &Alert,
    search: &SavedSearch,
    count: u64,
    from: i64,
    to: i64,
    hits: &[crate::log::StoredEvent],
) -> LogEntry {
    let time = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    OwnEvent {
        action: "ALERT",
        target_type: "ALERT",
        actor: json!({ "type": "SYSTEM_ACCOUNT", "id": "vigil", "name": "vigil" }),
        targets: json!([{ "type": "ALERT", "id": alert.id, "name": alert.name }]),
        payload: json!({
            "type": ALERT_FIRED_PAYLOAD_TYPE,
            "version": 1,
            "alertId": alert.id,
            "name": alert.name,
            "savedSearchId": search.id,
            "savedSearchName": search.name,
            "query": search.query,
            "threshold": alert.threshold,
            "windowMinutes": alert.window_minutes,
            "count": count,
            "windowStart": time(from),
            "windowEnd": time(to),
            "forwarderIds": alert.forwarder_ids,
            "sampleEventIds": hits.iter().map(|hit| hit.event_id.clone()).collect::<Vec<_>>(),
        }),
    }
    .into_entry()
}
