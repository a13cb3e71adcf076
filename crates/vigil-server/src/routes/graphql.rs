//! `/api/audit/graphql`: GraphQL over HTTP as clients speak it. `POST` with a JSON request, a
//! JSON array of requests (a batch, as Apollo's batching link sends) or an `application/graphql`
//! body; `GET` with `query`, `variables` and `operationName` for queries. Errors of the request
//! itself (no key, no permission, a body that is no GraphQL request) come in GraphQL's `errors`
//! shape with `extensions.code`; `Accept: application/graphql-response+json` is answered in that
//! media type. Permission AUDIT to read; EXPORT_ADMIN or ADMIN besides to change configurations.

use std::collections::HashMap;

use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_core::keys::Permission;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::graphql::GraphqlCaller;
use crate::state::AppState;

/// The media type of the GraphQL-over-HTTP specification.
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// A request error: the status, GraphQL's `extensions.code`, and the message.
struct RequestError(StatusCode, &'static str, String);

impl RequestError {
    fn bad(message: impl Into<String>) -> Self {
        RequestError(StatusCode::BAD_REQUEST, "BAD_REQUEST", message.into())
    }
}

impl From<ApiError> for RequestError {
    fn from(error: ApiError) -> Self {
        // The status from the one table; the code names what is wrong with the request itself.
        let (status, _) = error.status_and_code();
        let code = match &error {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) | ApiError::CsrfRefused => "FORBIDDEN",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::RequestTimeout(_) => "REQUEST_TIMEOUT",
            _ if status.is_server_error() => "INTERNAL_SERVER_ERROR",
            _ => "BAD_REQUEST",
        };
        RequestError(status, code, error.to_string())
    }
}

/// The media type answered: GraphQL's own when the client accepts it, else JSON.
fn media_type(headers: &HeaderMap) -> &'static str {
    let accepts = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if accepts.contains(GRAPHQL_RESPONSE) {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    }
}

fn answer(status: StatusCode, body: Value, headers: &HeaderMap) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type(headers)),
    );
    response
}

fn refuse(error: RequestError, headers: &HeaderMap) -> Response {
    let RequestError(status, code, message) = error;
    answer(
        status,
        json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }),
        headers,
    )
}

/// The calling key's context, once it may read (AUDIT).
fn caller_of(caller: Result<Caller, ApiError>) -> Result<GraphqlCaller, RequestError> {
    let caller = caller?;
    let key = caller.require(Permission::Audit)?;
    let may_manage_exports = key.allows(Permission::ExportAdmin) || key.allows(Permission::Admin);
    Ok(GraphqlCaller::new(key.actor(), may_manage_exports))
}

async fn execute(state: &AppState, batch: BatchRequest, caller: GraphqlCaller) -> Value {
    let batch = match batch {
        BatchRequest::Single(request) => BatchRequest::Single(request.data(caller)),
        BatchRequest::Batch(requests) => BatchRequest::Batch(
            requests
                .into_iter()
                .map(|request| request.data(caller.clone()))
                .collect(),
        ),
    };
    let response: BatchResponse = state.graphql.execute_batch(batch).await;
    serde_json::to_value(response).expect("a GraphQL response serializes")
}

/// The requests of a `POST` body.
fn parse_body(headers: &HeaderMap, text: &str) -> Result<BatchRequest, RequestError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/graphql")
        && !content_type.starts_with("application/graphql-response")
    {
        return Ok(BatchRequest::Single(Request::new(text)));
    }
    let batch: BatchRequest = serde_json::from_str(text).map_err(|error| {
        RequestError::bad(format!(
            "the body is not a GraphQL request ({{\"query\": \"…\", \"variables\": {{…}}}}, an array of them, or a query with Content-Type application/graphql): {error}"
        ))
    })?;
    if let BatchRequest::Batch(requests) = &batch
        && requests.is_empty()
    {
        return Err(RequestError::bad("the batch holds no request"));
    }
    Ok(batch)
}

