//! `GET /api/audit/session` (who the API key is: the web UI's sign-in check) and
//! `GET /api/audit/status` (how far the log, the search index and the projection have come).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use vigil_core::keys::Permission;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The caller's key: its name and permissions, never its secret. Any valid key may ask.
pub async fn session(caller: Caller) -> Json<Value> {
    let key = &caller.0;
    let permissions: Vec<&str> = key.permissions.iter().map(|p| p.as_str()).collect();
    Json(json!({ "name": key.name, "id": key.id, "permissions": permissions }))
}

/// The last stored sequence number and how far each derived view has come (permission AUDIT).
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Audit)?;
    let last = state.log.last_committed_seq();
    Ok(Json(json!({
        "lastSequence": last,
        "indexedSequence": state.search.indexed_seq(),
        "projectedSequence": state.governance.projected_seq(),
    })))
}
