//! `POST /api/audit/events` (one event, a JSON array, or NDJSON) and `GET /api/audit/events/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vigil_core::ingest::{self, BodyFormat, IngestReport, MAX_EVENTS_PER_REQUEST};
use vigil_core::keys::Permission;
use vigil_model::Timestamp;

use super::body_text;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The body format named by a `Content-Type`; anything but NDJSON is read as JSON.
fn body_format(headers: &HeaderMap) -> BodyFormat {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => BodyFormat::Ndjson,
        _ => BodyFormat::Json,
    }
}

/// The response header naming who submitted an event: `vigil` for vigil's own events, else
/// `key:<API key id>`, `cli:<user>`, `integration:<id>` or `demo`.
pub const SUBMITTED_BY_HEADER: &str = "vigil-submitted-by";

/// Stores events. Each valid item is durable before the answer; invalid items are listed with
/// their index and reason and nothing of them is stored.
#[utoipa::path(
    post,
    path = "/api/audit/events",
    operation_id = "ingestEvents",
    tag = "events",
    summary = "Store events (INGEST): one UAM event, an array, or NDJSON",
    request_body(description = "A UAM event, an array of them, or NDJSON (one event a line)", content((crate::openapi::EventOrEvents = "application/json"), (String = "application/x-ndjson"))),
    responses((status = 200, description = "What was stored, what was a duplicate, what was rejected and why", body = Object), (status = 400, description = "Nothing stored: `rejected` lists each item with its index and reason (or, for a body that is no JSON, the error body)", body = Object), (status = 409, description = "Nothing stored: every item's id is taken by another event", body = Object), crate::openapi::Refused)
)]
pub async fn ingest_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let submitter = caller.require(Permission::Ingest)?.submitter();
    let text = body_text(body)?;
    let format = body_format(&headers);
    let single_object = format == BodyFormat::Json && !text.trim_start().starts_with('[');
    let arrival = Timestamp::now();
    let prepared = tokio::task::spawn_blocking(move || {
        let items = ingest::split_body(&text, format).map_err(ApiError::BadRequest)?;
        if items.len() > MAX_EVENTS_PER_REQUEST {
            return Err(ApiError::Invalid(format!(
                "a request may carry at most {MAX_EVENTS_PER_REQUEST} events; this one has {}",
                items.len()
            )));
        }
        Ok(ingest::prepare(items, arrival, &submitter))
    })
    .await??;
    if prepared.is_empty() {
        return Err(ApiError::Invalid("the request body holds no events".into()));
    }
    if single_object && let Some(Err(error)) = prepared.first() {
        return Err(ApiError::BadRequest(error.clone()));
    }
    let report = ingest::ingest(&state.log, prepared).await?;
    state.metrics.count_ingest(
        report.stored.len(),
        report.duplicates.len(),
        report.rejected.len(),
    );
    Ok(report_response(&report))
}

fn report_response(report: &IngestReport) -> Response {
    let listed = |items: &[(usize, String, u64)]| {
        items
            .iter()
            .map(|(index, id, seq)| json!({ "index": index, "id": id, "seq": seq }))
            .collect::<Vec<_>>()
    };
    let rejected: Vec<_> = report
        .rejected
        .iter()
        .map(|(index, id, reason)| json!({ "index": index, "id": id, "reason": reason }))
        .collect();
    let nothing_taken = report.stored.is_empty() && report.duplicates.is_empty();
    let status = if !nothing_taken {
        StatusCode::OK
    } else if report.rejected.iter().all(|(_, id, _)| id.is_some()) {
        // Every item was an id conflict.
        StatusCode::CONFLICT
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut body = json!({
        "accepted": report.stored.len(),
        "stored": listed(&report.stored),
        "duplicates": listed(&report.duplicates),
        "rejected": rejected,
    });
    if nothing_taken {
        body["error"] = json!("no event of the request was stored; see `rejected`");
    }
    (status, Json(body)).into_response()
}

/// Returns the stored event: the JSON it arrived with, plus the fields vigil filled in.
#[utoipa::path(
    get,
    path = "/api/audit/events/{id}",
    operation_id = "getEvent",
    tag = "events",
    summary = "One stored event, as it arrived plus the fields vigil filled in (AUDIT)",
    params(("id" = String, Path, description = "The event's id")),
    responses((status = 200, description = "The event, byte for byte as stored", body = crate::openapi::UamEvent), crate::openapi::Refused)
)]
pub async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    read_event(state, caller, id).await
}

/// `GET /api/audit/event?id=…`: the same read with the id in the query, which can carry every id
/// a path cannot (`.` and `..`, stored by earlier versions, are resolved away by URL clients).
#[utoipa::path(
    get,
    path = "/api/audit/event",
    operation_id = "getEventById",
    tag = "events",
    summary = "One stored event, its id in the query (for ids a path cannot carry) (AUDIT)",
    params(("id" = String, Query, description = "The event's id")),
    responses((status = 200, description = "The event, byte for byte as stored", body = crate::openapi::UamEvent), crate::openapi::Refused)
)]
pub async fn get_event_by_query(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut ids: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(name, _)| name == "id")
        .map(|(_, value)| value.into_owned())
        .collect();
    let id = match (ids.pop(), ids.is_empty()) {
        (Some(id), true) => id,
        (None, _) => return Err(ApiError::Invalid("id: is required".into())),
        (Some(_), false) => return Err(ApiError::Invalid("id: is given more than once".into())),
    };
    read_event(state, caller, id).await
}

async fn read_event(state: AppState, caller: Caller, id: String) -> Result<Response, ApiError> {
    caller.require(Permission::Audit)?;
    let log = state.log.clone();
    let lookup_id = id.clone();
    let stored = tokio::task::spawn_blocking(move || log.get(&lookup_id)).await??;
    match stored {
        Some(event) => {
            let mut response = ([(CONTENT_TYPE, "application/json")], event.json).into_response();
            // Who submitted it travels beside the stored JSON, which stays as sent.
            if let Some(value) = event
                .submitter
                .and_then(|submitter| HeaderValue::from_str(&submitter).ok())
            {
                response.headers_mut().insert(SUBMITTED_BY_HEADER, value);
            }
            Ok(response)
        }
        None => Err(ApiError::NotFound(format!("no event with id `{id}`"))),
    }
}
