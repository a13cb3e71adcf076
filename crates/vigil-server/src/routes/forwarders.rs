//! Forwarders to the SIEM over HTTP: `GET/POST /api/audit/forwarders` and
//! `GET/PUT/DELETE /api/audit/forwarders/{id}`. Reading needs AUDIT; changing needs EXPORT_ADMIN
//! (or ADMIN), since a forwarder sends the log elsewhere, as an export does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use vigil_core::forward::ForwarderInput;
use vigil_core::keys::Permission;

use super::read_json_body;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/audit/forwarders`: every forwarder with its checkpoint, lag and last error.
#[utoipa::path(
    get,
    path = "/api/audit/forwarders",
    operation_id = "listForwarders",
    tag = "forwarding",
    summary = "Every forwarder, by name (AUDIT)",
    responses((status = 200, description = "The list, by name", body = Vec<vigil_core::forward::Forwarder>), crate::openapi::Refused)
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let list = state.forwards.list().await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|(forwarder, status)| forwarder.to_json(Some(status)))
            .collect(),
    )))
}

/// `GET /api/audit/forwarders/{id}`.
#[utoipa::path(
    get,
    path = "/api/audit/forwarders/{id}",
    operation_id = "getForwarder",
    tag = "forwarding",
    summary = "One forwarder with its state (AUDIT)",
    params(("id" = String, Path, description = "The forwarder's id")),
    responses((status = 200, description = "The forwarder", body = vigil_core::forward::Forwarder), crate::openapi::Refused)
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let (forwarder, status) = state.forwards.get(&id).await?;
    Ok(Json(forwarder.to_json(Some(&status))))
}

/// `POST /api/audit/forwarders`: creates a forwarder and starts it; 201 with it.
#[utoipa::path(
    post,
    path = "/api/audit/forwarders",
    operation_id = "createForwarder",
    tag = "forwarding",
    summary = "Create a forwarder (EXPORT_ADMIN or ADMIN)",
    request_body(content = vigil_core::forward::ForwarderBody, description = "The forwarder"),
    responses((status = 201, description = "The forwarder", body = vigil_core::forward::Forwarder), crate::openapi::Refused)
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::ExportAdmin)?.clone();
    let input = ForwarderInput::parse(&read_json_body(body)?, true)?;
    let forwarder = state.forwards.create(input, &key.actor()).await?;
    Ok((StatusCode::CREATED, Json(forwarder.to_json(None))).into_response())
}

/// `PUT /api/audit/forwarders/{id}`: replaces its settings; it goes on from its checkpoint.
#[utoipa::path(
    put,
    path = "/api/audit/forwarders/{id}",
    operation_id = "updateForwarder",
    tag = "forwarding",
    summary = "Replace a forwarder's settings (EXPORT_ADMIN or ADMIN)",
    params(("id" = String, Path, description = "The forwarder's id")),
    request_body(content = vigil_core::forward::ForwarderBody, description = "The forwarder"),
    responses((status = 200, description = "The forwarder", body = vigil_core::forward::Forwarder), crate::openapi::Refused)
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let key = caller.require(Permission::ExportAdmin)?.clone();
    let input = ForwarderInput::parse(&read_json_body(body)?, false)?;
    let forwarder = state.forwards.update(&id, input, &key.actor()).await?;
    Ok(Json(forwarder.to_json(None)))
}

/// `DELETE /api/audit/forwarders/{id}`.
#[utoipa::path(
    delete,
    path = "/api/audit/forwarders/{id}",
    operation_id = "deleteForwarder",
    tag = "forwarding",
    summary = "Delete a forwarder (EXPORT_ADMIN or ADMIN)",
    params(("id" = String, Path, description = "The forwarder's id")),
    responses((status = 200, description = "The forwarder", body = vigil_core::forward::Forwarder), crate::openapi::Refused)
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = caller.require(Permission::ExportAdmin)?.clone();
    let forwarder = state.forwards.delete(&id, &key.actor()).await?;
    Ok(Json(forwarder.to_json(None)))
}
