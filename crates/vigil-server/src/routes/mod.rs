//! HTTP routes: the UAM API under `/api/audit/…`, the legacy API at the seed's paths, health,
//! and the web UI at `/`.

mod alerts;
mod events;
mod forwarders;
mod graphql;
mod legacy;
mod query_audit;
mod reports;
mod saved_searches;
mod search;
mod status;
mod ui;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) use alerts::saved_search_request;
pub(crate) use search::{parse_legacy_search, parse_search};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Every route of the service, each registered from its handler's OpenAPI annotation: the
/// router and the document come from one list.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(ui::index))
        .routes(routes!(ui::script))
        .routes(routes!(ui::style))
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(crate::openapi::document))
        .routes(routes!(status::session))
        .routes(routes!(status::sign_in_options))
        .routes(routes!(crate::oidc::login))
        .routes(routes!(crate::oidc::callback))
        .routes(routes!(crate::oidc::logout))
        .routes(routes!(status::status))
        .routes(routes!(events::ingest_events, search::search_events))
        .routes(routes!(events::get_event))
        .routes(routes!(events::get_event_by_query))
        .routes(routes!(graphql::graphql_post, graphql::graphql_get))
        // Trino's listener posts by default; `http-event-listener.connect-http-method=PUT` puts.
        .routes(routes!(
            query_audit::ingest_trino,
            query_audit::ingest_trino_put
        ))
        .routes(routes!(query_audit::list_users))
        .routes(routes!(
            query_audit::map_username,
            query_audit::unmap_username
        ))
        .routes(routes!(query_audit::list_datasources))
        .routes(routes!(
            query_audit::list_integrations,
            query_audit::create_integration
        ))
        .routes(routes!(
            query_audit::get_schedule,
            query_audit::set_schedule
        ))
        .routes(routes!(
            query_audit::get_integration,
            query_audit::update_integration,
            query_audit::delete_integration
        ))
        .routes(routes!(query_audit::start_load))
        .routes(routes!(query_audit::get_load))
        .routes(routes!(reports::catalog))
        .routes(routes!(reports::entities))
        .routes(routes!(reports::run_get, reports::run_post))
        .routes(routes!(forwarders::list, forwarders::create))
        .routes(routes!(
            forwarders::get,
            forwarders::update,
            forwarders::delete
        ))
        .routes(routes!(alerts::list, alerts::create))
        .routes(routes!(alerts::get, alerts::update, alerts::delete))
        .routes(routes!(saved_searches::list, saved_searches::create))
        .routes(routes!(saved_searches::delete))
        .routes(routes!(search::legacy_search))
        .routes(routes!(legacy::create_record))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(
            crate::listener::body_read_timeout,
        ))
        .routes(routes!(metrics))
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::telemetry::log_request,
        ))
        .with_state(state)
}

/// How much of a refused body is still read and dropped after the 413, so that a client still
/// sending it can finish and read the answer (a "lingering close", as nginx does).
const LINGER_BYTES: usize = MAX_BODY_BYTES + 1024 * 1024;
/// How long a refused body is read at most.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Answers 413 at once when a request declares a `Content-Length` over [`MAX_BODY_BYTES`], before
/// the body is read and before the key is checked. The body that may still arrive is dropped, up
/// to [`LINGER_BYTES`] and [`LINGER_TIME`], then the connection closes.
async fn refuse_declared_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        let body = request.into_body();
        tokio::spawn(tokio::time::timeout(
            LINGER_TIME,
            drop_body(body, LINGER_BYTES),
        ));
        return crate::error::ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        }
        .into_response();
    }
    next.run(request).await
}

/// Reads and drops up to `limit` bytes of `body`, holding none of them.
async fn drop_body(mut body: axum::body::Body, limit: usize) {
    use axum::body::HttpBody;
    let mut dropped = 0;
    while dropped <= limit {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            Some(Ok(frame)) => dropped += frame.data_ref().map_or(0, |data| data.len()),
            _ => return,
        }
    }
}

/// Prometheus metrics (permission AUDIT).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "service",
    summary = "Prometheus metrics (AUDIT)",
    responses((status = 200, description = "The metrics in the OpenMetrics text format, which Prometheus reads", content_type = "application/openmetrics-text", body = String), crate::openapi::Refused)
)]
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: crate::auth::Caller,
) -> Result<impl axum::response::IntoResponse, crate::error::ApiError> {
    caller.require(vigil_core::keys::Permission::Audit)?;
    let text = state.metrics.render(
        state.log.last_committed_seq(),
        state.search.indexed_seq(),
        integrity_alarms(&state).len(),
    );
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        text,
    ))
}

