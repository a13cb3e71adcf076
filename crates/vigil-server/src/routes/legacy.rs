//! `POST /audit/createRecord`: the legacy record API of seed 004. Each record is stored as a UAM
//! event whose payload keeps the record whole, so one log serves both APIs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_core::LogEntry;
use vigil_core::ingest::{BodyFormat, split_body};
use vigil_core::keys::Permission;
use vigil_model::Timestamp;
use vigil_model::legacy::LegacyRecord;

use super::body_text;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Creates audit records; answers `{"success": [...], "failure": [...]}`.
#[utoipa::path(
    post,
    path = "/audit/createRecord",
    operation_id = "legacyCreateRecord",
    tag = "legacy",
    summary = "Store records of the original service's legacy format (INGEST)",
    request_body(content = Object, content_type = "application/json", description = "A legacy audit record, or an array of them"),
    responses((status = 200, description = "What was stored", body = Object), (status = 400, description = "Nothing stored: each failure with its index and reason (`failure`, `success`)", body = Object), crate::openapi::Refused)
)]
pub async fn create_record(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = caller.require(Permission::Ingest)?.clone();
    let text = body_text(body)?;
    let now = Timestamp::now();
    let (entries, success, failure) = tokio::task::spawn_blocking(move || {
        let items = split_body(&text, BodyFormat::Json).map_err(ApiError::BadRequest)?;
        let mut entries = Vec::new();
        let mut success = Vec::new();
        let mut failure = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let parsed = item.and_then(LegacyRecord::from_json);
            match parsed {
                Ok(record) => {
                    let event_id = uuid::Uuid::new_v4().to_string();
                    let event = record.to_uam(&event_id, now, &key.name);
                    let stored_json = event.to_string();
                    let submitted_len = stored_json.len();
                    entries.push(
                        LogEntry::new(
                            event_id.clone(),
                            stored_json,
                            submitted_len,
                            now.unix_micros(),
                            now.unix_micros(),
                        )
                        .submitted_by(key.submitter()),
                    );
                    let mut answer = record.original.clone();
                    if let Value::Object(fields) = &mut answer {
                        fields.insert("id".into(), json!(event_id));
                        fields.insert("dateTime".into(), json!(now.unix_millis().to_string()));
                    }
                    success.push(answer);
                }
                Err(error) => failure.push(json!({ "index": index, "error": error.to_string() })),
            }
        }
        Ok::<_, ApiError>((entries, success, failure))
    })
    .await??;
    if !entries.is_empty() {
        // Fresh ids: every entry is stored, or the call fails and none is.
        state.log.append(entries).await?;
    }
    state.metrics.count_ingest(success.len(), 0, failure.len());
    let status = if success.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "success": success, "failure": failure })),
    )
        .into_response())
}
