//! Alerts over HTTP: `GET/POST /api/audit/alerts` and `GET/PUT/DELETE /api/audit/alerts/{id}`
//! (reading needs AUDIT, changing EXPORT_ADMIN or ADMIN, since a firing goes out through
//! forwarders); and the search request of a saved search, which the evaluator counts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_core::alerts::{self, Alert, AlertInput};
use vigil_core::keys::Permission;
use vigil_core::saved_searches::SavedSearch;
use vigil_core::search::SearchRequest;

use super::read_json_body;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Parameters of the audit page that say where the page is, not which events: the alert's
/// window replaces its time range.
const PAGE_ONLY: [&str; 12] = [
    "range",
    "hours",
    "since",
    "from",
    "to",
    "offset",
    "saved",
    "size",
    "cursor",
    "order",
    "facets",
    "facetLimit",
];

/// The search a saved search stands for, as the API parses it: the audit page's `f=field:value`
/// and `x=field:value` become `field=value` and `field.not=value`, `own=1` becomes
/// `ownReads=include`, `q` stays; API-style parameters stay as they are.
pub fn saved_search_request(search: &SavedSearch) -> Result<SearchRequest, String> {
    let mut api = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(search.query.as_bytes()) {
        match name.as_ref() {
            "f" | "x" => {
                let Some((field, wanted)) = value.split_once(':') else {
                    return Err(format!(
                        "saved search `{}`: `{name}={value}` is not field:value",
                        search.name
                    ));
                };
                let field = if name == "x" {
                    format!("{field}.not")
                } else {
                    field.to_owned()
                };
                api.append_pair(&field, wanted);
            }
            "own" => {
                if value == "1" {
                    api.append_pair("ownReads", "include");
                }
            }
            page if PAGE_ONLY.contains(&page) => {}
            _ => {
                api.append_pair(&name, &value);
            }
        }
    }
    let query = api.finish();
    super::parse_search(Some(&query))
        .map(|(request, _, _)| request)
        .map_err(|error| format!("saved search `{}`: {error}", search.name))
}

fn read_input(body: Result<Bytes, BytesRejection>) -> Result<AlertInput, ApiError> {
    Ok(AlertInput::parse(&read_json_body(body)?)?)
}

/// Refuses an alert whose saved search the evaluator could not run.
async fn check_search(state: &AppState, input: &AlertInput) -> Result<(), ApiError> {
    let log = state.log.clone();
    let searches =
        tokio::task::spawn_blocking(move || vigil_core::saved_searches::list(&log)).await??;
    if let Some(search) = searches
        .iter()
        .find(|search| search.id == input.saved_search_id)
    {
        saved_search_request(search)
            .map_err(|error| ApiError::Invalid(format!("savedSearchId: {error}")))?;
    }
    Ok(())
}

fn with_status(state: &AppState, alert: &Alert) -> Result<Value, ApiError> {
    let mut value = json!(alert);
    value["status"] = json!(alerts::status(&state.log, &alert.id)?);
    Ok(value)
}

/// `GET /api/audit/alerts`: every alert with its last evaluation and firings.
#[utoipa::path(
    get,
    path = "/api/audit/alerts",
    operation_id = "listAlerts",
    tag = "forwarding",
    summary = "Every alert, by name (AUDIT)",
    responses((status = 200, description = "The list, by name", body = Vec<vigil_core::alerts::Alert>), crate::openapi::Refused)
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let answer = tokio::task::spawn_blocking(move || {
        alerts::list(&state.log)?
            .iter()
            .map(|alert| with_status(&state, alert))
            .collect::<Result<Vec<Value>, ApiError>>()
    })
    .await??;
    Ok(Json(Value::Array(answer)))
}

/// `GET /api/audit/alerts/{id}`.
#[utoipa::path(
    get,
    path = "/api/audit/alerts/{id}",
    operation_id = "getAlert",
    tag = "forwarding",
    summary = "One alert with its state (AUDIT)",
    params(("id" = String, Path, description = "The alert's id")),
    responses((status = 200, description = "The alert", body = vigil_core::alerts::Alert), crate::openapi::Refused)
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let answer = tokio::task::spawn_blocking(move || {
        let alert = alerts::get(&state.log, &id)?;
        with_status(&state, &alert)
    })
    .await??;
    Ok(Json(answer))
}

/// `POST /api/audit/alerts`: 201 with the alert.
#[utoipa::path(
    post,
    path = "/api/audit/alerts",
    operation_id = "createAlert",
    tag = "forwarding",
    summary = "Create a alert (EXPORT_ADMIN or ADMIN)",
    request_body(content = vigil_core::alerts::AlertInput, description = "The alert"),
    responses((status = 201, description = "The alert", body = vigil_core::alerts::Alert), crate::openapi::Refused)
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Permission::ExportAdmin)?.actor();
    let input = read_input(body)?;
    check_search(&state, &input).await?;
    let log = state.log.clone();
    let alert = tokio::task::spawn_blocking(move || alerts::create(&log, input, &actor)).await??;
    Ok((StatusCode::CREATED, Json(json!(alert))).into_response())
}

/// `PUT /api/audit/alerts/{id}`: replaces its settings.
#[utoipa::path(
    put,
    path = "/api/audit/alerts/{id}",
    operation_id = "updateAlert",
    tag = "forwarding",
    summary = "Replace a alert's settings (EXPORT_ADMIN or ADMIN)",
    params(("id" = String, Path, description = "The alert's id")),
    request_body(content = vigil_core::alerts::AlertInput, description = "The alert"),
    responses((status = 200, description = "The alert", body = vigil_core::alerts::Alert), crate::openapi::Refused)
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.require(Permission::ExportAdmin)?.actor();
    let input = read_input(body)?;
    check_search(&state, &input).await?;
    let log = state.log.clone();
    let alert =
        tokio::task::spawn_blocking(move || alerts::update(&log, &id, input, &actor)).await??;
    Ok(Json(json!(alert)))
}

/// `DELETE /api/audit/alerts/{id}`: its firings stay in the log.
#[utoipa::path(
    delete,
    path = "/api/audit/alerts/{id}",
    operation_id = "deleteAlert",
    tag = "forwarding",
    summary = "Delete a alert (EXPORT_ADMIN or ADMIN)",
    params(("id" = String, Path, description = "The alert's id")),
    responses((status = 200, description = "The alert", body = vigil_core::alerts::Alert), crate::openapi::Refused)
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.require(Permission::ExportAdmin)?.actor();
    let log = state.log.clone();
    let alert = tokio::task::spawn_blocking(move || alerts::delete(&log, &id, &actor)).await??;
    Ok(Json(json!(alert)))
}
