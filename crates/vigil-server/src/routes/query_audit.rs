//! Query audit over HTTP: the Trino event-listener endpoint, the user and data source registry
//! (with platform username mapping), the pull integrations, their schedule and manual loads.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_core::keys::Permission;
use vigil_core::query_audit::pull::{IntegrationInput, parse_schedule, schedule_json};
use vigil_core::query_audit::{store_events, trino};
use vigil_core::registry::Platform;
use vigil_model::{ModelError, Timestamp};

use super::{body_text, read_json_body};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// `PUT /api/audit/ingest/trino`: the same, for a listener set to
/// `http-event-listener.connect-http-method=PUT`.
#[utoipa::path(
    put,
    path = "/api/audit/ingest/trino",
    operation_id = "ingestTrinoPut",
    tag = "query-audit",
    summary = "Store the queries Trino's HTTP event listener sends, by PUT (INGEST)",
    request_body(content = Object, content_type = "application/json", description = "A QueryCompletedEvent, or an array of them"),
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn ingest_trino_put(
    state: State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    ingest_trino(state, caller, body).await
}

/// `POST /api/audit/ingest/trino`: one `QueryCompletedEvent` (or an array of them) as Trino's
/// HTTP event listener posts it. A repeat of the same query is a duplicate, not a second event.
/// Created and split events are acknowledged and ignored.
#[utoipa::path(
    post,
    path = "/api/audit/ingest/trino",
    operation_id = "ingestTrino",
    tag = "query-audit",
    summary = "Store the queries Trino's HTTP event listener sends (INGEST)",
    request_body(content = Object, content_type = "application/json", description = "A QueryCompletedEvent, or an array of them (created and split events are acknowledged and ignored)"),
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn ingest_trino(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let submitter = caller.require(Permission::Ingest)?.submitter();
    let text = body_text(body)?;
    let registry = state.registry.clone();
    let log = state.log.clone();
    let arrival = Timestamp::now();
    let (entries, ignored) = tokio::task::spawn_blocking(move || {
        let snapshot = registry.catch_up(&log)?;
        let items: Vec<&serde_json::value::RawValue> = if text.trim_start().starts_with('[') {
            serde_json::from_str(&text).map_err(|error| ModelError::from_json_in(&error, &text))
        } else {
            serde_json::from_str(&text)
                .map(|item| vec![item])
                .map_err(|error| ModelError::from_json_in(&error, &text))
        }
        .map_err(ApiError::BadRequest)?;
        if items.is_empty() {
            return Err(ApiError::Invalid("the request body holds no events".into()));
        }
        let many = items.len() > 1;
        let mut entries = Vec::new();
        let mut ignored = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let at = |error: ModelError| match error {
                ModelError::Invalid { path, message } if many => ModelError::Invalid {
                    path: format!("[{index}]{}{path}", if path.is_empty() { "" } else { "." }),
                    message,
                },
                other => other,
            };
            match trino::translate(item.get(), &snapshot).map_err(at)? {
                trino::TrinoEvent::Completed(event) => entries.push(
                    event
                        .into_entry(arrival)
                        .map_err(at)?
                        .submitted_by(submitter.clone()),
                ),
                trino::TrinoEvent::Ignored(kind) => ignored.push(kind),
            }
        }
        Ok::<_, ApiError>((entries, ignored))
    })
    .await??;
    let ids: Vec<String> = entries.iter().map(|entry| entry.event_id.clone()).collect();
    let counts = store_events(&state.log, entries).await?;
    state
        .metrics
        .count_ingest(counts.stored as usize, counts.duplicates as usize, 0);
    Ok(Json(json!({
        "stored": counts.stored,
        "duplicates": counts.duplicates,
        "ignored": ignored,
        "ids": ids,
    }))
    .into_response())
}

/// `GET /api/audit/registry/users`: registered users with their platform usernames.
#[utoipa::path(
    get,
    path = "/api/audit/registry/users",
    operation_id = "listRegistryUsers",
    tag = "query-audit",
    summary = "Registered users with their platform usernames (AUDIT)",
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let (registry, log) = (state.registry.clone(), state.log.clone());
    let snapshot = tokio::task::spawn_blocking(move || registry.catch_up(&log)).await??;
    let users: Vec<_> = snapshot.users().collect();
    Ok(Json(json!({ "count": users.len(), "users": users })))
}

