//! `GET /api/audit/session` (who the caller is: the web UI's sign-in check),
//! `GET /api/audit/sign-in` (how people may sign in, asked before anyone has) and
//! `GET /api/audit/status` (how far the log, the search index and the projection have come).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use vigil_core::keys::Permission;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The caller: a key's name and permissions (never its secret), or a signed-in person with the
/// session's CSRF token and end. Any valid key or session may ask.
#[utoipa::path(
    get,
    path = "/api/audit/session",
    operation_id = "getSession",
    tag = "sign-in",
    summary = "Who is calling: the key, or the signed-in person with the session's CSRF token",
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
pub async fn session(caller: Caller) -> Json<Value> {
    let principal = &caller.0;
    let permissions: Vec<&str> = principal.permissions.iter().map(|p| p.as_str()).collect();
    let mut answer = json!({
        "name": principal.name,
        "id": principal.id,
        "permissions": permissions,
        "authenticationMethod": "apiKey",
    });
    if let Some(session) = &principal.session {
        answer["authenticationMethod"] = json!(vigil_core::sessions::AUTHENTICATION_METHOD);
        answer["person"] = json!(session.person);
        answer["csrfToken"] = json!(session.csrf_token);
        answer["expiresAt"] = json!(
            chrono::DateTime::from_timestamp_micros(session.expires_at)
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        );
    }
    Json(answer)
}

/// How people may sign in: with an API key always, and through single sign-on when it is
/// configured. No key is needed to ask.
#[utoipa::path(
    get,
    path = "/api/audit/sign-in",
    operation_id = "getSignInOptions",
    tag = "sign-in",
    summary = "How people may sign in (no key needed)",
    security(()),
    responses((status = 200, description = "OK", body = Object))
)]
pub async fn sign_in_options(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "apiKey": true,
        "singleSignOn": state.oidc.is_some(),
        "loginUrl": state.oidc.as_ref().map(|_| "/auth/login"),
    }))
}

/// The last stored sequence number and how far each derived view has come (permission AUDIT).
#[utoipa::path(
    get,
    path = "/api/audit/status",
    operation_id = "getStatus",
    tag = "service",
    summary = "How far the log, the search index and the projection have come (AUDIT)",
    responses((status = 200, description = "OK", body = Object), crate::openapi::Refused)
)]
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