/// Every integrity alarm raised: by the log (its head went back) or by a view ahead of the log.
fn integrity_alarms(state: &AppState) -> Vec<String> {
    let mut alarms: Vec<String> = state.log.integrity_alarm().into_iter().collect();
    alarms.extend(state.search.integrity_alarm());
    alarms.extend(state.governance.integrity_alarm());
    alarms
}

/// What keeps `/readyz` from 200 when it is full: the last append failed for a full disk.
const STORAGE_FULL_REASON: &str =
    "storage full: the disk holding the event log is full; appends fail until space is freed";

/// For load balancers and operators (no key): 200 when the node serves, 503 with the reasons
/// (integrity alarms, a full disk, a cluster's database out of reach) when it does not. A view
/// being rebuilt is listed with its progress, and the node stays ready: it stores events
/// meanwhile. `lag` says how many events of the log each of this node's views has still to
/// take in.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "service",
    summary = "Readiness: the derived views have caught up and nothing is wrong",
    security(()),
    responses((status = 200, description = "Ready, with the views' lag", body = Object), (status = 503, description = "Not ready: catching up, rebuilding, an integrity alarm or a full disk", body = Object))
)]
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    let alarms = integrity_alarms(&state);
    let storage_full = state.log.storage_full();
    let head = state.log.last_committed_seq();
    let lag = serde_json::json!({
        "search": head.saturating_sub(state.search.indexed_seq()),
        "governance": head.saturating_sub(state.governance.projected_seq()),
    });
    if state.log.is_shared() {
        let log = state.log.clone();
        let reached = tokio::task::spawn_blocking(move || log.last_seq()).await;
        if let Ok(Err(error)) | Err(error) =
            reached.map_err(|join| vigil_core::LogError::Unavailable(join.to_string()))
        {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({
                    "status": "database unreachable",
                    "database": error.to_string(),
                    "lag": lag,
                })),
            );
        }
    }
    if alarms.is_empty() && !storage_full {
        let rebuilding: Vec<String> =
            [state.search.availability(), state.governance.availability()]
                .into_iter()
                .filter_map(|availability| availability.err().map(|why| why.to_string()))
                .collect();
        let mut body = serde_json::json!({ "status": "ready", "lag": lag });
        if !rebuilding.is_empty() {
            body["rebuilding"] = serde_json::json!(rebuilding);
        }
        return (axum::http::StatusCode::OK, axum::Json(body));
    }
    let mut body = serde_json::json!({
        "status": if alarms.is_empty() { "storage full" } else { "integrity alarm" },
        "alarms": alarms,
    });
    if storage_full {
        body["storage"] = serde_json::json!(STORAGE_FULL_REASON);
    }
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(body),
    )
}

/// The process answers (200), and says so when its disk is full.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "service",
    summary = "Liveness: the process answers",
    security(()),
    responses((status = 200, description = "Alive (with `storage` when the disk is full)", body = Object))
)]
async fn health(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::Json<serde_json::Value> {
    if state.log.storage_full() {
        axum::Json(serde_json::json!({ "status": "ok", "storage": STORAGE_FULL_REASON }))
    } else {
        axum::Json(serde_json::json!({ "status": "ok" }))
    }
}

/// Reads a request body as UTF-8 text, turning a too-large body into 413 with a JSON body.
pub(crate) fn body_text(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<String, crate::error::ApiError> {
    use crate::error::ApiError;
    let bytes = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            }
        } else if crate::listener::is_body_read_timeout(&rejection) {
            ApiError::RequestTimeout(rejection.body_text())
        } else {
            ApiError::Invalid(format!("could not read the request body: {rejection}"))
        }
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|error| {
        ApiError::Invalid(format!(
            "the request body is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })
}

/// The request body as JSON; invalid JSON is a 400 naming the line and column.
pub(crate) fn read_json_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<serde_json::Value, crate::error::ApiError> {
    let text = body_text(body)?;
    serde_json::from_str(&text).map_err(|error| {
        crate::error::ApiError::BadRequest(vigil_model::ModelError::from_json_in(&error, &text))
    })
}
