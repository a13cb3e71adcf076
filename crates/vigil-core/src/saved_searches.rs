//! Saved searches of the audit page: a name and the page's query string, kept server-side and
//! shared by every key with AUDIT. Each save and delete is recorded as an event
//! (`SavedSearchCreated`, `SavedSearchDeleted`) in the same transaction as the change.

use serde::Serialize;
use serde_json::json;
use vigil_model::Timestamp;

use crate::LogError;
use crate::keys::KeyActor;
use crate::log::{EventLog, SideWrite};
use crate::own_events::OwnEvent;
use crate::store::{Row, StoreError, values};

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest query string, in bytes.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// A saved search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SavedSearch {
    /// Its id.
    pub id: String,
    /// The name people pick it by (unique).
    pub name: String,
    /// The audit page's query string (`range=24h&f=action:QUERY&…`), without a leading `?`.
    pub query: String,
    /// The key that saved it (its name).
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// Errors of saved searches.
#[derive(Debug, thiserror::Error)]
pub enum SavedSearchError {
    /// The input is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A saved search has this name.
    #[error("name: a saved search named `{0}` already exists")]
    NameTaken(String),
    /// No saved search with this id.
    #[error("no saved search with id {0}")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl crate::Classify for SavedSearchError {
    fn kind(&self) -> crate::ErrorKind {
        match self {
            SavedSearchError::Invalid(_) => crate::ErrorKind::Invalid,
            SavedSearchError::NameTaken(_) => crate::ErrorKind::Conflict,
            SavedSearchError::NotFound(_) => crate::ErrorKind::NotFound,
            SavedSearchError::Log(error) => crate::Classify::kind(error),
        }
    }
}

fn from_row(row: &Row) -> Result<SavedSearch, StoreError> {
    Ok(SavedSearch {
        id: row.string(0)?,
        name: row.string(1)?,
        query: row.string(2)?,
        created_by: row.string(3)?,
        created_at: row.string(4)?,
    })
}

/// Every saved search, by name.
pub fn list(log: &EventLog) -> Result<Vec<SavedSearch>, SavedSearchError> {
    Ok(log.query(|db| {
        db.query(
            "SELECT id, name, query, created_by, created_at FROM saved_searches
             ORDER BY lower(name), id",
            &[],
        )?
        .iter()
        .map(from_row)
        .collect()
    })?)
}

/// Saves a search, recording `SavedSearchCreated`.
pub fn create(
    log: &EventLog,
    name: &str,
    query: &str,
    actor: &KeyActor,
) -> Result<SavedSearch, SavedSearchError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(SavedSearchError::Invalid("name: is required".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(SavedSearchError::Invalid(format!(
            "name: is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    let query = query.trim().trim_start_matches('?');
    if query.len() > MAX_QUERY_BYTES {
        return Err(SavedSearchError::Invalid(format!(
            "query: is longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let search = SavedSearch {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        query: query.to_owned(),
        created_by: actor.name.clone(),
        created_at: Timestamp::now().to_rfc3339_utc(),
    };
    let event = event(
        "CREATE",
        json!({
            "type": "SavedSearchCreatedAuditPayload",
            "version": 1,
            "savedSearchId": search.id,
            "name": search.name,
            "query": search.query,
        }),
        &search,
        actor,
    );
    let row = search.clone();
    let side_write: SideWrite = Box::new(move |db| {
        db.execute(
            "INSERT INTO saved_searches (id, name, query, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            values![row.id, row.name, row.query, row.created_by, row.created_at],
        )?;
        Ok(())
    });
    match log.append_blocking(vec![event], Some(side_write)) {
        Ok(_) => Ok(search),
        Err(LogError::Append(message))
            if message.contains("UNIQUE") || message.contains("unique constraint") =>
        {
            Err(SavedSearchError::NameTaken(name.to_owned()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes a saved search, recording `SavedSearchDeleted`.
pub fn delete(log: &EventLog, id: &str, actor: &KeyActor) -> Result<SavedSearch, SavedSearchError> {
    let wanted = id.to_owned();
    let found = log.query(move |db| {
        db.query_optional(
            "SELECT id, name, query, created_by, created_at FROM saved_searches WHERE id = ?1",
            values![wanted],
        )?
        .as_ref()
        .map(from_row)
        .transpose()
    })?;
    let search = found.ok_or_else(|| SavedSearchError::NotFound(id.to_owned()))?;
    let event = event(
        "DELETE",
        json!({
            "type": "SavedSearchDeletedAuditPayload",
            "version": 1,
            "savedSearchId": search.id,
            "name": search.name,
        }),
        &search,
        actor,
    );
    let row_id = search.id.clone();
    let side_write: SideWrite = Box::new(move |db| {
        match db.execute("DELETE FROM saved_searches WHERE id = ?1", values![row_id])? {
            1 => Ok(()),
            // Deleted concurrently: store no event either.
            _ => Err(StoreError::Refused(
                "the saved search was deleted meanwhile".into(),
            )),
        }
    });
    match log.append_blocking(vec![event], Some(side_write)) {
        Ok(_) => Ok(search),
        Err(LogError::Append(_)) => Err(SavedSearchError::NotFound(id.to_owned())),
        Err(error) => Err(error.into()),
    }
}

fn event(
    action: &'static str,
    payload: serde_json::Value,
    search: &SavedSearch,
    actor: &KeyActor,
) -> crate::log::LogEntry {
    OwnEvent {
        action,
        target_type: "AUDIT",
        actor: actor.to_json(),
        targets: json!([{ "type": "AUDIT", "id": search.id, "name": search.name }]),
        payload,
    }
    .into_entry()
}
