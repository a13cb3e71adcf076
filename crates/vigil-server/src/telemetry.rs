//! Logging setup and the per-request log line (method, matched path, status, latency), which
//! also feeds the request counters of `/metrics`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The default filter: vigil's own information, and only warnings from the index library
/// (tantivy reports every commit and merge at info level).
const DEFAULT_FILTER: &str = "info,tantivy=warn";

/// Starts structured logging to stderr; `RUST_LOG` overrides [`DEFAULT_FILTER`].
/// `VIGIL_LOG_FORMAT=json` writes one JSON object a line (for log shippers); `text`, the
/// default, is for people.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let format = std::env::var("VIGIL_LOG_FORMAT").unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format.trim() {
        "json" => builder.json().flatten_event(true).try_init(),
        other => {
            let started = builder
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .try_init();
            if !other.is_empty() && other != "text" {
                tracing::warn!(
                    value = other,
                    "VIGIL_LOG_FORMAT: unknown value, expected `text` or `json`; logging as text"
                );
            }
            started
        }
    };
}

/// Logs one line per request and counts it. Never logs headers: they carry API keys.
pub async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.count_request(&path, status);
    let micros = started.elapsed().as_micros() as u64;
    if status >= 500 {
        tracing::warn!(%method, path, status, micros, "request");
    } else {
        tracing::debug!(%method, path, status, micros, "request");
    }
    response
}
