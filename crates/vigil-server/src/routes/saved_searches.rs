//! Saved searches of the audit page (`/api/audit/saved-searches`, permission AUDIT): list, save,
//! delete. Each save and delete is recorded as an event.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigil_core::keys::Permission;
use vigil_core::saved_searches;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The body of a save.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSavedSearch {
    /// The name people pick it by (unique).
    name: String,
    /// The audit page's query string (`range=24h&f=action:QUERY&…`), without a leading `?`.
    query: String,
}

/// `GET /api/audit/saved-searches`: every saved search, by name.
#[utoipa::path(
    get,
    path = "/api/audit/saved-searches",
    operation_id = "listSavedSearches",
    tag = "search",
    summary = "Every saved search, by name (AUDIT)",
    responses((status = 200, description = "The list, by name", body = Vec<vigil_core::saved_searches::SavedSearch>), crate::openapi::Refused)
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Permission::Audit)?;
    let log = state.log.clone();
    let searches = tokio::task::spawn_blocking(move || saved_searches::list(&log)).await??;
    Ok(Json(searches).into_response())
}

/// `POST /api/audit/saved-searches` `{"name": …, "query": …}`: 201 with the saved search.
#[utoipa::path(
    post,
    path = "/api/audit/saved-searches",
    operation_id = "createSavedSearch",
    tag = "search",
    summary = "Save a search (AUDIT)",
    request_body(content = NewSavedSearch, description = "The name and the audit page's query string"),
    responses((status = 201, description = "The saved search", body = vigil_core::saved_searches::SavedSearch), crate::openapi::Refused)
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewSavedSearch>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Audit)?.clone();
    let Json(body) = body.map_err(|rejection| {
        ApiError::Invalid(format!(
            "the body must be {{\"name\": \"…\", \"query\": \"…\"}}: {}",
            rejection.body_text()
        ))
    })?;
    let log = state.log.clone();
    let saved = tokio::task::spawn_blocking(move || {
        saved_searches::create(&log, &body.name, &body.query, &key.actor())
    })
    .await??;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

/// `DELETE /api/audit/saved-searches/{id}`: the deleted search.
#[utoipa::path(
    delete,
    path = "/api/audit/saved-searches/{id}",
    operation_id = "deleteSavedSearch",
    tag = "search",
    summary = "Delete a saved search (AUDIT)",
    params(("id" = String, Path, description = "The saved search's id")),
    responses((status = 200, description = "The deleted search", body = vigil_core::saved_searches::SavedSearch), crate::openapi::Refused)
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Audit)?.clone();
    let log = state.log.clone();
    let deleted =
        tokio::task::spawn_blocking(move || saved_searches::delete(&log, &id, &key.actor()))
            .await??;
    Ok(Json(deleted).into_response())
}
