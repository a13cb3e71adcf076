//! The one place where errors become HTTP statuses and JSON bodies. Internal details are logged,
//! never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vigil_model::ModelError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or unknown API key.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The key lacks a permission.
    #[error("this API key lacks the {0} permission")]
    Forbidden(&'static str),
    /// The request body or a parameter is invalid.
    #[error("{0}")]
    BadRequest(ModelError),
    /// The request is invalid for another reason.
    #[error("{0}")]
    Invalid(String),
    /// The body is too large.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Nothing here.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (a name taken).
    #[error("{0}")]
    Conflict(String),
    /// The request body stopped arriving.
    #[error("{0}")]
    RequestTimeout(String),
    /// The disk holding the log is full: nothing of the request was stored.
    #[error("{0}")]
    StorageFull(String),
    /// The service cannot answer now (an integrity alarm, a view that does not serve).
    #[error("{0}")]
    Unavailable(String),
    /// A derived view cannot answer now: it is rebuilding (with progress) or holds an alarm.
    #[error(transparent)]
    View(#[from] vigil_core::view::Unavailable),
    /// Storage or another internal failure; details are logged only.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::BadRequest(ModelError::Syntax { .. }) => {
                (StatusCode::BAD_REQUEST, "malformed_json")
            }
            ApiError::BadRequest(ModelError::Invalid { .. }) => {
                (StatusCode::BAD_REQUEST, "invalid_value")
            }
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::View(vigil_core::view::Unavailable::Rebuilding { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "rebuilding")
            }
            ApiError::View(vigil_core::view::Unavailable::IntegrityAlarm(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::StorageFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut body = json!({ "error": self.to_string(), "code": code });
        match &self {
            ApiError::BadRequest(ModelError::Syntax { line, column, .. }) => {
                body["line"] = json!(line);
                body["column"] = json!(column);
            }
            ApiError::BadRequest(ModelError::Invalid { path, .. }) => body["path"] = json!(path),
            ApiError::View(vigil_core::view::Unavailable::Rebuilding {
                view,
                reached,
                target,
            }) => {
                body["progress"] = json!({
                    "view": view,
                    "reachedSequence": reached,
                    "targetSequence": target,
                    "percent": vigil_core::view::percent(*reached, *target),
                });
            }
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed")
            }
            _ => {}
        }
        (status, Json(body)).into_response()
    }
}

impl From<vigil_core::LogError> for ApiError {
    fn from(error: vigil_core::LogError) -> Self {
        match error {
            vigil_core::LogError::IntegrityAlarm(alarm) => ApiError::Unavailable(alarm),
            error @ vigil_core::LogError::Unavailable(_) => {
                ApiError::Unavailable(format!("{error}; nothing was stored, try again"))
            }
            vigil_core::LogError::StorageFull(message) => ApiError::StorageFull(message),
            error => ApiError::Internal(error.into()),
        }
    }
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        ApiError::BadRequest(error)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::Internal(error.into())
    }
}