/// `GET /api/audit/registry/datasources`: registered data sources.
#[utoipa::path(
    get,
    path = "/api/audit/registry/datasources",
    operation_id = "listRegistryDatasources",
    tag = "query-audit",
    summary = "Registered data sources (AUDIT)",
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn list_datasources(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let (registry, log) = (state.registry.clone(), state.log.clone());
    let snapshot = tokio::task::spawn_blocking(move || registry.catch_up(&log)).await??;
    let sources: Vec<_> = snapshot.datasources().collect();
    Ok(Json(
        json!({ "count": sources.len(), "datasources": sources }),
    ))
}

/// `PUT /api/audit/registry/users/{userId}/external-ids/{technology}` with `{"username": "…"}`
/// maps a platform username to the user; `DELETE` on the same path unmaps it. Either records a
/// `UserUpdated` event. Events ingested afterwards name the user.
#[utoipa::path(
    put,
    path = "/api/audit/registry/users/{user_id}/external-ids/{technology}",
    operation_id = "mapPlatformUsername",
    tag = "query-audit",
    summary = "Map a platform username to a user (ADMIN)",
    params(("user_id" = String, Path, description = "The registered user's id"), ("technology" = inline(crate::openapi::PlatformName), Path, description = "The platform")),
    request_body(content = crate::openapi::UsernameBody, description = "The username"),
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn map_username(
    State(state): State<AppState>,
    caller: Caller,
    Path((user_id, technology)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let key = caller.require(Permission::Admin)?.clone();
    let platform = Platform::parse(&technology)
        .ok_or_else(|| ApiError::Invalid(Platform::parse_error(&technology)))?;
    let text = body_text(body)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| ApiError::BadRequest(ModelError::from_json_in(&error, &text)))?;
    let username = match value.get("username") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => {
            return Err(ApiError::Invalid(
                "username: is required, e.g. {\"username\": \"TAYLOR\"}".into(),
            ));
        }
    };
    change_mapping(state, key.actor(), user_id, platform, Some(username)).await
}

/// `DELETE /api/audit/registry/users/{userId}/external-ids/{technology}`.
#[utoipa::path(
    delete,
    path = "/api/audit/registry/users/{user_id}/external-ids/{technology}",
    operation_id = "unmapPlatformUsername",
    tag = "query-audit",
    summary = "Remove a user's platform username (ADMIN)",
    params(("user_id" = String, Path, description = "The registered user's id"), ("technology" = inline(crate::openapi::PlatformName), Path, description = "The platform")),
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn unmap_username(
    State(state): State<AppState>,
    caller: Caller,
    Path((user_id, technology)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let key = caller.require(Permission::Admin)?.clone();
    let platform = Platform::parse(&technology)
        .ok_or_else(|| ApiError::Invalid(Platform::parse_error(&technology)))?;
    change_mapping(state, key.actor(), user_id, platform, None).await
}

async fn change_mapping(
    state: AppState,
    actor: vigil_core::keys::KeyActor,
    user_id: String,
    platform: Platform,
    username: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let (registry, log) = (state.registry.clone(), state.log.clone());
    let missing = user_id.clone();
    let user = tokio::task::spawn_blocking(move || {
        registry.map_username(&log, &user_id, platform, username.as_deref(), &actor)
    })
    .await??
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "no registered user with id `{missing}` (users come from UserCreated events)"
        ))
    })?;
    Ok(Json(json!(user)))
}

fn integration_json(
    integration: &vigil_core::query_audit::pull::Integration,
    status: Option<&vigil_core::query_audit::pull::IntegrationStatus>,
) -> Value {
    let mut value = integration.to_json();
    if let Some(status) = status {
        value["status"] = json!(status);
    }
    value
}

/// `GET /api/audit/integrations`.
#[utoipa::path(
    get,
    path = "/api/audit/integrations",
    operation_id = "listIntegrations",
    tag = "query-audit",
    summary = "Pull integrations, never their secrets (AUDIT)",
    responses((status = 200, description = "The integrations", body = Vec<crate::openapi::Integration>), crate::openapi::Refused)
)]
pub async fn list_integrations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let list = state.pulls.list().await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|(integration, status)| integration_json(integration, Some(status)))
            .collect(),
    )))
}

/// `GET /api/audit/integrations/{id}`.
#[utoipa::path(
    get,
    path = "/api/audit/integrations/{id}",
    operation_id = "getIntegration",
    tag = "query-audit",
    summary = "One pull integration (AUDIT)",
    params(("id" = String, Path, description = "The integration's id")),
    responses((status = 200, description = "The integration", body = crate::openapi::Integration), crate::openapi::Refused)
)]
pub async fn get_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let (integration, status) = state.pulls.get(&id).await?;
    Ok(Json(integration_json(&integration, Some(&status))))
}

