//! `POST /api/audit/graphql`: runs a GraphQL request as the calling API key (permission AUDIT to
//! read; EXPORT_ADMIN or ADMIN besides to change export configurations).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use vigil_core::keys::Permission;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::graphql::GraphqlCaller;
use crate::state::AppState;

/// Executes the request; GraphQL errors (bad input, unknown id) come back in `errors` with 200.
pub async fn graphql(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<async_graphql::Response>, ApiError> {
    let key = caller.require(Permission::Audit)?;
    let text = super::body_text(body)?;
    let request: async_graphql::Request = serde_json::from_str(&text).map_err(|error| {
        ApiError::Invalid(format!(
            "the body is not a GraphQL request ({{\"query\": \"…\", \"variables\": {{…}}}}): {error}"
        ))
    })?;
    let may_manage_exports = key.allows(Permission::ExportAdmin) || key.allows(Permission::Admin);
    let caller = GraphqlCaller::new(key.actor(), may_manage_exports);
    Ok(Json(state.graphql.execute(request.data(caller)).await))
}