/// Refuses a request without a document to run (a JSON body without `query`, an empty
/// `application/graphql` body): a malformed request, not a GraphQL error.
fn require_query(batch: &BatchRequest) -> Result<(), RequestError> {
    let requests = match batch {
        BatchRequest::Single(request) => std::slice::from_ref(request),
        BatchRequest::Batch(requests) => requests.as_slice(),
    };
    match requests
        .iter()
        .position(|request| request.query.trim().is_empty())
    {
        None => Ok(()),
        Some(index) if requests.len() > 1 => Err(RequestError::bad(format!(
            "request {index} of the batch has no `query`: the GraphQL document to run is required"
        ))),
        Some(_) => Err(RequestError::bad(
            "`query` is required: the GraphQL document to run",
        )),
    }
}

/// `POST /api/audit/graphql`. Errors of a valid request (bad input, an unknown id) come back in
/// `errors` with 200, as GraphQL does.
#[utoipa::path(
    post,
    path = "/api/audit/graphql",
    operation_id = "graphqlPost",
    tag = "exports",
    summary = "GraphQL: export configurations and their runs (AUDIT; EXPORT_ADMIN or ADMIN to change)",
    request_body(description = "A GraphQL request, an array of them (a batch), or the query itself with Content-Type application/graphql", content((crate::openapi::GraphqlRequest = "application/json"), (String = "application/graphql"))),
    responses((status = 200, description = "GraphQL's answer, with `errors` for field errors; an array of answers for a batch", body = Value), (status = "4XX", description = "A request error (no key, no permission, not a GraphQL request), in GraphQL's `errors` shape with `extensions.code`", body = Object), (status = "5XX", description = "A failure of the service, in GraphQL's `errors` shape", body = Object))
)]
pub async fn graphql_post(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let outcome = async {
        let caller = caller_of(caller)?;
        let text = super::body_text(body)?;
        let batch = parse_body(&headers, &text)?;
        require_query(&batch)?;
        Ok::<_, RequestError>(execute(&state, batch, caller).await)
    }
    .await;
    match outcome {
        Ok(body) => answer(StatusCode::OK, body, &headers),
        Err(error) => refuse(error, &headers),
    }
}

/// `GET /api/audit/graphql?query=…&variables=…&operationName=…`: queries only (a mutation over
/// GET is refused with 405, as the GraphQL-over-HTTP specification says).
#[utoipa::path(
    get,
    path = "/api/audit/graphql",
    operation_id = "graphqlGet",
    tag = "exports",
    summary = "GraphQL queries over GET (AUDIT)",
    params(("query" = String, Query, description = "The GraphQL query"), ("variables" = Option<String>, Query, description = "The variables, as JSON"), ("operationName" = Option<String>, Query, description = "The operation to run")),
    responses((status = 200, description = "GraphQL's answer", body = Object), (status = "4XX", description = "A request error (no key, no permission, not a GraphQL request), in GraphQL's `errors` shape with `extensions.code`", body = Object), (status = "5XX", description = "A failure of the service, in GraphQL's `errors` shape", body = Object))
)]
pub async fn graphql_get(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let outcome = async {
        let caller = caller_of(caller)?;
        let query = params
            .get("query")
            .filter(|query| !query.trim().is_empty())
            .ok_or_else(|| RequestError::bad("query parameter `query` is required"))?;
        let document = async_graphql::parser::parse_query(query)
            .map_err(|error| RequestError::bad(format!("query parameter `query`: {error}")))?;
        let operation_name = params.get("operationName").cloned();
        let is_mutation = document.operations.iter().any(|(name, operation)| {
            let chosen = match (&operation_name, name) {
                (Some(wanted), Some(name)) => wanted == name.as_str(),
                (Some(_), None) => false,
                (None, _) => true,
            };
            chosen && operation.node.ty != async_graphql::parser::types::OperationType::Query
        });
        if is_mutation {
            return Err(RequestError(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "mutations are sent with POST; GET runs queries only".into(),
            ));
        }
        let mut request = Request::new(query.clone());
        if let Some(name) = operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = params.get("variables").filter(|text| !text.is_empty()) {
            let variables: Value = serde_json::from_str(variables).map_err(|error| {
                RequestError::bad(format!(
                    "query parameter `variables` is not a JSON object: {error}"
                ))
            })?;
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        Ok::<_, RequestError>(execute(&state, BatchRequest::Single(request), caller).await)
    }
    .await;
    match outcome {
        Ok(body) => answer(StatusCode::OK, body, &headers),
        Err(error) => {
            let mut response = refuse(error, &headers);
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            }
            response
        }
    }
}