/// `POST /api/audit/integrations`: creates a Snowflake or Unity Catalog integration.
#[utoipa::path(
    post,
    path = "/api/audit/integrations",
    operation_id = "createIntegration",
    tag = "query-audit",
    summary = "Create a Snowflake or Unity Catalog pull integration (ADMIN)",
    request_body(content = crate::openapi::Integration, description = "The integration"),
    responses((status = 201, description = "The integration", body = crate::openapi::Integration), crate::openapi::Refused)
)]
pub async fn create_integration(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Admin)?.clone();
    let input = IntegrationInput::parse(&read_json_body(body)?, true)?;
    let integration = state.pulls.create(input, key.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(integration_json(&integration, None)),
    )
        .into_response())
}

/// `PUT /api/audit/integrations/{id}`: replaces its settings; without a secret the stored one stays.
#[utoipa::path(
    put,
    path = "/api/audit/integrations/{id}",
    operation_id = "updateIntegration",
    tag = "query-audit",
    summary = "Replace an integration's settings; without a secret the stored one stays (ADMIN)",
    params(("id" = String, Path, description = "The integration's id")),
    request_body(content = crate::openapi::Integration, description = "The integration"),
    responses((status = 200, description = "The integration", body = crate::openapi::Integration), crate::openapi::Refused)
)]
pub async fn update_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let key = caller.require(Permission::Admin)?.clone();
    let input = IntegrationInput::parse(&read_json_body(body)?, false)?;
    let integration = state.pulls.update(&id, input, key.actor()).await?;
    Ok(Json(integration_json(&integration, None)))
}

/// `DELETE /api/audit/integrations/{id}`: the events it stored stay.
#[utoipa::path(
    delete,
    path = "/api/audit/integrations/{id}",
    operation_id = "deleteIntegration",
    tag = "query-audit",
    summary = "Delete an integration; the events it stored stay (ADMIN)",
    params(("id" = String, Path, description = "The integration's id")),
    responses((status = 200, description = "The integration", body = crate::openapi::Integration), crate::openapi::Refused)
)]
pub async fn delete_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = caller.require(Permission::Admin)?.clone();
    let integration = state.pulls.delete(&id, key.actor()).await?;
    Ok(Json(integration_json(&integration, None)))
}

/// `GET /api/audit/integrations/schedule`: minutes between runs, per integration type.
#[utoipa::path(
    get,
    path = "/api/audit/integrations/schedule",
    operation_id = "getIntegrationSchedule",
    tag = "query-audit",
    summary = "Minutes between pull runs, per integration type (AUDIT)",
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn get_schedule(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    Ok(Json(schedule_json(&state.pulls.schedule().await?)))
}

/// `PUT /api/audit/integrations/schedule` with `{"SNOWFLAKE": {"intervalMinutes": 30}}`.
#[utoipa::path(
    put,
    path = "/api/audit/integrations/schedule",
    operation_id = "setIntegrationSchedule",
    tag = "query-audit",
    summary = "Set the minutes between pull runs (ADMIN)",
    request_body(content = crate::openapi::ScheduleBody, description = "The intervals to change"),
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn set_schedule(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let key = caller.require(Permission::Admin)?.clone();
    let changes = parse_schedule(&read_json_body(body)?)?;
    let schedule = state.pulls.set_schedule(changes, key.actor()).await?;
    Ok(Json(schedule_json(&schedule)))
}

/// `POST /api/audit/load`: "Load Audit Events": runs every enabled pull integration now, in
/// the background; answers 202 with the job to poll.
#[utoipa::path(
    post,
    path = "/api/audit/load",
    operation_id = "startLoad",
    tag = "query-audit",
    summary = "Load Audit Events: run every enabled pull integration now (AUDIT)",
    responses((status = 202, description = "The job to poll", body = Object), crate::openapi::Refused)
)]
pub async fn start_load(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Permission::Audit)?;
    let job = state.pulls.load().await?;
    Ok((StatusCode::ACCEPTED, Json(json!(job))).into_response())
}

/// `GET /api/audit/load/{id}`: a load's progress and result.
#[utoipa::path(
    get,
    path = "/api/audit/load/{id}",
    operation_id = "getLoad",
    tag = "query-audit",
    summary = "A load's progress and result (AUDIT)",
    params(("id" = String, Path, description = "The load's id")),
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn get_load(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let job = state
        .pulls
        .load_job(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no load job with id {id}")))?;
    Ok(Json(json!(job)))
}
